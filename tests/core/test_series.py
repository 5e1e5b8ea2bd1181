"""The plotted arrays and the statistics CSV, checked against torch and against the run's own records."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from inspector.core import probe
from inspector.core.inputs import InputSpec
from inspector.core.layer_table import CSV_COLUMNS, layers_csv, run_layers
from inspector.core.series import align, envelope, series_of
from inspector.core.shapes import meta_run


def stats_csv(run):
    """The window's statistics CSV of a run (no tree: params and replaced are empty)."""
    return layers_csv(run_layers(run))


class Log(nn.Module):
    """Gives NaN for negative inputs and -inf for zeros."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x)


class Twice(nn.Module):
    """Calls one shared module twice, so it has two call records."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Linear(6, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shared(torch.relu(self.shared(x)))


def small_cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.Sequential(nn.Conv2d(4, 8, 3, stride=2), nn.BatchNorm2d(8)),
        nn.Flatten(),
        nn.Linear(8 * 3 * 3, 5),
    )


def torch_outputs(model: nn.Sequential, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every module's output computed by hand, module by module, without the probe."""
    outputs: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, module in model.named_children():
            if isinstance(module, nn.Sequential):
                inner = x
                for child_name, child in module.named_children():
                    inner = child(inner)
                    outputs[f"{name}.{child_name}"] = inner.clone()
                x = inner
            else:
                x = module(x)
            outputs[name] = x.clone()
    return outputs


@pytest.fixture(scope="module")
def cnn_run() -> tuple[nn.Sequential, torch.Tensor, probe.ProbeRun]:
    model = small_cnn().eval()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    return model, x, probe.run(model, x)


def test_order_depth_and_sizes_follow_the_architecture(cnn_run):
    _, _, run = cnn_run
    series = series_of(run)
    assert series.names == ["0", "1", "2", "2.0", "2.1", "3", "4"]
    assert series.names == run.execution_order()
    assert series.types == ["Conv2d", "ReLU", "Sequential", "Conv2d", "BatchNorm2d", "Flatten", "Linear"]
    assert series.depth.tolist() == [1, 1, 1, 2, 2, 1, 1]
    # [2, 4, 8, 8] -> [2, 8, 3, 3] -> [2, 72] -> [2, 5]
    assert series.numel.tolist() == [512, 512, 144, 144, 144, 144, 10]
    assert series.channels.tolist() == [4, 4, 8, 8, 8, 72, 5]
    assert series.spatial[:5].tolist() == [64, 64, 9, 9, 9]
    assert np.isnan(series.spatial[5:]).all()
    assert series.calls.tolist() == [1] * 7
    assert series.x.tolist() == list(range(7))
    assert series.position("2.1") == 4 and series.position("missing") is None


def test_statistics_match_torch_reductions(cnn_run):
    model, x, run = cnn_run
    series = series_of(run)
    expected = torch_outputs(model, x)
    for i, name in enumerate(series.names):
        out = expected[name].double()
        assert series.numel[i] == out.numel()
        assert series.mean[i] == pytest.approx(out.mean().item(), rel=1e-5, abs=1e-6)
        assert series.std[i] == pytest.approx(out.std(unbiased=False).item(), rel=1e-5, abs=1e-6)
        assert series.min[i] == pytest.approx(out.min().item(), rel=1e-6, abs=1e-6)
        assert series.max[i] == pytest.approx(out.max().item(), rel=1e-6, abs=1e-6)
        assert series.zero_fraction[i] == pytest.approx((out == 0).double().mean().item())
    # The ReLU really zeroes about half its input: the plot shows that, not 0.
    assert 0.2 < series.zero_fraction[1] < 0.8
    assert series.has_stats
    assert len(series.nonfinite) == 0


def test_arrays_equal_the_records_of_the_run(cnn_run):
    _, _, run = cnn_run
    series = series_of(run)
    for i, name in enumerate(series.names):
        first = run.records[name].calls[0]
        assert series.output_shapes[i] == first.output_shapes
        assert series.mean[i] == first.stats.mean
        assert series.std[i] == first.stats.std
        assert series.min[i] == first.stats.min
        assert series.max[i] == first.stats.max
        assert series.zero_fraction[i] == first.stats.zero_fraction
        assert series.time_ms[i] == first.time_ms


def test_nan_and_inf_are_counted_and_leave_gaps():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), Log(), nn.Linear(6, 3))
    x = torch.randn(5, 4)
    run = probe.run(model, x)
    series = series_of(run)
    with torch.no_grad():
        logged = torch.log(model[0](x))
    assert series.nan_count[1] == int(torch.isnan(logged).sum())
    assert series.inf_count[1] == int(torch.isinf(logged).sum())
    assert series.nan_count[1] > 0
    assert 1 in series.nonfinite.tolist()
    finite = logged[torch.isfinite(logged)].double()
    assert series.mean[1] == pytest.approx(finite.mean().item(), rel=1e-5)
    # Linear of a row holding NaN is NaN in every element of that row.
    assert series.nan_count[2] > 0


def test_a_module_called_twice_shows_its_first_call():
    torch.manual_seed(0)
    model = Twice()
    x = torch.randn(3, 6)
    run = probe.run(model, x)
    series = series_of(run)
    assert series.names == ["shared"]
    assert series.calls.tolist() == [2]
    with torch.no_grad():
        first = model.shared(x)
    assert series.mean[0] == pytest.approx(first.mean().item(), rel=1e-5, abs=1e-7)


def test_a_failed_run_names_the_module_and_keeps_the_records_before_it():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(6, 2))
    run = probe.run(model, torch.randn(1, 4))
    series = series_of(run)
    assert series.failed == "2"
    assert series.names == ["0", "1", "2"]
    assert series.numel[:2].tolist() == [8, 8]
    # The module that raised has no output: a gap, not a number.
    assert math.isnan(series.numel[2]) and math.isnan(series.mean[2])


def test_a_meta_run_has_shapes_but_no_statistics():
    model = small_cnn()
    run = meta_run(model, InputSpec(shape=[2, 3, 8, 8]))
    series = series_of(run)
    assert not series.has_stats
    assert series.numel.tolist() == [512, 512, 144, 144, 144, 144, 10]
    assert np.isnan(series.mean).all() and np.isnan(series.time_ms).all()


def test_align_puts_shared_modules_at_the_current_x_and_spreads_the_rest():
    model = small_cnn().eval()
    x = torch.randn(2, 3, 8, 8)
    before = series_of(probe.run(model, x))
    model[2] = nn.Identity()  # the block's two children disappear
    after = series_of(probe.run(model, x))
    assert after.names == ["0", "1", "2", "3", "4"]
    bx = align(before, after)
    for i, name in enumerate(before.names):
        if after.position(name) is not None:
            assert bx[i] == after.position(name)
    # "2.0" and "2.1" sit between "2" (x=2) and "3" (x=3), in order.
    assert 2 < bx[3] < bx[4] < 3
    assert np.all(np.diff(bx) > 0)


def test_align_continues_past_a_failure():
    model = small_cnn().eval()
    x = torch.randn(2, 3, 8, 8)
    before = series_of(probe.run(model, x))
    model[2][0] = nn.Conv2d(3, 8, 3, stride=2)  # wants 3 channels, gets 4: raises
    after = series_of(probe.run(model, x))
    assert after.failed == "2.0"
    bx = align(before, after)
    assert bx[: len(after)].tolist() == list(range(len(after)))
    assert bx[len(after):].tolist() == [len(after) + k for k in range(len(before) - len(after))]


def test_stats_csv_has_one_row_per_executed_module(cnn_run):
    _, _, run = cnn_run
    rows = list(csv.DictReader(io.StringIO(stats_csv(run))))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert [r["name"] for r in rows] == run.execution_order()
    for row in rows:
        first = run.records[row["name"]].calls[0]
        assert json.loads(row["output_shapes"]) == first.output_shapes
        assert int(row["numel"]) == first.stats.numel
        assert int(row["depth"]) == row["name"].count(".") + 1
        assert int(row["calls"]) == 1
        assert row["type"] == run.records[row["name"]].type_name
        # Full precision: the CSV reads back to the very same floats.
        for key in ("mean", "std", "min", "max", "zero_fraction", "time_ms"):
            value = first.time_ms if key == "time_ms" else getattr(first.stats, key)
            assert float(row[key]) == value
        assert int(row["nan_count"]) == first.stats.nan_count == 0


def test_stats_csv_leaves_missing_values_empty():
    run = meta_run(small_cnn(), InputSpec(shape=[1, 3, 8, 8]))
    rows = list(csv.DictReader(io.StringIO(stats_csv(run))))
    assert len(rows) == 7
    assert all(r["mean"] == "" and r["time_ms"] == "" and r["nan_count"] == "" for r in rows)
    assert rows[0]["numel"] == str(4 * 8 * 8) and rows[0]["output_shapes"] == "[[1, 4, 8, 8]]"


def test_stats_csv_quotes_names_with_commas():
    model = nn.Module()
    model.add_module("a,b", nn.ReLU())
    model.forward = lambda x: model.get_submodule("a,b")(x)  # type: ignore[method-assign]
    rows = list(csv.reader(io.StringIO(stats_csv(probe.run(model, torch.ones(2))))))
    assert rows[1][0] == "a,b" and len(rows[1]) == len(CSV_COLUMNS)


def test_envelope_keeps_every_value_inside_with_few_points():
    rng = np.random.default_rng(0)
    n = 10_007
    x = np.arange(n, dtype=float)
    mid = rng.normal(size=n)
    spread = rng.uniform(0, 2, size=n)
    low, high = mid - spread, mid + spread
    low[5] = math.nan  # a module with no statistics is left out
    bx, blow, bhigh = envelope(x, low, high, 500)
    assert 400 < len(bx) <= 500
    assert blow.min() == np.nanmin(low) and bhigh.max() == high.max()
    # Every module's spread lies inside the band at a nearby x (within one chunk).
    chunk = math.ceil(n / 500)
    keep = ~np.isnan(low)
    near = np.abs(x[keep][:, None] - bx[None, :]) <= chunk
    inside = (blow[None, :] <= low[keep][:, None]) & (bhigh[None, :] >= high[keep][:, None])
    assert np.all((near & inside).any(axis=1))
    small = envelope(x[:10], low[:10], high[:10], 500)
    assert small[0].tolist() == [i for i in range(10) if i != 5]


def test_series_imports_no_qt():
    code = "import sys, inspector.core.series; print(any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_placement_groups_put_accelerators_first_then_cpu_disk_and_the_rest():
    from inspector.core.series import placement_groups

    where = {"a": "disk", "b": "cpu", "c": "cuda:1", "d": "cuda:0", "e": None, "f": "mixed"}
    groups, names = placement_groups(list(where), where.get)
    assert names == ["cuda:0", "cuda:1", "cpu", "disk", "mixed", "unplaced"]
    assert [names[g] for g in groups] == ["disk", "cpu", "cuda:1", "cuda:0", "unplaced", "mixed"]
