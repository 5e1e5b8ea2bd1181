"""A plain tree of the model's modules, for views that must not hold the model.

Each :class:`ModuleNode` is built once from the live ``nn.Module`` and owns
its children, so a Qt model can point at nodes without keeping modules alive.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from torch import nn


@dataclass(eq=False)
class ModuleNode:
    """One registration of a module in the model.

    A module registered under two names (a shared block) gives two nodes, each
    listing the other name in ``aliases``.
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
    replaced: bool = False
    """True when this module is an ``nn.Identity`` put in by an edit."""
    row: int = 0
    """Position among the parent's children (0 for the root); kept so views need no search."""

    @property
    def depth(self) -> int:
        """Number of dots in the name plus one; 0 for the root."""
        return 0 if not self.qualified_name else self.qualified_name.count(".") + 1


    def walk(self) -> Iterator[ModuleNode]:
        """This node and every node under it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

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
    return 0 if isinstance(param, nn.parameter.UninitializedTensorMixin) else param.numel()


def count_params(module: nn.Module, recurse: bool = True) -> int:
    """Number of parameter elements; tied parameters count once."""
    return sum(param_numel(p) for p in module.parameters(recurse=recurse))


def _extra_repr(module: nn.Module) -> str:
    try:
        return module.extra_repr()
    except Exception:  # noqa: BLE001 - a user's extra_repr may fail; the tree still shows the module
        return ""


def build_tree(model: nn.Module, replaced: Iterable[str] = ()) -> ModuleNode:
    """Build the plain tree of ``model``; names in ``replaced`` are marked as edits."""
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


def _build_tree(model: nn.Module, replaced: Iterable[str]) -> ModuleNode:
    replaced_set = set(replaced)
    first_name: dict[int, list[str]] = {}
    made: list[tuple[ModuleNode, nn.Module]] = []
    registrations: dict[int, int] = {}

    def make(module: nn.Module, qualified: str, short: str, parent: ModuleNode | None, seen: tuple[int, ...]) -> ModuleNode:
        own = {id(p): p for p in module._parameters.values() if p is not None}
        for key in own:
            registrations[key] = registrations.get(key, 0) + 1
        node = ModuleNode(
            qualified_name=qualified,
            name=short,
            type_name=type_name(module),
            own_params=sum(param_numel(p) for p in own.values()),
            total_params=0,
            extra_repr=_extra_repr(module),
            parent=parent,
            replaced=qualified in replaced_set,
        )
        made.append((node, module))
        first_name.setdefault(id(module), []).append(qualified)
        if id(module) in seen:  # a module that contains itself: show it once, stop there
            return node
        for child_name, child in module._modules.items():
            if child is None:
                continue
            child_qualified = f"{qualified}.{child_name}" if qualified else child_name
            child_node = make(child, child_qualified, child_name, node, seen + (id(module),))
            child_node.row = len(node.children)
            node.children.append(child_node)
        return node

    root = make(model, "", type_name(model), None, ())
    if any(count > 1 for count in registrations.values()):
        # Tied parameters or a shared module: each subtree must count each parameter once.
        for node, module in made:
            node.total_params = count_params(module)
    else:
        # Every parameter is registered once: a subtree's total is a plain sum, children first.
        for node, _ in reversed(made):
            node.total_params = node.own_params + sum(child.total_params for child in node.children)
    by_id = {k: v for k, v in first_name.items() if len(v) > 1}
    if by_id:
        names_of = {name: names for names in by_id.values() for name in names}
        for node in root.walk():
            others = names_of.get(node.qualified_name)
            if others:
                node.aliases = [n for n in others if n != node.qualified_name]
    return root
