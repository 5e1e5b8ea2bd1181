"""The knockout sweep: every module replaced alone with Identity, one run each.

:func:`sweep` answers "which layers could this model lose?" for every
candidate module at once. It starts from the model as the session holds it
(edits already made stay in place and are part of the baseline), then for
each candidate, in ``named_modules()`` order: puts an ``nn.Identity`` at its
path (:meth:`inspector.core.edits.ModelEditor.trial`, outside the undo
history), runs the session's input, records whether the model still ran, its
output shapes and how far the final output moved, and puts the original
object back, also after a cancel or an exception. The model's weights and
buffers are bit-identical afterwards.

Every forward (the baseline's and each step's) starts from the random state
of the input's seed, so a model that is random in eval mode (MC dropout,
sampling) draws the same numbers in each, and knocking out an Identity
moves nothing. The baseline runs twice: when the two runs differ anyway (a
counter, a clock), the result says so with the distance between them, its
noise floor, and the prefix replay is turned off.

Speed: each step is a plain forward under ``torch.no_grad()``, with
no statistics. Only a light pre/post hook pair per module keeps a stack of
the modules being run, so that a step that raises says in which module (the
innermost on the stack) and so that a cancel stops inside a long forward.
"""

from __future__ import annotations

import contextlib
import difflib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from inspector.core.common import ModelState, RunError, device_of, first_line, install_hooks, tensors_in
from inspector.core.compare import NoiseFloor, distance_of, fixed_random_state
from inspector.core.devices import synchronize
from inspector.core.errors import EditError
from inspector.core.inputs import available_memory, parse_dtype
from inspector.core.precision import model_dtype
from inspector.core.probe import ProgressCallback, StopCallback, shapes_of
from inspector.core.session import Session
from inspector.core.tree import type_name
from inspector.core.watch import from_user

SCHEMA = "model-inspector/sweep@1"
REPLAY_BUDGET = 1 << 30
"""At most this many bytes of baseline outputs are kept for the prefix replay."""

EntryCallback = Callable[["SweepEntry"], None]
"""Called with each entry as soon as it is measured."""


@dataclass
class SweepEntry:
    """One candidate replaced alone with Identity, and what the model did then."""

    name: str
    type_name: str
    """The type of the module that was replaced (not ``Identity``)."""
    ok: bool
    output_shapes: list[list[int]]
    """The model's output shapes with this module replaced; ``[]`` when the forward raised."""
    relative_l2: float | None
    """``‖baseline − output‖ / ‖baseline‖`` of the final output; None when shapes differ or it failed."""
    cosine: float | None
    error: RunError | None = None
    """Where the forward raised: the innermost module running (``""`` the root, None none) and the message's first line."""
    time_ms: float | None = None
    """Wall time of this step's forward (not part of the JSON schema)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type_name,
            "ok": self.ok,
            "output_shapes": self.output_shapes,
            "relative_l2": self.relative_l2,
            "cosine": self.cosine,
            "error": {"module": self.error.module, "message": self.error.message} if self.error is not None else None,
        }


@dataclass
class SweepResult:
    """A whole sweep: the baseline and one entry per candidate done."""

    model: str
    input: dict[str, Any]
    device: str
    mode: str
    baseline_output_shapes: list[list[int]]
    candidates: list[str]
    """Every module the sweep was asked to try, in order; ``entries`` holds those done."""
    entries: list[SweepEntry] = field(default_factory=list)
    cancelled: bool = False
    total_s: float = 0.0
    replayed_calls: int = 0
    """Module calls taken from the baseline instead of computed (see :class:`_Hooks`)."""
    noise_floor: NoiseFloor | None = None
    """How far two runs of the model as it is differ by themselves (None before the baseline ran)."""

    @property
    def complete(self) -> bool:
        return not self.cancelled and len(self.entries) == len(self.candidates)

    def as_dict(self) -> dict[str, Any]:
        """The ``model-inspector/sweep@1`` JSON object."""
        return {
            "schema": SCHEMA,
            "model": self.model,
            "input": self.input,
            "device": self.device,
            "baseline": {
                "output_shapes": self.baseline_output_shapes,
                **(self.noise_floor or NoiseFloor(None, None)).as_dict(),
            },
            "entries": [entry.as_dict() for entry in self.entries],
        }


class BaselineFailed(EditError):
    """The model as it is raises on the input: there is nothing to knock out against."""


class _Stopped(Exception):
    """Raised inside a forward to stop a cancelled sweep."""


@dataclass
class _BaselineCall:
    """One module call of the baseline forward, as the prefix replay needs it."""

    start: int
    """Event number (pre and post hooks share one counter) when the call started."""
    end: int = -1
    """Event number when it returned; -1 while running or when it raised."""
    nested: dict[int, int] = field(default_factory=dict)
    """id(module) -> how many calls of that module ran inside this call."""
    output: Any = None
    replayable: bool = False
    """True when ``output`` holds a copy that can stand in for the call (see :class:`_Hooks`)."""
    random_after: Any = None
    """The random state when the call returned, when the call drew random numbers: a replay
    sets it, so that what runs after the replayed calls draws what it drew in the baseline."""


class _Hooks:
    """The hooks of a sweep: the call stack, cancel, and the replay of the unchanged prefix.

    The stack of modules being run names the innermost one when a forward
    raises; the pre-hook asks ``should_stop`` so that a cancel stops inside
    a long forward.

    Prefix replay, which roughly halves a sweep: when candidate X is
    replaced, every module call that returned before X's first call started
    computes exactly what it computed in the baseline (same input, same
    weights, nothing changed yet), so its output is taken from a copy made
    in the baseline instead of being computed again. Only calls that are
    pure as far as can be seen are replayed: the output is a tensor or a
    plain tuple/list/dict of them, shares no memory with the inputs, and no
    input was changed in place (an in-place ReLU is computed again, its
    parent can still be replayed). Replay is off in train mode (dropout and
    BatchNorm statistics depend on every call), and copies stop being made
    past ``budget_bytes``. A module that is never called but read (as
    MultiheadAttention reads ``out_proj.weight``) counts as first used when
    its nearest called ancestor starts. A replayed call that drew random
    numbers (dropout left on, ``torch.randn``) leaves the random state where
    the baseline's call left it. A module whose forward has side
    effects other than its output (a counter, a cache), or that reads
    another, unrelated module's attributes, would be replayed as if nothing
    had changed: pass ``reuse_prefix=False`` to :func:`sweep` for such models.
    """

    def __init__(self, should_stop: StopCallback | None, budget_bytes: int, device: torch.device | None = None) -> None:
        self.device = device or torch.device("cpu")
        self.names: dict[int, str] = {}
        self.should_stop = should_stop
        self.stack: list[str] = []
        self.budget_bytes = budget_bytes
        self.recording = False
        self.boundary = -1
        """Event number of the candidate's first call: calls that returned before it are replayed."""
        self.event = 0
        self.counts: dict[int, int] = {}
        self.calls: dict[int, list[_BaselineCall]] = {}
        self.open: list[tuple[_BaselineCall, list[tuple[torch.Tensor, int]], Any]] = []
        self.cached_bytes = 0
        self.replayed = 0
        self._patched: list[tuple[nn.Module, Any]] = []

    def install(self, module: nn.Module, name: str, *, replay: bool) -> list[Any]:
        """Hook ``module``; with ``replay``, route its forward through :meth:`_forward_of`."""
        self.names[id(module)] = name
        handles: list[Any] = install_hooks([module], self.pre, self.post, with_kwargs=True)
        if replay:
            own = module.__dict__.get("forward")
            # An instance attribute shadows the class's forward for this module only.
            object.__setattr__(module, "forward", self._forward_of(module, module.forward))
            self._patched.append((module, own))
        return handles

    def uninstall(self) -> None:
        """Put every patched forward back as it was."""
        for module, own in reversed(self._patched):
            if own is None:
                module.__dict__.pop("forward", None)
            else:
                object.__setattr__(module, "forward", own)
        self._patched.clear()

    def begin(self, *, recording: bool, boundary: int) -> None:
        """Reset the per-forward state before a forward."""
        self.stack.clear()
        self.open.clear()
        self.counts.clear()
        self.event = 0
        self.recording = recording
        self.boundary = boundary

    def first_start(self, module: nn.Module) -> int | None:
        """The event at which ``module`` was first called in the baseline, or None when it never ran."""
        calls = self.calls.get(id(module))
        return calls[0].start if calls else None

    # ----------------------------------------------------------------- hooks

    def pre(self, module: nn.Module, args: Any, kwargs: Any) -> None:
        if self.should_stop is not None and self.should_stop():
            raise _Stopped()
        key = id(module)
        self.stack.append(self.names[key])
        self.counts[key] = self.counts.get(key, 0) + 1
        if self.recording:
            call = _BaselineCall(start=self.event)
            for parent, *_ in self.open:
                parent.nested[key] = parent.nested.get(key, 0) + 1
            self.calls.setdefault(key, []).append(call)
            inputs = tensors_in([args, kwargs])
            self.open.append((call, [(t, t._version) for t in inputs], _random_state(self.device)))
        self.event += 1

    def post(self, module: nn.Module, args: Any, kwargs: Any, output: Any) -> None:
        name = self.names[id(module)]
        # Entries above this module's own belong to children whose exception it caught.
        while self.stack and self.stack[-1] != name:
            self.stack.pop()
        if self.stack:
            self.stack.pop()
        if self.recording and self.open:
            calls = self.calls[id(module)]
            while self.open and self.open[-1][0] is not calls[-1]:
                self.open.pop()
            if self.open:
                call, inputs, random_before = self.open.pop()
                call.end = self.event
                self._keep(call, inputs, output)
                if call.replayable:
                    random_after = _random_state(self.device)
                    if not _same_random_state(random_before, random_after):
                        call.random_after = random_after
        self.event += 1

    def _keep(self, call: _BaselineCall, inputs: list[tuple[torch.Tensor, int]], output: Any) -> None:
        outputs = _tensors_if_plain(output)
        if outputs is None or any(t._version != version for t, version in inputs):
            return
        storages = {t.untyped_storage().data_ptr() for t, _ in inputs if t.numel()}
        if any(t.numel() and t.untyped_storage().data_ptr() in storages for t in outputs):
            return
        size = sum(t.numel() * t.element_size() for t in outputs)
        if self.cached_bytes + size > self.budget_bytes:
            return
        self.cached_bytes += size
        call.output = _copy(output)
        call.replayable = True

    def _forward_of(self, module: nn.Module, forward: Callable[..., Any]) -> Callable[..., Any]:
        key = id(module)

        def replay_or_forward(*args: Any, **kwargs: Any) -> Any:
            if not self.recording:
                calls = self.calls.get(key)
                index = self.counts.get(key, 0) - 1
                if calls is not None and 0 <= index < len(calls):
                    call = calls[index]
                    if call.replayable and 0 <= call.end < self.boundary:
                        # The calls inside it do not happen now: count them as if they had.
                        for inner, count in call.nested.items():
                            self.counts[inner] = self.counts.get(inner, 0) + count
                        self.replayed += 1
                        if call.random_after is not None:
                            _set_random_state(call.random_after, self.device)
                        return _copy(call.output)
            return forward(*args, **kwargs)

        return replay_or_forward


def _random_state(device: torch.device) -> tuple[Any, ...]:
    """Every random state a forward may draw from: torch's CPU and ``device``'s, Python's, NumPy's."""
    import numpy

    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda, random.getstate(), numpy.random.get_state()


def _same_random_state(first: tuple[Any, ...], second: tuple[Any, ...]) -> bool:
    import numpy

    cpu, cuda, python, numpy_state = first
    cpu2, cuda2, python2, numpy_state2 = second
    return (
        torch.equal(cpu, cpu2)
        and (cuda is None or torch.equal(cuda, cuda2))
        and python == python2
        and numpy.array_equal(numpy_state[1], numpy_state2[1])
        and tuple(numpy_state[2:]) == tuple(numpy_state2[2:])
    )


def _set_random_state(state: tuple[Any, ...], device: torch.device) -> None:
    import numpy

    cpu, cuda, python, numpy_state = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state(cuda, device)
    random.setstate(python)
    numpy.random.set_state(numpy_state)


def _tensors_if_plain(value: Any) -> list[torch.Tensor] | None:
    """The tensors of an output made of tensors and plain tuples/lists/dicts; None for anything else."""
    # A loop, not a recursive closure, which would be a reference cycle
    # holding the tensors until the cyclic garbage collector ran.
    found: list[torch.Tensor] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, torch.Tensor):
            found.append(item)
        elif type(item) in (tuple, list):
            pending.extend(reversed(item))
        elif type(item) is dict:
            pending.extend(reversed(list(item.values())))
        elif not (item is None or isinstance(item, (int, float, bool, str))):
            return None
    return found or None


def _copy(value: Any) -> Any:
    """A copy of a plain output structure, every tensor cloned."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if type(value) in (tuple, list):
        return type(value)(_copy(v) for v in value)
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    return value


def candidates_of(
    model: nn.Module,
    *,
    only_types: Sequence[str] | None = None,
    under: str | None = None,
    leaves: bool = False,
    skip: Sequence[str] = (),
) -> list[str]:
    """The paths a sweep would try, in ``named_modules()`` order (never the root).

    ``only_types``: type names as the tree shows them (``Conv2d``,
    ``BatchNorm2d``); ``under``: only modules strictly inside this path;
    ``leaves``: only modules without children; ``skip``: paths left out
    (those already replaced with Identity). An unknown type or path raises
    :class:`EditError` with the names that exist.
    """
    named = [(n, m) for n, m in model.named_modules() if n]
    if under:
        paths = {n for n, _ in named}
        if under not in paths:
            close = difflib.get_close_matches(under, sorted(paths), n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise EditError(f"no submodule {under!r} in {type(model).__name__} to sweep under{hint}")
        named = [(n, m) for n, m in named if n.startswith(under + ".")]
    if only_types:
        present = sorted({type_name(m) for _, m in model.named_modules()})
        unknown = [t for t in only_types if t not in present]
        if unknown:
            raise EditError(
                f"no module of type {', '.join(repr(t) for t in unknown)} in {type(model).__name__}; "
                f"types present: {', '.join(present)}"
            )
        wanted = set(only_types)
        named = [(n, m) for n, m in named if type_name(m) in wanted]
    if leaves:
        named = [(n, m) for n, m in named if next(iter(m.children()), None) is None]
    # Inside a TorchScript submodule nothing can be replaced (its compiled code calls it); the submodule itself can.
    skipped = set(skip) | _scripted_outermost(model)
    return [n for n, _ in named if n not in skip and not any(n.startswith(s + ".") for s in skipped)]


def _scripted_outermost(model: nn.Module) -> set[str]:
    scripted = [n for n, m in model.named_modules() if n and isinstance(m, torch.jit.ScriptModule)]
    return {n for n in scripted if not any(n.startswith(o + ".") for o in scripted)}


def replay_budget(device: torch.device) -> int:
    """Bytes the prefix replay may keep: a quarter of the free memory, at most 1 GiB."""
    free = available_memory(device)
    return REPLAY_BUDGET if free is None else min(REPLAY_BUDGET, free // 4)


def sweep(
    session: Session,
    only_types: Sequence[str] | None = None,
    under: str | None = None,
    leaves: bool = False,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
    on_entry: EntryCallback | None = None,
    *,
    reuse_prefix: bool = True,
) -> SweepResult:
    """Replace each candidate alone with Identity, run the session's input, and record what happened.

    ``on_progress(done, total)`` is called after each candidate;
    ``should_stop()`` is asked between candidates and between modules inside
    a forward, and True ends the sweep with ``cancelled`` set and the entries
    done so far. ``reuse_prefix`` replays the unchanged start of each forward
    from the baseline (see :class:`_Hooks`); the numbers are the same either
    way. Raises :class:`BaselineFailed` when the model as it is raises on
    the input, :class:`EditError` for a bad ``only_types`` or ``under``, and
    any :class:`inspector.core.errors.InspectorError` the input raises.
    """
    if session.read_only:
        raise EditError("a TorchScript module cannot be edited, so it cannot be swept; open the eager model instead")
    if session.on_meta:
        raise EditError("a model on the meta device has no values to compare; load it without --meta")
    model = session.model
    candidates = candidates_of(
        model, only_types=only_types, under=under, leaves=leaves, skip=session.replaced
    )
    spec = session.require_input()
    args = session.make_inputs()
    device = device_of(args, model)
    result = SweepResult(
        model=session.source,
        input=spec.as_dict(),
        device=str(session.device),
        mode=session.mode,
        baseline_output_shapes=[],
        candidates=candidates,
    )
    started = time.perf_counter()
    train = session.mode == "train"
    hooks = _Hooks(should_stop, replay_budget(device) if reuse_prefix and not train else 0, device)
    handles: list[Any] = []
    named = list(model.named_modules())
    # Train mode updates BatchNorm running statistics on every forward; they
    # are put back after each step so that every step sees the same model.
    state = ModelState(model, buffers=train)
    # --dtype: every step runs the weights in the dtype of the inputs, as the report does.
    precision = contextlib.ExitStack()
    precision.enter_context(model_dtype(model, parse_dtype(session.dtype) if session.dtype is not None else None))
    try:
        for name, module in named:
            if isinstance(module, torch.jit.ScriptModule):
                continue  # takes no hooks (torch raises); it runs as one call of its eager parent
            handles += hooks.install(module, name, replay=bool(name) and hooks.budget_bytes > 0)
        model.train(train)
        hooks.begin(recording=hooks.budget_bytes > 0, boundary=-1)
        baseline, error, _ = _forward(model, args, hooks, spec.seed, state, device)
        if error is not None:
            raise BaselineFailed(
                f"the model as it is raises on this input, in {error.brief()}; fix the input or the edits first"
            )
        result.baseline_output_shapes = shapes_of(baseline)
        # The model as it is, once more: a model that does not repeat itself
        # (a counter, a clock) has a noise floor no edit can be told from.
        hooks.begin(recording=False, boundary=-1)
        again, error, _ = _forward(model, args, hooks, spec.seed, state, device)
        result.noise_floor = NoiseFloor.between(baseline, again) if error is None else NoiseFloor(False, None)
        if not result.noise_floor.reproducible:
            # Replayed calls would stand for values the model no longer computes.
            hooks.calls.clear()
        del again
        for done, path in enumerate(candidates):
            if should_stop is not None and should_stop():
                result.cancelled = True
                break
            try:
                entry = _try(session, path, args, hooks, baseline, spec.seed, state, device)
            except _Stopped:
                result.cancelled = True
                break
            result.entries.append(entry)
            if on_entry is not None:
                on_entry(entry)
            if on_progress is not None:
                on_progress(done + 1, len(candidates))
    except _Stopped:
        result.cancelled = True
    finally:
        for handle in handles:
            handle.remove()
        hooks.uninstall()
        state.restore()
        precision.close()
    result.total_s = time.perf_counter() - started
    result.replayed_calls = hooks.replayed
    return result


def _try(
    session: Session,
    path: str,
    args: tuple[Any, ...],
    hooks: _Hooks,
    baseline: Any,
    seed: int,
    state: ModelState,
    device: torch.device,
) -> SweepEntry:
    original = session.model.get_submodule(path)
    kind = type_name(original)
    boundary = _boundary(session.model, path, hooks)
    with session.editor.trial(path) as identity:
        # The Identity is hooked too: a module called with several
        # arguments fails in the Identity itself, and must be named so.
        handles = hooks.install(identity, path, replay=False)
        try:
            hooks.begin(recording=False, boundary=boundary)
            output, error, elapsed = _forward(session.model, args, hooks, seed, state, device)
        finally:
            for handle in handles:
                handle.remove()
            hooks.names[id(original)] = path
    if error is not None:
        return SweepEntry(path, kind, False, [], None, None, error, elapsed)
    moved = distance_of(baseline, output)
    return SweepEntry(path, kind, True, shapes_of(output), moved.relative_l2, moved.cosine, None, elapsed)


def _boundary(model: nn.Module, path: str, hooks: _Hooks) -> int:
    """The event before which the candidate cannot have changed anything.

    Its first call in the baseline; for a module that is never called as a
    module, its nearest ancestor's: MultiheadAttention reads
    ``out_proj.weight`` without calling ``out_proj``, so that call must run
    again with the Identity in place (and fail there).
    """
    # The modules along the path, walked once (get_submodule per prefix was
    # quadratic in the depth, which a model nested 1,000 deep has).
    along = [model]
    for part in path.split("."):
        along.append(along[-1].get_submodule(part))
    for module in reversed(along[1:]):
        first = hooks.first_start(module)
        if first is not None:
            return first
    return 0


def _forward(
    model: nn.Module,
    args: tuple[Any, ...],
    hooks: _Hooks,
    seed: int,
    state: ModelState,
    device: torch.device,
) -> tuple[Any, RunError | None, float]:
    """One plain forward: (output, None, ms) or (None, where it raised, ms); a cancel propagates."""
    started = time.perf_counter()
    try:
        # The same random state for every step: in train mode dropout then
        # draws the same masks, so only the knocked-out module differs.
        with fixed_random_state(seed, device), torch.no_grad():
            # A fresh copy each time: an in-place op on the input (an
            # Identity before an in-place ReLU) must not leak into later steps.
            output = model(*_copy(args))
        synchronize(device)
        return output, None, (time.perf_counter() - started) * 1000.0
    except _Stopped:
        raise
    except BaseException as exc:  # the user's model can raise anything, sys.exit too; it becomes an entry
        if from_user(exc):
            raise  # the user's own Ctrl-C ends the sweep
        where = hooks.stack[-1] if hooks.stack else None
        # The sweep records no call's type or input shapes: its hooks only keep the stack of names.
        error = RunError(where, None, first_line(exc), type(exc).__name__, [])
        return None, error, (time.perf_counter() - started) * 1000.0
    finally:
        state.restore_buffers()
