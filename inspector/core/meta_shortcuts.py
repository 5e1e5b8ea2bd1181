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
  layer_norm, linear, gelu and the common float activations (relu, silu,
  hardswish, sigmoid, tanh) return an empty output of the shape, dtype and
  layout torch's own meta kernels give, after the checks those kernels make.
  Anything unusual (a shape that does not fit, mixed dtypes, a real tensor)
  goes to torch's own implementation, so its error message is the user's.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    """Outputs of the costliest meta kernels, made directly; see the module docstring.

    While it is active, torch's Python meta kernels are also called without
    importing ``torch._dynamo`` first (see :func:`python_meta_kernels_direct`).
    """

    def __enter__(self) -> ShapeShortcuts:
        _direct_enter()
        try:
            super().__enter__()  # type: ignore[no-untyped-call]
        except BaseException:
            _direct_exit()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            super().__exit__(*exc)  # type: ignore[no-untyped-call]
        finally:
            _direct_exit()

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
    return _dense_like(input)


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
    return _dense_like(input)


def _elementwise(input: Any, inplace: bool = False) -> torch.Tensor | None:
    """A float activation's output: the input's shape, dtype and strides; in place, the input itself.

    Their meta kernels are torch's Python references, whose type-promotion
    check imports sympy (~0.5 s) on the first call of a process.
    """
    if not (type(input) is torch.Tensor and input.is_meta and input.is_floating_point()):
        return None
    if not isinstance(inplace, bool):
        return None
    return input if inplace else _dense_like(input)


def _dense_like(input: torch.Tensor) -> torch.Tensor | None:
    """``torch.empty_like(input)`` for a tensor whose elements fill its memory in some order of its dims
    (contiguous, channels_last, transposed), made directly: on meta, ``empty_like`` runs torch's Python
    reference, which imports sympy. None for anything else (slices, broadcasts)."""
    expected = 1
    for stride, size in sorted((st, sz) for st, sz in zip(input.stride(), input.shape, strict=True) if sz != 1):
        if stride != expected:
            return None
        expected *= size
    return torch.empty_strided(input.shape, input.stride(), dtype=input.dtype, device="meta")


def _unary(input: Any, *rest: Any, **kwargs: Any) -> torch.Tensor | None:
    """torch.relu, torch.sigmoid, torch.tanh and their methods; anything more than the input (``out=``)
    goes to torch."""
    return None if rest or kwargs else _elementwise(input)


_SHORTCUTS: dict[Callable[..., Any], Callable[..., torch.Tensor | None]] = {
    F.batch_norm: _batch_norm,
    F.layer_norm: _layer_norm,
    F.linear: _linear,
    F.gelu: _gelu,
    F.relu: _elementwise,
    F.silu: _elementwise,
    F.hardswish: _elementwise,
    torch.relu: _unary,
    torch.Tensor.relu: _unary,
    torch.sigmoid: _unary,
    torch.Tensor.sigmoid: _unary,
    torch.tanh: _unary,
    torch.Tensor.tanh: _unary,
}


# torch's Python meta kernels of elementwise ops (``x + y``, relu, tanh, cat
# on meta) are wrapped in ``torch._disable_dynamo``, whose first call imports
# ``torch._dynamo``: ~2 s and ~150 MB for a shapes-only run of a small model,
# more than everything else the command line does after ``import torch``. The
# wrapper looks its "dynamo-disabled" function up in the ``__dynamo_disable``
# attribute of the function it wraps and imports dynamo only when that is
# missing. Where dynamo has not been imported, nothing is being compiled and
# disabling it means nothing, so during a meta run each such function is
# given itself as that attribute, and the attribute is taken off again after
# the run: torch is left as it was, and a later torch.compile in the same
# process still gets torch's own disabled functions.
_DISABLE_ATTRIBUTE = "__dynamo_disable"
_direct_lock = threading.Lock()
_direct_depth = 0
_direct_set: list[Callable[..., Any]] = []


def _dynamo_wrapped() -> list[Callable[..., Any]]:
    """The functions torch wrapped with ``_disable_dynamo`` among its Python references and meta kernels."""
    found: dict[int, Callable[..., Any]] = {}
    candidates: list[Any] = []
    for name, module in list(sys.modules.items()):
        if module is not None and name.startswith(("torch._refs", "torch._prims", "torch._decomp")):
            candidates += list(vars(module).values())
    decomp = sys.modules.get("torch._decomp")
    for table in getattr(decomp, "global_decomposition_table", {}).values():
        candidates += list(table.values())
    # Decorators hide the wrapper: ``@wraps(prim)`` on the outside points
    # ``__wrapped__`` past it, so closures are followed as well.
    seen: set[int] = set()
    stack = [(candidate, 0) for candidate in candidates if callable(candidate)]
    while stack:
        function, depth = stack.pop()
        if id(function) in seen or depth > 6:
            continue
        seen.add(id(function))
        code = getattr(function, "__code__", None)
        closure = getattr(function, "__closure__", None) or ()
        if code is not None and code.co_qualname == "_disable_dynamo.<locals>.inner" and "fn" in code.co_freevars:
            target = closure[code.co_freevars.index("fn")].cell_contents
            found[id(target)] = target
        inner = [getattr(function, "__wrapped__", None)]
        for cell in closure:
            try:
                inner.append(cell.cell_contents)
            except ValueError:  # an empty cell
                continue
        stack += [(f, depth + 1) for f in inner if callable(f) and hasattr(f, "__code__")]
    return list(found.values())


def _direct_enter() -> None:
    global _direct_depth
    with _direct_lock:
        _direct_depth += 1
        if _direct_depth > 1:
            return
        if "torch._dynamo" in sys.modules:
            return
        for function in _dynamo_wrapped():
            if getattr(function, _DISABLE_ATTRIBUTE, None) is None:
                try:
                    setattr(function, _DISABLE_ATTRIBUTE, function)
                except (AttributeError, TypeError):
                    continue
                _direct_set.append(function)


def _direct_exit() -> None:
    global _direct_depth
    with _direct_lock:
        _direct_depth -= 1
        if _direct_depth > 0:
            return
        for function in _direct_set:
            if getattr(function, _DISABLE_ATTRIBUTE, None) is function:
                delattr(function, _DISABLE_ATTRIBUTE)
        _direct_set.clear()


@contextmanager
def python_meta_kernels_direct() -> Iterator[None]:
    """Within it, torch's Python meta kernels run without importing ``torch._dynamo`` first (see above)."""
    _direct_enter()
    try:
        yield
    finally:
        _direct_exit()
