"""The numbers behind the plots: one array per quantity, modules in execution order.

A :class:`RunSeries` is computed once per :class:`~inspector.core.probe.ProbeRun`
and read by the plot widgets, which then only call ``setData``. Every array
has one entry per module that ran, in the order the module's first call
started (``run.execution_order()``, the root left out); a value that does not
exist (no statistics on a meta run, no tensor in the output, the module whose
forward raised) is NaN, never a made-up number.

The sizes come from the *first* call's output shapes:

- ``numel``: elements in every tensor of the output together;
- ``channels``: dimension 1 of the first output tensor when it has two or
  more dimensions (channels of an ``[N, C, H, W]`` map, features of an
  ``[N, F]`` vector, tokens of an ``[N, T, D]`` sequence);
- ``spatial``: the product of the dimensions after dimension 1 of the first
  tensor, when it has three or more.

:func:`inspector.core.layer_table.run_layers` writes the same per-layer statistics as CSV text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from inspector.core.probe import ProbeRun


def placement_groups(names: list[str], placement_of: Callable[[str], str | None]) -> tuple[np.ndarray, list[str]]:
    """Each module's placement group, and the groups' names: accelerators first, then ``cpu``, ``disk``, the rest.

    For a model dispatched by accelerate (``--device auto``), where the plots
    colour each module by where its weights live instead of by depth.
    """
    labels = [placement_of(name) or "unplaced" for name in names]

    def rank(label: str) -> tuple[int, str]:
        order = {"cpu": 1, "disk": 2, "mixed": 3, "unplaced": 4}
        return (order.get(label, 0), label)

    groups = sorted(set(labels), key=rank)
    index = {label: i for i, label in enumerate(groups)}
    return np.array([index[label] for label in labels], dtype=int), groups


@dataclass
class RunSeries:
    """Per-module arrays of one run, indexed by execution position.

    Float arrays hold NaN where a value does not exist; integer arrays hold 0
    there (a module with no statistics has no NaN or inf to count).
    """

    names: list[str]
    types: list[str]
    output_shapes: list[list[list[int]]]
    depth: np.ndarray
    calls: np.ndarray
    numel: np.ndarray
    channels: np.ndarray
    spatial: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray
    zero_fraction: np.ndarray
    nan_count: np.ndarray
    inf_count: np.ndarray
    time_ms: np.ndarray
    failed: str | None = None
    """The module whose forward raised, when the run failed inside one."""
    has_stats: bool = False
    """True when at least one module has statistics (False for meta and TorchScript runs)."""
    _positions: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._positions = {name: i for i, name in enumerate(self.names)}

    def __len__(self) -> int:
        return len(self.names)

    @property
    def x(self) -> np.ndarray:
        """Execution positions 0 .. n-1, the x of every plot."""
        return np.arange(len(self.names), dtype=float)

    def position(self, name: str | None) -> int | None:
        """Where ``name`` is in the execution order, or None when it did not run."""
        if name is None:
            return None
        return self._positions.get(name)

    @property
    def nonfinite(self) -> np.ndarray:
        """Positions of the modules whose output held NaN or infinity."""
        return np.flatnonzero((self.nan_count + self.inf_count) > 0)


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _product(shape: list[int]) -> int:
    n = 1
    for dim in shape:
        n *= int(dim)
    return n


def series_of(run: ProbeRun) -> RunSeries:
    """The plotted arrays of ``run``, modules in execution order."""
    names = run.execution_order()
    types: list[str] = []
    shapes: list[list[list[int]]] = []
    depth: list[int] = []
    calls: list[int] = []
    sizes: list[tuple[float, float, float]] = []
    values: list[tuple[float, float, float, float, float]] = []
    counts: list[tuple[int, int]] = []
    times: list[float] = []
    has_stats = False
    # Plain lists, then one array each: a 10,000-module run stays a few milliseconds.
    for name in names:
        record = run.records[name]
        first = record.calls[0]
        types.append(record.type_name)
        shapes.append(first.output_shapes)
        depth.append(name.count(".") + 1)
        calls.append(len(record.calls))
        sizes.append(_sizes(first.output_shapes))
        stats = first.stats
        if stats is not None:
            has_stats = True
            values.append(
                (
                    _nan_if_none(stats.mean),
                    _nan_if_none(stats.std),
                    _nan_if_none(stats.min),
                    _nan_if_none(stats.max),
                    stats.zero_fraction,
                )
            )
            counts.append((stats.nan_count, stats.inf_count))
        else:
            values.append(_NO_VALUES)
            counts.append((0, 0))
        times.append(first.time_ms if run.timed and first.time_ms is not None else math.nan)
    n = len(names)
    size_array = np.array(sizes, dtype=float).reshape(n, 3)
    value_array = np.array(values, dtype=float).reshape(n, 5)
    count_array = np.array(counts, dtype=np.int64).reshape(n, 2)
    return RunSeries(
        names=names,
        types=types,
        output_shapes=shapes,
        depth=np.array(depth, dtype=np.int64),
        calls=np.array(calls, dtype=np.int64),
        numel=size_array[:, 0].copy(),
        channels=size_array[:, 1].copy(),
        spatial=size_array[:, 2].copy(),
        mean=value_array[:, 0].copy(),
        std=value_array[:, 1].copy(),
        min=value_array[:, 2].copy(),
        max=value_array[:, 3].copy(),
        zero_fraction=value_array[:, 4].copy(),
        nan_count=count_array[:, 0].copy(),
        inf_count=count_array[:, 1].copy(),
        time_ms=np.array(times, dtype=float),
        failed=run.error.module if run.error is not None and run.error.module else None,
        has_stats=has_stats,
    )


_NO_VALUES = (math.nan, math.nan, math.nan, math.nan, math.nan)


def _sizes(output_shapes: list[list[int]]) -> tuple[float, float, float]:
    """(numel of every tensor, dim 1 of the first, product of its dims after 1), NaN where absent."""
    if not output_shapes:
        return (math.nan, math.nan, math.nan)
    numel = float(sum(_product(s) for s in output_shapes))
    lead = output_shapes[0]
    channels = float(lead[1]) if len(lead) >= 2 else math.nan
    spatial = float(_product(lead[2:])) if len(lead) >= 3 else math.nan
    return (numel, channels, spatial)


def align(baseline: RunSeries, current: RunSeries) -> np.ndarray:
    """The x of every ``baseline`` module on ``current``'s axis, matched by name.

    A module present in both sits at its x in ``current``, so before and after
    are compared layer by layer even when an edit removed modules. Modules only
    the baseline ran (the children of a block replaced with Identity, the
    layers after a failure) are spread evenly between their matched
    neighbours, or continue past the last one.
    """
    n = len(baseline)
    x = np.full(n, math.nan)
    matched = [current.position(name) for name in baseline.names]
    for i, pos in enumerate(matched):
        if pos is not None:
            x[i] = pos
    i = 0
    while i < n:
        if matched[i] is not None:
            i += 1
            continue
        start = i
        while i < n and matched[i] is None:
            i += 1
        gap = i - start
        before = x[start - 1] if start > 0 else None
        after = x[i] if i < n else None
        steps = np.arange(1, gap + 1, dtype=float)
        if before is not None and after is not None and after > before:
            x[start:i] = before + (after - before) * steps / (gap + 1)
        elif before is not None:
            x[start:i] = before + steps
        elif after is not None:
            x[start:i] = after - (gap + 1 - steps)
        else:
            x[start:i] = steps - 1
    return x


def envelope(
    x: np.ndarray, low: np.ndarray, high: np.ndarray, max_points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A band between ``low`` and ``high`` with at most ``max_points`` points, that still covers every value.

    Points where either bound is not finite are left out. When more remain,
    neighbours are taken in equal chunks: each chunk keeps its lowest ``low``
    and its highest ``high`` at the chunk's mean x, so the band never hides a
    layer's spread. A filled polygon of tens of thousands of vertices takes
    Qt most of a second to paint; a few thousand is instant and looks the same.
    """
    keep = np.isfinite(x) & np.isfinite(low) & np.isfinite(high)
    x, low, high = x[keep], low[keep], high[keep]
    n = len(x)
    if n <= max_points or max_points < 1:
        return x, low, high
    chunk = -(-n // max_points)
    pad = (-n) % chunk

    def chunks(values: np.ndarray) -> np.ndarray:
        return np.pad(values, (0, pad), mode="edge").reshape(-1, chunk)

    return chunks(x).mean(axis=1), chunks(low).min(axis=1), chunks(high).max(axis=1)
