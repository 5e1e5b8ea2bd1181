"""The look and the building blocks of the plots panel: colours, hints, canvases, lines and readout text.

:mod:`inspector.gui.panels.plots` assembles these into its three tabs; what
is here holds no run and no selection, so it reads (and changes) on its own:
the palette, the hint shown while there is nothing to draw, the canvas whose
legends re-flow to its width, the marker lines, and the text of the readout
and titles built from :class:`~inspector.core.series.RunSeries` arrays.
"""

from __future__ import annotations

import html
import math
import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np
import pyqtgraph as pg  # after PySide6, see above
import PySide6  # noqa: F401 - imported before pyqtgraph so that it picks PySide6
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QStackedWidget, QWidget

from inspector.core.probe import CallRecord, ProbeRun
from inspector.core.series import RunSeries
from inspector.core.stats import Histogram

# --------------------------------------------------------------------- style

BACKGROUND = "#ffffff"
FOREGROUND = "#2d3748"
GRID_ALPHA = 0.12
DEPTH_COLOURS = ("#3b1c8c", "#2c5f9e", "#21908d", "#3aaa5c", "#90c73e", "#d2b40c")
"""Depth 1, 2, ... (then repeating): dark to light, each readable on white."""
PLACEMENT_SLOTS = (0, 2, 4, 5, 1, 3)
"""Which of :data:`DEPTH_COLOURS` each placement group takes: neighbours far apart, so cpu and disk differ at a glance."""
LINE = "#4a5568"
MEAN = "#2b6cb0"
BAND = (43, 108, 176, 60)
ENVELOPE = "#7f9cc0"
CHANNELS = "#dd8a0b"
ZEROS = (221, 138, 11, 150)
NONFINITE = "#d62728"
HIGHLIGHT = "#e53e3e"
BASELINE = (120, 130, 145, 120)
ERROR = "#c53030"
HISTOGRAM = "#2b6cb0"

BAND_POINTS = 2000
"""Most vertices along each edge of the ±std band (see :func:`inspector.core.series.envelope`)."""
SYMBOL_LIMIT = 1500
"""Past this many modules the curves drop their markers (the Shapes points stay)."""
SELECTION_INTERVAL_MS = 40
"""Selections arriving faster than this (arrow keys in the tree) are coalesced."""

NO_RUN_HINT = (
    "<p style='font-size:13pt'><b>No run yet</b></p>"
    "<p>Run the model (F5) to plot every layer's output size<br>and activation statistics here.</p>"
)
NO_STATS_HINT = (
    "<p style='font-size:13pt'><b>No activation statistics in this run</b></p>"
    "<p>A shapes-only run (meta device) records no values.<br>"
    "Run on a real device to see them.</p>"
)
NO_MODULES_HINT = (
    "<p style='font-size:13pt'><b>No module ran</b></p>"
    "<p>This run recorded no per-layer calls (a TorchScript module whose graph<br>"
    "names no layer, or a run cancelled before the first layer).</p>"
)
NO_SELECTION_HINT = (
    "<p style='font-size:13pt'><b>No module selected</b></p>"
    "<p>Select a module in the tree, or click a point in the Shapes or Activations plot,<br>"
    "to see the distribution of its output values.</p>"
)
HOVER_HINT = "<span style='color:#718096'>Hover a point to read its module; click it to select the module.</span>"


def did_not_run_hint(name: str) -> str:
    """The histogram tab's message for a selected module that was not called in the run."""
    return (
        f"<p style='font-size:13pt'><b>{name or '(root)'} did not run</b></p>"
        "<p>It was not called in this run, so it has no output to show.</p>"
    )


def no_histogram_hint(name: str) -> str:
    """The histogram tab's message for a module that ran but has no histogram."""
    return (
        f"<p style='font-size:13pt'><b>No histogram for {name or '(root)'}</b></p>"
        "<p>Its output has no finite floating-point values, or the run recorded shapes only.</p>"
    )


def hint_label(html: str) -> QLabel:
    """A centred, wrapped message in the plot's place."""
    label = QLabel(html)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: #4a5568; background: {BACKGROUND}; padding: 24px;")
    return label


def style_plot(plot: pg.PlotItem, left: str, left_units: str | None, bottom: str, bottom_units: str | None) -> None:
    """Light theme, readable fonts, labelled axes with units, a faint grid."""
    tick_font = QFont()
    tick_font.setPointSize(9)
    label_style = {"color": FOREGROUND, "font-size": "10pt"}
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setPen(pg.mkPen(FOREGROUND))
        axis.setTextPen(pg.mkPen(FOREGROUND))
        axis.setTickFont(tick_font)
    plot.setLabel("left", left, units=left_units, **label_style)
    plot.setLabel("bottom", bottom, units=bottom_units, **label_style)
    plot.showGrid(x=True, y=True, alpha=GRID_ALPHA)
    plot.setMenuEnabled(True)


class Canvas(pg.GraphicsLayoutWidget):
    """A light plot canvas whose legends, in rows under the plots, re-flow to its width."""

    def __init__(self) -> None:
        super().__init__()
        self.setBackground(BACKGROUND)
        self.ci.setSpacing(4)
        self.ci.setContentsMargins(4, 4, 8, 2)
        self.legends: list[pg.LegendItem] = []

    def add_legend(self, row: int) -> pg.LegendItem:
        """A legend in its own row, where it never hides a point."""
        legend = pg.LegendItem(
            offset=None, labelTextColor=FOREGROUND, labelTextSize="9pt", frame=False, horSpacing=14, colCount=1
        )
        self.addItem(legend, row=row, col=0)
        self.ci.layout.setAlignment(legend, Qt.AlignmentFlag.AlignHCenter)
        self.legends.append(legend)
        return legend

    def fit_legends(self) -> None:
        """As many legend entries per line as the width allows, so the canvas is never wider than its tab."""
        # Qt resizes the view once inside its own __init__, before the legends exist.
        for legend in getattr(self, "legends", ()):
            fit_legend(legend, self.width() - 24)

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)
        self.fit_legends()


def fit_legend(legend: pg.LegendItem, width: float) -> None:
    """The most columns whose widest entries still fit in ``width`` pixels (one column at least)."""
    entries = [
        sample.boundingRect().width() + label.item.boundingRect().width() + 2 * legend.layout.horizontalSpacing()
        for sample, label in legend.items
    ]
    columns = max(1, len(entries))
    while columns > 1:
        widths = [max(entries[i::columns]) for i in range(columns)]
        if sum(widths) <= width:
            break
        columns -= 1
    legend.setColumnCount(columns)


def selection_line() -> pg.InfiniteLine:
    """The dashed vertical marker of the selected module, hidden until there is one."""
    line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(HIGHLIGHT, width=1.5, style=Qt.PenStyle.DashLine))
    line.setZValue(20)
    line.setVisible(False)
    return line


def error_line() -> pg.InfiniteLine:
    """The vertical marker of the module that raised, hidden until a run fails."""
    line = pg.InfiniteLine(
        angle=90,
        movable=False,
        pen=pg.mkPen(ERROR, width=2),
        label="raised here",
        labelOpts={"position": 0.92, "color": ERROR, "fill": (255, 255, 255, 220)},
    )
    line.setZValue(15)
    line.setVisible(False)
    return line


def depth_point_items() -> list[pg.PlotDataItem]:
    """One points item per depth colour, in the order of :data:`DEPTH_COLOURS`."""
    # A uniform brush per item keeps pyqtgraph on its fast path (a brush per
    # point costs ~50x more).
    return [
        pg.PlotDataItem(
            pen=None,
            symbol="o",
            symbolSize=7,
            symbolBrush=pg.mkBrush(colour),
            symbolPen=pg.mkPen(255, 255, 255, 160, width=0.5),
        )
        for colour in DEPTH_COLOURS
    ]


def thin_when_long(item: pg.PlotDataItem) -> None:
    """Draw only what is in view, at most a few points per pixel column (extremes kept)."""
    item.setDownsampling(auto=True, method="peak")
    item.opts["autoDownsampleFactor"] = 1.0
    item.setClipToView(True)


def positive_or_nan(values: np.ndarray) -> np.ndarray:
    """A log axis cannot show 0: an empty output is a gap, not a point at -inf."""
    out = values.astype(float, copy=True)
    out[~(out > 0)] = math.nan
    return out


def fmt(value: float) -> str:
    """A statistic in four significant digits, or a dash when it is not finite."""
    return "–" if not math.isfinite(value) else f"{value:.4g}"


def shape_text(shapes: list[list[int]]) -> str:
    """Output shapes as ``[1, 64, 56, 56], [1, 10]``."""
    if not shapes:
        return "no tensor output"
    return ", ".join("[" + ", ".join(str(d) for d in s) + "]" for s in shapes)


class Page(QStackedWidget):
    """A plot with a readable hint in its place while there is nothing to draw."""

    def __init__(self, plot_widget: QWidget, hint_html: str) -> None:
        super().__init__()
        self.hint = hint_label(hint_html)
        self.plot_widget = plot_widget
        self.addWidget(self.hint)
        self.addWidget(plot_widget)

    def show_hint(self, html: str) -> None:
        """Show ``html`` instead of the plot."""
        self.hint.setText(html)
        self.setCurrentWidget(self.hint)

    def show_plot(self) -> None:
        """Show the plot."""
        self.setCurrentWidget(self.plot_widget)

    @property
    def showing_plot(self) -> bool:
        """Whether the plot, not the hint, is shown."""
        return self.currentWidget() is self.plot_widget


# ------------------------------------------------------------------- text


def depth_key_html(deepest: int) -> str:
    """The legend's depth key: one coloured dot per depth up to ``deepest`` (the colours repeat past six)."""
    shown = min(deepest, len(DEPTH_COLOURS))
    dots = " ".join(
        f"<span style='color:{DEPTH_COLOURS[d]}; font-size:11pt'>\u25cf</span>{d + 1}" for d in range(shown)
    )
    return f"depth {dots}"


def placement_key_html(groups: list[str]) -> str:
    """The legend's placement key (``--device auto``): one coloured dot per place the weights live."""
    dots = " ".join(
        f"<span style='color:{DEPTH_COLOURS[PLACEMENT_SLOTS[i % len(PLACEMENT_SLOTS)]]}; font-size:11pt'>"
        f"\u25cf</span>{html.escape(name)}"
        for i, name in enumerate(groups)
    )
    return f"weights on {dots}"


def run_title(text: str, series: RunSeries, run: ProbeRun | None) -> str:
    """A plot title: ``text``, how many modules ran, and where the run failed or that it was cancelled."""
    suffix = f" · {len(series)} modules ran"
    if run is not None and run.error is not None:
        where = series.failed or "the model"
        suffix += f" · <span style='color:{ERROR}'>failed in {where}</span>"
    elif run is not None and run.cancelled:
        suffix += f" · <span style='color:{ERROR}'>cancelled</span>"
    return text + suffix


def module_readout(series: RunSeries, i: int) -> str:
    """One line about the module at execution position ``i``: name, type, shapes, statistics."""
    parts = [
        f"<b>#{i} {series.names[i]}</b>",
        series.types[i],
        f"depth {int(series.depth[i])}",
        "out " + shape_text(series.output_shapes[i]),
    ]
    if series.has_stats and math.isfinite(series.zero_fraction[i]):
        parts.append(
            f"mean {fmt(series.mean[i])} · std {fmt(series.std[i])} · "
            f"min {fmt(series.min[i])} · max {fmt(series.max[i])} · zeros {series.zero_fraction[i] * 100:.1f}%"
        )
    if series.nan_count[i] or series.inf_count[i]:
        parts.append(
            f"<span style='color:{NONFINITE}'>NaN {int(series.nan_count[i])} · inf {int(series.inf_count[i])}</span>"
        )
    if series.calls[i] > 1:
        parts.append(f"{int(series.calls[i])} calls (first shown)")
    if series.names[i] == series.failed:
        parts.append(f"<span style='color:{ERROR}'>raised here</span>")
    return " · ".join(parts)


def first_histogram(run: ProbeRun | None, name: str | None) -> Histogram | None:
    """The histogram of ``name``'s first call in ``run``, when both exist and it has one."""
    if run is None or name is None:
        return None
    record = run.records.get(name)
    first = record.first if record is not None else None
    return first.histogram if first is not None else None


def histogram_title(name: str, type_name: str, first: CallRecord, histogram: Histogram) -> str:
    """The histogram's title: whose output, and whether all its values or a sample are counted."""
    numel = first.stats.numel if first.stats is not None else histogram.sample_size
    if histogram.sampled:
        how = f"an even sample of {histogram.sample_size:,} of its {numel:,} values"
    else:
        how = f"all {histogram.sample_size:,} finite values"
    if first.stats is not None and (first.stats.nan_count or first.stats.inf_count):
        how += f" ({first.stats.nan_count:,} NaN and {first.stats.inf_count:,} inf left out)"
    return f"{name} ({type_name}) · first call's output · {how}"


def histogram_bin_readout(name: str | None, histogram: Histogram, value: float) -> str | None:
    """How many of the counted values fall in the bin under ``value``; None outside the bins."""
    bin_index = int(np.searchsorted(histogram.edges, value, side="right")) - 1
    if not 0 <= bin_index < len(histogram.counts):
        return None
    low, high = histogram.edges[bin_index], histogram.edges[bin_index + 1]
    return (
        f"<b>{name}</b> · values in [{low:.4g}, {high:.4g}): {int(histogram.counts[bin_index]):,} "
        f"of {histogram.sample_size:,}"
    )
