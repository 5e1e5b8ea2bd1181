"""Running a model in another floating dtype for one run, and putting it back exactly.

``--dtype float16`` must not fail at the first layer of a float32 model, and
must not leave the model in float16 either. Each floating parameter and
buffer gets a converted copy as its ``.data`` for the run; the original
storage is kept aside and put back afterwards, so the weights are the very
same bits (and the same tensor objects) as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def model_dtype(model: nn.Module, dtype: torch.dtype | None) -> Iterator[None]:
    """Within the block, every floating parameter and buffer of ``model`` is ``dtype``; afterwards as it was.

    ``None`` or a non-floating dtype changes nothing (integer inputs keep
    their dtype, and so does the model). Meta tensors are left alone: a meta
    run converts its own stand-ins.
    """
    if dtype is None or not dtype.is_floating_point:
        yield
        return
    swapped: list[tuple[torch.Tensor, torch.Tensor]] = []
    seen: set[int] = set()
    try:
        tensors = list(model.parameters()) + list(model.buffers())
        for tensor in tensors:
            if id(tensor) in seen or tensor.is_meta or not tensor.is_floating_point() or tensor.dtype == dtype:
                continue
            seen.add(id(tensor))
            original = tensor.data
            tensor.data = original.to(dtype)
            swapped.append((tensor, original))
        yield
    finally:
        for tensor, original in reversed(swapped):
            tensor.data = original
