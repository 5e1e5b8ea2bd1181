"""Shortcuts that make building and running on the meta device several times faster.

On meta, torch computes an output's shape by running Python decompositions:
a BatchNorm call costs ~1 ms of Python, a LayerNorm ~2 ms, and an initialiser
such as ``kaiming_normal_`` ~1 ms for a tensor that will never have values.
Across the 80 torchvision classifiers that is most of the time a shapes-only
run takes. Two function modes skip that work where the answer is known:

- :class:`SkipMetaInit`, while a model is built on meta: ``nn.init``
  functions and the in-place random fills they use return the tensor as it
  is (a meta tensor has no values to fill).
- :class:`ShapeShortcuts`, while a model runs on meta: batch_norm,
  layer_norm, linear and gelu return an empty output of the shape, dtype and
  layout torch's own meta kernels give, after the checks those kernels make.
  Anything unusual (a shape that does not fit, mixed dtypes, a real tensor)
  goes to torch's own implementation, so its error message is the user's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

_RANDOM_FILLS = {
    torch.Tensor.normal_,
    torch.Tensor.uniform_,
    torch.Tensor.fill_,
    torch.Tensor.zero_,
    torch.Tensor.erfinv_,
    torch.Tensor.exponential_,
    torch.Tensor.bernoulli_,
    torch.Tensor.random_,
    torch.Tensor.log_normal_,
    torch.Tensor.cauchy_,
    torch.Tensor.geometric_,
}


_INITIALISERS = _RANDOM_FILLS | {
    value for name, value in vars(torch.nn.init).items() if name.endswith("_") and not name.startswith("_") and callable(value)
}


class SkipMetaInit(TorchFunctionMode):
    """Initialisers and random fills of meta tensors do nothing (there are no values to set)."""

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        if func in _INITIALISERS:
            # nn.init functions pass their tensor by keyword
            target = args[0] if args else (kwargs or {}).get("tensor")
            if isinstance(target, torch.Tensor) and target.is_meta:
                return target
        return func(*args, **(kwargs or {}))


class ShapeShortcuts(TorchFunctionMode):
    """Outputs of the costliest meta kernels, made directly; see the module docstring."""

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        shortcut = _SHORTCUTS.get(func)
        if shortcut is not None:
            output = shortcut(*args, **kwargs)
            if output is not None:
                return output
        return func(*args, **kwargs)


def _same_meta_floats(dtype: torch.dtype, *tensors: torch.Tensor | None) -> bool:
    return all(t is None or (isinstance(t, torch.Tensor) and t.is_meta and t.dtype == dtype) for t in tensors)


def _batch_norm(
    input: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> torch.Tensor | None:
    if not (isinstance(input, torch.Tensor) and input.is_meta and input.is_floating_point() and input.dim() >= 2):
        return None
    channels = input.shape[1]
    extras = (running_mean, running_var, weight, bias)
    if not _same_meta_floats(input.dtype, *extras):
        return None
    if any(t is not None and tuple(t.shape) != (channels,) for t in extras):
        return None
    if training and input.shape[0] * math.prod(input.shape[2:]) == 1:
        return None  # torch raises "Expected more than 1 value per channel when training"
    return torch.empty_like(input)


def _layer_norm(
    input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5
) -> torch.Tensor | None:
    if not (isinstance(input, torch.Tensor) and input.is_meta and input.is_floating_point()):
        return None
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or input.dim() < len(shape) or tuple(input.shape[-len(shape):]) != shape:
        return None
    if not _same_meta_floats(input.dtype, weight, bias):
        return None
    if any(t is not None and tuple(t.shape) != shape for t in (weight, bias)):
        return None
    return torch.empty(input.shape, dtype=input.dtype, device="meta")


def _linear(input: Any, weight: Any, bias: Any = None) -> torch.Tensor | None:
    if not (isinstance(input, torch.Tensor) and input.is_meta and input.is_floating_point() and input.dim() >= 1):
        return None
    if not (isinstance(weight, torch.Tensor) and weight.dim() == 2 and _same_meta_floats(input.dtype, weight, bias)):
        return None
    if input.shape[-1] != weight.shape[1] or (bias is not None and tuple(bias.shape) != (weight.shape[0],)):
        return None
    return torch.empty((*input.shape[:-1], weight.shape[0]), dtype=input.dtype, device="meta")


def _gelu(input: Any, approximate: str = "none") -> torch.Tensor | None:
    if not (isinstance(input, torch.Tensor) and input.is_meta and input.is_floating_point()):
        return None
    if approximate not in ("none", "tanh"):
        return None
    return torch.empty_like(input)


_SHORTCUTS: dict[Callable[..., Any], Callable[..., torch.Tensor | None]] = {
    F.batch_norm: _batch_norm,
    F.layer_norm: _layer_norm,
    F.linear: _linear,
    F.gelu: _gelu,
}
