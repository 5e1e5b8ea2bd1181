"""How shapes and numbers are written for a person: one place for the window, the terminal tables and CSV.

Shapes the way torch prints ``list(tensor.shape)`` (``[1, 512]``); statistics
in four significant digits; counts with thousands separators. The JSON
report keeps the plain numbers; these are for text meant to be read.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_SHAPES_SHOWN = 3
""":func:`format_shapes` lists at most this many shapes by default, then a count of the rest."""


def format_shape(shape: Iterable[int]) -> str:
    """``[1, 512]``: the way torch prints ``list(tensor.shape)``."""
    return "[" + ", ".join(str(size) for size in shape) + "]"


def format_shapes(shapes: list[list[int]] | None, *, limit: int | None = MAX_SHAPES_SHOWN,
                  empty: str = "no tensor") -> str:
    """Every output tensor's shape (the first ``limit`` when there are more, None: all); ``empty`` for none."""
    if not shapes:
        return empty
    shown = ", ".join(format_shape(shape) for shape in (shapes if limit is None else shapes[:limit]))
    if limit is not None and len(shapes) > limit:
        shown += f", … (+{len(shapes) - limit})"
    return shown


def shapes_text(shapes: list[list[int]] | None, empty: str = "") -> str:
    """``[1, 512], [1, 7]``: every shape, as a table cell or a CSV field."""
    return format_shapes(shapes, limit=None, empty=empty)


def format_number(value: float | None, none: str = "—") -> str:
    """A statistic in four significant digits; ``none`` when there is none."""
    return none if value is None else f"{value:.4g}"


def format_count(value: int | None, none: str = "") -> str:
    """A count with thousands separators (``11,689,512``); ``none`` when there is none."""
    return none if value is None else f"{value:,}"
