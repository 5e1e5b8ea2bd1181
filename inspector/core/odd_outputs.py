"""Statistics and shapes of outputs that are not plain strided real tensors.

A layer may return a sparse tensor (COO, CSR, CSC, BSR, BSC), a quantized
one, a nested tensor, or a complex one. None of them can be flattened with
``reshape(-1)`` the way :mod:`inspector.core.stats` flattens an ordinary
output, and before this module a probe failed on them. Each is turned into
plain real parts first, then measured as usual and pooled:

- sparse: the statistics of the dense tensor it stands for (what
  ``to_dense()`` would give), without making it: the stored values are
  measured and the elements not stored count as zeros (``numel`` is the
  dense element count, ``zero_fraction`` includes them);
- quantized: the dequantized values (``dequantize()``);
- nested: every component, pooled as if their values were joined;
- complex: the magnitude ``abs(z)`` of each element.

These run only for such outputs; the common case never reaches them.
"""

from __future__ import annotations

import torch

from inspector.core import stats as stats_mod

_SPARSE_COMPRESSED = (torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc)


def is_odd(tensor: torch.Tensor) -> bool:
    """True for a tensor the ordinary statistics cannot flatten: sparse, quantized, nested or complex."""
    return tensor.layout != torch.strided or tensor.is_nested or tensor.is_quantized or tensor.is_complex()


def shape_of(tensor: torch.Tensor) -> list[int]:
    """A tensor's shape as plain ints; a nested tensor's ragged dimensions are ``-1``.

    A nested tensor has no single size (a strided-layout one raises on
    ``.shape``; a jagged one answers with a symbolic size that is no
    number): its shape is the component count, then each dimension's size
    where every component agrees on it, else ``-1``.
    """
    if not tensor.is_nested:
        return [int(size) for size in tensor.shape]
    components = tensor.unbind()
    if not components:
        return [0]
    sizes = [list(c.shape) for c in components]
    # Components of a nested tensor all have the same number of dimensions.
    dims = [column[0] if all(size == column[0] for size in column) else -1 for column in zip(*sizes, strict=True)]
    return [len(components), *(int(d) for d in dims)]


def plain_parts(tensor: torch.Tensor) -> list[tuple[torch.Tensor, int]]:
    """``(values, zeros not stored)`` pairs whose pooled statistics are those of ``tensor`` as documented above.

    Every ``values`` is a strided, real (or integer/bool) tensor.
    """
    tensor = tensor.detach()
    if tensor.is_nested:
        return [part for component in tensor.unbind() for part in plain_parts(component)]
    if tensor.is_quantized:
        return plain_parts(tensor.dequantize())
    if tensor.layout == torch.sparse_coo:
        # Coalescing sums duplicate indices, as to_dense() does.
        values = tensor.coalesce().values()
        return [(_real(values), tensor.numel() - values.numel())]
    if tensor.layout in _SPARSE_COMPRESSED:
        values = tensor.values()
        return [(_real(values), tensor.numel() - values.numel())]
    return [(_real(tensor), 0)]


def _real(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.is_quantized:
        tensor = tensor.dequantize()
    return tensor.abs() if tensor.is_complex() else tensor


def measure_odd(tensors: list[torch.Tensor], *, histogram: bool = True) -> stats_mod.PendingStats | None:
    """:func:`inspector.core.stats.measure` for outputs where any tensor :func:`is_odd`.

    As with plain outputs, when any part is floating only the floating parts
    are measured; integer and bool parts give counts only.
    """
    parts = [part for tensor in tensors for part in plain_parts(tensor)]
    if not parts:
        return None
    floats = [(values, zeros) for values, zeros in parts if values.is_floating_point()]
    chosen = floats or parts
    rows: list[torch.Tensor] = []
    for values, zeros in chosen:
        pending = stats_mod.measure([values], histogram=False)
        if pending is not None:
            vector = pending.vector
            # The CPU kernel gives its numbers as a tuple (see stats.PendingStats).
            rows.append(vector if isinstance(vector, torch.Tensor) else torch.tensor(vector, dtype=torch.float64))
        if zeros:
            rows.append(_zeros_row(zeros, values.device))
    device = rows[0].device
    vector = stats_mod._pooled(torch.stack([row.to(device) for row in rows]))
    sample = _sample(chosen) if histogram and floats else None
    return stats_mod.PendingStats(vector, sample, floating=bool(floats))


def _zeros_row(count: int, device: torch.device) -> torch.Tensor:
    """The statistics vector of ``count`` zeros (the elements a sparse tensor does not store)."""
    row = torch.zeros(stats_mod._WIDTH, dtype=torch.float64, device=device)
    for slot in (stats_mod._NUMEL, stats_mod._ZEROS, stats_mod._FINITE):
        row[slot] = count
    return row


def _sample(parts: list[tuple[torch.Tensor, int]]) -> torch.Tensor:
    """An evenly strided sample of all parts' values, the zeros not stored in their share."""
    total = sum(values.numel() + zeros for values, zeros in parts)
    step = stats_mod._sample_step(total)
    pieces: list[torch.Tensor] = []
    device = parts[0][0].device
    for values, zeros in parts:
        pieces.append(values.reshape(-1)[::step].to(device, torch.float64))
        if zeros:
            pieces.append(torch.zeros(-(-zeros // step), dtype=torch.float64, device=device))
    return torch.cat(pieces)
