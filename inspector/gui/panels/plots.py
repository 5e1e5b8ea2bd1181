"""Plots of a probed run: shapes, activation statistics, and one module's histogram.

Three tabs over :class:`~inspector.core.series.RunSeries` arrays computed once
per run in the core:

- *Shapes*: every module in execution order against its output size on a log
  axis (all elements, and dimension 1: channels/features), points coloured by
  depth (by where the weights live, for a model dispatched with device auto),
  so the shape flow through the network is seen at a glance;
- *Activations*: mean with a ±std band and the min/max envelope, NaN/inf
  markers, and the zero fraction in a smaller plot below;
- *Histogram*: the selected module's first-call histogram from the core.

Every plot item is created once and updated with ``setData``: a 10,000-module
model is one item per series, never one item per point. The run before the
edits (the baseline) is drawn in a faint pen behind the current one, aligned
by module name. Selecting a module moves one marker per plot, throttled.
The palette, canvases, marker lines and readout text live in
:mod:`inspector.gui.panels.plot_items`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np
import pyqtgraph as pg  # after PySide6, see above
import PySide6  # noqa: F401 - imported before pyqtgraph so that it picks PySide6
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QTabWidget, QVBoxLayout, QWidget

from inspector.core.errors import InspectorError
from inspector.core.layer_table import layers_csv, run_layers
from inspector.core.output import write_bytes, write_text
from inspector.core.probe import ProbeRun
from inspector.core.series import RunSeries, align, envelope, placement_groups, series_of
from inspector.gui.panels.plot_items import (
    BAND,
    BAND_POINTS,
    BASELINE,
    CHANNELS,
    DEPTH_COLOURS,
    ENVELOPE,
    FOREGROUND,
    HIGHLIGHT,
    HISTOGRAM,
    HOVER_HINT,
    LINE,
    MEAN,
    NO_MODULES_HINT,
    NO_RUN_HINT,
    NO_SELECTION_HINT,
    NO_STATS_HINT,
    NONFINITE,
    PLACEMENT_SLOTS,
    SELECTION_INTERVAL_MS,
    SYMBOL_LIMIT,
    ZEROS,
    Canvas,
    Page,
    depth_key_html,
    depth_point_items,
    did_not_run_hint,
    error_line,
    first_histogram,
    histogram_bin_readout,
    histogram_title,
    module_readout,
    no_histogram_hint,
    placement_key_html,
    positive_or_nan,
    run_title,
    selection_line,
    style_plot,
    thin_when_long,
)

if TYPE_CHECKING:
    from inspector.core.session import Session
    from inspector.core.tree import ModuleNode
    from inspector.gui.controller import SessionController


class PlotsPanel(QWidget):
    """Tabs Shapes, Activations and Histogram over the latest run and its baseline."""

    sig_module_clicked = Signal(str)
    """Qualified name of the module whose point the user clicked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("plotsPanel")
        self._run: ProbeRun | None = None
        self._baseline: ProbeRun | None = None
        self._series: RunSeries | None = None
        self._baseline_series: RunSeries | None = None
        self._selected: str | None = None
        self._pending: tuple[ProbeRun, ProbeRun | None] | None = None
        self._controller: SessionController | None = None
        """A published run not drawn yet (see :meth:`follow`)."""
        self._pending_selection: str | None = None
        self._last_selection_at = 0.0

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("plotsTabs")
        self.tabs.setDocumentMode(True)
        self.readout = QLabel(self)
        self.readout.setObjectName("plotsReadout")
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setStyleSheet(f"color: {FOREGROUND}; padding: 2px 6px;")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A long readout is cut at the edge; it must never widen the panel.
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.readout)

        self._build_shapes()
        self._build_activations()
        self._build_histogram()
        self.tabs.addTab(self.shapes_page, "Shapes")
        self.tabs.addTab(self.activations_page, "Activations")
        self.tabs.addTab(self.histogram_page, "Histogram")

        self._selection_timer = QTimer(self)
        self._selection_timer.setSingleShot(True)
        self._selection_timer.setInterval(SELECTION_INTERVAL_MS)
        self._selection_timer.timeout.connect(self._on_selection_timer_timeout)

        # Hover readouts are throttled to 30 per second; each is one rounding,
        # because x is the execution position.
        self._hover_proxies = [
            pg.SignalProxy(self.shapes_widget.scene().sigMouseMoved, rateLimit=30, slot=self._on_shapes_scene_mouse_moved),
            pg.SignalProxy(
                self.activations_widget.scene().sigMouseMoved, rateLimit=30, slot=self._on_activations_scene_mouse_moved
            ),
            pg.SignalProxy(
                self.histogram_widget.scene().sigMouseMoved, rateLimit=30, slot=self._on_histogram_scene_mouse_moved
            ),
        ]
        self.shapes_widget.scene().sigMouseClicked.connect(self._on_shapes_scene_mouse_clicked)
        self.activations_widget.scene().sigMouseClicked.connect(self._on_activations_scene_mouse_clicked)
        self.clear()

    # ------------------------------------------------------------ building

    def _build_shapes(self) -> None:
        self.shapes_widget = Canvas()
        plot = self.shapes_plot = self.shapes_widget.addPlot(row=0, col=0)
        style_plot(plot, "Output size (log scale)", None, "Execution order (module #)", None)
        plot.setLogMode(x=False, y=True)
        self.shapes_legend = self.shapes_widget.add_legend(row=1)
        self.base_numel = pg.PlotDataItem(pen=pg.mkPen(BASELINE, width=2), connect="finite")
        self.base_channels = pg.PlotDataItem(
            pen=pg.mkPen(BASELINE, width=1.5, style=Qt.PenStyle.DashLine), connect="finite"
        )
        self.numel_line = pg.PlotDataItem(pen=pg.mkPen(LINE, width=1.2), connect="finite")
        self.depth_points = depth_point_items()
        self.channels_curve = pg.PlotDataItem(
            pen=pg.mkPen(CHANNELS, width=1.5, style=Qt.PenStyle.DashLine),
            symbol="t",
            symbolSize=6,
            symbolBrush=pg.mkBrush(CHANNELS),
            symbolPen=None,
            connect="finite",
        )
        self.shapes_ring = pg.PlotDataItem(
            pen=None, symbol="o", symbolSize=17, symbolBrush=None, symbolPen=pg.mkPen(HIGHLIGHT, width=2.5)
        )
        self.shapes_ring.setZValue(25)
        for item in (self.base_numel, self.base_channels, self.numel_line, self.channels_curve, *self.depth_points):
            plot.addItem(item)
        for item in (self.base_numel, self.base_channels, self.numel_line, self.channels_curve):
            thin_when_long(item)
        plot.addItem(self.shapes_ring)
        self.shapes_selection = selection_line()
        self.shapes_error = error_line()
        plot.addItem(self.shapes_selection, ignoreBounds=True)
        plot.addItem(self.shapes_error, ignoreBounds=True)
        self._numel_sample = pg.PlotDataItem(
            pen=pg.mkPen(LINE, width=1.2), symbol="o", symbolSize=7, symbolBrush=pg.mkBrush(DEPTH_COLOURS[1])
        )
        self.shapes_legend.addItem(self._numel_sample, "elements (all outputs)")
        self._numel_sample.visibleChanged.connect(self._on_numel_sample_visible_changed)
        self.shapes_legend.addItem(self.channels_curve, "dim 1 (channels / features / tokens)")
        # The depth key: an entry with no sample whose label carries the colours.
        self._depth_key = pg.PlotDataItem(pen=None)
        self.shapes_legend.addItem(self._depth_key, "")
        self.shapes_page = Page(self.shapes_widget, NO_RUN_HINT)

    def _build_activations(self) -> None:
        self.activations_widget = Canvas()
        plot = self.activations_plot = self.activations_widget.addPlot(row=0, col=0)
        zeros = self.zeros_plot = self.activations_widget.addPlot(row=1, col=0)
        style_plot(plot, "Output value", None, "", None)
        style_plot(zeros, "Zeros", "%", "Execution order (module #)", None)
        plot.getAxis("bottom").setStyle(showValues=False)
        zeros.setXLink(plot)
        zeros.setYRange(0, 100, padding=0.02)
        zeros.setMouseEnabled(x=True, y=False)
        self.activations_widget.ci.layout.setRowStretchFactor(0, 3)
        self.activations_widget.ci.layout.setRowStretchFactor(1, 1)
        # Keep the two y axes the same width so their x positions line up.
        plot.getAxis("left").setWidth(62)
        zeros.getAxis("left").setWidth(62)
        self.activations_legend = self.activations_widget.add_legend(row=2)

        self.base_mean = pg.PlotDataItem(pen=pg.mkPen(BASELINE, width=2), connect="finite")
        self.std_upper = pg.PlotDataItem(pen=pg.mkPen(MEAN, width=0.6, style=Qt.PenStyle.DotLine), connect="finite")
        self.std_lower = pg.PlotDataItem(pen=pg.mkPen(MEAN, width=0.6, style=Qt.PenStyle.DotLine), connect="finite")
        self.std_band = pg.FillBetweenItem(self.std_upper, self.std_lower, brush=pg.mkBrush(*BAND))
        self.max_curve = pg.PlotDataItem(pen=pg.mkPen(ENVELOPE, width=1, style=Qt.PenStyle.DashLine), connect="finite")
        self.min_curve = pg.PlotDataItem(pen=pg.mkPen(ENVELOPE, width=1, style=Qt.PenStyle.DashLine), connect="finite")
        self.mean_curve = pg.PlotDataItem(
            pen=pg.mkPen(MEAN, width=2),
            symbol="o",
            symbolSize=5,
            symbolBrush=pg.mkBrush(MEAN),
            symbolPen=None,
            connect="finite",
        )
        self.nonfinite_points = pg.ScatterPlotItem(
            symbol="x", size=13, pen=pg.mkPen(NONFINITE, width=2.5), brush=pg.mkBrush(NONFINITE)
        )
        for item in (self.base_mean, self.std_band, self.std_upper, self.std_lower, self.max_curve, self.min_curve):
            plot.addItem(item)
        plot.addItem(self.mean_curve)
        for item in (self.base_mean, self.max_curve, self.min_curve, self.mean_curve):
            thin_when_long(item)
        plot.addItem(self.nonfinite_points)
        self.activations_selection = selection_line()
        self.activations_error = error_line()
        plot.addItem(self.activations_selection, ignoreBounds=True)
        plot.addItem(self.activations_error, ignoreBounds=True)
        self.activations_legend.addItem(self.mean_curve, "mean")
        # FillBetweenItem has no legend sample of its own: a stand-in curve
        # (never added to the plot) draws the band's colour in the legend.
        self._band_sample = pg.PlotDataItem(pen=pg.mkPen(MEAN, width=0.6), fillLevel=0, fillBrush=pg.mkBrush(*BAND))
        self.activations_legend.addItem(self._band_sample, "± std")
        self._band_sample.visibleChanged.connect(self._on_band_sample_visible_changed)
        self.activations_legend.addItem(self.max_curve, "min / max")
        self.activations_legend.addItem(self.nonfinite_points, "NaN / inf in output")

        self.base_zeros = pg.PlotDataItem(pen=pg.mkPen(BASELINE, width=2), connect="finite")
        self.zeros_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=pg.mkBrush(*ZEROS), pen=None)
        zeros.addItem(self.base_zeros)
        zeros.addItem(self.zeros_bars)
        self.zeros_selection = selection_line()
        zeros.addItem(self.zeros_selection, ignoreBounds=True)
        self.activations_legend.addItem(self.zeros_bars, "exact zeros in output (%)")
        self.activations_page = Page(self.activations_widget, NO_RUN_HINT)

    def _build_histogram(self) -> None:
        self.histogram_widget = Canvas()
        plot = self.histogram_plot = self.histogram_widget.addPlot(row=0, col=0)
        style_plot(plot, "Values per bin", None, "Output value", None)
        self.histogram_legend = self.histogram_widget.add_legend(row=1)
        self.base_histogram = pg.PlotDataItem(stepMode="center", pen=pg.mkPen(BASELINE, width=2))
        self.histogram_curve = pg.PlotDataItem(
            stepMode="center",
            fillLevel=0,
            pen=pg.mkPen(HISTOGRAM, width=1.5),
            brush=pg.mkBrush(43, 108, 176, 90),
        )
        self.histogram_mean = pg.InfiniteLine(
            angle=90,
            movable=False,
            pen=pg.mkPen(FOREGROUND, width=1.2, style=Qt.PenStyle.DashLine),
            label="mean",
            labelOpts={"position": 0.95, "color": FOREGROUND, "fill": (255, 255, 255, 200)},
        )
        plot.addItem(self.base_histogram)
        plot.addItem(self.histogram_curve)
        plot.addItem(self.histogram_mean, ignoreBounds=True)
        self.histogram_legend.addItem(self.histogram_curve, "this run")
        self.histogram_page = Page(self.histogram_widget, NO_SELECTION_HINT)

    # ------------------------------------------------------------- public

    @property
    def run(self) -> ProbeRun | None:
        """The run shown."""
        return self._run

    @property
    def series(self) -> RunSeries | None:
        """The plotted arrays of the run shown."""
        return self._series

    @property
    def baseline_series(self) -> RunSeries | None:
        """The plotted arrays of the baseline drawn behind it, when there is one."""
        return self._baseline_series

    @property
    def selected(self) -> str | None:
        """The module whose point is highlighted and whose histogram is shown."""
        return self._selected

    def set_runs(self, run: ProbeRun | None, baseline: ProbeRun | None) -> None:
        """Show ``run``, with ``baseline`` (the run before the edits) drawn faintly behind it.

        A baseline that is the run itself, or that is given without a run, is not drawn.
        """
        if run is None:
            baseline = None
        if baseline is run:
            baseline = None
        self._run, self._baseline = run, baseline
        self._series = series_of(run) if run is not None else None
        self._baseline_series = series_of(baseline) if baseline is not None and self._series is not None else None
        self._draw_shapes()
        self._draw_activations()
        self._apply_selection(self._selected)

    def follow(self, controller: SessionController) -> None:
        """Show the run the controller shows (now, and each one it publishes), until another model opens.

        A published run is drawn in the next turn of the event loop, so the
        tree repaints in between: each turn stays well under 100 ms.
        """
        self._controller = controller
        controller.sig_run_shown.connect(self._on_controller_run_shown)
        controller.sig_session_opened.connect(self._on_controller_session_opened)
        if controller.shown is not None:
            self._on_controller_run_shown(*controller.shown)

    def draw_pending(self) -> None:
        """Draw a published run not drawn yet (it is drawn in the next turn otherwise)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self.set_runs(*pending)

    def _on_controller_run_shown(self, run: ProbeRun, baseline: ProbeRun | None) -> None:
        self._pending = (run, baseline)
        QTimer.singleShot(0, self.draw_pending)

    def _on_controller_session_opened(self, _session: Session, _tree: ModuleNode) -> None:
        self._pending = None
        self.clear()

    def select_module(self, name: str | None) -> None:
        """Highlight ``name``'s point in each plot and show its histogram.

        The first selection after a pause is drawn at once; selections that
        follow faster than :data:`SELECTION_INTERVAL_MS` are coalesced into
        the last one.
        """
        now = time.monotonic()
        if not self._selection_timer.isActive() and now - self._last_selection_at >= SELECTION_INTERVAL_MS / 1000:
            self._last_selection_at = now
            self._apply_selection(name)
            return
        self._pending_selection = name
        if not self._selection_timer.isActive():
            self._selection_timer.start()

    def clear(self) -> None:
        """Forget the runs and the selection, and show the empty hint."""
        self._selection_timer.stop()
        self._selected = None
        self.set_runs(None, None)

    def save_png(self, path: str) -> None:
        """Save the current tab's plot as a PNG at ``path``."""
        page = self.tabs.currentWidget()
        if not isinstance(page, Page) or not page.showing_plot:
            raise InspectorError(f"Nothing to save in the {self.tabs.tabText(self.tabs.currentIndex())} tab: run the model first.")
        image = page.plot_widget.grab()
        # Encoded in memory and written by the core's writer, so a symlink, a FIFO or a
        # device is written as a shell would, and a failed write leaves an old file whole.
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if image.isNull() or not image.save(buffer, "PNG"):
            raise InspectorError(f"Could not draw the PNG for {path}.")
        try:
            write_bytes(path, bytes(data.data()))
        except OSError as exc:
            raise InspectorError(
                f"Could not write the PNG to {path}: {exc.strerror or exc}; "
                "check that the folder exists and is writable."
            ) from exc

    def export_csv(self, path: str, tree: ModuleNode | None = None) -> None:
        """Write the run's per-layer statistics as CSV at ``path``: the columns of the export's ``layers.csv``
        (:mod:`inspector.core.layer_table`), the modules that ran in execution order; ``tree`` (the model's
        plain tree) fills the params and replaced columns."""
        if self._run is None:
            raise InspectorError("No statistics to export: run the model first.")
        try:
            write_text(path, layers_csv(run_layers(self._run, tree)))
        except OSError as exc:
            raise InspectorError(f"Could not write the CSV to {path}: {exc.strerror or exc}.") from exc

    # ------------------------------------------------------------ drawing

    def _set_baseline_legend(self, legend: pg.LegendItem, item: pg.GraphicsObject, shown: bool) -> None:
        present = any(sample.item is item for sample, _ in legend.items)
        if shown and not present:
            legend.addItem(item, "before edits")
        elif not shown and present:
            legend.removeItem(item)
        for canvas in (self.shapes_widget, self.activations_widget, self.histogram_widget):
            if legend in canvas.legends:
                canvas.fit_legends()

    def _draw_shapes(self) -> None:
        series, base = self._series, self._baseline_series
        if series is None:
            self.shapes_page.show_hint(NO_RUN_HINT)
            return
        if len(series) == 0:
            self.shapes_page.show_hint(NO_MODULES_HINT)
            return
        self.shapes_page.show_plot()
        x = series.x
        numel = positive_or_nan(series.numel)
        channels = positive_or_nan(series.channels)
        self.numel_line.setData(x, numel)
        placement = self._placement()
        if placement is not None:
            # A dispatched model (--device auto): coloured by where each module's weights live.
            by_place, places = placement_groups(series.names, placement)
            groups = np.array(PLACEMENT_SLOTS)[by_place % len(PLACEMENT_SLOTS)]
            key = placement_key_html(places)
        else:
            groups = (series.depth - 1) % len(DEPTH_COLOURS)
            key = depth_key_html(int(series.depth.max()))
        finite = np.isfinite(numel)
        for group, item in enumerate(self.depth_points):
            where = np.flatnonzero(finite & (groups == group))
            item.setData(x[where], numel[where])
        few = len(series) <= SYMBOL_LIMIT
        self.channels_curve.setSymbol("t" if few else None)
        self.channels_curve.setData(x, channels)
        self._set_points_key(key)
        if base is not None:
            bx = align(base, series)
            self.base_numel.setData(bx, positive_or_nan(base.numel))
            self.base_channels.setData(bx, positive_or_nan(base.channels))
        else:
            self.base_numel.setData([], [])
            self.base_channels.setData([], [])
        self._set_baseline_legend(self.shapes_legend, self.base_numel, base is not None)
        self._show_error_line(self.shapes_error, series)
        self.shapes_plot.setTitle(run_title("Output size of every module", series, self._run), color=FOREGROUND, size="11pt")
        self.shapes_plot.enableAutoRange()

    def _placement(self) -> Callable[[str], str | None] | None:
        """Where each module's weights live, for a model dispatched by accelerate; None otherwise."""
        session = self._controller.session if self._controller is not None else None
        if session is None or session.dispatch is None:
            return None
        return session.dispatch.placement_of

    def _set_points_key(self, key_html: str) -> None:
        label = self.shapes_legend.getLabel(self._depth_key)
        if label is not None:
            label.setText(key_html, color=FOREGROUND, size="9pt")
            self.shapes_widget.fit_legends()

    @property
    def points_key(self) -> str:
        """The text of the Shapes plot's key for its coloured points (depth, or placement)."""
        label = self.shapes_legend.getLabel(self._depth_key)
        return label.text if label is not None else ""

    def _draw_activations(self) -> None:
        series, base = self._series, self._baseline_series
        if series is None:
            self.activations_page.show_hint(NO_RUN_HINT)
            return
        if len(series) == 0:
            self.activations_page.show_hint(NO_MODULES_HINT)
            return
        if not series.has_stats:
            self.activations_page.show_hint(NO_STATS_HINT)
            return
        self.activations_page.show_plot()
        x = series.x
        self.mean_curve.setSymbol("o" if len(series) <= SYMBOL_LIMIT else None)
        self.mean_curve.setData(x, series.mean)
        # The band covers the modules with statistics only (a gap in one bound
        # and not the other would make FillBetweenItem pair the wrong
        # stretches), with a bounded number of vertices.
        band_x, band_low, band_high = envelope(x, series.mean - series.std, series.mean + series.std, BAND_POINTS)
        # The band follows both curves; redraw it once, after the second.
        self.std_upper.blockSignals(True)
        self.std_upper.setData(band_x, band_high)
        self.std_upper.blockSignals(False)
        self.std_lower.setData(band_x, band_low)
        self.max_curve.setData(x, series.max)
        self.min_curve.setData(x, series.min)
        bad = series.nonfinite
        marker_y = np.where(np.isfinite(series.mean[bad]), series.mean[bad], 0.0)
        self.nonfinite_points.setData(x=x[bad], y=marker_y, data=bad)
        has_zeros = np.isfinite(series.zero_fraction)
        self.zeros_bars.setOpts(x=x[has_zeros], height=series.zero_fraction[has_zeros] * 100.0, width=0.8)
        if base is not None and base.has_stats:
            bx = align(base, series)
            self.base_mean.setData(bx, base.mean)
            self.base_zeros.setData(bx, base.zero_fraction * 100.0)
        else:
            self.base_mean.setData([], [])
            self.base_zeros.setData([], [])
        shown = base is not None and base.has_stats
        self._set_baseline_legend(self.activations_legend, self.base_mean, shown)
        self._show_error_line(self.activations_error, series)
        title = run_title("Activation statistics of every module's output", series, self._run)
        self.activations_plot.setTitle(title, color=FOREGROUND, size="11pt")
        self.activations_plot.enableAutoRange()
        self.zeros_plot.setYRange(0, 100, padding=0.02)

    def _show_error_line(self, line: pg.InfiniteLine, series: RunSeries) -> None:
        position = series.position(series.failed)
        line.setVisible(position is not None)
        if position is not None:
            line.setValue(position)

    def _apply_selection(self, name: str | None) -> None:
        """Move the selection markers to ``name`` and show its histogram."""
        self._selected = name
        series = self._series
        position = series.position(name) if series is not None else None
        for line in (self.shapes_selection, self.activations_selection, self.zeros_selection):
            line.setVisible(position is not None)
            if position is not None:
                line.setValue(position)
        if position is not None and series is not None and series.numel[position] > 0:
            self.shapes_ring.setData([float(position)], [float(series.numel[position])])
        else:
            self.shapes_ring.setData([], [])
        self._draw_histogram(name)
        self._show_readout(position, pinned=True)

    def _draw_histogram(self, name: str | None) -> None:
        if self._run is None:
            self.histogram_page.show_hint(NO_RUN_HINT)
            return
        if name is None:
            self.histogram_page.show_hint(NO_SELECTION_HINT)
            return
        record = self._run.records.get(name)
        first = record.first if record is not None else None
        if first is None:
            self.histogram_page.show_hint(did_not_run_hint(name))
            return
        histogram = first.histogram
        if histogram is None:
            self.histogram_page.show_hint(no_histogram_hint(name))
            return
        self.histogram_page.show_plot()
        self.histogram_curve.setData(histogram.edges, histogram.counts)
        base = first_histogram(self._baseline, name)
        if base is not None:
            self.base_histogram.setData(base.edges, base.counts)
        else:
            self.base_histogram.setData([], [])
        self._set_baseline_legend(self.histogram_legend, self.base_histogram, base is not None)
        mean = first.stats.mean if first.stats is not None else None
        self.histogram_mean.setVisible(mean is not None)
        if mean is not None:
            self.histogram_mean.setValue(mean)
        self.histogram_plot.setTitle(
            histogram_title(name, record.type_name if record else "", first, histogram), color=FOREGROUND, size="11pt"
        )
        self.histogram_plot.enableAutoRange()

    # -------------------------------------------------------------- readout

    def _show_readout(self, position: int | None, pinned: bool = False) -> None:
        """One line about the module at ``position``: name, type, shapes, statistics."""
        series = self._series
        if series is None or len(series) == 0:
            self.readout.setText("")
            return
        if position is None:
            if pinned or self._selected is None:
                self.readout.setText(HOVER_HINT)
            return
        self.readout.setText(module_readout(series, position))

    # ---------------------------------------------------------------- slots

    def position_at(self, plot: pg.PlotItem, scene_pos: QPointF) -> int | None:
        """The execution position of the module whose column is under ``scene_pos`` in ``plot``, if any.

        Every module owns the column one unit wide around its x, so a point,
        its bar and the empty space above it all name the same module.
        """
        series = self._series
        if series is None or len(series) == 0 or not plot.vb.sceneBoundingRect().contains(scene_pos):
            return None
        x = plot.vb.mapSceneToView(scene_pos).x()
        position = int(round(x))
        return position if 0 <= position < len(series) else None

    def _click(self, plots: tuple[pg.PlotItem, ...], event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return
        scene_pos = event.scenePos()  # type: ignore[attr-defined]
        for plot in plots:
            position = self.position_at(plot, scene_pos)
            if position is not None and self._series is not None:
                self.sig_module_clicked.emit(self._series.names[position])
                return

    def _hover(self, plots: tuple[pg.PlotItem, ...], scene_pos: QPointF) -> None:
        for plot in plots:
            position = self.position_at(plot, scene_pos)
            if position is not None:
                self._show_readout(position)
                return

    def _on_shapes_scene_mouse_clicked(self, event: object) -> None:
        """A left click in the Shapes plot selects the module of that column."""
        self._click((self.shapes_plot,), event)

    def _on_activations_scene_mouse_clicked(self, event: object) -> None:
        """A left click in either Activations plot selects the module of that column."""
        self._click((self.activations_plot, self.zeros_plot), event)

    def _on_shapes_scene_mouse_moved(self, args: tuple) -> None:
        self._hover((self.shapes_plot,), args[0])

    def _on_activations_scene_mouse_moved(self, args: tuple) -> None:
        self._hover((self.activations_plot, self.zeros_plot), args[0])

    def _on_histogram_scene_mouse_moved(self, args: tuple) -> None:
        scene_pos: QPointF = args[0]
        if self.histogram_page.showing_plot and self.histogram_plot.vb.sceneBoundingRect().contains(scene_pos):
            self._show_histogram_readout(self.histogram_plot.vb.mapSceneToView(scene_pos).x())

    def _on_band_sample_visible_changed(self) -> None:
        """Clicking the band's legend entry hides or shows the band itself."""
        shown = self._band_sample.isVisible()
        for item in (self.std_band, self.std_upper, self.std_lower):
            item.setVisible(shown)

    def _on_numel_sample_visible_changed(self) -> None:
        """Clicking the elements' legend entry hides or shows the points and their line."""
        shown = self._numel_sample.isVisible()
        for item in (self.numel_line, *self.depth_points):
            item.setVisible(shown)

    def _on_selection_timer_timeout(self) -> None:
        self._last_selection_at = time.monotonic()
        self._apply_selection(self._pending_selection)

    def _show_histogram_readout(self, value: float) -> None:
        name = self._selected
        histogram = first_histogram(self._run, name)
        if histogram is None:
            return
        text = histogram_bin_readout(name, histogram, value)
        if text is not None:
            self.readout.setText(text)

