"""The fast statistics routes against torch's own float64 reductions, value shapes that pick each route."""

from __future__ import annotations

import math

import numpy as np
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
    "a view that starts inside its storage": lambda: torch.randn(5000)[17:],
    "constant": lambda: torch.full((1000,), 3.25),
    "large, odd length (split across threads)": lambda: torch.randn(1_000_003) * 3 + 1,
    "large relu output": lambda: torch.randn(8, 64, 56, 56).relu(),
    "large float64": lambda: torch.randn(400_000, dtype=torch.float64) - 2,
    "large, NaN where a later part begins, inf at the end": lambda: _with(
        torch.randn(600_000), {301_056: NAN, 450_000: NAN, -1: INF}
    ),
    "large, -inf first": lambda: _with(torch.randn(300_000), {0: -INF}),
}


def _with(tensor: torch.Tensor, values: dict[int, float]) -> torch.Tensor:
    for index, value in values.items():
        tensor[index] = value
    return tensor


@pytest.fixture(params=["fused kernel", "stock reductions"])
def route(request, monkeypatch):
    """Both CPU routes: the one-pass C kernel and the stock torch reductions used without it."""
    if request.param == "fused kernel":
        if stats._fused is None:
            pytest.skip("the one-pass kernel was not built (no C compiler at install)")
    else:
        monkeypatch.setattr(stats, "_fused", None)
    return request.param


@pytest.mark.parametrize("name", list(CASES))
def test_statistics_match_torch(name, route):
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


def test_fused_sums_are_as_precise_as_float64():
    """The kernel sums in double: a big output's mean and std match a float64 reduction to ~1e-12."""
    if stats._fused is None:
        pytest.skip("the one-pass kernel was not built (no C compiler at install)")
    tensor = torch.rand(4_000_000) * 1e3 + 1e5
    ((result, _),) = stats.collect([stats.measure([tensor])])
    reference = tensor.double()
    assert result.mean == pytest.approx(float(reference.mean()), rel=1e-12)
    assert result.std == pytest.approx(float(reference.std(unbiased=False)), rel=1e-9)


def test_each_histogram_of_a_run_is_numpys_histogram_of_that_output(route):
    """A run's histograms are binned together; each must equal np.histogram of its own values."""
    tensors = [
        torch.randn(1000),
        torch.randn(3000).relu(),
        torch.full((10,), 2.5),
        torch.tensor([1.0, NAN, 3.0, INF, -2.0]),
        torch.randn(500, dtype=torch.float64) * 1e-30,
        torch.linspace(-1, 1, 65),  # every value on a bin edge
        torch.randn(4000) * 1e4 + 7,
    ]
    results = stats.collect([stats.measure([t]) for t in tensors] + [None])
    assert results[-1] is None
    for tensor, (_, histogram) in zip(tensors, results, strict=False):
        values = tensor.double().numpy()
        values = values[np.isfinite(values)]
        counts, edges = np.histogram(values, bins=stats.HISTOGRAM_BINS, range=(histogram.edges[0], histogram.edges[-1]))
        assert np.array_equal(histogram.counts, counts)
        assert np.array_equal(histogram.edges, edges)
        assert histogram.sample_size == values.size and not histogram.sampled


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("length", [4097, 1_000_003])
def test_a_large_outputs_histogram_is_numpys_histogram_of_every_nth_value(route, length, dtype):
    """The kernel copies the sample piece by piece as its pass goes; the pieces must join up exactly."""
    tensor = torch.randn(length, dtype=dtype) * 2 - 1
    ((result, histogram),) = stats.collect([stats.measure([tensor])])
    step = -(-length // stats.HISTOGRAM_SAMPLE)
    sample = tensor[::step].double().numpy()
    counts, edges = np.histogram(sample, bins=stats.HISTOGRAM_BINS, range=(result.min, result.max))
    assert histogram.sampled and histogram.sample_size == sample.size <= stats.HISTOGRAM_SAMPLE
    assert np.array_equal(histogram.counts, counts) and np.array_equal(histogram.edges, edges)


def _kernel_routes() -> list[str]:
    return sorted(stats._fused.routes()) if stats._fused is not None else []


@pytest.mark.skipif(stats._fused is None, reason="the one-pass kernel was not built (no C compiler at install)")
@pytest.mark.parametrize("route", _kernel_routes())
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("length", [1, 31, 33, 2048 * 3 + 17, 700_001])
def test_every_kernel_route_gives_float64_sums_min_max_and_zeros(route, threads, length):
    """Each float32 route this CPU can run (plain C, AVX2, AVX-512), whole steps and the tail."""
    generator = torch.Generator().manual_seed(length)
    tensor = (torch.randn(length, generator=generator) * 5 + 2).relu()
    tensor[length // 2] = -0.0
    shifted, squares, shift, low, high, zeros = stats._fused.stats(
        tensor.data_ptr(), length, 4, threads, stats._fused.routes()[route]
    )
    values = tensor.double()
    assert shift == values[0]
    assert shifted == pytest.approx(float((values - shift).sum()), rel=1e-12, abs=1e-9)
    assert squares == pytest.approx(float((values - shift).square().sum()), rel=1e-12)
    assert (low, high) == (float(values.min()), float(values.max()))
    assert zeros == int((values == 0).sum())


@pytest.mark.parametrize("kernel", ["one-pass kernel", "stock torch"])
def test_a_negated_view_is_measured_as_its_values(kernel, monkeypatch):
    """A tensor with torch's negative bit set (``_neg_view``) holds x in memory and means -x."""
    if kernel == "stock torch":
        monkeypatch.setattr(stats, "_fused", None)
    tensor = torch._neg_view(torch.rand(1000, generator=torch.Generator().manual_seed(3)) + 1)
    assert tensor.is_neg() and tensor.is_contiguous()
    ((result, histogram),) = stats.collect([stats.measure([tensor])])
    want = torch_reference(tensor.resolve_neg())
    got = result.as_dict()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    assert histogram is not None and histogram.counts.sum() == 1000
