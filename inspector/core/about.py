"""What this installation is: versions, the statistics route, the devices (``--version``, Help > About)."""

from __future__ import annotations

import platform
from importlib import metadata

from inspector import __version__

# Distributions worth naming when installed; the optional extras come last.
_PACKAGES = ("torch", "torchvision", "numpy", "torchinfo", "PySide6-Essentials", "pyqtgraph", "timm",
             "transformers", "safetensors")


def statistics_route() -> str:
    """Which code takes each layer's statistics on the CPU: the one-pass C kernel (and its best pass) or torch."""
    from inspector.core import stats

    kernel = getattr(stats, "_fused", None)
    if kernel is None:
        return "stock torch reductions (the C kernel is not built)"
    routes = kernel.routes()
    best = max(routes, key=routes.get) if routes else "generic"
    return f"one-pass C kernel ({best})"


def installed_versions() -> list[tuple[str, str]]:
    """(distribution, version) of Model Inspector's own dependencies that are installed, without importing them."""
    found = []
    for name in _PACKAGES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return found


def about_lines() -> list[str]:
    """The lines of ``model-inspector --version``: the version first, then what it runs on."""
    from inspector.core.devices import available_devices

    lines = [f"model-inspector {__version__}", f"python {platform.python_version()} ({platform.system()})"]
    lines += [f"{name} {version}" for name, version in installed_versions()]
    lines.append(f"statistics: {statistics_route()}")
    lines.append(f"devices: {', '.join(available_devices())}")
    return lines
