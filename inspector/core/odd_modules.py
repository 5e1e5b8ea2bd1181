"""Modules the per-module hooks of a probe cannot see, or must not see as they are.

- ``torch.compile``'d models (``OptimizedModule``): hooks on the modules
  inside a compiled one are traced by Dynamo, and every run recompiles
  (20-42 s for a small model). A compiled model is inspected through its
  original module, ``_orig_mod``, which runs eagerly: the tree is the
  original's, and nothing is compiled.
- TorchScript submodules take no hooks; their calls are recorded at their
  boundary through torch's global module hooks.
- Modules created during the forward (``nn.Linear(...)(x)`` inside
  ``forward``, or assigned to ``self`` there) were not hooked when the run
  started; the same global hooks record them, as created in the forward.
- Work of ours that runs inside the user's forward (a pass-through Identity
  learning its call from the removed module) is set aside: it is neither
  recorded nor counted in a layer's time.

The global hooks are installed only while a probe runs, and removed with the
per-module hooks.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

from inspector.core.tree import type_name

if TYPE_CHECKING:
    from inspector.core.probe import ModuleRecord


# --------------------------------------------------------------------------- torch.compile


def _optimized_module_type() -> type | None:
    # Without torch._dynamo imported no model can be compiled: importing it
    # just to check would cost the command line's cold start seconds.
    eval_frame = sys.modules.get("torch._dynamo.eval_frame")
    found = getattr(eval_frame, "OptimizedModule", None)
    return found if isinstance(found, type) else None


def is_compiled(module: nn.Module) -> bool:
    """True for what ``torch.compile(module)`` returns (an ``OptimizedModule``)."""
    optimized = _optimized_module_type()
    return optimized is not None and isinstance(module, optimized)


def original_module(module: nn.Module) -> nn.Module:
    """The module a ``torch.compile``'d one wraps (through every layer of wrapping); any other module as it is."""
    while is_compiled(module):
        inner = module._orig_mod
        assert isinstance(inner, nn.Module)
        module = inner
    return module


def uncompile(model: nn.Module) -> tuple[nn.Module, int]:
    """``model`` with every compiled module in it replaced by its original, and how many there were.

    The root comes back unwrapped; a compiled submodule is replaced in its
    parent's registry by the module it wraps, so the tree, the edits and the
    report show the original module tree. The weights are the same objects.
    """
    root = original_module(model)
    count = int(root is not model)
    if _optimized_module_type() is None:
        return root, count
    stack = [root]
    seen: set[int] = set()
    while stack:
        parent = stack.pop()
        if id(parent) in seen:
            continue
        seen.add(id(parent))
        for name, child in list(parent._modules.items()):
            if child is not None and is_compiled(child):
                child = parent._modules[name] = original_module(child)
                count += 1
            if child is not None:
                stack.append(child)
    return root, count


def compiled_note(count: int) -> str:
    """What the loaded model's notes say when :func:`uncompile` unwrapped ``count`` compiled modules."""
    what = "the model is" if count == 1 else f"{count} modules are"
    return f"torch.compile: {what} inspected through the original module (_orig_mod), run eagerly; nothing is compiled"


@contextlib.contextmanager
def eager_compiled(named: list[tuple[str, nn.Module]]) -> Iterator[None]:
    """While it lasts, each compiled module among ``named`` calls its original eagerly, hooks and all.

    For a model handed to the probe as it is (the session unwraps them when
    it opens a model): an ``OptimizedModule`` keeps its compiled callable in
    its instance's ``forward``, which is swapped for the original's
    ``__call__`` and put back afterwards.
    """
    compiled = [m for _, m in named if is_compiled(m)] if _optimized_module_type() is not None else []
    if not compiled:
        yield
        return
    saved = [(m, m.__dict__.get("forward")) for m in compiled]
    for module in compiled:
        module.__dict__["forward"] = original_module(module).__call__
    try:
        with warnings.catch_warnings():
            # The compiled module warns that global hooks fire for it too: they do, and it is filtered out.
            warnings.filterwarnings("ignore", message=r"Using `torch.compile\(module\)` when there are global hooks")
            yield
    finally:
        for module, forward in saved:
            if forward is None:
                module.__dict__.pop("forward", None)
            else:
                module.__dict__["forward"] = forward


# --------------------------------------------------------------------------- work set aside


class _Timed(Protocol):
    overhead: float


_local = threading.local()


def _aside_depth() -> int:
    return int(getattr(_local, "aside", 0))


@contextlib.contextmanager
def timing(recorder: _Timed) -> Iterator[None]:
    """While it lasts, time spent in :func:`set_aside` on this thread is added to ``recorder.overhead``.

    A probe subtracts its overhead from each layer's time and from the total,
    as it does for the time of its own hooks.
    """
    recorders: list[_Timed] = _local.__dict__.setdefault("recorders", [])
    recorders.append(recorder)
    try:
        yield
    finally:
        recorders.remove(recorder)


@contextlib.contextmanager
def set_aside() -> Iterator[None]:
    """Work of ours inside a user's forward: not recorded by a running probe, and not part of any layer's time."""
    started = time.perf_counter()
    _local.aside = _aside_depth() + 1
    try:
        yield
    finally:
        _local.aside -= 1
        if not _local.aside:
            elapsed = time.perf_counter() - started
            for recorder in _local.__dict__.get("recorders", []):
                recorder.overhead += elapsed


# --------------------------------------------------------------------------- calls outside the tree


class _Recording(Protocol):
    """What :class:`OutsideTree` needs of the probe's recorder."""

    names: dict[int, str]
    stack: list[Any]

    def pre(self, module: nn.Module, args: tuple[Any, ...]) -> None: ...

    def post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None: ...


class OutsideTree:
    """Global module hooks for the calls per-module hooks cannot record.

    TorchScript submodules are recorded at their boundary (the outermost one
    only: nothing inside TorchScript runs Python). A module not in the tree
    when the run started is recorded under a name made from the module that
    was running when it was first called: ``block.<Linear #1>``; one that
    the forward attached to the model is renamed to its place in the tree
    afterwards (see :meth:`place`).
    """

    def __init__(self, recorder: _Recording, named: list[tuple[str, nn.Module]], *, scripted_root: bool) -> None:
        self.recorder = recorder
        self.known = {id(m) for _, m in named}
        self.outermost: set[int] = set()
        if not scripted_root:
            scripted = [(n, m) for n, m in named if isinstance(m, torch.jit.ScriptModule)]
            self.outermost = {
                id(m) for n, m in scripted if not any(n.startswith(o + ".") for o, _ in scripted if o != n)
            }
        self.created: dict[int, tuple[str, nn.Module]] = {}
        """id -> (the name given during the run, the module); the module is kept so its id is not reused."""
        self._counts: dict[str, int] = {}
        self._thread = threading.get_ident()
        """Global hooks see every thread's modules: only the run's own thread is recorded."""

    def install(self) -> list[Any]:
        """The two global hooks' handles (removed by the probe with its own)."""
        return [
            torch.nn.modules.module.register_module_forward_pre_hook(self.pre),
            torch.nn.modules.module.register_module_forward_hook(self.post),
        ]

    def pre(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        key = id(module)
        if key in self.known:
            if key in self.outermost:
                self.recorder.pre(module, args)
            return
        if key not in self.created:
            if _aside_depth() or threading.get_ident() != self._thread:
                return
            name = self._name_for(module)
            self.created[key] = (name, module)
            self.recorder.names[key] = name
        self.recorder.pre(module, args)

    def post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        key = id(module)
        if key in self.known:
            if key in self.outermost:
                self.recorder.post(module, args, output)
            return
        if key in self.created:
            self.recorder.post(module, args, output)

    def _name_for(self, module: nn.Module) -> str:
        parent = self.recorder.stack[-1][0] if self.recorder.stack else ""
        creator = next((m for n, m in self.created.values() if n == parent), None)
        if creator is not None:
            # A child of a module created in the forward: named by its place in that module.
            for relative, child in creator.named_modules():
                if child is module and relative:
                    return f"{parent}.{relative}"
        label = type_name(module)
        key = f"{parent}\0{label}"
        self._counts[key] = self._counts.get(key, 0) + 1
        own = f"<{label} #{self._counts[key]}>"
        return f"{parent}.{own}" if parent else own

    def place(
        self, model: nn.Module, records: dict[str, ModuleRecord], made: dict[str, ModuleRecord]
    ) -> tuple[dict[str, ModuleRecord], list[ModuleRecord]]:
        """``(records, created)`` once the run is over.

        ``records`` covers ``model.named_modules()`` as they are now, in that
        order: a module the forward attached to the model takes its place
        there, marked ``created_in_forward``; ``made`` holds the recorder's
        records by the names used during the run. ``created`` lists, in the
        order they were first called, the records of modules called in the
        forward that are not in the tree.
        """
        from inspector.core.probe import ModuleRecord

        if not self.created:
            return records, []
        placed: dict[str, Any] = {}
        attached: set[int] = set()
        for name, module in model.named_modules():
            entry = self.created.get(id(module))
            if entry is not None and entry[0] in made:
                record = made[entry[0]]
                record.name = name
                record.created_in_forward = True
                placed[name] = record
                attached.add(id(module))
            else:
                placed[name] = records.get(name) or ModuleRecord(name, type_name(module))
        created: list[ModuleRecord] = []
        for key, (name, _) in self.created.items():
            if key not in attached and name in made:
                made[name].created_in_forward = True
                created.append(made[name])
        created.sort(key=lambda r: r.calls[0].index if r.calls else 0)
        return placed, created


# --------------------------------------------------------------------------- torch.ao quantized models


def _quantized(module: nn.Module) -> bool:
    # By where the class lives: torch.ao is not imported to check.
    return type(module).__module__.startswith(("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized"))


def float_twin(module: nn.Module) -> nn.Module | None:
    """A float layer on the meta device with a quantized Conv or Linear's sizes; None for any other module.

    For what reads only a layer's sizes (the input guess): a quantized layer
    is no ``nn.Conv2d`` or ``nn.Linear``, and keeps its weights packed.
    """
    if not _quantized(module):
        return None
    in_channels, out_channels = getattr(module, "in_channels", None), getattr(module, "out_channels", None)
    kernel = getattr(module, "kernel_size", None)
    if isinstance(in_channels, int) and isinstance(out_channels, int) and isinstance(kernel, tuple):
        conv: Any = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}.get(len(kernel))
        if conv is not None:
            twin: nn.Module = conv(in_channels, out_channels, kernel, device="meta")
            return twin
    in_features, out_features = getattr(module, "in_features", None), getattr(module, "out_features", None)
    if isinstance(in_features, int) and isinstance(out_features, int):
        return nn.Linear(in_features, out_features, device="meta")
    return None


@contextlib.contextmanager
def quantized_unpickling() -> Iterator[None]:
    """While it lasts, a pickled static-quantized Conv can be unpickled.

    torch's quantized ``_ConvNd.__setstate__`` assigns attributes to a module
    whose ``nn.Module.__init__`` never ran (pickle skips it), and fails
    (``'Conv2d' object has no attribute '_backward_hooks'``); torch's own
    ``__deepcopy__`` runs ``nn.Module.__init__`` first, and so does this.
    """
    from torch.ao.nn.quantized.modules import conv

    original = conv._ConvNd.__setstate__

    def setstate(self: Any, state: Any) -> None:
        if "_modules" not in self.__dict__:
            nn.Module.__init__(self)
        original(self, state)

    conv._ConvNd.__setstate__ = setstate  # type: ignore[method-assign]
    try:
        yield
    finally:
        conv._ConvNd.__setstate__ = original  # type: ignore[method-assign]
