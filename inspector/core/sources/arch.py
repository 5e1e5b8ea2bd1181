"""``--arch``: the architecture a state_dict is loaded into, from any source.

A torchvision name, ``timm:NAME``, ``hf:...`` (with ``--hf-class`` and
``--config``) or ``file.py:fn`` / ``pkg.mod:fn``; built on the meta device
when asked, so the file's tensors can be assigned without a second
initialisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


def build_arch(
    arch: str,
    *,
    meta: bool = False,
    hf_class: str | None = None,
    config: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> nn.Module:
    """Build ``arch`` with random weights (or on meta); ``overrides`` go to torchvision and timm builders."""
    from inspector.core import loading

    form = loading.classify_source(arch)
    if form == "timm":
        from inspector.core.sources import timm_source

        return timm_source.build(arch.removeprefix(timm_source.PREFIX), meta=meta, **overrides)
    if form == "hf":
        from inspector.core.sources import hf_source

        if overrides:
            raise TypeError("hf: architectures take --config, not builder keywords")
        model, _, _ = hf_source.build(arch.removeprefix(hf_source.PREFIX), hf_class=hf_class, config=config, meta=meta)
        return model
    if form == "callable":
        if overrides:
            raise TypeError("a callable takes no builder keywords")
        with meta_context(meta):
            return loading.load_callable(arch).module
    return loading.build_torchvision(arch.removeprefix("torchvision:"), meta=meta, **overrides)


def meta_context(meta: bool) -> Any:
    """Every tensor a builder creates goes to the meta device (nothing allocated), when ``meta``."""
    import contextlib

    if not meta:
        return contextlib.nullcontext()
    from inspector.core.meta_shortcuts import SkipMetaInit

    stack = contextlib.ExitStack()
    stack.enter_context(torch.device("meta"))
    stack.enter_context(SkipMetaInit())
    return stack


def fill_tied(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with every tied name the file left out (safetensors stores a shared tensor once) filled in."""
    groups: dict[int, list[str]] = {}
    for name, tensor in list(model.named_parameters(remove_duplicate=False)) + list(model.named_buffers(remove_duplicate=False)):
        groups.setdefault(id(tensor), []).append(name)
    filled = dict(state)
    for names in groups.values():
        present = next((n for n in names if n in filled), None)
        if present is not None:
            for name in names:
                filled.setdefault(name, filled[present])
    return filled


def retie(model: nn.Module) -> None:
    """Tie a Hugging Face model's weights again after ``load_state_dict(assign=True)`` replaced them."""
    tie = getattr(model, "tie_weights", None)
    if callable(tie):
        tie()
