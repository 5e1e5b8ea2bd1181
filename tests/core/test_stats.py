"""The fast statistics routes against torch's own float64 reductions, value shapes that pick each route."""

from __future__ import annotations

import math

import pytest
import torch

from inspector.core import stats

NAN, INF = float("nan"), float("inf")


def torch_reference(t: torch.Tensor) -> dict[str, float | int | None]:
    flat = t.detach().double().reshape(-1)
    finite = flat[torch.isfinite(flat)]
    has = finite.numel() > 0
    return {
        "numel": flat.numel(),
        "mean": float(finite.mean()) if has else None,
        "std": float(finite.std(unbiased=False)) if has else None,
        "min": float(finite.min()) if has else None,
        "max": float(finite.max()) if has else None,
        "zero_fraction": float((flat == 0).sum()) / flat.numel(),
        "nan_count": int(torch.isnan(flat).sum()),
        "inf_count": int(torch.isinf(flat).sum()),
    }


CASES = {
    "randn": lambda: torch.randn(4096),
    "relu output (no sign bit: integer min/max route)": lambda: torch.randn(50_000).relu(),
    "relu output with -0.0": lambda: torch.cat([torch.randn(100).relu(), torch.tensor([-0.0, -0.0])]),
    "only -0.0": lambda: torch.tensor([-0.0, -0.0, -0.0]),
    "mixed zeros and negatives": lambda: torch.tensor([-1.0, -0.0, 0.0, 2.0]),
    "all negative": lambda: -torch.rand(1000) - 0.5,
    "large mean, small spread (exact variance route)": lambda: torch.randn(1000) + 1e4,
    "positive with +inf": lambda: torch.tensor([3.0, INF, 1.0]),
    "positive with NaN": lambda: torch.tensor([1.0, NAN, 0.0]),
    "NaN, inf and -0.0": lambda: torch.tensor([1.0, NAN, -0.0, 0.0, -INF, 3.0]),
    "all NaN": lambda: torch.full((5,), NAN),
    "float64 relu": lambda: torch.randn(300, dtype=torch.float64).relu(),
    "float16": lambda: torch.randn(64).half(),
    "bfloat16": lambda: torch.randn(64).bfloat16(),
    "non-contiguous": lambda: torch.randn(30, 40).t(),
}


@pytest.mark.parametrize("name", list(CASES))
def test_statistics_match_torch(name):
    tensor = CASES[name]()
    ((result, _),) = stats.collect([stats.measure([tensor])])
    expected = torch_reference(tensor)
    for key, want in expected.items():
        got = getattr(result, key)
        if want is None:
            assert got is None, key
        elif isinstance(want, int):
            assert got == want, key
        else:
            assert got == pytest.approx(want, rel=1e-5, abs=1e-6), key


def test_integer_output_gives_counts_only():
    tensor = torch.tensor([0, 3, 0, 7])
    ((result, histogram),) = stats.collect([stats.measure([tensor])])
    assert (result.numel, result.zero_fraction) == (4, 0.5)
    assert result.mean is None and result.min is None and histogram is None


def test_histogram_of_a_large_output_is_a_declared_sample():
    tensor = torch.randn(100_000)
    ((result, histogram),) = stats.collect([stats.measure([tensor])])
    assert histogram.sampled and histogram.sample_size <= stats.HISTOGRAM_SAMPLE
    assert histogram.counts.sum() == histogram.sample_size
    assert math.isclose(histogram.edges[0], result.min) and math.isclose(histogram.edges[-1], result.max)
