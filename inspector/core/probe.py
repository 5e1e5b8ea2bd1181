"""One probed forward: every module's calls, output shapes, statistics and time.

:func:`run` puts a pre- and a post-forward hook on every module, runs the
model once under ``torch.no_grad()``, and removes every hook in ``finally``.
Nothing about the model changes: its weights, device, dtype, each module's
train/eval flag, and (in train mode) its buffers are as they were after the
run, whether it succeeded, raised or was cancelled.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from inspector.core import stats as stats_mod
from inspector.core.devices import synchronize
from inspector.core.stats import Histogram, LayerStats, PendingStats
from inspector.core.tree import type_name
from inspector.core.watch import from_user

ProgressCallback = Callable[[int, int], None]
"""Called with (modules done, modules in total) as the run goes."""
StopCallback = Callable[[], bool]
"""Asked between modules; True stops the run."""

PROGRESS_INTERVAL_S = 0.05


@dataclass
class CallRecord:
    """One call of a module's forward."""

    index: int
    """Order in which calls started across the whole run (0 is the first)."""
    input_shapes: list[list[int]]
    output_shapes: list[list[int]]
    stats: LayerStats | None = None
    histogram: Histogram | None = None
    time_ms: float | None = None


@dataclass
class ModuleRecord:
    """Every call of one module in a run."""

    name: str
    type_name: str
    calls: list[CallRecord] = field(default_factory=list)

    @property
    def first(self) -> CallRecord | None:
        return self.calls[0] if self.calls else None


@dataclass
class ProbeError:
    """Where a forward raised: the innermost module on the call stack, and what it was given."""

    module: str | None
    """Dotted path of the innermost module whose forward raised; ``""`` for the root; None outside any module."""
    type_name: str | None
    message: str
    exception_type: str
    input_shapes: list[list[int]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "type": self.type_name,
            "message": self.message,
            "input_shapes": self.input_shapes,
        }

    def __str__(self) -> str:
        where = f"{self.module or '(root)'} ({self.type_name})" if self.module is not None else "the model"
        return f"{where} raised {self.exception_type}: {self.message}"


@dataclass
class ProbeRun:
    """Everything one probed forward recorded."""

    records: dict[str, ModuleRecord]
    """Every module of ``named_modules()`` (the root under ``""``), in that order."""
    output_shapes: list[list[int]]
    device: str
    mode: str
    error: ProbeError | None = None
    cancelled: bool = False
    total_ms: float | None = None
    timed: bool = True
    """False for a meta-device run, where times mean nothing."""
    output: Any = None
    """The model's output, when the caller asked to keep it (for comparisons)."""

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled

    def execution_order(self) -> list[str]:
        """Modules that ran, in the order their first call started."""
        ran = [(r.calls[0].index, name) for name, r in self.records.items() if r.calls and name]
        return [name for _, name in sorted(ran)]


class Cancelled(Exception):
    """Raised inside the forward to stop a run the user cancelled."""


def tensors_in(value: Any) -> list[torch.Tensor]:
    """Tensors in an output structure, depth first: tuple/list order, dict insertion order."""
    # The usual cases first: every hook of a run asks this of its input
    # tuple and its output.
    if isinstance(value, torch.Tensor):
        return [value]
    if type(value) is tuple and len(value) == 1 and isinstance(value[0], torch.Tensor):
        return [value[0]]
    found: list[torch.Tensor] = []
    _gather_tensors(value, found, set())
    return found


def _gather_tensors(item: Any, found: list[torch.Tensor], enclosing: set[int]) -> None:
    # A module-level function, not a closure that calls itself: such a closure
    # is a reference cycle, and it kept every tensor it saw (every layer's
    # output) alive until the cyclic garbage collector ran. ``enclosing``
    # holds the containers being walked, so a structure that contains itself
    # ends the walk there instead of never ending.
    if isinstance(item, torch.Tensor):
        found.append(item)
        return
    if isinstance(item, dict):
        children: Any = list(item.values())
    elif isinstance(item, (list, tuple)):
        children = item
    elif hasattr(item, "__dataclass_fields__"):
        children = [getattr(item, name) for name in item.__dataclass_fields__]
    else:
        return
    if id(item) in enclosing:
        return
    enclosing.add(id(item))
    for child in children:
        _gather_tensors(child, found, enclosing)
    enclosing.discard(id(item))


def shapes_of(value: Any) -> list[list[int]]:
    """The shapes of every tensor in an output structure, flattened depth first."""
    return [list(t.shape) for t in tensors_in(value)]


class _Recorder:
    """The hooks' shared state during one run."""

    def __init__(
        self,
        names: dict[int, str],
        total: int,
        device: torch.device,
        on_progress: ProgressCallback | None,
        should_stop: StopCallback | None,
        measure: bool,
        histogram: bool,
    ) -> None:
        self.names = names
        self.total = total
        self.on_progress = on_progress
        self.should_stop = should_stop
        self.measure = measure
        self.histogram = histogram
        self.cuda = device.type == "cuda"
        self.records: dict[str, ModuleRecord] = {}
        self.stack: list[tuple[str, CallRecord, float, float, Any]] = []
        self.pending: list[tuple[CallRecord, PendingStats | None]] = []
        self.events: list[tuple[CallRecord, Any, Any]] = []
        self.overhead = 0.0
        self.calls = 0
        self.done: set[str] = set()
        self.last_progress = 0.0
        self.stopped = False
        """A stop was asked for and raised in the forward."""
        # id(tensor) -> (weak reference, version, pending stats): a container's
        # output is often its last child's tensor, and Identity hands its input
        # on, so the same unchanged tensor is measured once.
        self.measured: dict[int, tuple[Any, int, PendingStats | None]] = {}

    def pre(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        entered = time.perf_counter()
        if self.stopped or (self.should_stop is not None and self.should_stop()):
            # Remembered: a model that catches Exception swallows this one,
            # and the run must still end as cancelled, not as complete.
            self.stopped = True
            raise Cancelled()
        name = self.names[id(module)]
        call = CallRecord(index=self.calls, input_shapes=shapes_of(args), output_shapes=[])
        self.calls += 1
        record = self.records.get(name)
        if record is None:
            record = self.records[name] = ModuleRecord(name, type_name(module))
        record.calls.append(call)
        start_event = None
        if self.cuda:
            start_event = torch.cuda.Event(enable_timing=True)
            start_event.record()
        now = time.perf_counter()
        self.overhead += now - entered
        self.stack.append((name, call, now, self.overhead, start_event))

    def post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        entered = time.perf_counter()
        name = self.names[id(module)]
        # Pop back to this module's own entry: entries above it belong to
        # children whose exception the module caught.
        while self.stack and self.stack[-1][0] != name:
            self.stack.pop()
        if not self.stack:
            return
        _, call, started, overhead_at_start, start_event = self.stack.pop()
        if self.cuda:
            end_event = torch.cuda.Event(enable_timing=True)
            end_event.record()
            self.events.append((call, start_event, end_event))
        else:
            # Time spent in the hooks of children is ours, not the module's.
            call.time_ms = (entered - started - (self.overhead - overhead_at_start)) * 1000.0
        tensors = tensors_in(output)
        call.output_shapes = [list(t.shape) for t in tensors]
        if self.measure and tensors:
            self.pending.append((call, self._measure(tensors)))
        self.done.add(name)
        if self.on_progress is not None:
            now = time.perf_counter()
            if now - self.last_progress >= PROGRESS_INTERVAL_S:
                self.last_progress = now
                self.on_progress(len(self.done), self.total)
        self.overhead += time.perf_counter() - entered

    def _measure(self, tensors: list[torch.Tensor]) -> PendingStats | None:
        if len(tensors) == 1:
            tensor = tensors[0]
            key = id(tensor)
            seen = self.measured.get(key)
            if seen is not None and seen[0]() is tensor and seen[1] == tensor._version:
                return seen[2]
            pending = stats_mod.measure(tensors, histogram=self.histogram)
            try:
                self.measured[key] = (weakref.ref(tensor), tensor._version, pending)
            except (TypeError, RuntimeError):  # tensors without a version counter
                pass
            return pending
        return stats_mod.measure(tensors, histogram=self.histogram)


def _input_args(inputs: Any) -> tuple[Any, ...]:
    return inputs if isinstance(inputs, tuple) else (inputs,)


def first_line(error: BaseException) -> str:
    """What an exception from user code says, in one line (``sys.exit`` and a bare KeyboardInterrupt named)."""
    if isinstance(error, SystemExit):
        # str(SystemExit(2)) is "2": say what it was.
        return f"the model's code called sys.exit({error.code!r})"
    if isinstance(error, KeyboardInterrupt) and not str(error).strip():
        return "the model's code raised KeyboardInterrupt"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _is_meta(args: Sequence[Any]) -> bool:
    return any(t.is_meta for t in tensors_in(list(args)))


def run(
    model: nn.Module,
    inputs: Any,
    *,
    mode: str = "eval",
    on_progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
    histogram: bool = True,
    keep_output: bool = False,
    call: Callable[[nn.Module, tuple[Any, ...]], Any] | None = None,
    kwargs: dict[str, Any] | None = None,
    grad: bool = False,
) -> ProbeRun:
    """Run ``model`` once on ``inputs`` and record every module's calls.

    ``inputs`` is a tuple of positional arguments (or one tensor), already on
    the model's device. ``mode`` (``eval`` or ``train``) applies to the run
    only: each module's own flag is put back afterwards. A forward that raises
    gives a :class:`ProbeRun` with ``error`` set and the records made before
    it; a cancelled run has ``cancelled`` set, also when the model caught
    the stop (``except Exception``) and returned. ``SystemExit`` and
    ``KeyboardInterrupt`` raised by the model's code are failures like any
    other; only the user's own Ctrl-C propagates (see
    :func:`inspector.core.watch.from_user`). ``call(model, args)`` replaces
    the plain ``model(*args)`` (the meta-device run calls through
    ``torch.func.functional_call``). ``kwargs`` are keyword arguments of the
    forward; ``grad`` runs it with gradients enabled, for models that
    differentiate inside their forward.
    """
    if mode not in ("eval", "train"):
        raise ValueError(f"mode must be 'eval' or 'train', not {mode!r}")
    args = _input_args(inputs)
    kwargs = kwargs or {}
    device = _device_of((*args, kwargs), model)
    meta = device.type == "meta"
    named = list(model.named_modules())
    names = {id(m): n for n, m in named}
    scripted = isinstance(model, torch.jit.ScriptModule)
    recorder = _Recorder(
        names, len(named), device, on_progress, should_stop, measure=not meta, histogram=histogram
    )
    flags = [(m, m.training) for _, m in named]
    saved_buffers = _snapshot_buffers(model) if mode == "train" else []
    handles: list[Any] = []
    error: ProbeError | None = None
    cancelled = False
    output: Any = None
    started = time.perf_counter()
    try:
        model.train(mode == "train")
        if not scripted:
            handles += _install_hooks(named, recorder)
        with torch.enable_grad() if grad else torch.no_grad():
            output = call(model, args) if call is not None else model(*args, **kwargs)
        # A model that catches the stop (``except Exception``) returns as if
        # nothing happened; asked once more after the forward, it is a cancel.
        cancelled = recorder.stopped or (should_stop is not None and should_stop())
    except Cancelled:
        cancelled = True
    except BaseException as exc:  # noqa: BLE001 - the user's model can raise anything, sys.exit too; it becomes a record
        if from_user(exc):
            raise  # the user's own Ctrl-C ends the work
        if recorder.stopped:
            cancelled = True  # the model turned the stop into another exception
        else:
            error = _error_from(exc, recorder, model)
    finally:
        for handle in handles:
            handle.remove()
        for module, flag in flags:
            module.training = flag
        _restore_buffers(saved_buffers)
    if not meta:
        synchronize(device)
    total_ms = (time.perf_counter() - started - recorder.overhead) * 1000.0
    _finish(recorder)
    records = {name: recorder.records.get(name) or ModuleRecord(name, type_name(m)) for name, m in named}
    if on_progress is not None:
        on_progress(len(recorder.done), recorder.total)
    return ProbeRun(
        records=records,
        output_shapes=shapes_of(output) if error is None and not cancelled else [],
        device=str(device),
        mode=mode,
        error=error,
        cancelled=cancelled,
        total_ms=None if meta else total_ms,
        timed=not meta,
        output=output if keep_output else None,
    )


def _install_hooks(named: list[tuple[str, nn.Module]], recorder: _Recorder) -> list[Any]:
    """A pre- and a post-forward hook on every module; TorchScript submodules are recorded from outside.

    A ScriptModule takes no hooks of its own (torch raises), and nothing
    inside it runs Python: its calls are recorded at its boundary through
    torch's global module hooks, filtered to it, and the modules inside it
    keep no records.
    """
    handles: list[Any] = []
    scripted = {id(m) for _, m in named if isinstance(m, torch.jit.ScriptModule)}
    for _, module in named:
        if id(module) in scripted:
            continue
        handles.append(module.register_forward_pre_hook(recorder.pre))
        handles.append(module.register_forward_hook(recorder.post))
    if scripted:
        outermost = {
            id(m) for n, m in named
            if id(m) in scripted and not any(n.startswith(o + ".") for o, om in named if id(om) in scripted and o != n)
        }

        def pre(module: nn.Module, args: tuple[Any, ...]) -> None:
            if id(module) in outermost:
                recorder.pre(module, args)

        def post(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if id(module) in outermost:
                recorder.post(module, args, output)

        handles.append(torch.nn.modules.module.register_module_forward_pre_hook(pre))
        handles.append(torch.nn.modules.module.register_module_forward_hook(post))
    return handles


def _device_of(args: Sequence[Any], model: nn.Module) -> torch.device:
    tensors = tensors_in(list(args))
    if tensors:
        return tensors[0].device
    param = next(iter(model.parameters()), None)
    return param.device if param is not None else torch.device("cpu")


BufferSnapshot = list[tuple[nn.Module, str, torch.Tensor, torch.Tensor]]
"""(module, buffer name, the buffer object, a copy of its values)."""


def _snapshot_buffers(model: nn.Module) -> BufferSnapshot:
    """Every module's buffers and copies of their values, so a train-mode run leaves them as they were.

    Kept by module and name, not only by object: a model that re-binds a
    buffer in its forward (``self.ema = new``, the EMA pattern) leaves its
    module holding another tensor, which updating the old object in place
    would not undo.
    """
    saved: BufferSnapshot = []
    copies: dict[int, torch.Tensor] = {}
    for module in model.modules():
        for name, buffer in module._buffers.items():
            if buffer is None or buffer.is_meta:
                continue
            # A buffer shared by several modules is copied once.
            copy = copies.get(id(buffer))
            if copy is None:
                copy = copies[id(buffer)] = buffer.detach().clone()
            saved.append((module, name, buffer, copy))
    return saved


def _restore_buffers(saved: BufferSnapshot) -> None:
    """Put each module's own buffer object back under its name, with its values as they were."""
    for module, name, buffer, copy in saved:
        if module._buffers.get(name) is not buffer:
            module._buffers[name] = buffer
        buffer.copy_(copy)


def _error_from(exc: BaseException, recorder: _Recorder, model: nn.Module) -> ProbeError:
    if recorder.stack:
        name, call, *_ = recorder.stack[-1]
        module = model.get_submodule(name) if name else model
        return ProbeError(name, type_name(module), first_line(exc), type(exc).__name__, call.input_shapes)
    return ProbeError(None, None, first_line(exc), type(exc).__name__, [])


def _finish(recorder: _Recorder) -> None:
    """Read back every statistic and CUDA time of the run in one go."""
    results = stats_mod.collect([p for _, p in recorder.pending])
    for (call, _), result in zip(recorder.pending, results):
        if result is not None:
            call.stats, call.histogram = result
    for call, start, end in recorder.events:
        call.time_ms = float(start.elapsed_time(end))
