"""Odd but real outputs and models: a re-bound buffer, a model that swallows the stop, broadcast outputs.

Each test fails on the code before the fix: a train-mode run left an EMA
buffer re-bound to a new tensor; a model catching ``Exception`` turned a
cancel into a complete run; an ``expand``-ed output was copied out in full
for its statistics.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from inspector.core import probe, stats  # noqa: E402
from tests.helpers import assert_unchanged, run_subprocess, snapshot  # noqa: E402


class Ema(nn.Module):
    """Keeps a running mean of its input in a buffer it re-binds (``self.ema = new``) in train mode."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.register_buffer("ema", torch.arange(4, dtype=torch.float32))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        if self.training:
            self.ema = 0.9 * self.ema + 0.1 * y.mean(dim=0)
            self.steps = self.steps + 1
        return y - self.ema


def test_a_train_mode_run_puts_a_rebound_buffer_back_bit_identical():
    model = Ema()
    before = snapshot(model)
    ema, values = model.ema, model.ema.clone()
    run = probe.run(model, torch.randn(2, 4), mode="train")
    assert run.ok
    assert model.ema is ema, "the module holds another tensor than before the run"
    assert torch.equal(model.ema, values)
    assert int(model.steps) == 0
    assert_unchanged(model, before)


class CatchesEverything(nn.Module):
    """Runs each layer in ``try: ... except Exception: pass``: the probe's stop is an Exception too."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            try:
                x = layer(x)
            except Exception:  # noqa: BLE001 - the hostile pattern under test
                pass
        return x


class WrapsErrors(CatchesEverything):
    """Turns any exception of a layer into its own RuntimeError."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            try:
                x = layer(x)
            except Exception as error:
                raise RuntimeError("a layer failed") from error
        return x


def stop_after(calls: int):
    asked = []

    def should_stop() -> bool:
        asked.append(1)
        return len(asked) > calls

    return should_stop


def test_a_model_that_catches_exception_cannot_turn_cancel_into_a_complete_run():
    model = CatchesEverything()
    before = snapshot(model)
    run = probe.run(model, torch.randn(1, 4), should_stop=stop_after(3))
    assert run.cancelled and not run.ok
    assert run.output_shapes == []
    ran = [name for name, record in run.records.items() if record.calls]
    assert "layers.5" not in ran  # it did stop
    assert_unchanged(model, before)


def test_a_model_that_wraps_the_stop_in_its_own_error_is_cancelled_not_failed():
    run = probe.run(WrapsErrors(), torch.randn(1, 4), should_stop=stop_after(3))
    assert run.cancelled and run.error is None


def test_without_a_stop_the_catching_model_runs_complete():
    run = probe.run(CatchesEverything(), torch.randn(1, 4), should_stop=lambda: False)
    assert run.ok and run.output_shapes == [[1, 4]]


class Broadcasts(nn.Module):
    """Returns broadcast views: one value, a row, and a tuple mixing them with a plain tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.scalar = _Expand(lambda x: x.mean().reshape(1).expand(2**20))
        self.rows = _Expand(lambda x: x.reshape(4, 1, 1).expand(4, 3000, 1))
        self.mixed = _Expand(lambda x: (x.reshape(4, 1).expand(4, 500), x.reshape(4) * 2,
                                        torch.tensor([float("nan"), 0.0]).expand(3, 2)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.scalar(x), self.rows(x), self.mixed(x)


class _Expand(nn.Module):
    def __init__(self, make) -> None:
        super().__init__()
        self.make = make

    def forward(self, x: torch.Tensor):
        return self.make(x)


def _reference(tensors: list[torch.Tensor]) -> dict[str, float]:
    """torch's float64 reductions over the materialised values (finite ones for mean/std/min/max)."""
    flat = torch.cat([t.contiguous().reshape(-1).double() for t in tensors])
    finite = flat[torch.isfinite(flat)]
    return {
        "numel": flat.numel(),
        "mean": float(finite.mean()),
        "std": float(finite.std(correction=0)),
        "min": float(finite.min()),
        "max": float(finite.max()),
        "zero_fraction": float((flat == 0).double().mean()),
        "nan_count": int(torch.isnan(flat).sum()),
    }


def test_statistics_of_broadcast_outputs_equal_torch_reductions_of_the_materialised_tensor():
    model = Broadcasts()
    x = torch.tensor([[0.5, -1.25, 3.0, 0.0]])
    run = probe.run(model, x, histogram=True)
    assert run.ok
    with torch.no_grad():
        outputs = {"scalar": [model.scalar(x)], "rows": [model.rows(x)], "mixed": list(model.mixed(x))}
    for name, tensors in outputs.items():
        got = run.records[name].first.stats
        want = _reference(tensors)
        assert got.numel == want["numel"], name
        assert got.nan_count == want["nan_count"], name
        assert abs(got.zero_fraction - want["zero_fraction"]) < 1e-12, name
        for key in ("mean", "std", "min", "max"):
            assert abs(getattr(got, key) - want[key]) <= 1e-6 * max(1.0, abs(want[key])), (name, key)
    histogram = run.records["scalar"].first.histogram
    assert histogram is not None and histogram.sampled  # it says it came from the distinct values


def test_a_broadcast_output_is_measured_on_its_distinct_memory():
    full = torch.zeros(1).expand(2**20)
    view, weight = stats.distinct(full)
    assert view.numel() == 1 and weight == 2**20
    assert view.data_ptr() == full.data_ptr()  # a view: nothing was copied
    rows = torch.randn(4, 1, 5).expand(4, 7, 5)
    view, weight = stats.distinct(rows)
    assert view.shape == (4, 1, 5) and weight == 7 and view.data_ptr() == rows.data_ptr()
    plain = torch.randn(3, 3)
    assert stats.distinct(plain) == (plain, 1)


def test_measuring_a_huge_broadcast_output_allocates_no_copy_of_it(tmp_path):
    """2**26 float32 elements are 256 MiB once copied; the run's peak memory must not grow by that."""
    script = tmp_path / "peak.py"
    script.write_text(textwrap.dedent("""
        import resource, torch
        from torch import nn
        from inspector.core import probe

        class Broadcast(nn.Module):
            def __init__(self, side):
                super().__init__()
                self.side = side

            def forward(self, x):
                return x.mean().reshape(1, 1).expand(self.side, self.side)

        x = torch.randn(1, 4)
        probe.run(Broadcast(2 ** 5), x)  # warm up on a small one: the first run loads what it needs
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        run = probe.run(Broadcast(2 ** 13), x)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert run.ok and run.records[""].first.stats.numel == 2 ** 26
        print((after - before) // 1024)
    """))
    result = run_subprocess([str(script)])
    assert result.returncode == 0, result.stderr
    grown_mib = int(result.stdout.split()[-1])
    assert grown_mib < 64, f"the peak memory grew by {grown_mib} MiB"
