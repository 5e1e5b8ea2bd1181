"""The torchinfo summary table of the current (edited) model and input.

torchinfo is called so that it changes nothing: the device is always passed
(so it never moves the model), every module's train/eval flag is put back,
the buffers a train-mode pass updates (BatchNorm statistics) are restored,
and torchinfo's forward-pass cache (which keeps each summarised model alive,
keyed by class name) is cleared after each summary.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from inspector.core.common import ModelState, tensors_in
from inspector.core.errors import InspectorError

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

    # In train mode BatchNorm updates its running statistics: keep copies to put back.
    state = ModelState(model, buffers=mode == "train")
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
    except Exception as error:  # the user's model can raise anything
        # torchinfo wraps the model's error in "Failed to run torchinfo. See
        # above stack traces"; the cause is what a person can act on.
        cause = error.__cause__ or error
        lines = str(cause).strip().splitlines()
        raise InspectorError(
            f"the summary could not run the model: {type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")
        ) from error
    finally:
        state.restore()
        clear = getattr(torchinfo_impl, "clear_cached_forward_pass", None)
        if clear is not None:
            clear()
