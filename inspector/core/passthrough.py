"""An ``nn.Identity`` that fits the call of the module it stands in for.

A plain ``nn.Identity`` takes one argument and returns it. A transformer
block is called with masks, caches and position embeddings as well, and some
modules return a tuple (an LSTM's ``(output, (h, c))``, a T5 block's
``(hidden, position_bias, ...)``) or a ``ModelOutput``. Removing such a
module must leave the model as deleting it would: its caller gets its first
input back, in the structure the caller expects.

:class:`PassThroughIdentity` learns that structure from the original module
itself, once per kind of call: it runs the original under torch's
``FakeTensorMode`` (shapes only: no values, no memory for the weights, the
caller's caches copied so nothing the model holds changes), and keeps a
template of the output. Each slot of the template is filled from the call:

- the slot whose structure and shapes match the first input: the first input
  itself (the very same object, as ``nn.Identity`` returns it);
- a slot that is one of the call's arguments (a position bias handed on, a
  cache): that argument;
- an RNN's state: the state it was given, or zeros of the state's shape (what
  an RNN starts from when given none);
- any other tensor (attention weights): ``None``;
- plain values (ints, strings, ``None``): as the original returned them.

Where nothing fits (a ``Linear(10, 5)``), the first input is returned as a
plain ``nn.Identity`` would, and the model fails at the first consumer
exactly as before.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

_Key = tuple[Any, ...]


@dataclass(frozen=True)
class Slot:
    """One node of an output template."""

    kind: str
    """``input``, ``arg``, ``zeros``, ``none``, ``value``, ``sequence``, ``mapping``, ``output``."""
    value: Any = None
    """``arg``: the argument's position or keyword; ``zeros``: the shape; ``value``: the value;
    ``sequence``/``mapping``/``output``: the container type."""
    children: tuple[Any, ...] = ()
    """``sequence``: child slots; ``mapping``/``output``: (key, slot) pairs."""


_INPUT = Slot("input")


def _is_model_output(value: Any) -> bool:
    # transformers' ModelOutput is an OrderedDict and a dataclass; checked by
    # shape, so this module never imports transformers.
    return isinstance(value, Mapping) and hasattr(value, "to_tuple") and hasattr(value, "__dataclass_fields__")


def _shape(tensor: torch.Tensor) -> tuple[Any, ...]:
    if tensor.is_nested:  # a nested tensor has no single size (TransformerEncoder's padded fast path)
        return ("nested", tensor.dim())
    return tuple(tensor.shape)


def _signature(value: Any) -> Any:
    """Structure and shapes of a value: what decides whether an output slot can be the input."""
    if isinstance(value, torch.Tensor):
        return ("tensor", _shape(value))
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(_signature(v) for v in value))
    if isinstance(value, Mapping):
        return ("map", tuple((k, _signature(v)) for k, v in value.items()))
    return ("other", type(value).__name__)


def _has_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, tuple | list):
        return any(_has_tensor(v) for v in value)
    if isinstance(value, Mapping):
        return any(_has_tensor(v) for v in value.values())
    return False


def call_key(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> _Key:
    """What can change the structure of a module's output: shapes, flags, which arguments are None."""

    def describe(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return ("tensor", _shape(value), str(value.dtype))
        if value is None or isinstance(value, bool | int | float | str):
            return ("value", value)
        if isinstance(value, tuple | list):
            return (type(value).__name__, tuple(describe(v) for v in value))
        return ("object", type(value).__name__)

    return (tuple(describe(a) for a in args), tuple(sorted((k, describe(v)) for k, v in kwargs.items())))


class PassThroughIdentity(nn.Identity):
    """``nn.Identity`` standing in for ``original``: any call, its first input back in the expected structure.

    The original is kept outside ``_modules`` (not a submodule: its weights
    are not the model's while it is replaced, and ``state_dict`` does not see
    them). Attributes this module lacks are read from the original, because
    callers inspect the modules they call (torch's ``TransformerEncoder``
    reads ``layers[0].self_attn.batch_first`` before running any layer).
    """

    original_name = "Identity"
    """What the module tree and the reports call it (:func:`inspector.core.tree.type_name`)."""

    def __init__(self, original: nn.Module | None = None) -> None:
        super().__init__()
        # Plain dict entries: nn.Module.__setattr__ would register the original as a submodule.
        self.__dict__["_stands_in_for"] = original
        self.__dict__["_templates"] = {}
        self.__dict__["_learn_error"] = None

    # ----------------------------------------------------------------- attributes

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            original = self.__dict__.get("_stands_in_for")
            if original is None or name.startswith("_"):
                raise
            return getattr(original, name)

    def __getstate__(self) -> dict[str, Any]:
        # A pickled model carries the learned structure, not the removed module.
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()  # type: ignore[no-untyped-call]  # nn.Module's has no annotations
        state = dict(state)
        state["_stands_in_for"] = None
        return state

    @property
    def stands_in_for(self) -> nn.Module | None:
        """The module this Identity replaced (kept by reference, not registered)."""
        return self.__dict__.get("_stands_in_for")

    @property
    def needs_pass_through(self) -> bool:
        """False where a plain ``nn.Identity`` would do the same: every call seen (or the forward's signature) takes one input and the output is that input."""
        templates: dict[_Key, Slot] = self.__dict__["_templates"]
        if templates:
            return any(t is not _INPUT or len(key[0]) != 1 or key[1] for key, t in templates.items())
        original = self.stands_in_for
        if original is None:
            return False
        try:
            parameters = list(inspect.signature(original.forward).parameters.values())
        except (TypeError, ValueError):
            return True
        return len(parameters) != 1 or parameters[0].kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD

    @property
    def note(self) -> str:
        """One line for the tree and reports: what this Identity returns."""
        templates = list(self.__dict__["_templates"].values())
        shapes = {_describe(t) for t in templates}
        if not shapes or shapes == {"input"}:
            return "pass-through: returns its first input"
        return "pass-through: returns its first input as " + " | ".join(sorted(shapes))

    def extra_repr(self) -> str:
        return self.note

    def _get_name(self) -> str:
        # repr(model) shows "Identity(pass-through: ...)", as the tree does.
        return "Identity"

    # ----------------------------------------------------------------- the call

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs:
            raise TypeError("Identity.forward() missing its input")
        first = args[0] if args else next(iter(kwargs.values()))
        template = self._template_for(args, kwargs, first)
        return _fill(template, first, args, kwargs)

    def _template_for(self, args: tuple[Any, ...], kwargs: dict[str, Any], first: Any) -> Slot:
        templates: dict[_Key, Slot] = self.__dict__["_templates"]
        key = call_key(args, kwargs)
        template = templates.get(key)
        if template is not None:
            return template
        original = self.stands_in_for
        if original is None or returns_its_kind(original):
            # Unpickled without its original: what it learned before still holds.
            return _INPUT
        template = self._learn(original, args, kwargs, first)
        templates[key] = template
        return template

    def _learn(self, original: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], first: Any) -> Slot:
        from inspector.core.odd_modules import set_aside

        try:
            # Set aside: a probe neither records the removed module's calls nor charges this to the layer's time.
            with set_aside():
                output, positions = _fake_call(original, args, kwargs)
        except Exception as error:  # noqa: BLE001 - learning is best effort; a plain Identity is today's behaviour
            self.__dict__["_learn_error"] = f"{type(error).__name__}: {error}".splitlines()[0]
            return _INPUT
        return _template(output, _signature(first), positions, isinstance(original, nn.RNNBase))


def returns_its_kind(module: nn.Module) -> bool:
    """Torch's own leaf layers (Conv, Linear, norms, activations) return one tensor: nothing to learn."""
    if module._modules or isinstance(module, nn.RNNBase | nn.MultiheadAttention):
        return False
    return type(module).__module__.startswith("torch.nn.modules.")


def _fake_call(original: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, dict[int, Any]]:
    """The original's output on fake tensors, and which output objects are the call's own arguments.

    Objects that are not tensors (a cache) are deep-copied first: the
    original may update them, and the model's own must not change.
    """
    from torch._subclasses.fake_tensor import FakeTensorMode

    copies: dict[int, Any] = {}

    def shield(value: Any) -> Any:
        if isinstance(value, torch.Tensor) or value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, tuple | list) and all(isinstance(v, torch.Tensor) or v is None for v in value):
            return value
        return copy.deepcopy(value)

    safe_args = [shield(a) for a in args]
    safe_kwargs = {k: shield(v) for k, v in kwargs.items()}
    from inspector.core.dispatch import hooks_bypassed

    mode = FakeTensorMode(allow_non_fake_inputs=True)
    device = _first_device(args, kwargs, original)
    with mode, hooks_bypassed(original):  # accelerate's wrappers would read offloaded weights for nothing
        fake_args = [_to_fake(mode, a) for a in safe_args]
        fake_kwargs = {k: _to_fake(mode, v) for k, v in safe_kwargs.items()}
        for position, value in list(enumerate(fake_args)) + list(fake_kwargs.items()):
            if position == 0:
                continue
            if value is not None and not isinstance(value, bool | int | float | str):
                copies[id(value)] = position
        # Stand-ins for the weights on the input's device: a fake tensor allocates nothing.
        # One name per tensor: a module shared at every level of a deep model
        # has 2**depth names (torch's tie_weights walks them all); swapping the
        # tensor under one name swaps it wherever its module is registered.
        weights = {
            name: torch.empty_like(t, device=device)
            for name, t in list(original.named_parameters()) + list(original.named_buffers())
        }
        with torch.no_grad(), _hooks_silenced(original):
            output = torch.func.functional_call(original, weights, tuple(fake_args), fake_kwargs, tie_weights=False, strict=False)
    return output, copies


_HOOK_DICTS = (
    "_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
    "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
)


@contextlib.contextmanager
def _hooks_silenced(original: nn.Module) -> Iterator[None]:
    """No forward hook sees the learning call: it is not a call of the model.

    The original may still be registered elsewhere in the model (a shared
    block cut at one of its places), where a probe's hooks would count the
    fake call as one of its calls; the user's own hooks must not see it
    either. Each module's hook tables, and torch's global ones, are set
    aside for the call and put back as they were.
    """
    from torch.nn.modules import module as torch_module

    saved = [(m, {name: m.__dict__[name] for name in _HOOK_DICTS if name in m.__dict__}) for m in original.modules()]
    globals_saved: list[tuple[dict[int, Any], dict[int, Any]]] = [(table, dict(table)) for table in (
        torch_module._global_forward_hooks, torch_module._global_forward_pre_hooks,
        torch_module._global_forward_hooks_with_kwargs, torch_module._global_forward_hooks_always_called,
    )]
    try:
        for m, tables in saved:
            for name in tables:
                m.__dict__[name] = OrderedDict()
        for table, _ in globals_saved:
            table.clear()
        yield
    finally:
        for m, tables in saved:
            m.__dict__.update(tables)
        for table, contents in globals_saved:
            table.clear()
            table.update(contents)


def _first_device(args: tuple[Any, ...], kwargs: dict[str, Any], original: nn.Module) -> torch.device:
    for value in list(args) + list(kwargs.values()):
        if isinstance(value, torch.Tensor):
            return value.device
    for tensor in original.parameters():
        return tensor.device
    return torch.device("cpu")


def _to_fake(mode: Any, value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return mode.from_tensor(value)
    if isinstance(value, tuple | list) and any(isinstance(v, torch.Tensor) for v in value):
        converted = [mode.from_tensor(v) if isinstance(v, torch.Tensor) else v for v in value]
        return tuple(converted) if isinstance(value, tuple) else converted
    return value


def _template(output: Any, first_signature: Any, positions: dict[int, Any], rnn: bool) -> Slot:
    """The template of ``output``: the first slot shaped like the first input becomes the input."""
    placed = [False]

    def build(value: Any, top: bool) -> Slot:
        if id(value) in positions:
            return Slot("arg", positions[id(value)])
        if not placed[0] and _signature(value) == first_signature:
            placed[0] = True
            return _INPUT
        if isinstance(value, torch.Tensor):
            if rnn:
                return Slot("zeros", tuple(value.shape))
            return Slot("none")
        if _is_model_output(value):
            return Slot("output", type(value), tuple((k, build(v, False)) for k, v in value.items()))
        if isinstance(value, tuple | list):
            return Slot("sequence", type(value), tuple(build(v, False) for v in value))
        if isinstance(value, Mapping):
            return Slot("mapping", type(value), tuple((k, build(v, False)) for k, v in value.items()))
        if value is None or isinstance(value, bool | int | float | str):
            return Slot("value", value)
        return Slot("none")

    template = build(output, True)
    if not placed[0]:
        # Nothing has the input's shape (the module changes it): the first
        # input takes the first tensor slot, and the model fails at its first
        # consumer as it would with a plain Identity.
        template = _replace_first_tensor_slot(template)
    if rnn:
        template = _pass_rnn_state(template)
    return template


def _replace_first_tensor_slot(template: Slot) -> Slot:
    done = [False]

    def walk(slot: Slot) -> Slot:
        if done[0]:
            return slot
        if slot.kind in ("none", "zeros"):
            done[0] = True
            return _INPUT
        if slot.kind == "sequence":
            return Slot(slot.kind, slot.value, tuple(walk(c) for c in slot.children))
        if slot.kind in ("mapping", "output"):
            return Slot(slot.kind, slot.value, tuple((k, walk(c)) for k, c in slot.children))
        return slot

    replaced = walk(template)
    return replaced if done[0] else _INPUT


def _pass_rnn_state(template: Slot) -> Slot:
    """An RNN's ``(output, state)``: the state it was given (argument 1) passes through when there is one."""
    if template.kind == "sequence" and len(template.children) == 2 and template.children[0] is _INPUT:
        return Slot("sequence", template.value, (_INPUT, Slot("state", template.children[1])))
    return template


def _fill(slot: Slot, first: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    kind = slot.kind
    if kind == "input":
        return first
    if kind == "arg":
        return args[slot.value] if isinstance(slot.value, int) else kwargs.get(slot.value)
    if kind == "none":
        return None
    if kind == "value":
        return slot.value
    if kind == "zeros":
        reference = first if isinstance(first, torch.Tensor) else None
        if isinstance(first, tuple | list):  # a PackedSequence's data
            reference = next((v for v in first if isinstance(v, torch.Tensor) and v.is_floating_point()), None)
        if reference is None:
            return torch.zeros(slot.value)
        return torch.zeros(slot.value, dtype=reference.dtype, device=reference.device)
    if kind == "state":
        given = args[1] if len(args) > 1 else kwargs.get("hx")
        return given if given is not None else _fill(slot.value, first, args, kwargs)
    if kind == "sequence":
        items = [_fill(c, first, args, kwargs) for c in slot.children]
        container = slot.value
        if container is list:
            return items
        if container is tuple:
            return tuple(items)
        if hasattr(container, "_fields"):
            return container(*items)
        return container(items)
    if kind == "mapping":
        return slot.value((k, _fill(c, first, args, kwargs)) for k, c in slot.children)
    if kind == "output":
        return slot.value(**{k: _fill(c, first, args, kwargs) for k, c in slot.children})
    raise AssertionError(f"unknown template slot {kind!r}")


def _describe(slot: Slot) -> str:
    kind = slot.kind
    if kind == "input":
        return "input"
    if kind == "arg":
        return f"argument {slot.value}"
    if kind == "none":
        return "None"
    if kind == "zeros":
        return "zeros"
    if kind == "state":
        return "state"
    if kind == "value":
        return repr(slot.value)
    if kind == "sequence":
        inner = ", ".join(_describe(c) for c in slot.children)
        if slot.value is tuple:
            return f"({inner}{',' if len(slot.children) == 1 else ''})"
        if slot.value is list:
            return f"[{inner}]"
        return f"{slot.value.__name__}({inner})"
    return f"{slot.value.__name__}({', '.join(f'{k}={_describe(c)}' for k, c in slot.children)})"


def pass_through_paths(model: nn.Module, paths: list[str]) -> list[str]:
    """Those of ``paths`` whose stand-in must fit a call (extra arguments, tuple returns), not plain ``nn.Identity``.

    A rebuild script puts Model Inspector's own class there when it is
    installed where the script runs, else a plain ``nn.Identity`` (which fits
    one-tensor calls only).
    """
    passing = []
    for path in paths:
        try:
            module = model.get_submodule(path)
        except AttributeError:
            continue
        if isinstance(module, PassThroughIdentity) and module.needs_pass_through:
            passing.append(path)
    return passing
