"""Activation statistics, computed where the tensor lives and read back once.

A probed run calls :func:`measure` inside each module's forward hook, because
the tensor a module returns may be changed in place later (an in-place ReLU
after a BatchNorm, or ``nn.Identity`` handing its input object on). The
result stays on the device as a small vector; :func:`collect` moves every
vector of the run to the host in one transfer, so a CUDA run does not wait
on the GPU once per layer.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np
import torch

HISTOGRAM_BINS = 64
HISTOGRAM_SAMPLE = 4096
"""At most this many values (evenly strided) feed a histogram."""

# Slots of the per-record vector kept on the device.
_NUMEL, _MEAN, _STD, _MIN, _MAX, _ZEROS, _NAN, _INF, _FINITE = range(9)
_WIDTH = 9


@dataclass
class LayerStats:
    """Statistics of one call's output, as the values were when the call returned.

    ``mean``/``std``/``min``/``max`` are over finite values only and None when
    there are none (or the output is integer/bool); ``std`` is the population
    standard deviation.
    """

    numel: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    zero_fraction: float
    nan_count: int
    inf_count: int

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "numel": self.numel,
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "zero_fraction": self.zero_fraction,
            "nan_count": self.nan_count,
            "inf_count": self.inf_count,
        }


@dataclass
class Histogram:
    """Counts of finite values in ``HISTOGRAM_BINS`` equal bins between ``edges[0]`` and ``edges[-1]``."""

    counts: np.ndarray
    edges: np.ndarray
    sample_size: int
    sampled: bool
    """True when the counts come from an evenly strided sample of the output, not every value."""


@dataclass
class PendingStats:
    """Statistics still on the device: the vector and the histogram sample."""

    vector: torch.Tensor
    sample: torch.Tensor | None
    floating: bool


def _floating(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    return [t for t in tensors if t.is_floating_point() or t.is_complex()]


def _flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    if len(tensors) == 1:
        return tensors[0].reshape(-1)
    dtype = torch.promote_types(tensors[0].dtype, torch.float32) if tensors[0].is_floating_point() else tensors[0].dtype
    return torch.cat([t.reshape(-1).to(dtype) for t in tensors])


def _sample(flat: torch.Tensor) -> torch.Tensor:
    n = flat.numel()
    if n <= HISTOGRAM_SAMPLE:
        return flat.detach().clone()
    step = -(-n // HISTOGRAM_SAMPLE)
    return flat.detach()[::step].clone()


def measure(tensors: list[torch.Tensor], *, histogram: bool = True) -> PendingStats | None:
    """Start the statistics of one call's output tensors, without waiting for the device.

    Returns None when there is no tensor. Floating-point tensors give every
    statistic; integer and bool outputs give the element count and the
    zero count only.
    """
    if not tensors:
        return None
    floats = _floating(tensors)
    if not floats:
        flat = _flat([t.detach() for t in tensors])
        vector = torch.zeros(_WIDTH, dtype=torch.float64, device=flat.device)
        vector[_NUMEL] = flat.numel()
        vector[_ZEROS] = flat.numel() - torch.count_nonzero(flat)
        return PendingStats(vector, None, floating=False)
    flat = _flat([t.detach() for t in floats])
    if flat.is_complex():
        flat = flat.abs()
    if flat.dtype in (torch.float16, torch.bfloat16) or flat.dtype.itemsize < 4:
        flat = flat.float()
    sample = _sample(flat) if histogram else None
    if flat.device.type == "cpu":
        vector = _fast_vector(flat)
    else:
        # A GPU run takes the exact masked path every time, so it never
        # waits on the device to choose.
        vector = _masked_vector(flat)
    return PendingStats(vector, sample, floating=True)


_BITS = {torch.float32: (torch.int32, "<i", "<f"), torch.float64: (torch.int64, "<q", "<d")}


def _from_bits(value: int, int_format: str, float_format: str) -> float:
    return float(struct.unpack(float_format, struct.pack(int_format, value))[0])


def _fast_vector(flat: torch.Tensor) -> torch.Tensor:
    """CPU statistics in as few passes as stock kernels allow.

    - min/max: an integer ``aminmax`` of the float bits is twice as fast as
      the float one; when no value has its sign bit set (a ReLU output),
      integer order is float order, so it gives min and max exactly. Only
      data with negative values pays for the float ``aminmax`` too.
    - mean/std: ``var_mean`` is several times slower than a sum, so they come
      from a sum and a sum of squares; when that formula would lose precision
      (variance tiny against the mean) the exact ``var_mean`` is used.
    - zeros: ``count_nonzero`` on the bits (see :func:`_count_nonzero`).
    Anything not finite goes to the exact masked path. Reading values back
    to choose a route is free on the CPU.
    """
    n = flat.numel()
    vector = torch.zeros(_WIDTH, dtype=torch.float64)
    if n == 0:
        vector[_MEAN:_MAX + 1] = math.nan
        return vector
    negative_zero: bool | None = None
    layout = _BITS.get(flat.dtype) if flat.is_contiguous() else None
    if layout is not None:
        int_dtype, int_format, float_format = layout
        ints = flat.view(int_dtype)
        int_low, int_high = (int(v) for v in torch.aminmax(ints))
        negative_zero = int_low == torch.iinfo(int_dtype).min
        if int_low >= 0:
            low = _from_bits(int_low, int_format, float_format)
            high = _from_bits(int_high, int_format, float_format)
        else:
            low, high = (float(v) for v in torch.aminmax(flat))
    else:
        low, high = (float(v) for v in torch.aminmax(flat))
    if not (math.isfinite(low) and math.isfinite(high)):
        return _masked_vector(flat)
    total = float(flat.sum(dtype=torch.float64 if flat.dtype == torch.float64 else None))
    squares = float(torch.linalg.vector_norm(flat)) ** 2
    mean = total / n
    var = squares / n - mean * mean
    if not (math.isfinite(mean) and math.isfinite(squares)) or var <= 1e-3 * mean * mean:
        exact_var, exact_mean = torch.var_mean(flat.double(), correction=0)
        var, mean = float(exact_var), float(exact_mean)
    vector[_NUMEL] = n
    vector[_MEAN] = mean
    vector[_STD] = math.sqrt(max(var, 0.0))
    vector[_MIN] = low
    vector[_MAX] = high
    vector[_ZEROS] = n - _count_nonzero(flat, negative_zero) if low <= 0.0 <= high else 0
    vector[_FINITE] = n
    return vector


def _count_nonzero(flat: torch.Tensor, negative_zero: bool | None = None) -> int:
    """Elements that are neither +0.0 nor -0.0.

    ``count_nonzero`` on float bits read as integers is several times faster
    than on the floats (a ReLU output full of zeros is the slow case), but it
    takes -0.0 (integer INT_MIN, the smallest integer, and no other float)
    for a non-zero. ``negative_zero`` says whether any -0.0 is there, when
    the caller knows; only then are the sign bits cleared first.
    """
    layout = _BITS.get(flat.dtype)
    if layout is None or not flat.is_contiguous():
        return int(torch.count_nonzero(flat))
    int_dtype = layout[0]
    ints = flat.view(int_dtype)
    if negative_zero is None:
        negative_zero = int(ints.amin()) == torch.iinfo(int_dtype).min
    if negative_zero:
        return int(torch.count_nonzero(flat.abs().view(int_dtype)))
    return int(torch.count_nonzero(ints))


def _masked_vector(flat: torch.Tensor) -> torch.Tensor:
    """Statistics over finite values only, with NaN and inf counted; no host sync."""
    n = flat.numel()
    device = flat.device
    finite = torch.isfinite(flat)
    count = finite.sum(dtype=torch.float64)
    nans = torch.isnan(flat).sum(dtype=torch.float64)
    infs = n - count - nans
    values = torch.where(finite, flat, torch.zeros((), dtype=flat.dtype, device=device)).double()
    safe = count.clamp(min=1)
    mean = values.sum() / safe
    centred = torch.where(finite, values - mean, torch.zeros((), dtype=torch.float64, device=device))
    std = (centred.square().sum() / safe).sqrt()
    big = torch.finfo(flat.dtype).max
    low = torch.where(finite, flat, torch.full((), big, dtype=flat.dtype, device=device)).min().double()
    high = torch.where(finite, flat, torch.full((), -big, dtype=flat.dtype, device=device)).max().double()
    zeros = n - torch.count_nonzero(flat).double()
    none = count == 0
    nan = torch.full((), math.nan, dtype=torch.float64, device=device)
    return torch.stack(
        [
            torch.full((), float(n), dtype=torch.float64, device=device),
            torch.where(none, nan, mean),
            torch.where(none, nan, std),
            torch.where(none, nan, low),
            torch.where(none, nan, high),
            zeros,
            nans,
            infs,
            count,
        ]
    )


def collect(pending: list[PendingStats | None]) -> list[tuple[LayerStats, Histogram | None] | None]:
    """Move every pending result to the host at once and finish it."""
    present = [p for p in pending if p is not None]
    if not present:
        return [None for _ in pending]
    if present[0].vector.is_meta:
        return [None for _ in pending]
    vectors = torch.stack([p.vector.to(present[0].vector.device) for p in present]).cpu().numpy()
    samples = [p.sample for p in present]
    host_samples = _samples_to_host(samples)
    finished: list[tuple[LayerStats, Histogram | None] | None] = []
    row = 0
    for p in pending:
        if p is None:
            finished.append(None)
            continue
        vector = vectors[row]
        sample = host_samples[row]
        row += 1
        stats = _stats_from_vector(vector, p.floating)
        hist = _histogram(sample, stats, int(vector[_NUMEL])) if sample is not None else None
        finished.append((stats, hist))
    return finished


def _samples_to_host(samples: list[torch.Tensor | None]) -> list[np.ndarray | None]:
    real = [s for s in samples if s is not None]
    if not real:
        return [None for _ in samples]
    joined = torch.cat([s.reshape(-1).float().to(real[0].device) for s in real]).cpu().numpy()
    out: list[np.ndarray | None] = []
    offset = 0
    for s in samples:
        if s is None:
            out.append(None)
            continue
        out.append(joined[offset:offset + s.numel()])
        offset += s.numel()
    return out


def _number(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else float(value)


def _stats_from_vector(vector: np.ndarray, floating: bool) -> LayerStats:
    numel = int(vector[_NUMEL])
    zeros = int(vector[_ZEROS])
    return LayerStats(
        numel=numel,
        mean=_number(vector[_MEAN]) if floating else None,
        std=_number(vector[_STD]) if floating else None,
        min=_number(vector[_MIN]) if floating else None,
        max=_number(vector[_MAX]) if floating else None,
        zero_fraction=zeros / numel if numel else 0.0,
        nan_count=int(vector[_NAN]),
        inf_count=int(vector[_INF]),
    )


def _histogram(sample: np.ndarray, stats: LayerStats, numel: int) -> Histogram | None:
    if stats.min is None or stats.max is None:
        return None
    # float64: a float32 sample over a range a few float32 steps wide (a
    # LayerNorm'd constant, say) cannot give numpy 64 distinct bin edges.
    values = sample[np.isfinite(sample)].astype(np.float64)
    low, high = float(stats.min), float(stats.max)
    if high <= low:
        high = low + 1.0 if low == 0 else low + abs(low) * 1e-6 + 1e-12
    narrowest = 4 * HISTOGRAM_BINS * float(np.spacing(max(abs(low), abs(high))))
    if high - low < narrowest:
        high = low + narrowest
    if not math.isfinite(high - low):  # values near ±1e308: no float64 bin width fits
        return None
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(low, high))
    return Histogram(counts=counts, edges=edges, sample_size=int(values.size), sampled=sample.size < numel)
