"""A plain tree of the model's modules, for views that must not hold the model.

Each :class:`ModuleNode` is built once from the live ``nn.Module`` and owns
its children, so a Qt model can point at nodes without keeping modules alive.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass(eq=False)
class ModuleNode:
    """One module of the model, where ``named_modules()`` first meets it.

    A module registered under several names (a shared block) gives one node,
    under its first name; ``aliases`` lists the others.
    """

    qualified_name: str
    """Dotted path as in ``named_modules()``; ``""`` for the root."""
    name: str
    """The last part of the path (the attribute name); the class name for the root."""
    type_name: str
    own_params: int
    """Parameters registered directly on this module."""
    total_params: int
    """Parameters of this module and everything under it, each tied parameter once."""
    extra_repr: str
    parent: ModuleNode | None = None
    children: list[ModuleNode] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    """The other paths this same module is registered at (shared), in the order they were met."""
    contains_itself: bool = False
    """True when one of ``aliases`` lies inside this very module: it is registered inside itself."""
    replaced: bool = False
    """True when this module is an ``nn.Identity`` put in by an edit."""
    row: int = 0
    """Position among the parent's children (0 for the root); kept so views need no search."""

    @property
    def depth(self) -> int:
        """Number of dots in the name plus one; 0 for the root."""
        return 0 if not self.qualified_name else self.qualified_name.count(".") + 1


    def walk(self) -> Iterator[ModuleNode]:
        """This node and every node under it, depth first (a loop: a tree can be thousands deep)."""
        pending = [self]
        while pending:
            node = pending.pop()
            yield node
            pending.extend(reversed(node.children))

    def find(self, qualified_name: str) -> ModuleNode | None:
        """The node at a dotted path, or None."""
        node: ModuleNode | None = self
        if not qualified_name:
            return self
        for part in qualified_name.split("."):
            assert node is not None
            node = next((c for c in node.children if c.name == part), None)
            if node is None:
                return None
        return node


def type_name(module: nn.Module) -> str:
    """The class name a person knows the module by (TorchScript keeps the original)."""
    original = getattr(module, "original_name", None)
    return original if isinstance(original, str) and original else type(module).__name__


def param_numel(param: nn.Parameter) -> int:
    """Elements of a parameter; 0 for a LazyModule's parameter that its first run has not materialised yet."""
    return 0 if nn.parameter.is_lazy(param) else param.numel()


def packed_numel(module: nn.Module) -> int:
    """Elements of a torch.ao quantized layer's packed weight and bias, which are not parameters.

    A quantized Linear or Conv keeps its weights packed (``module.weight()``
    unpacks them); counted as parameters, it would have none.
    """
    if not type(module).__module__.startswith("torch.ao.nn.quantized"):
        return 0
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    if not (callable(weight) and callable(bias)):
        return 0
    try:
        unpacked = [weight(), bias()]
    except Exception:  # noqa: BLE001 - an unusual quantized layer: its parameters, as torch counts them
        return 0
    return sum(t.numel() for t in unpacked if isinstance(t, torch.Tensor))


def count_params(module: nn.Module, recurse: bool = True) -> int:
    """Number of parameter elements (packed quantized weights too); tied parameters count once."""
    modules = module.modules() if recurse else [module]
    return sum(param_numel(p) for p in module.parameters(recurse=recurse)) + sum(packed_numel(m) for m in modules)


def _extra_repr(module: nn.Module) -> str:
    try:
        return module.extra_repr()
    except Exception:  # noqa: BLE001 - a user's extra_repr may fail; the tree still shows the module
        return ""


def build_tree(model: nn.Module, replaced: Iterable[str] = ()) -> ModuleNode:
    """Build the plain tree of ``model``; names in ``replaced`` are marked as edits.

    One node per distinct module, in ``named_modules()`` order and under the
    name ``named_modules()`` gives it: a module registered in several places
    (a shared block, weight tying, a module registered inside itself) is
    shown once, with its children, where it is first met; its other
    registrations are listed in its ``aliases``. The walk is a loop over the
    registrations, so it takes time in proportion to them, whatever the
    nesting depth and however many paths sharing makes (a shared block at
    each of 30 levels is 2**30 paths, 31 nodes).
    """
    # Tens of thousands of small objects and no garbage: a collection pass
    # here would only scan the model's objects again (it doubled the time of
    # a 10,000-module tree).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build_tree(model, replaced)
    finally:
        if collecting:
            gc.enable()


def _make_node(module: nn.Module, qualified: str, short: str, parent: ModuleNode | None, replaced: set[str]) -> ModuleNode:
    return ModuleNode(
        qualified_name=qualified,
        name=short,
        type_name=type_name(module),
        own_params=sum(param_numel(p) for p in module._parameters.values() if p is not None) + packed_numel(module),
        total_params=0,
        extra_repr=_extra_repr(module),
        parent=parent,
        replaced=qualified in replaced,
    )


def _is_ancestor(node: ModuleNode, of: ModuleNode | None) -> bool:
    while of is not None:
        if of is node:
            return True
        of = of.parent
    return False


def _build_tree(model: nn.Module, replaced: Iterable[str]) -> ModuleNode:
    replaced_set = set(replaced)
    root = _make_node(model, "", type_name(model), None, replaced_set)
    nodes: dict[int, ModuleNode] = {id(model): root}
    finished: list[tuple[ModuleNode, nn.Module]] = []
    shared = False
    # A depth-first walk with an explicit stack of child iterators: the same
    # order as named_modules(), without a Python frame per level (a model
    # nested 1,000 deep is a plain Sequential of Sequentials).
    stack: list[tuple[ModuleNode, nn.Module, Iterator[tuple[str, nn.Module | None]]]] = [
        (root, model, iter(list(model._modules.items())))
    ]
    while stack:
        node, module, children = stack[-1]
        for child_name, child in children:
            if child is None:
                continue
            qualified = f"{node.qualified_name}.{child_name}" if node.qualified_name else child_name
            known = nodes.get(id(child))
            if known is not None:
                shared = True
                known.aliases.append(qualified)
                if _is_ancestor(known, node):
                    known.contains_itself = True
                continue
            child_node = _make_node(child, qualified, child_name, node, replaced_set)
            child_node.row = len(node.children)
            node.children.append(child_node)
            nodes[id(child)] = child_node
            stack.append((child_node, child, iter(list(child._modules.items()))))
            break
        else:
            stack.pop()
            finished.append((node, module))
    if not shared:
        shared = _any_tied_parameter(finished)
    if shared:
        _count_shared(finished)
    else:
        # Every parameter is registered once: a subtree's total is a plain sum, children first.
        for node, _ in finished:
            node.total_params = node.own_params + sum(child.total_params for child in node.children)
    return root


def _any_tied_parameter(finished: list[tuple[ModuleNode, nn.Module]]) -> bool:
    seen: set[int] = set()
    for _, module in finished:
        for param in module._parameters.values():
            if param is not None:
                if id(param) in seen:
                    return True
                seen.add(id(param))
    return False


def _count_shared(finished: list[tuple[ModuleNode, nn.Module]]) -> None:
    """Totals where a parameter or module is registered more than once: each parameter counted once.

    ``finished`` is in post-order, so every module's children (its shown ones
    and its other registrations) are done before it, except an ancestor
    registered inside it, whose parameters are its own anyway.
    """
    sizes: dict[int, int] = {}
    under: dict[int, frozenset[int]] = {}
    for node, module in finished:
        own = frozenset(id(p) for p in module._parameters.values() if p is not None)
        for param in module._parameters.values():
            if param is not None:
                sizes[id(param)] = param_numel(param)
        parts = [under[id(c)] for c in module._modules.values() if c is not None and id(c) in under]
        parts = [part for part in parts if part]
        if not own and len(parts) == 1:
            total = parts[0]  # shared, not copied: a chain 1,000 deep stays linear
        else:
            total = own.union(*parts) if parts else own
        under[id(module)] = total
        node.total_params = sum(sizes[key] for key in total)


# --------------------------------------------------------------------------- structure checks

MAX_DEPTH = 3000
"""Deepest nesting of modules accepted: torch's own methods recurse once per level, and past
this the C stack of a thread (8 MiB) is at risk even with Python's recursion limit raised."""
FRAMES_PER_LEVEL = 8
"""Python frames a nesting level may cost in torch's recursive methods (a forward through
``Module.__call__`` takes three, hooks and generators a few more)."""
SPARE_FRAMES = 1000


def check_structure(model: nn.Module) -> None:
    """Refuse a model torch itself cannot walk, and make room for a deeply nested one.

    A module registered inside itself (``m.add_module("me", m)``) is a cycle:
    torch's own ``.to()``, ``.train()``, ``state_dict()`` and ``repr`` never
    end on it, so it raises :class:`ModelLoadError` naming the path. A model
    nested more than :data:`MAX_DEPTH` deep is refused too. A model nested
    deeper than Python's recursion limit allows (1,000 nested Sequentials)
    is fine in itself: the limit is raised, for the whole process and never
    lowered, so that torch's recursive methods and the forward run. The
    walk is a loop, in time proportional to the registrations.
    """
    from inspector.core.errors import ModelLoadError

    height: dict[int, int] = {}
    on_path: set[int] = {id(model)}
    names: dict[int, str] = {id(model): ""}
    stack: list[tuple[nn.Module, Iterator[tuple[str, nn.Module | None]]]] = [(model, iter(list(model._modules.items())))]
    while stack:
        module, children = stack[-1]
        for child_name, child in children:
            if child is None or id(child) in height:
                continue
            path = f"{names[id(module)]}.{child_name}" if names[id(module)] else child_name
            if id(child) in on_path:
                target = repr(names[id(child)]) if names[id(child)] else "the model itself"
                raise ModelLoadError(
                    f"{type(model).__name__} registers a module inside itself: {path!r} is {target} again; "
                    "torch's own .to(), .train() and state_dict() never end on such a model"
                )
            names[id(child)] = path
            on_path.add(id(child))
            stack.append((child, iter(list(child._modules.items()))))
            break
        else:
            stack.pop()
            on_path.discard(id(module))
            height[id(module)] = 1 + max(
                (height[id(c)] for c in module._modules.values() if c is not None), default=0
            )
    depth = height[id(model)] - 1
    if depth > MAX_DEPTH:
        raise ModelLoadError(
            f"{type(model).__name__} nests modules {depth} deep; at most {MAX_DEPTH} levels can be inspected "
            "(torch's own methods recurse once per level)"
        )
    needed = depth * FRAMES_PER_LEVEL + SPARE_FRAMES
    if needed > sys.getrecursionlimit():
        sys.setrecursionlimit(needed)
