"""Sparse, quantized, nested and complex outputs: the run goes on and the numbers are torch's own, in float64."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
import torch
from torch import nn

from inspector.core import probe
from inspector.core.stats import HISTOGRAM_BINS

X = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))


class Returns(nn.Module):
    """A layer whose output is ``make(x)``."""

    def __init__(self, make: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.make = make

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.make(torch.relu(x))  # relu: zeros among the stored values too


def _expected(values: torch.Tensor) -> dict[str, float]:
    values = values.double().reshape(-1)
    return {
        "numel": values.numel(),
        "mean": float(values.mean()),
        "std": float(values.std(correction=0)),
        "min": float(values.min()),
        "max": float(values.max()),
        "zero_fraction": float((values == 0).double().mean()),
    }


def _first_stats(make: Callable[[torch.Tensor], torch.Tensor]) -> probe.CallRecord:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # quantized and nested tensors: torch's prototype notes
        run = probe.run(nn.Sequential(Returns(make), nn.Identity()), (X,))
    assert run.ok, run.error
    call = run.records["0"].first
    assert call is not None and call.stats is not None
    return call


def _assert_stats(call: probe.CallRecord, dense: torch.Tensor) -> None:
    want = _expected(dense)
    got = call.stats.as_dict()
    assert got["numel"] == want["numel"]
    for key in ("mean", "std", "min", "max", "zero_fraction"):
        assert got[key] == pytest.approx(want[key], rel=1e-6, abs=1e-7), key
    assert got["nan_count"] == 0 and got["inf_count"] == 0
    assert call.histogram is not None and len(call.histogram.counts) == HISTOGRAM_BINS
    assert call.histogram.sample_size == want["numel"]  # small outputs: every value, the unstored zeros included


@pytest.mark.parametrize(
    "layout",
    [
        lambda t: t.to_sparse(),
        lambda t: t.to_sparse_csr(),
        lambda t: t.to_sparse_csc(),
        lambda t: t.to_sparse_bsr((1, 2)),
    ],
    ids=["coo", "csr", "csc", "bsr"],
)
def test_a_sparse_output_has_the_statistics_of_its_dense_tensor(layout):
    # Half the values are relu zeros, which to_sparse does not store.
    call = _first_stats(layout)
    _assert_stats(call, torch.relu(X))
    assert call.output_shapes == [[3, 8]]


def test_a_coo_output_with_duplicate_indices_counts_them_summed_as_to_dense_does():
    indices = torch.tensor([[0, 0, 1], [1, 1, 2]])

    def make(x: torch.Tensor) -> torch.Tensor:
        return torch.sparse_coo_tensor(indices, x[0, :3], (3, 8))  # two values at (0, 1): uncoalesced

    call = _first_stats(make)
    dense = torch.sparse_coo_tensor(indices, torch.relu(X)[0, :3], (3, 8)).to_dense()
    _assert_stats(call, dense)


def test_a_quantized_output_is_measured_dequantized():
    call = _first_stats(lambda t: torch.quantize_per_tensor(t * 3 - 1, 0.05, 10, torch.qint8))
    _assert_stats(call, torch.quantize_per_tensor(torch.relu(X) * 3 - 1, 0.05, 10, torch.qint8).dequantize())


def test_a_per_channel_quantized_output_is_measured_dequantized():
    scales = torch.linspace(0.01, 0.1, 3, dtype=torch.float64)

    def make(t: torch.Tensor) -> torch.Tensor:
        return torch.quantize_per_channel(t, scales, torch.zeros(3, dtype=torch.int64), 0, torch.quint8)

    call = _first_stats(make)
    _assert_stats(call, make(torch.relu(X)).dequantize())


def test_a_complex_output_is_measured_by_magnitude():
    call = _first_stats(lambda t: torch.complex(t - 0.5, t * 2))
    _assert_stats(call, torch.complex(torch.relu(X) - 0.5, torch.relu(X) * 2).abs())


@pytest.mark.parametrize("layout", [torch.strided, torch.jagged], ids=["strided", "jagged"])
def test_a_nested_output_is_measured_over_all_components_and_its_ragged_size_is_minus_one(layout):
    def make(t: torch.Tensor) -> torch.Tensor:
        return torch.nested.nested_tensor([t[0], t[1, :5], t[2, :2]], layout=layout)

    call = _first_stats(make)
    relu = torch.relu(X)
    _assert_stats(call, torch.cat([relu[0], relu[1, :5], relu[2, :2]]))
    assert call.output_shapes == [[3, -1]]


def test_a_complex_output_beside_a_real_one_keeps_the_real_values_sign():
    call = _first_stats(lambda t: (t - 0.5, torch.complex(t, t)))  # type: ignore[arg-type, return-value]
    relu = torch.relu(X)
    _assert_stats(call, torch.cat([(relu - 0.5).reshape(-1), torch.complex(relu, relu).abs().reshape(-1)]))


def test_a_sparse_output_with_nan_counts_it_and_leaves_it_out():
    def make(t: torch.Tensor) -> torch.Tensor:
        t = t.clone()
        t[0, 0] = float("nan")
        return t.to_sparse()

    call = _first_stats(make)
    assert call.stats.nan_count == 1 and call.stats.numel == X.numel()
    dense = torch.relu(X).clone()
    dense[0, 0] = 0.0  # the finite values: the NaN is left out of mean/min/max
    finite = torch.cat([dense.reshape(-1)[1:]])
    assert call.stats.mean == pytest.approx(float(finite.double().mean()), rel=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_odd_outputs_on_cuda_have_the_statistics_of_their_values():
    x = X.cuda()
    for make, dense in (
        (lambda t: t.to_sparse(), lambda t: t),
        (lambda t: t.to_sparse_csr(), lambda t: t),
        (lambda t: torch.complex(t, t), lambda t: torch.complex(t, t).abs()),
    ):
        run = probe.run(nn.Sequential(Returns(make)).cuda(), (x,))
        assert run.ok, run.error
        got = run.records["0"].first.stats
        want = _expected(dense(torch.relu(x)).cpu())
        assert got.numel == want["numel"] and got.mean == pytest.approx(want["mean"], rel=1e-5)
        assert got.zero_fraction == pytest.approx(want["zero_fraction"])
