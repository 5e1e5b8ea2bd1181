"""Before and after: how far an edit moved each module's output and the model's.

:func:`compare_runs` lines up two probed runs of the same input (a baseline,
usually the unedited model, and the current run) module by module:

- for every module that ran in both: whether its output shapes changed, and
  the deltas (current minus baseline) of the mean, std, min and max that the
  probe recorded for its first call;
- for the model's final output: the exact relative L2 distance
  ``‖a−b‖/‖a‖`` and the cosine similarity, when both runs were made with
  ``keep_output=True`` and every output shape agrees (None otherwise);
- per module, the same two distances, but only when both runs were made
  inside :func:`capture_outputs`. A ProbeRun keeps statistics, not tensors,
  so the capture keeps a small copy of each module's first-call output: an
  evenly strided sample of at most ``sample_size`` elements (the positions
  depend only on the element count, so two outputs of the same shape are
  sampled at the same positions). The per-module distances are therefore
  exact for outputs of at most ``sample_size`` elements (a classifier's
  logits, pooled features) and an estimate from the sample for larger ones.

Models that are random in eval mode (MC dropout, sampling layers,
``torch.randn`` in a forward) would make every distance noise: each forward
here runs from the same random state (:func:`fixed_random_state`, the
input's seed), so a no-op edit measures exactly 0. A model that still does
not repeat itself (it reads a counter it increments, a clock) is run twice
unedited, and the distance between those two runs is reported as its
noise floor (:class:`NoiseFloor`).
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from inspector.core.common import install_hooks, remove_hooks, tensors_in
from inspector.core.probe import ProbeRun, ProgressCallback, StopCallback
from inspector.core.session import Session
from inspector.core.stats import LayerStats

SAMPLE_SIZE = 65536
"""Elements of each module's output that :func:`capture_outputs` keeps (256 KiB in float32)."""


@dataclass
class Distance:
    """How far ``current`` is from ``baseline``; both None when the shapes differ or nothing can be compared."""

    relative_l2: float | None
    """``‖baseline − current‖ / ‖baseline‖``: 0 is unchanged."""
    cosine: float | None
    """Cosine similarity of the two outputs flattened: 1 is the same direction."""

    @classmethod
    def unknown(cls) -> Distance:
        return cls(None, None)


def _flat(tensors: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    parts = [(t.detach().abs() if t.is_complex() else t.detach()).reshape(-1).to(dtype) for t in tensors]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _work_dtype(device: torch.device) -> torch.dtype:
    # float64 keeps the distance of two nearly equal outputs meaningful;
    # MPS has no float64.
    return torch.float32 if device.type == "mps" else torch.float64


def distance_of(baseline: Any, current: Any) -> Distance:
    """Relative L2 and cosine between two outputs (tensors or structures of them).

    Every tensor is flattened and the pieces joined in the order of
    :func:`inspector.core.common.tensors_in`. None for both when the shapes
    differ, when there is no tensor, when a tensor is on the meta device, or
    when a value is not finite. The relative L2 is None when the baseline is
    all zeros (and the current is not), the cosine when either output is.
    """
    a_list, b_list = tensors_in(baseline), tensors_in(current)
    if not a_list or [list(t.shape) for t in a_list] != [list(t.shape) for t in b_list]:
        return Distance.unknown()
    if any(t.is_meta for t in a_list + b_list):
        return Distance.unknown()
    device = a_list[0].device
    dtype = _work_dtype(device)
    a = _flat(a_list, dtype)
    b = _flat([t.to(device) for t in b_list], dtype)
    norm_a, norm_b, diff, dot = torch.stack([a.norm(), b.norm(), (a - b).norm(), torch.dot(a, b)]).tolist()
    return _distance_from(norm_a, norm_b, diff, dot)


def _distance_from(norm_a: float, norm_b: float, diff: float, dot: float) -> Distance:
    if not all(math.isfinite(v) for v in (norm_a, norm_b, diff, dot)):
        return Distance.unknown()
    if norm_a == 0.0:
        relative = 0.0 if diff == 0.0 else None
    else:
        relative = diff / norm_a
    cosine = None if norm_a == 0.0 or norm_b == 0.0 else max(-1.0, min(1.0, dot / (norm_a * norm_b)))
    if diff == 0.0 and cosine is not None:
        cosine = 1.0  # the same output: exactly 1, not 1 ulp off from the rounding of ‖a‖·‖b‖
    return Distance(relative, cosine)


# --------------------------------------------------------------------------- random state


@contextlib.contextmanager
def fixed_random_state(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Run the block from the random state ``seed`` gives, and put the caller's state back after.

    torch's CPU generator and the CUDA generator of ``device`` (every CUDA
    generator is seeded), Python's ``random`` and NumPy's global generator:
    dropout left on in eval mode, ``torch.randn`` in a forward and the like
    then draw the same numbers in every run made this way.
    """
    import numpy

    device = torch.device(device)
    cuda = [device] if device.type == "cuda" else []
    python_state = random.getstate()
    numpy_state = numpy.random.get_state()
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        random.seed(seed)
        numpy.random.seed(seed % 2**32)  # NumPy takes 32-bit seeds
        try:
            yield
        finally:
            random.setstate(python_state)
            numpy.random.set_state(numpy_state)


def run_seeded(session: Session, **options: Any) -> ProbeRun:
    """:meth:`Session.run` from the random state of the input's seed (see :func:`fixed_random_state`)."""
    with fixed_random_state(session.require_input().seed, session.device):
        return session.run(**options)


def same_output(first: Any, second: Any) -> bool | None:
    """True when two outputs are bit for bit the same (NaN where NaN); None when there is nothing to compare."""
    a_list, b_list = tensors_in(first), tensors_in(second)
    if any(t.is_meta for t in a_list + b_list):
        return None
    if [(t.shape, t.dtype) for t in a_list] != [(t.shape, t.dtype) for t in b_list]:
        return False
    for a, b in zip(a_list, b_list, strict=True):
        b = b.to(a.device)
        equal = a == b
        if a.is_floating_point() or a.is_complex():
            equal |= a.isnan() & b.isnan()
        if not bool(equal.all()):
            return False
    return True


@dataclass
class NoiseFloor:
    """Whether two runs of the unedited model on the same input and random state agree, and by how much not."""

    reproducible: bool | None
    """True when they are bit for bit the same; None when it cannot be told (meta device, no output)."""
    relative_l2: float | None
    """``‖first − second‖ / ‖first‖`` of the final output: 0 when reproducible. An edit that moves the
    output by no more than this cannot be told apart from the model's own noise."""

    @classmethod
    def between(cls, first: Any, second: Any) -> NoiseFloor:
        same = same_output(first, second)
        if same is None:
            return cls(None, None)
        return cls(same, 0.0 if same else distance_of(first, second).relative_l2)

    def as_dict(self) -> dict[str, Any]:
        return {"baseline_reproducible": self.reproducible, "noise_floor_relative_l2": self.relative_l2}


# --------------------------------------------------------------------------- module outputs


@dataclass
class ModuleOutputs:
    """Samples of each module's first-call output in one run (see :func:`capture_outputs`)."""

    sample_size: int = SAMPLE_SIZE
    samples: dict[str, torch.Tensor] = field(default_factory=dict)
    """Module name -> evenly strided sample of its flattened output tensors."""
    shapes: dict[str, list[list[int]]] = field(default_factory=dict)
    """Module name -> the full output shapes, so two samples are compared only when these agree."""
    exact: dict[str, bool] = field(default_factory=dict)
    """Module name -> True when the sample is the whole output."""

    def keep(self, name: str, output: Any) -> None:
        """Keep a sample of ``output`` under ``name``, once: later calls of the module are ignored."""
        if name in self.samples:
            return
        tensors = [t for t in tensors_in(output) if not t.is_meta]
        if not tensors:
            return
        flat = _flat(tensors, torch.float32) if len(tensors) > 1 or tensors[0].is_complex() else tensors[0].detach().reshape(-1)
        n = flat.numel()
        step = max(1, -(-n // self.sample_size))
        # A copy, taken when the module returns: an in-place op downstream
        # (ReLU(inplace=True), Identity handing its input on) must not change it.
        self.samples[name] = flat[::step].clone()
        self.shapes[name] = [list(t.shape) for t in tensors]
        self.exact[name] = step == 1


@contextlib.contextmanager
def capture_outputs(model: nn.Module, sample_size: int = SAMPLE_SIZE) -> Iterator[ModuleOutputs]:
    """Keep a sample of every module's first-call output while the ``with`` block runs the model.

    Forward hooks on every module of ``named_modules()`` (the root under
    ``""``), removed when the block ends, even on an exception. Use it around
    :meth:`inspector.core.session.Session.run` for the baseline and for the
    edited run, then pass both to :func:`compare_runs`.
    """
    outputs = ModuleOutputs(sample_size=sample_size)
    names = {id(module): name for name, module in model.named_modules()}

    def keep(module: nn.Module, args: Any, output: Any) -> None:
        outputs.keep(names[id(module)], output)

    handles = install_hooks((module for _, module in model.named_modules()), None, keep)
    try:
        yield outputs
    finally:
        remove_hooks(handles)


def _sample_distance(baseline: ModuleOutputs, current: ModuleOutputs, name: str) -> Distance:
    a, b = baseline.samples.get(name), current.samples.get(name)
    if a is None or b is None or baseline.shapes.get(name) != current.shapes.get(name) or a.shape != b.shape:
        return Distance.unknown()
    return distance_of(a, b)


# --------------------------------------------------------------------------- comparison


@dataclass
class ModuleComparison:
    """One module that ran in both runs: what changed in its first call's output."""

    name: str
    baseline_type: str
    current_type: str
    """Differs from ``baseline_type`` where the module was replaced (``Identity``)."""
    baseline_shapes: list[list[int]]
    current_shapes: list[list[int]]
    mean_delta: float | None
    std_delta: float | None
    min_delta: float | None
    max_delta: float | None
    relative_l2: float | None = None
    cosine: float | None = None
    distance_exact: bool = False
    """True when the distances use the whole output, not a sample of it."""

    @property
    def shape_changed(self) -> bool:
        return self.baseline_shapes != self.current_shapes

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "baseline_type": self.baseline_type,
            "type": self.current_type,
            "baseline_shapes": self.baseline_shapes,
            "output_shapes": self.current_shapes,
            "shape_changed": self.shape_changed,
            "mean_delta": self.mean_delta,
            "std_delta": self.std_delta,
            "min_delta": self.min_delta,
            "max_delta": self.max_delta,
            "relative_l2": self.relative_l2,
            "cosine": self.cosine,
        }


@dataclass
class Comparison:
    """A current run against a baseline run of the same input."""

    modules: dict[str, ModuleComparison]
    """Modules that returned an output in both runs, in the current run's ``named_modules()`` order
    (the root under ``""``)."""
    baseline_only: list[str]
    """Modules with an output in the baseline only (those under a replaced module, those that did not
    run or did not return because the current forward raised)."""
    current_only: list[str]
    """Modules with an output in the current run only."""
    baseline_output_shapes: list[list[int]]
    output_shapes: list[list[int]]
    output: Distance
    """Exact distance of the final outputs; unknown when a run kept no output or the shapes differ."""
    baseline_error: str | None = None
    """Where and why the baseline's forward raised, when it did."""
    current_error: str | None = None
    """Where and why the current forward raised, when it did (e.g. a shape mismatch after the edit)."""
    noise_floor: NoiseFloor | None = None
    """How far two runs of the unedited model differ by themselves (None when not measured)."""

    @property
    def output_shape_changed(self) -> bool:
        return self.baseline_output_shapes != self.output_shapes

    def as_dict(self) -> dict[str, Any]:
        return {
            "output_relative_l2": self.output.relative_l2,
            "output_cosine": self.output.cosine,
            "baseline_output_shapes": self.baseline_output_shapes,
            "output_shapes": self.output_shapes,
            "modules": [m.as_dict() for m in self.modules.values()],
            "baseline_only": self.baseline_only,
            "current_only": self.current_only,
            **(self.noise_floor or NoiseFloor(None, None)).as_dict(),
        }


def _delta(current: LayerStats | None, baseline: LayerStats | None, attribute: str) -> float | None:
    if current is None or baseline is None:
        return None
    now, before = getattr(current, attribute), getattr(baseline, attribute)
    if now is None or before is None:
        return None
    value = float(now) - float(before)
    return value if math.isfinite(value) else None


def compare_runs(
    baseline: ProbeRun,
    current: ProbeRun,
    *,
    baseline_outputs: ModuleOutputs | None = None,
    current_outputs: ModuleOutputs | None = None,
) -> Comparison:
    """Compare ``current`` against ``baseline``, module by module and at the final output.

    Both runs must be of the same input (same spec and seed) for the
    numbers to mean anything. Final-output distances need both runs made
    with ``keep_output=True``; per-module distances need both made inside
    :func:`capture_outputs` (see the module docstring for what is exact).
    """
    modules: dict[str, ModuleComparison] = {}
    current_only: list[str] = []
    unfinished_before, unfinished_after = _unfinished(baseline), _unfinished(current)
    for name, record in current.records.items():
        after = record.first
        before_record = baseline.records.get(name)
        before = before_record.first if before_record is not None else None
        if after is None or name in unfinished_after:
            continue
        if before is None or before_record is None or name in unfinished_before:
            current_only.append(name)
            continue
        comparison = ModuleComparison(
            name=name,
            baseline_type=before_record.type_name,
            current_type=record.type_name,
            baseline_shapes=before.output_shapes,
            current_shapes=after.output_shapes,
            mean_delta=_delta(after.stats, before.stats, "mean"),
            std_delta=_delta(after.stats, before.stats, "std"),
            min_delta=_delta(after.stats, before.stats, "min"),
            max_delta=_delta(after.stats, before.stats, "max"),
        )
        if baseline_outputs is not None and current_outputs is not None and not comparison.shape_changed:
            moved = _sample_distance(baseline_outputs, current_outputs, name)
            comparison.relative_l2, comparison.cosine = moved.relative_l2, moved.cosine
            comparison.distance_exact = bool(
                baseline_outputs.exact.get(name) and current_outputs.exact.get(name)
            )
        modules[name] = comparison
    baseline_only = [
        name
        for name, record in baseline.records.items()
        if record.first is not None and name not in unfinished_before and name not in modules
        and name not in current_only
    ]
    if baseline.output is not None and current.output is not None:
        output = distance_of(baseline.output, current.output)
    else:
        output = Distance.unknown()
    return Comparison(
        modules=modules,
        baseline_only=baseline_only,
        current_only=current_only,
        baseline_output_shapes=baseline.output_shapes,
        output_shapes=current.output_shapes,
        output=output,
        baseline_error=str(baseline.error) if baseline.error is not None else None,
        current_error=str(current.error) if current.error is not None else None,
    )


def _unfinished(run: ProbeRun) -> set[str]:
    """Modules whose call started but never returned because the forward raised: the failing module
    and the modules around it (its ancestors by path, and the root)."""
    if run.error is None:
        return set()
    unfinished = {""}
    if run.error.module:
        parts = run.error.module.split(".")
        unfinished.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return unfinished



def compare_session(
    session: Session,
    *,
    sample_size: int = SAMPLE_SIZE,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> Comparison | None:
    """Run the unedited model and the model as it is on the session's input, and compare them.

    The edits are taken out for the baseline run and put back exactly
    (:meth:`inspector.core.edits.ModelEditor.suspended`), outside the undo
    history. Every run starts from the random state of the input's seed
    (:func:`run_seeded`); the unedited model runs twice, and the two runs
    give the comparison's ``noise_floor``. Both compared runs keep their
    output and a sample of every module's output, so every distance is
    filled where shapes agree. The session's ``baseline_run`` and
    ``last_run`` become the two runs. Returns None when ``should_stop``
    cancelled a run.
    """
    total_runs = 3

    def progress_of(offset: int) -> ProgressCallback | None:
        if on_progress is None:
            return None
        return lambda done, total: on_progress(offset * total + done, total_runs * total)

    with session.editor.suspended():
        again = run_seeded(session, keep_output=True, on_progress=progress_of(0), should_stop=should_stop)
        if again.cancelled:
            return None
        with capture_outputs(session.model, sample_size) as before_outputs:
            before = run_seeded(session, keep_output=True, on_progress=progress_of(1), should_stop=should_stop)
    if before.cancelled:
        return None
    with capture_outputs(session.model, sample_size) as after_outputs:
        after = run_seeded(session, keep_output=True, on_progress=progress_of(2), should_stop=should_stop)
    if after.cancelled:
        return None
    comparison = compare_runs(before, after, baseline_outputs=before_outputs, current_outputs=after_outputs)
    if again.error is None and before.error is None:
        comparison.noise_floor = NoiseFloor.between(again.output, before.output)
    return comparison


def add_baseline(
    report: dict[str, Any], baseline: ProbeRun, current: ProbeRun, again: ProbeRun | None = None
) -> dict[str, Any]:
    """Extend a report (``model-inspector/report@1``) of ``current`` with the baseline run of the same input.

    Every layer gains ``"baseline": {"output_shapes", "stats"}`` from the
    baseline's record of the same name (``[]`` and null where that module did
    not run in the baseline); the report gains ``"compare":
    {"output_relative_l2", "output_cosine", "baseline_reproducible",
    "noise_floor_relative_l2"}``, the distances null when the output shapes
    differ or a run kept no output; the last two compare ``baseline`` with
    ``again``, a second run of the unedited model (null without it; see
    :class:`NoiseFloor`). Returns ``report``, changed in place.
    """
    for layer in report["layers"]:
        record = baseline.records.get(layer["name"])
        first = record.first if record is not None else None
        layer["baseline"] = {
            "output_shapes": first.output_shapes if first is not None else [],
            "stats": first.stats.as_dict() if first is not None and first.stats is not None else None,
        }
    moved = (
        distance_of(baseline.output, current.output)
        if baseline.output is not None and current.output is not None
        else Distance.unknown()
    )
    noise = (
        NoiseFloor.between(baseline.output, again.output)
        if again is not None and baseline.output is not None and again.output is not None
        else NoiseFloor(None, None)
    )
    report["compare"] = {"output_relative_l2": moved.relative_l2, "output_cosine": moved.cosine, **noise.as_dict()}
    return report
