"""The dataflow graph of one forward: which call fed which, with every tensor's shape and dtype.

:func:`capture` runs the model once with its own hooks (a pre- and a
post-forward hook on every module, with keyword arguments) and a torch
function mode, and removes both in ``finally``. The mode is installed only
here, when a graph is asked for: a plain probed run never pays for it.

- **Nodes** are module calls (a module called twice gives two nodes,
  ``relu`` and ``relu#1``), the functional operations that join or reshape
  tensors between modules (``layer1.0.add``, ``flatten``, ``cat``, ...,
  recorded only where the innermost running module has children: what a
  leaf such as a Conv2d does inside is its own business), the model's inputs
  and its output.
- **Edges** run from the call that produced a tensor to every call that
  consumed it, labelled with the tensor's shape and dtype. Tensors are known
  by identity and version (``id`` + ``_version``, as the statistics are): an
  in-place ReLU after a BatchNorm gives ``bn -> relu -> next`` (the ReLU
  produced the tensor's next version), and an ``nn.Identity`` that returns
  its input is a *pass-through* node whose output edge carries that same
  tensor.
- **Containers nest their children**: every node knows its parent call. The
  captured graph is the finest one (leaf modules and operations);
  :func:`collapse` gives the same graph at any depth, or with any set of
  containers expanded.
- **A failing run** marks the innermost module that raised (or the operation,
  such as a residual ``add``, whose shapes did not fit), and the edges that
  carried tensors into it.

Meta-device runs give the graph too (shapes only; see :mod:`inspector.core.shapes`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.hooks import RemovableHandle

from inspector.core.common import ModelState, first_line, install_hooks, remove_hooks, tensors_in
from inspector.core.errors import InspectorError
from inspector.core.probe import Cancelled
from inspector.core.tree import type_name

SCHEMA = "model-inspector/graph@1"
AUTO_NODE_LIMIT = 150
"""The default view is the deepest one with at most this many nodes."""

StopCallback = Callable[[], bool]


class GraphUnavailable(InspectorError):
    """The model cannot give a dataflow graph (a TorchScript module runs no Python hooks)."""

_OP_NAMES = {
    "__add__": "add", "__radd__": "add", "__iadd__": "add",
    "__sub__": "sub", "__rsub__": "sub", "__isub__": "sub",
    "__mul__": "mul", "__rmul__": "mul", "__imul__": "mul",
    "__truediv__": "div", "__rtruediv__": "div", "__itruediv__": "div",
    "__matmul__": "matmul", "__rmatmul__": "matmul",
    "__getitem__": "getitem", "__setitem__": "setitem",
    "__neg__": "neg", "__pow__": "pow", "__and__": "and", "__or__": "or",
}
_PROPERTY_OPS = {"T": "T", "mT": "mT", "H": "H", "mH": "mH"}
"""Attribute reads that make a new tensor; every other attribute read (shape, dtype, device) is not an operation."""


@dataclass
class GraphNode:
    """One call of a module, one operation, the model's input, or its output."""

    id: str
    """Unique in the graph: ``layer1.0.conv1``, ``relu#1`` (a second call), ``layer1.0.add``, ``input``, ``output``."""
    kind: str
    """``module``, ``op``, ``input`` or ``output``."""
    name: str
    """Module calls: the module's qualified name; operations: the function's name; ``input``/``output``."""
    type_name: str
    """The module's class (``Conv2d``), or the operation again (``add``)."""
    module: str | None
    """The module of the tree this node stands for: the called module, or for an operation the module whose forward ran it."""
    call: int = 0
    """Which call of the module (0 is the first)."""
    parent: str | None = None
    """The id of the enclosing container's call; None at the top."""
    depth: int = 1
    order: int = 0
    """Order in which calls started (inputs first, output last)."""
    output_shapes: list[list[int]] = field(default_factory=list)
    output_dtypes: list[str] = field(default_factory=list)
    container: bool = False
    """True when other nodes were recorded inside this call."""
    passthrough: bool = False
    """The call returned its input tensor itself, unchanged (an ``nn.Identity``)."""
    replaced: bool = False
    """The module is an ``nn.Identity`` the user put in place of the original."""
    failed: bool = False
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "name": self.name, "type": self.type_name, "module": self.module,
            "call": self.call, "parent": self.parent, "depth": self.depth, "container": self.container,
            "output_shapes": self.output_shapes, "output_dtypes": self.output_dtypes,
            "passthrough": self.passthrough, "replaced": self.replaced, "failed": self.failed, "error": self.error,
        }


@dataclass
class GraphEdge:
    """A tensor that went from the call that produced it to a call that consumed it."""

    source: str
    target: str
    shape: list[int]
    dtype: str
    tensor: int
    """Which tensor (numbered as produced): one tensor that feeds three calls is three edges with one number."""
    version: int = 0
    """The tensor's ``_version`` when it was consumed: an in-place op in between makes a new version."""
    failed: bool = False
    """The tensor went into the call that raised."""

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "shape": self.shape, "dtype": self.dtype,
                "tensor": self.tensor, "version": self.version, "failed": self.failed}

    @property
    def label(self) -> str:
        return f"[{', '.join(str(s) for s in self.shape)}] {self.dtype}"


@dataclass
class GraphError:
    """Where the forward raised: the innermost module, and the operation when one raised directly."""

    module: str | None
    type_name: str | None
    message: str
    exception_type: str
    node: str | None
    """The graph node marked failed (the module's call, or the operation inside it)."""

    def as_dict(self) -> dict[str, Any]:
        return {"module": self.module, "type": self.type_name, "message": self.message,
                "exception_type": self.exception_type, "node": self.node}


@dataclass
class DataflowGraph:
    """Nodes and edges of one forward (or a collapsed view of it)."""

    nodes: dict[str, GraphNode]
    """By id, in the order the calls started."""
    edges: list[GraphEdge]
    error: GraphError | None = None
    cancelled: bool = False
    device: str = "cpu"

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled

    def children(self, node_id: str | None) -> list[GraphNode]:
        """The nodes directly inside ``node_id`` (None: the top level)."""
        return [n for n in self.nodes.values() if n.parent == node_id]

    def ancestors(self, node_id: str) -> list[str]:
        """Enclosing containers of ``node_id``, innermost first."""
        found = []
        parent = self.nodes[node_id].parent
        while parent is not None:
            found.append(parent)
            parent = self.nodes[parent].parent
        return found

    def incoming(self, node_id: str) -> list[GraphEdge]:
        return [e for e in self.edges if e.target == node_id]

    def outgoing(self, node_id: str) -> list[GraphEdge]:
        return [e for e in self.edges if e.source == node_id]

    def node_of_module(self, module: str) -> GraphNode | None:
        """The first call of ``module``, or None when it made no node."""
        for node in self.nodes.values():
            if node.kind == "module" and node.module == module:
                return node
        return None

    def as_dict(self) -> dict[str, Any]:
        """The ``model-inspector/graph@1`` document (see docs/cli.md)."""
        return {
            "schema": SCHEMA,
            "ok": self.ok,
            "error": self.error.as_dict() if self.error is not None else None,
            "nodes": [n.as_dict() for n in self.nodes.values()],
            "edges": [e.as_dict() for e in self.edges],
        }


# --------------------------------------------------------------------------- capture


@dataclass
class _Frame:
    module: nn.Module
    node: GraphNode | None
    """None for the root module (it is the whole graph, not a node of it)."""
    leaf: bool
    inputs: list[tuple[str, torch.Tensor, int, int]]
    """(producer id, tensor, tensor number, version) of every tensor the call was given."""
    has_children: bool = False


class _Capture(TorchFunctionMode):
    """Hooks and the torch function mode of one captured forward."""

    def __init__(self, names: dict[int, str], replaced: set[str], should_stop: StopCallback | None) -> None:
        super().__init__()
        self.names = names
        self.replaced = replaced
        self.should_stop = should_stop
        self.nodes: dict[str, GraphNode] = {}
        self.edges: list[GraphEdge] = []
        self.edge_keys: set[tuple[str, str, int]] = set()
        self.stack: list[_Frame] = []
        self.calls: dict[str, int] = {}
        self.order = 0
        self.serial = 0
        # id(tensor) -> (weak reference, version, producer id, tensor number)
        self.producers: dict[int, tuple[Any, int, str, int]] = {}
        self.in_hook = False
        self.failed_op: tuple[GraphNode, list[tuple[str, torch.Tensor, int, int]], int] | None = None

    # ----------------------------------------------------------------- tensors

    def produced(self, tensor: torch.Tensor, producer: str, same_tensor: bool = False) -> int:
        """Record ``producer`` as the maker of ``tensor``; ``same_tensor``: it handed on a tensor it was given, unchanged."""
        known = self.producer_of(tensor) if same_tensor else None
        if known is None:
            self.serial += 1
        serial = known[1] if known is not None else self.serial
        try:
            ref: Any = weakref.ref(tensor)
        except TypeError:
            ref = lambda: tensor  # noqa: E731 - a tensor type without weak references: kept for the run
        self.producers[id(tensor)] = (ref, _version(tensor), producer, serial)
        return serial

    def producer_of(self, tensor: torch.Tensor) -> tuple[str, int] | None:
        known = self.producers.get(id(tensor))
        if known is None or known[0]() is not tensor:
            return None
        # A version that moved on was changed in place by something not
        # recorded (inside a leaf); the last recorded producer is still the
        # nearest call that made it.
        return known[2], known[3]

    def sources(self, value: Any) -> list[tuple[str, torch.Tensor, int, int]]:
        """(producer, tensor, tensor number, version now) of every tracked tensor in ``value``."""
        found = []
        for tensor in tensors_in(value):
            known = self.producer_of(tensor)
            if known is not None:
                found.append((known[0], tensor, known[1], _version(tensor)))
        return found

    def connect(self, sources: list[tuple[str, torch.Tensor, int, int]], target: str, failed: bool = False) -> None:
        for producer, tensor, serial, version in sources:
            key = (producer, target, serial)
            if key in self.edge_keys:
                continue
            self.edge_keys.add(key)
            self.edges.append(GraphEdge(producer, target, list(tensor.shape), _dtype(tensor), serial, version, failed))

    # ----------------------------------------------------------------- nodes

    def new_node(self, kind: str, name: str, type_name_: str, module: str | None) -> GraphNode:
        parent_frame = self.innermost()
        parent = parent_frame.node if parent_frame is not None else None
        if parent_frame is not None:
            parent_frame.has_children = True
        key = f"{kind}:{name}"
        call = self.calls.get(key, 0)
        self.calls[key] = call + 1
        node_id = name if call == 0 else f"{name}#{call}"
        while node_id in self.nodes:  # an operation named like a submodule
            node_id += "'"
        node = GraphNode(
            id=node_id, kind=kind, name=name, type_name=type_name_, module=module, call=call,
            parent=parent.id if parent is not None else None,
            depth=parent.depth + 1 if parent is not None else 1, order=self.order,
        )
        if parent is not None:
            parent.container = True
        self.order += 1
        self.nodes[node_id] = node
        return node

    def innermost(self) -> _Frame | None:
        return self.stack[-1] if self.stack else None

    # ----------------------------------------------------------------- module hooks

    def pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.in_hook = True
        try:
            if self.should_stop is not None and self.should_stop():
                raise Cancelled()
            name = self.names[id(module)]
            leaf = next(module.children(), None) is None
            node = None
            if name:
                node = self.new_node("module", name, type_name(module), name)
                node.replaced = name in self.replaced
            self.stack.append(_Frame(module, node, leaf, self.sources([args, kwargs])))
        finally:
            self.in_hook = False

    def post(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
        self.in_hook = True
        try:
            while self.stack and self.stack[-1].module is not module:
                self.stack.pop()  # children whose exception the module caught
            if not self.stack:
                return
            frame = self.stack.pop()
            node = frame.node
            if node is None:
                return
            tensors = tensors_in(output)
            node.output_shapes = [list(t.shape) for t in tensors]
            node.output_dtypes = [_dtype(t) for t in tensors]
            if frame.has_children:
                return
            # Nothing was recorded inside: the call is one node of the finest graph.
            self.connect(frame.inputs, node.id)
            given = {(id(t), version) for _, t, _, version in frame.inputs}
            node.passthrough = bool(tensors) and all((id(t), _version(t)) in given for t in tensors)
            for tensor in tensors:
                # A pass-through's output edge carries its input tensor: the same tensor number.
                self.produced(tensor, node.id, same_tensor=(id(tensor), _version(tensor)) in given)
        finally:
            self.in_hook = False

    # ----------------------------------------------------------------- operations

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        frame = self.innermost()
        if self.in_hook or frame is None or frame.leaf:
            return func(*args, **kwargs)
        name = _op_name(func)
        if name is None:
            return func(*args, **kwargs)
        inputs = tensors_in([args, kwargs])
        sources = self.sources([args, kwargs])
        versions = [(t, _version(t)) for t in inputs]
        try:
            output = func(*args, **kwargs)
        except Exception:
            node = self.new_node("op", _op_node_name(frame, name), name, _module_of(frame))
            self.failed_op = (node, sources, len(self.stack))
            raise
        outputs = tensors_in(output)
        # In place (add_, +=, setitem): the operation made the tensor's next version.
        changed = [t for t, v in versions if _version(t) != v]
        if not outputs and not changed:
            return output
        node = self.new_node("op", _op_node_name(frame, name), name, _module_of(frame))
        self.connect(sources, node.id)
        made = outputs + [t for t in changed if all(t is not o for o in outputs)]
        node.output_shapes = [list(t.shape) for t in made]
        node.output_dtypes = [_dtype(t) for t in made]
        given = {(id(t), v) for t, v in versions}
        node.passthrough = bool(outputs) and all((id(t), _version(t)) in given for t in outputs)
        for tensor in made:
            self.produced(tensor, node.id, same_tensor=(id(tensor), _version(tensor)) in given)
        return output


def _version(tensor: torch.Tensor) -> int:
    try:
        return int(tensor._version)
    except (RuntimeError, AttributeError):  # tensors without a version counter (some wrappers)
        return 0


def _dtype(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


def _op_name(func: Any) -> str | None:
    name = getattr(func, "__name__", None)
    if not isinstance(name, str):
        return None
    if name == "__get__":
        owner = getattr(func, "__self__", None)
        return _PROPERTY_OPS.get(getattr(owner, "__name__", ""))
    if name in _OP_NAMES:
        return _OP_NAMES[name]
    if name.startswith("__") or name in ("size", "dim", "numel", "stride", "element_size", "is_contiguous"):
        return None
    # ``out += identity`` arrives as ``add_``: the join is an add either way (the edges' versions tell in-place).
    return name[:-1] if name.endswith("_") and not name.startswith("_") and len(name) > 1 else name


def _module_of(frame: _Frame) -> str:
    return frame.node.module or "" if frame.node is not None else ""


def _op_node_name(frame: _Frame, op: str) -> str:
    return f"{frame.node.name}.{op}" if frame.node is not None else op


def _input_args(inputs: Any) -> tuple[Any, ...]:
    return inputs if isinstance(inputs, tuple) else (inputs,)


def capture(
    model: nn.Module,
    inputs: Any,
    *,
    mode: str = "eval",
    replaced: Iterable[str] = (),
    should_stop: StopCallback | None = None,
    call: Callable[[nn.Module, tuple[Any, ...]], Any] | None = None,
) -> DataflowGraph:
    """Run ``model`` once on ``inputs`` and record its dataflow graph (the finest one).

    ``inputs`` is a tuple of positional arguments (or one tensor) on the
    model's device. ``mode`` applies to this run only, and a train-mode run
    leaves the buffers as they were. ``replaced`` names the modules the user
    replaced with Identity (marked on their nodes). A forward that raises
    gives a graph with ``error`` set and everything recorded before it.
    ``call(model, args)`` replaces ``model(*args)`` (the meta-device run).
    """
    if mode not in ("eval", "train"):
        raise ValueError(f"mode must be 'eval' or 'train', not {mode!r}")
    args = _input_args(inputs)
    named = list(model.named_modules())
    names = {id(m): n for n, m in named}
    recorder = _Capture(names, set(replaced), should_stop)
    given = tensors_in(list(args))
    for position, tensor in enumerate(given):
        label = "input" if len(given) == 1 else f"input.{position}"
        node = recorder.new_node("input", label, "input", None)
        node.output_shapes = [list(tensor.shape)]
        node.output_dtypes = [_dtype(tensor)]
        recorder.produced(tensor, node.id)
    state = ModelState(model, buffers=mode == "train")
    handles: list[RemovableHandle] = []
    error: GraphError | None = None
    cancelled = False
    output: Any = None
    device = given[0].device if given else torch.device("cpu")
    try:
        model.train(mode == "train")
        handles = install_hooks((m for _, m in named), recorder.pre, recorder.post, with_kwargs=True)
        with torch.no_grad(), recorder:
            output = call(model, args) if call is not None else model(*args)
    except Cancelled:
        cancelled = True
    except Exception as exc:  # noqa: BLE001 - the user's model can raise anything; it becomes a mark on the graph
        error = _mark_failure(recorder, exc, model)
    finally:
        remove_hooks(handles)
        state.restore()
    if error is None and not cancelled:
        sources = recorder.sources(output)
        if sources:
            node = recorder.new_node("output", "output", "output", None)
            node.order = recorder.order
            tensors = tensors_in(output)
            node.output_shapes = [list(t.shape) for t in tensors]
            node.output_dtypes = [_dtype(t) for t in tensors]
            recorder.connect(sources, node.id)
    recorder.producers.clear()
    return _pruned(DataflowGraph(recorder.nodes, recorder.edges, error, cancelled, str(device)))


def _mark_failure(recorder: _Capture, exc: BaseException, model: nn.Module) -> GraphError:
    frame = recorder.stack[-1] if recorder.stack else None
    message = first_line(exc)
    if frame is None:
        return GraphError(None, None, message, type(exc).__name__, None)
    module_node = frame.node
    module_name = module_node.module if module_node is not None else ""
    module = model.get_submodule(module_name) if module_name else model
    failed_node: GraphNode | None = None
    op = recorder.failed_op
    if op is not None and op[2] == len(recorder.stack) and op[0].parent == (module_node.id if module_node else None):
        # An operation of the innermost module raised (a residual add whose shapes did not fit).
        failed_node, sources, _ = op
        recorder.connect(sources, failed_node.id, failed=True)
    elif module_node is not None and not frame.has_children:
        failed_node = module_node
        recorder.connect(frame.inputs, module_node.id, failed=True)
    for node in (failed_node, module_node):
        if node is not None:
            node.failed = True
            node.error = f"{type(exc).__name__}: {message}"
    return GraphError(module_name, type_name(module), message, type(exc).__name__,
                      failed_node.id if failed_node is not None else (module_node.id if module_node else None))


def _pruned(graph: DataflowGraph) -> DataflowGraph:
    """Without operations that touched no tracked tensor and fed nothing (bookkeeping, not dataflow)."""
    linked = {e.source for e in graph.edges} | {e.target for e in graph.edges}
    drop = {i for i, n in graph.nodes.items() if n.kind == "op" and i not in linked and not n.failed}
    if not drop:
        return graph
    graph.nodes = {i: n for i, n in graph.nodes.items() if i not in drop}
    for node in graph.nodes.values():
        if node.container:
            node.container = any(c.parent == node.id for c in graph.nodes.values())
    return graph


def capture_session(session: Any, *, meta: bool = False, should_stop: StopCallback | None = None) -> DataflowGraph:
    """The dataflow graph of the session's model as it is now, on its sample input.

    On the meta device (``meta``, or a model built without weights) only
    shapes are known and nothing is allocated, as in :func:`inspector.core.shapes.meta_run`.
    """
    from inspector.core import shapes
    from inspector.core.inputs import make_inputs
    from inspector.core.meta_shortcuts import ShapeShortcuts

    if session.read_only:
        raise GraphUnavailable("a TorchScript module runs no Python hooks, so it has no dataflow graph here; "
                               "open the eager model (a .py factory, a state_dict with --arch) instead")
    spec = session.require_input()
    model = session.model
    if meta or session.on_meta:
        shapes.check_meta_supported(session.loaded.task, session.read_only)
        args = make_inputs(spec, "meta")
        call = None
        if not all(t.is_meta for t in list(model.parameters()) + list(model.buffers())):
            stand_ins = {
                name: torch.empty_like(t, device="meta")
                for name, t in list(model.named_parameters(remove_duplicate=False))
                + list(model.named_buffers(remove_duplicate=False))
            }

            def call(module: nn.Module, arguments: tuple[Any, ...]) -> Any:
                return torch.func.functional_call(module, stand_ins, arguments, tie_weights=True, strict=False)

        with ShapeShortcuts():
            graph = capture(model, args, mode=session.mode, replaced=session.replaced,
                            should_stop=should_stop, call=call)
        graph.device = "meta"
        return graph
    args = make_inputs(spec, session.device, arch=session.loaded.arch)
    return capture(model, args, mode=session.mode, replaced=session.replaced, should_stop=should_stop)


# --------------------------------------------------------------------------- views


def collapse(graph: DataflowGraph, depth: int | None = None, expanded: Iterable[str] | None = None) -> DataflowGraph:
    """The same graph with containers collapsed into single nodes.

    With ``depth``, containers deeper than ``depth`` are shown closed
    (``depth=1``: the model's top-level modules); with ``expanded``, exactly
    the containers whose ids it names are open (an open container's children
    are shown, itself is not a node). Edges inside a closed container vanish;
    edges between closed containers keep their tensor. A closed container
    holding the failing call is marked failed.
    """
    if expanded is None:
        limit = 10**9 if depth is None else depth
        open_ids = {n.id for n in graph.nodes.values() if n.container and n.depth < limit}
    else:
        open_ids = set(expanded)
    shown: dict[str, str] = {}

    def representative(node_id: str) -> str:
        if node_id in shown:
            return shown[node_id]
        chain = [node_id] + graph.ancestors(node_id)
        visible = node_id
        for ancestor in reversed(chain[1:]):  # outermost first
            if ancestor not in open_ids:
                visible = ancestor
                break
        shown[node_id] = visible
        return visible

    nodes: dict[str, GraphNode] = {}
    for node_id, node in graph.nodes.items():
        target = representative(node_id)
        if target == node_id and not (node.container and node_id in open_ids):
            nodes[node_id] = replace(node)  # a copy: marking a closed container failed must not touch the capture
    for node in graph.nodes.values():
        if node.failed:
            holder = nodes.get(representative(node.id))
            if holder is not None and not holder.failed:
                holder.failed = True
                holder.error = node.error
    edges: list[GraphEdge] = []
    seen: set[tuple[str, str, int]] = set()
    for edge in graph.edges:
        source, target = representative(edge.source), representative(edge.target)
        if source == target:
            continue
        key = (source, target, edge.tensor)
        if key in seen:
            continue
        seen.add(key)
        edges.append(replace(edge, source=source, target=target))
    ordered = dict(sorted(nodes.items(), key=lambda item: item[1].order))
    return DataflowGraph(ordered, edges, graph.error, graph.cancelled, graph.device)


def auto_depth(graph: DataflowGraph, limit: int = AUTO_NODE_LIMIT) -> int:
    """The deepest depth whose collapsed graph has at most ``limit`` nodes (at least 1)."""
    deepest = max((n.depth for n in graph.nodes.values()), default=1)
    chosen = 1
    for depth in range(1, deepest + 1):
        if len(collapse(graph, depth).nodes) > limit:
            break
        chosen = depth
    return chosen


# --------------------------------------------------------------------------- text forms


def shape_text(shapes: list[list[int]]) -> str:
    """``[1, 64, 56, 56]``; several tensors joined with ``, ``; ``—`` for none."""
    if not shapes:
        return "—"
    return ", ".join("[" + ", ".join(str(s) for s in shape) + "]" for shape in shapes)


def node_lines(node: GraphNode) -> list[str]:
    """The text of a node's box: name, type, output shape."""
    if node.kind in ("input", "output"):
        return [node.name, shape_text(node.output_shapes)]
    if node.kind == "op":
        if node.failed and not node.output_shapes and node.error:
            return [node.type_name, "raised " + node.error.split(":")[0]]
        return [node.type_name, shape_text(node.output_shapes)]
    kind = "Identity (replaced)" if node.replaced else node.type_name
    if node.passthrough and not node.replaced:
        kind += " (pass-through)"
    if node.failed and not node.output_shapes and node.error:
        return [node.id, kind, "raised " + node.error.split(":")[0]]
    return [node.id, kind, shape_text(node.output_shapes)]


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot_text(graph: DataflowGraph) -> str:
    """Graphviz text: every call a box, operations small ellipses, containers as clusters."""
    lines = ["digraph model {", "  rankdir=TB;", '  node [shape=box, style="rounded,filled", fillcolor="#f7f9fc", '
             'fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=8];']
    by_parent: dict[str | None, list[GraphNode]] = {}
    for node in graph.nodes.values():
        by_parent.setdefault(node.parent, []).append(node)

    def emit(parent: str | None, indent: str) -> None:
        for node in by_parent.get(parent, []):
            if node.container:
                lines.append(f"{indent}subgraph {_dot_quote('cluster_' + node.id)} {{")
                lines.append(f"{indent}  label={_dot_quote(node.id + ' (' + node.type_name + ')')};")
                lines.append(f'{indent}  style=rounded; color="#b8c2d0";')
                emit(node.id, indent + "  ")
                lines.append(f"{indent}}}")
                continue
            attributes = [f"label={_dot_quote(chr(10).join(node_lines(node)))}"]
            if node.kind == "op":
                attributes.append('shape=ellipse, fillcolor="#eef1f5"')
            elif node.kind in ("input", "output"):
                attributes.append('shape=oval, fillcolor="#e3ecfa"')
            if node.passthrough or node.replaced:
                attributes.append('style="rounded,dashed,filled"')
            if node.failed:
                attributes.append('color="#d62828", fillcolor="#fde2e2", penwidth=2')
                if node.error:
                    attributes.append(f"tooltip={_dot_quote(node.error)}")
            lines.append(f"{indent}{_dot_quote(node.id)} [{', '.join(attributes)}];")

    emit(None, "  ")
    for edge in graph.edges:
        style = ', color="#d62828", penwidth=2' if edge.failed else ""
        lines.append(f"  {_dot_quote(edge.source)} -> {_dot_quote(edge.target)} [label={_dot_quote(edge.label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def json_document(graph: DataflowGraph) -> dict[str, Any]:
    """The ``model-inspector/graph@1`` document: the finest graph; ``parent`` nests it."""
    return graph.as_dict()

