"""``timm:NAME``: a timm model with random weights (or timm's pretrained ones with ``weights``)."""

from __future__ import annotations

import difflib
from typing import Any, cast

import torch
from torch import nn

from inspector.core.errors import ModelLoadError
from inspector.core.sources import require

PREFIX = "timm:"


def _timm() -> Any:
    return require("timm", "timm", "a timm: model")


def list_models() -> list[str]:
    """Every architecture timm can build, sorted."""
    return sorted(_timm().list_models())


def build(name: str, *, weights: str | None = None, meta: bool = False, **overrides: Any) -> nn.Module:
    """``timm.create_model(name)``, random weights drawn from seed 0; on meta nothing is allocated.

    ``weights`` asks timm for its pretrained weights (any value but None;
    timm picks the tag from the name, e.g. ``resnet50.a1_in1k``).
    """
    timm = _timm()
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `model-inspector list-models --source timm` lists them"
        raise ModelLoadError(f"unknown timm model {name!r}{hint}")
    if weights is not None and meta:
        raise ModelLoadError("--weights and --meta do not go together: meta tensors hold no weights")
    try:
        if meta:
            from inspector.core.meta_shortcuts import SkipMetaInit

            with torch.device("meta"), SkipMetaInit():
                return cast(nn.Module, timm.create_model(name, pretrained=False, **overrides))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return cast(nn.Module, timm.create_model(name, pretrained=weights is not None, **overrides))
    except (OSError, RuntimeError) as error:
        if weights is not None:
            raise ModelLoadError(
                f"could not get the pretrained weights of timm:{name} (offline?): {str(error).splitlines()[0]}; "
                "run without --weights for random weights"
            ) from None
        raise
