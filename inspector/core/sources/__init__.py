"""One room per kind of model source beyond torchvision, files and callables.

Each room imports its optional package (timm, transformers, safetensors)
only when it is used, and says which extra installs it when it is missing.
:mod:`inspector.core.loading` dispatches to them.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from inspector.core.errors import ModelLoadError


class MissingExtra(ModelLoadError):
    """A source needs an optional package that is not installed."""


def require(package: str, extra: str, what: str) -> ModuleType:
    """Import ``package``, or raise :class:`MissingExtra` naming the pip line that installs it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise MissingExtra(
            f"{what} needs the {package} package: pip install 'model-inspector[{extra}]'"
        ) from None


def available(package: str) -> bool:
    """True when ``package`` can be imported here (checked without importing it)."""
    return importlib.util.find_spec(package) is not None
