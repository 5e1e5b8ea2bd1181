"""Lines of ``rebuild_model.py`` that build a model from the sources of this package (timm, hf, .pt2, --arch)."""

from __future__ import annotations

import os
from typing import Any


def build_lines(loaded: Any) -> tuple[list[str], list[str]] | None:
    """(imports, lines leaving ``model`` built) for timm, hf, ``.pt2`` and state_dicts with a timm/hf arch; else None."""
    spec = loaded.arch if loaded.kind == "state_dict" else loaded.source
    imports = ["import torch", "from torch import nn"]
    if loaded.kind == "export":
        path = os.path.abspath(loaded.source)
        # The module tree as the report showed it: the edits name its paths.
        return imports, [f"model = torch.export.unflatten(torch.export.load({path!r}))"]
    if loaded.kind not in ("timm", "hf", "state_dict") or not isinstance(spec, str):
        return None
    if spec.startswith("timm:"):
        return imports + ["import timm"], [
            "torch.manual_seed(0)",
            f"model = timm.create_model({spec.removeprefix('timm:')!r}, pretrained=False)",
        ]
    if spec.startswith("hf:"):
        options = getattr(loaded, "build_options", None) or {}
        hf_class = options.get("hf_class") or "AutoModel"
        config = dict(options.get("config") or {})
        target = spec.removeprefix("hf:")
        if os.path.isdir(target) or "/" in target:
            make_config = f"transformers.AutoConfig.from_pretrained({target!r}, local_files_only=True, **{config!r})"
        else:
            make_config = f"transformers.AutoConfig.for_model({target!r}, **{config!r})"
        return imports + ["import transformers"], [
            "torch.manual_seed(0)",
            f"model = getattr(transformers, {hf_class!r}).from_config({make_config})",
        ]
    return None
