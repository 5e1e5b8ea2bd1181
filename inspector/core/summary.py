"""The torchinfo summary table of the current (edited) model and input.

torchinfo is called so that it changes nothing: the device is always passed
(so it never moves the model), every module's train/eval flag is put back,
and torchinfo's forward-pass cache (which keeps each summarised model alive,
keyed by class name) is cleared after each summary.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from inspector.core.probe import tensors_in

DEFAULT_COLUMNS = ("input_size", "output_size", "num_params", "trainable")


def summary_text(
    model: nn.Module,
    inputs: tuple[Any, ...],
    *,
    depth: int = 4,
    mode: str = "eval",
    columns: tuple[str, ...] = DEFAULT_COLUMNS,
) -> str:
    """The torchinfo table as text, for the model called on ``inputs``."""
    import torchinfo
    import torchinfo.torchinfo as torchinfo_impl

    flags = [(m, m.training) for m in model.modules()]
    tensors = tensors_in(list(inputs))
    device = tensors[0].device if tensors else torch.device("cpu")
    try:
        result = torchinfo.summary(
            model,
            input_data=list(inputs),
            device=device,
            depth=depth,
            mode=mode,
            col_names=columns,
            verbose=0,
            row_settings=("var_names",),
        )
        return str(result)
    finally:
        for module, flag in flags:
            module.training = flag
        clear = getattr(torchinfo_impl, "clear_cached_forward_pass", None)
        if clear is not None:
            clear()
