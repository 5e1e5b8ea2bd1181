"""Per-layer records of a TorchScript model, read from its graph.

A ScriptModule runs no Python hooks, so a probe cannot watch its submodules
the way it watches an eager model. Its graph still knows them: in the
inlined graph (``model.inlined_graph``) every node carries the module
instance it came from (``node.getModuleHierarchy()``: ``layer1(Sequential).
0(BasicBlock).conv1(Conv2d)``). A run of an instrumented copy of that graph
returns, beside the model's output, the values that leave each submodule's
stretch of nodes (its output) and those that enter it (its input): each
submodule's call gets its shapes and statistics, from one real run of the
same compiled code.

What is not possible:

- a submodule called inside TorchScript control flow (``if``/``for`` in
  scripted code) has no record: its nodes are in a block whose values cannot
  be returned from the graph;
- no per-layer time (the graph runs as one call);
- a module called twice in a row with nothing in between is one call;
- keyword arguments: the instrumented graph takes positional ones only; such
  a run is an ordinary call, without per-layer records.

Values that a later in-place operation would change are copied where they
are made, so the statistics are those of each layer's output as it returned.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

_NOT_VALUES = ("prim::GetAttr", "prim::Constant")
"""Nodes whose tensors are weights and constants, not what a layer takes or gives."""
_INSTANCE = re.compile(r"(?P<name>[^()]+)\((?P<type>.*)\)")


@dataclass
class Segment:
    """One submodule call: a stretch of consecutive graph nodes of that submodule."""

    path: str
    start: int
    """Index of its first node in the graph: the order calls started."""
    nodes: list[Any] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    """Positions in the instrumented graph's extra outputs."""
    inputs: list[int] = field(default_factory=list)


@dataclass
class Instrumented:
    """The instrumented graph, ready to run, and where each submodule's values come back."""

    function: Any
    segments: list[Segment]
    extra_count: int
    """How many values the graph returns after the model's own output."""


def _path(node: Any) -> str | None:
    """The dotted module path a node of the inlined graph comes from: ``""`` for the root's own code, None where
    the node says nothing (some ``prim::If`` nodes carry no module).

    A scripted module's hierarchy starts with ``SELF(ResNet)`` and names a
    call of the module's own method ``SELF(Conv2d)``; a loaded one starts
    at the root's children. A function call (``UNKNOWN_INSTANCE``) ends it.
    """
    hierarchy = node.getModuleHierarchy()
    if not hierarchy:
        return None
    parts = []
    for part in hierarchy.split("."):
        match = _INSTANCE.fullmatch(part)
        if match is None or match.group("name") == "UNKNOWN_INSTANCE":
            break
        if match.group("name") != "SELF":
            parts.append(match.group("name"))
    return ".".join(parts)


def _carries_tensors(kind: Any) -> bool:
    if isinstance(kind, torch._C.TensorType):
        return True
    if isinstance(kind, torch._C.TupleType):
        return any(_carries_tensors(k) for k in kind.elements())
    if isinstance(kind, (torch._C.ListType, torch._C.OptionalType)):
        return _carries_tensors(kind.getElementType())
    return False


def _top_level(node: Any, block: Any) -> Any:
    """The node of the graph's main ``block`` that holds ``node`` (itself, or the if/loop it is nested in)."""
    while node.owningBlock() != block:
        owner = node.owningBlock().owningNode()
        if owner is None:
            return None
        node = owner
    return node


def _segments(nodes: list[Any], modules: set[str]) -> list[Segment]:
    found: list[Segment] = []
    open_segments: dict[str, Segment] = {}
    paths = [_path(node) for node in nodes]
    following: str | None = None
    after = [following]
    for path in reversed(paths[1:]):
        following = path if path is not None else following
        after.append(following)
    after.reverse()
    for index, (node, path) in enumerate(zip(nodes, paths, strict=True)):
        if path is None:
            # A node that names no module (an `if` of a layer's own code, or the root's code in a loaded
            # archive): part of each open call that goes on after it.
            going_on = after[index] or ""
            for prefix, segment in open_segments.items():
                if going_on == prefix or going_on.startswith(prefix + "."):
                    segment.nodes.append(node)
            continue
        parts = path.split(".") if path else []
        prefixes = [".".join(parts[: end + 1]) for end in range(len(parts))]
        for name in [p for p in open_segments if p not in prefixes]:
            found.append(open_segments.pop(name))
        for prefix in prefixes:
            if prefix not in modules:
                break
            if prefix not in open_segments:
                open_segments[prefix] = Segment(prefix, index)
            open_segments[prefix].nodes.append(node)
    found += open_segments.values()
    return sorted(found, key=lambda s: (s.start, s.path.count(".")))


_CACHE: weakref.WeakKeyDictionary[nn.Module, Instrumented | str] = weakref.WeakKeyDictionary()


def instrument(model: torch.jit.ScriptModule) -> Instrumented | str:
    """The instrumented graph of ``model``, or why there is none (a sentence). Built once per model."""
    try:
        cached = _CACHE.get(model)
    except TypeError:
        cached = None
    if cached is not None:
        return cached
    try:
        built: Instrumented | str = _instrument(model)
    except Exception as error:  # noqa: BLE001 - torch's graph API on an archive we did not write: any failure means "not possible"
        built = f"its graph could not be instrumented ({type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''})"
    try:
        _CACHE[model] = built
    except TypeError:
        pass
    return built


def _instrument(model: torch.jit.ScriptModule) -> Instrumented | str:
    graph = model.inlined_graph  # a copy: the model's own graph is untouched
    block = graph.block()
    nodes = list(graph.nodes())
    modules = {name for name, _ in model.named_modules() if name}
    segments = _segments(nodes, modules)
    if not segments:
        return "its graph names no submodule"
    in_place = any(n.kind().startswith("aten::") and n.kind().endswith("_") for n in _all_nodes(block))
    none = graph.create("prim::Constant", [], 1)
    none.output().setType(torch._C.NoneType.get())
    none.insertBefore(nodes[0])
    extras: list[Any] = []
    positions: dict[Any, int] = {}
    copies: dict[Any, Any] = {}

    def extra(value: Any, copy: bool) -> int:
        if copy and in_place and isinstance(value.type(), torch._C.TensorType):
            # A later in-place op would change the returned value: copy it where it is made.
            clone = copies.get(value)
            if clone is None:
                node = graph.create("aten::clone", [value, none.output()], 1)
                node.output().setType(value.type())
                node.insertAfter(value.node())
                clone = copies[value] = node.output()
            value = clone
        if value not in positions:
            positions[value] = len(extras)
            extras.append(value)
        return positions[value]

    returned = graph.return_node()
    for segment in segments:
        inside = set(segment.nodes)
        for node in segment.nodes:
            if node.kind() in _NOT_VALUES:
                continue
            for value in node.outputs():
                if not _carries_tensors(value.type()):
                    continue
                users = [_top_level(use.user, block) for use in value.uses()]
                if any(user is returned or user not in inside for user in users):
                    segment.outputs.append(extra(value, copy=True))
        seen: set[Any] = set()
        for node in segment.nodes:
            for value in node.inputs():
                producer = value.node()
                if value in seen or producer.kind() in _NOT_VALUES or not _carries_tensors(value.type()):
                    continue
                if producer.kind() == "prim::Param" or _top_level(producer, block) not in inside:
                    seen.add(value)
                    segment.inputs.append(extra(value, copy=False))
    originals = list(returned.inputs())
    for _ in originals:
        graph.eraseOutput(0)
    values = originals + extras
    pack = graph.create("prim::TupleConstruct", values, 1)
    pack.output().setType(torch._C.TupleType([v.type() for v in values]))
    pack.insertBefore(graph.return_node())
    graph.registerOutput(pack.output())
    torch._C._jit_pass_lint(graph)
    function = torch._C._create_function_from_graph("inspector_layers", graph)
    return Instrumented(function, [s for s in segments if s.outputs or s.inputs], len(extras))


def _all_nodes(block: Any) -> list[Any]:
    found = []
    for node in block.nodes():
        found.append(node)
        for inner in node.blocks():
            found += _all_nodes(inner)
    return found


def layer_call(
    model: torch.jit.ScriptModule, record: Callable[[Segment, list[Any], list[Any]], None]
) -> Callable[[nn.Module, tuple[Any, ...]], Any] | None:
    """A ``call(model, args)`` for :func:`inspector.core.probe.run` that runs the instrumented graph and calls
    ``record(segment, input values, output values)`` for each submodule call; None where the graph cannot be
    instrumented (the probe then calls the model as it is)."""
    found = instrument(model)
    if isinstance(found, str):
        return None
    instrumented = found

    def call(module: nn.Module, args: tuple[Any, ...]) -> Any:
        results = instrumented.function(module._c, *args)
        output, extras = results[0], results[1:]
        for segment in instrumented.segments:
            record(segment, [extras[i] for i in segment.inputs], [extras[i] for i in segment.outputs])
        return output

    return call


def probe_call(model: torch.jit.ScriptModule, recorder: Any) -> Callable[[nn.Module, tuple[Any, ...]], Any] | None:
    """:func:`layer_call` recording into a probe's recorder: each submodule call gets a call record (no time)."""
    from inspector.core import stats
    from inspector.core.probe import CallRecord, ModuleRecord, shapes_of, tensors_in
    from inspector.core.tree import type_name

    modules = dict(model.named_modules())

    def record(segment: Segment, inputs: list[Any], outputs: list[Any]) -> None:
        name = segment.path
        module_record = recorder.records.get(name)
        if module_record is None:
            module_record = recorder.records[name] = ModuleRecord(name, type_name(modules[name]))
        call = CallRecord(index=recorder.calls, input_shapes=shapes_of(inputs), output_shapes=shapes_of(outputs))
        recorder.calls += 1
        module_record.calls.append(call)
        recorder.done.add(name)
        tensors = tensors_in(outputs)
        if recorder.measure and tensors:
            recorder.pending.append((call, stats.measure(tensors, histogram=recorder.histogram)))

    return layer_call(model, record)
