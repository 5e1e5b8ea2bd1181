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

try:
    from inspector.core import _fused  # type: ignore[attr-defined]  # a C extension (setup.py) without a stub
except ImportError:  # built without a C compiler: stock torch reductions, same numbers
    _fused = None

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
    """Statistics still on the device: the vector and the histogram sample.

    The one-pass CPU kernel gives its numbers as a tuple and its sample as a
    NumPy array: making a tensor of each, for hundreds of outputs, cost more
    than the values it held (see :func:`_fused_stats`).
    """

    vector: torch.Tensor | tuple[float, ...]
    sample: torch.Tensor | np.ndarray | None
    floating: bool


def _floating(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    return [t for t in tensors if t.is_floating_point() or t.is_complex()]


def _flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    if len(tensors) == 1:
        return tensors[0].reshape(-1)
    dtype = torch.promote_types(tensors[0].dtype, torch.float32) if tensors[0].is_floating_point() else tensors[0].dtype
    return torch.cat([t.reshape(-1).to(dtype) for t in tensors])


def _sample_step(n: int) -> int:
    """Every how many values one goes into the histogram sample (1: all of them)."""
    return max(1, -(-n // HISTOGRAM_SAMPLE))


def _sample(flat: torch.Tensor) -> torch.Tensor:
    return flat.detach()[:: _sample_step(flat.numel())].clone()


def distinct(tensor: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The distinct elements of a broadcast tensor, and how many times each one appears in it.

    ``torch.zeros(1).expand(2**28)`` is one float in memory and 2**28 as a
    tensor: every dimension of stride 0 is cut to its first slice, and each
    element left stands for the product of those dimensions' sizes. Equal
    weights leave mean, std, min, max and every fraction unchanged, so the
    statistics of the view, with the counts multiplied, are those of the
    whole tensor, without copying it out in full. A tensor with no
    broadcast dimension comes back as it is, with weight 1.
    """
    if tensor.layout != torch.strided or tensor.is_nested:
        return tensor, 1
    view, weight = tensor, 1
    for dim, (size, stride) in enumerate(zip(tensor.shape, tensor.stride(), strict=True)):
        if stride == 0 and size > 1:
            view = view.narrow(dim, 0, 1)
            weight *= size
    return view, weight


def measure(tensors: list[torch.Tensor], *, histogram: bool = True) -> PendingStats | None:
    """Start the statistics of one call's output tensors, without waiting for the device.

    Returns None when there is no tensor. Floating-point tensors give every
    statistic; integer and bool outputs give the element count and the
    zero count only. Sparse, quantized, nested and complex outputs are
    measured by :mod:`inspector.core.odd_outputs`. A broadcast tensor (``expand``) is measured on its
    distinct elements (see :func:`distinct`); its histogram then comes from
    them and says it is ``sampled``.
    """
    if not tensors:
        return None
    if len(tensors) == 1:
        direct = _direct_route(tensors[0])
        if direct is not None:
            return _fused_stats(direct, histogram)
    if any(t.layout != torch.strided or t.is_nested or t.is_quantized or t.is_complex() for t in tensors):
        # Sparse, quantized, nested, complex: rare, so imported only when met.
        from inspector.core.odd_outputs import measure_odd

        return measure_odd(tensors, histogram=histogram)
    parts = [distinct(t) for t in tensors]
    if any(weight > 1 for _, weight in parts):
        return _measure_weighted(parts, histogram)
    return _measure_plain(tensors, histogram)


_COUNTS = [_NUMEL, _ZEROS, _NAN, _INF, _FINITE]


def _direct_route(tensor: torch.Tensor) -> torch.Tensor | None:
    """The tensor itself where the kernel can read its memory as it is, else None.

    The common output (one plain contiguous float32/float64 CPU tensor) goes
    straight to the kernel: no detach, reshape or broadcast check, each of
    which costs tens of microseconds right after a pass over megabytes has
    pushed Python's own data out of the CPU caches. The tests are only
    attribute reads; anything else takes the general route.
    """
    if (
        _fused is not None
        and type(tensor) is torch.Tensor
        and tensor.dtype in _BITS
        and tensor.layout == torch.strided
        and tensor.device.type == "cpu"
        and not tensor.is_nested
        and not tensor.is_neg()
        and tensor.is_contiguous()
        and tensor.numel() > 0
    ):
        return tensor
    return None


def _measure_weighted(parts: list[tuple[torch.Tensor, int]], histogram: bool) -> PendingStats:
    """Statistics of tensors given as (distinct elements, weight): each measured alone, then pooled."""
    floats = [(t, w) for t, w in parts if t.is_floating_point() or t.is_complex()]
    chosen = floats or parts
    measured: list[tuple[torch.Tensor, torch.Tensor | None, bool]] = []
    for view, weight in chosen:
        pending = _measure_plain([view], histogram)
        assert pending is not None
        vector = torch.as_tensor(pending.vector, dtype=torch.float64).clone()
        vector[_COUNTS] *= weight
        sample = None if pending.sample is None else torch.as_tensor(pending.sample)
        measured.append((vector, sample, pending.floating))
    if len(measured) == 1:
        return PendingStats(*measured[0])
    device = measured[0][0].device
    vectors = torch.stack([vector.to(device) for vector, _, _ in measured])
    samples = [sample.reshape(-1).to(device) for _, sample, _ in measured if sample is not None]
    sample = torch.cat(samples) if samples else None
    return PendingStats(_pooled(vectors), sample, floating=measured[0][2])


def _pooled(vectors: torch.Tensor) -> torch.Tensor:
    """One statistics vector from several (one row each), as if their values had been joined."""
    finite = vectors[:, _FINITE]
    total = finite.sum()
    has = finite > 0
    safe = total.clamp(min=1)
    zero = torch.zeros((), dtype=torch.float64, device=vectors.device)
    means = torch.where(has, vectors[:, _MEAN], zero)
    mean = (finite * means).sum() / safe
    spread = torch.where(has, vectors[:, _STD].square() + (means - mean).square(), zero)
    std = ((finite * spread).sum() / safe).sqrt()
    inf = torch.full((), math.inf, dtype=torch.float64, device=vectors.device)
    low = torch.where(has, vectors[:, _MIN], inf).min()
    high = torch.where(has, vectors[:, _MAX], -inf).max()
    nan = torch.full((), math.nan, dtype=torch.float64, device=vectors.device)
    none = total == 0
    pooled = vectors.sum(dim=0)
    pooled[_MEAN] = torch.where(none, nan, mean)
    pooled[_STD] = torch.where(none, nan, std)
    pooled[_MIN] = torch.where(none, nan, low)
    pooled[_MAX] = torch.where(none, nan, high)
    return pooled


def _measure_plain(tensors: list[torch.Tensor], histogram: bool) -> PendingStats | None:
    """:func:`measure` of tensors without broadcast dimensions."""
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
    if flat.is_neg():  # memory holds x, the tensor means -x: the kernel and the bit views read memory
        flat = flat.resolve_neg()
    if flat.device.type == "cpu":
        return _cpu_stats(flat, histogram)
    # A GPU run takes the exact masked path every time, so it never waits
    # on the device to choose.
    return PendingStats(_masked_vector(flat), _sample(flat) if histogram else None, floating=True)


_BITS = {torch.float32: (torch.int32, "<i", "<f"), torch.float64: (torch.int64, "<q", "<d")}


def _from_bits(value: int, int_format: str, float_format: str) -> float:
    return float(struct.unpack(float_format, struct.pack(int_format, value))[0])


def _cpu_stats(flat: torch.Tensor, histogram: bool) -> PendingStats:
    """CPU statistics: one fused pass where the kernel is built, else :func:`_stock_vector`."""
    n = flat.numel()
    if n == 0:
        vector = torch.zeros(_WIDTH, dtype=torch.float64)
        vector[_MEAN:_MAX + 1] = math.nan
        return PendingStats(vector, flat.clone() if histogram else None, floating=True)
    if _fused is not None and flat.dtype in _BITS and flat.is_contiguous():
        return _fused_stats(flat, histogram)
    return PendingStats(_stock_vector(flat), _sample(flat) if histogram else None, floating=True)


def _fused_stats(flat: torch.Tensor, histogram: bool) -> PendingStats:
    """Every statistic, and the histogram sample, from one pass of the C kernel.

    The kernel sums ``x - x[0]`` in double, so the variance keeps its precision
    when the mean is large against the spread; only a spread below what double
    arithmetic resolves falls back to the exact ``var_mean``. Data with NaN or
    inf (the sums say so) takes the exact masked path.
    """
    n = flat.numel()
    step = _sample_step(n)
    itemsize = flat.element_size()
    # A NumPy buffer: allocating it costs a fraction of torch.empty's dispatch.
    sample = np.empty(-(-n // step), dtype=np.float32 if itemsize == 4 else np.float64) if histogram else None
    shifted, squares, shift, low, high, zeros = _fused.stats(
        flat.data_ptr(),
        n,
        itemsize,
        torch.get_num_threads(),
        0,
        sample.ctypes.data if sample is not None else 0,
        step,
        sample.size if sample is not None else 0,
    )
    if not all(math.isfinite(v) for v in (shifted, squares, low, high)):
        return PendingStats(_masked_vector(flat), sample, floating=True)
    offset = shifted / n
    var = squares / n - offset * offset
    mean = shift + offset
    if var <= 1e-9 * offset * offset:
        exact_var, exact_mean = torch.var_mean(flat.double(), correction=0)
        var, mean = float(exact_var), float(exact_mean)
    # In slot order: numel, mean, std, min, max, zeros, NaN, inf, finite.
    vector = (float(n), mean, math.sqrt(max(var, 0.0)), low, high, float(zeros), 0.0, 0.0, float(n))
    return PendingStats(vector, sample, floating=True)


def _stock_vector(flat: torch.Tensor) -> torch.Tensor:
    """CPU statistics from stock torch kernels, in as few passes as they allow.

    Used where the one-pass kernel is not built, or for a tensor it does not
    take (not contiguous float32/float64).

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
    # Not vector_norm: its float32 accumulation is ~1e-4 off on a few million values.
    squares = float(flat.square().sum(dtype=torch.float64 if flat.dtype == torch.float64 else None))
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
    """Move every pending result to the host at once and finish it.

    A pending result given more than once (a container's output that is its
    last child's tensor, an Identity's) is finished once; its calls share it.
    """
    distinct: dict[int, PendingStats] = {}
    for p in pending:
        if p is not None:
            distinct.setdefault(id(p), p)
    present = list(distinct.values())
    if not present:
        return [None for _ in pending]
    on_device = [p.vector for p in present if isinstance(p.vector, torch.Tensor)]
    if on_device and on_device[0].is_meta:
        return [None for _ in pending]
    moved = iter(torch.stack([v.to(on_device[0].device) for v in on_device]).cpu().numpy() if on_device else [])
    vectors = np.array([next(moved) if isinstance(p.vector, torch.Tensor) else p.vector for p in present],
                       dtype=np.float64).reshape(len(present), _WIDTH)
    layer_stats = [_stats_from_vector(vector, p.floating) for vector, p in zip(vectors, present, strict=True)]
    histograms = _histograms([p.sample for p in present], layer_stats, vectors[:, _NUMEL])
    finished = dict(zip(distinct, zip(layer_stats, histograms, strict=True), strict=True))
    return [None if p is None else finished[id(p)] for p in pending]


def _histograms(
    samples: list[torch.Tensor | np.ndarray | None], layer_stats: list[LayerStats], numels: np.ndarray
) -> list[Histogram | None]:
    """Each sample's histogram: ``np.histogram`` counts over the output's [min, max].

    The kernel bins a sample in microseconds, where ``np.histogram`` costs
    ~0.1 ms a call (a run has hundreds); both give the same counts. Samples
    of a GPU run come to the host in one transfer first.
    """
    found: list[Histogram | None] = [None] * len(samples)
    wanted = [i for i, (s, layer) in enumerate(zip(samples, layer_stats, strict=True)) if s is not None and layer.min is not None]
    if not wanted:
        return found
    on_host = _on_host([samples[i] for i in wanted])
    bounds: dict[int, tuple[float, float]] = {}
    for index in wanted:
        found_range = _histogram_range(layer_stats[index].min, layer_stats[index].max)
        if found_range is not None:
            bounds[index] = found_range
    binned = list(bounds)
    if not binned:
        return found
    lows = np.array([bounds[index][0] for index in binned])
    highs = np.array([bounds[index][1] for index in binned])
    if np.all((highs - lows) / HISTOGRAM_BINS != 0):
        # Every output's edges from one np.linspace call: row by row the numbers one call each gives.
        all_edges = np.linspace(lows, highs, HISTOGRAM_BINS + 1, axis=1)
    else:  # numpy takes another formula for all rows when one step underflows to 0
        all_edges = np.array([np.linspace(low, high, HISTOGRAM_BINS + 1) for low, high in zip(lows, highs, strict=True)])
    samples_by_index = dict(zip(wanted, on_host, strict=True))
    for row, index in enumerate(binned):
        sample = samples_by_index[index]
        low, high = float(lows[row]), float(highs[row])
        if _fused is not None and sample.dtype in (np.float32, np.float64) and sample.flags.c_contiguous:
            counts = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
            _fused.histogram(
                sample.ctypes.data, sample.size, sample.itemsize, low, high, HISTOGRAM_BINS, counts.ctypes.data
            )
        else:
            values = sample.astype(np.float64)
            counts = np.histogram(values[np.isfinite(values)], bins=HISTOGRAM_BINS, range=(low, high))[0]
        found[index] = Histogram(
            counts=counts,
            edges=all_edges[row],
            sample_size=int(counts.sum()),
            sampled=sample.size < int(numels[index]),
        )
    return found


def _on_host(samples: list[torch.Tensor | np.ndarray | None]) -> list[np.ndarray]:
    """Samples as flat float32/float64 NumPy arrays; a device's come to the host in one transfer."""
    found: list[np.ndarray] = []
    elsewhere: list[tuple[int, torch.Tensor]] = []
    for sample in samples:
        if isinstance(sample, np.ndarray):
            found.append(sample.reshape(-1))
            continue
        assert sample is not None
        flat = sample.detach().reshape(-1)
        if flat.dtype not in (torch.float32, torch.float64):
            flat = flat.double()
        if flat.device.type != "cpu":
            elsewhere.append((len(found), flat))
            found.append(np.empty(0))
        else:
            found.append(flat.numpy())
    if elsewhere:
        moved = torch.cat([flat.double() for _, flat in elsewhere]).cpu().numpy()
        sizes = [flat.numel() for _, flat in elsewhere]
        for (index, flat), part in zip(elsewhere, np.split(moved, np.cumsum(sizes)[:-1]), strict=True):
            found[index] = part.astype(np.float32) if flat.dtype == torch.float32 else part
    return found


def _histogram_range(low: float | None, high: float | None) -> tuple[float, float] | None:
    """The bins' outer edges: the output's min and max, widened where they are too close for 64 bins."""
    if low is None or high is None:  # no finite value: nothing to bin
        return None
    if high <= low:
        high = low + 1.0 if low == 0 else low + abs(low) * 1e-6 + 1e-12
    # float64 edges: a range a few float32 steps wide (a LayerNorm'd constant,
    # say) cannot give numpy 64 distinct float32 bin edges.
    narrowest = 4 * HISTOGRAM_BINS * float(np.spacing(max(abs(low), abs(high))))
    if high - low < narrowest:
        high = low + narrowest
    if not math.isfinite(high - low):  # values near ±1e308: no float64 bin width fits
        return None
    return low, high


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
