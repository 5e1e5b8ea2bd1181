"""The Compare view: the current run against the baseline (the model before the edits), module by module.

A table (sortable; shapes before → after, deltas of mean/std/min/max, relative
L2 and cosine of each module's output) and a plot of how far each module's
output moved, in model order, with the modules whose shape changed marked in
red. Rows are tinted by :func:`moved_colour`, the same scale the window can
use to colour the module tree.

API for the window:

- made with the window's controller, it follows the controller's session
  and busy state by itself;
- :meth:`start` asks the controller to run
  :func:`inspector.core.compare.compare_session` (the unedited model and the
  edited one on the same input, every distance filled); :meth:`set_runs`
  shows a quick comparison of two runs the window already has (statistic
  deltas only, no distances); :meth:`show_comparison` shows any Comparison;
  :meth:`shut_down` before the window closes;
- signals ``sig_module_clicked(str)`` and ``sig_comparison_ready(object)``
  with the Comparison, e.g. for the tree's colours.
"""

from __future__ import annotations

import html
import math
import os
from typing import TYPE_CHECKING, Any

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np
import pyqtgraph as pg  # after PySide6, see above
import PySide6  # noqa: F401 - imported before pyqtgraph so that it picks PySide6
from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from inspector.gui.panels.model_work import ModelWorkPanel
from inspector.gui.panels.plot_items import BACKGROUND, ERROR, MEAN, style_plot
from inspector.gui.panels.row_table import RIGHT, RowTableModel, shapes_text, sorted_table, table_over_plot

if TYPE_CHECKING:
    from inspector.core.compare import Comparison, ModuleComparison
    from inspector.core.probe import ProbeRun
    from inspector.core.session import Session
    from inspector.gui.controller import SessionController

MOVED_FLOOR = 1e-4
"""Relative L2 below this is drawn as unchanged (float rounding, not an effect of the edit)."""


def moved_colour(relative_l2: float | None, shape_changed: bool = False) -> QColor | None:
    """A light tint for how far a module's output moved: none (unchanged) through amber to red.

    Logarithmic between 1e-4 and 1 (a tenfold change is one step); a changed
    shape is the strongest red. None for unchanged or unknown.
    """
    if shape_changed:
        return QColor(229, 62, 62, 110)
    if relative_l2 is None or not math.isfinite(relative_l2) or relative_l2 < MOVED_FLOOR:
        return None
    share = min(1.0, (math.log10(relative_l2) - math.log10(MOVED_FLOOR)) / -math.log10(MOVED_FLOOR))
    # amber (246, 173, 85) at the floor to red (229, 62, 62) at 1
    red = int(246 + (229 - 246) * share)
    green = int(173 + (62 - 173) * share)
    blue = int(85 + (62 - 85) * share)
    return QColor(red, green, blue, int(50 + 60 * share))


def _shapes_text(shapes: list[list[int]]) -> str:
    return shapes_text(shapes, "—")


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:+.4g}"  # a delta: signed, unlike format_number


class CompareTableModel(RowTableModel["ModuleComparison"]):
    """One row per module that ran in both runs."""

    COLUMNS = ("Module", "Type", "Output shapes", "Δ mean", "Δ std", "Δ min", "Δ max", "Relative L2", "Cosine")

    def role_data(self, row: ModuleComparison, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.BackgroundRole:
            return moved_colour(row.relative_l2, row.shape_changed)
        if role == Qt.ItemDataRole.ForegroundRole and column == 2 and row.shape_changed:
            return QColor(ERROR)
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= 3:
            return RIGHT
        if role == Qt.ItemDataRole.ToolTipRole and column >= 7 and row.relative_l2 is not None:
            how = "every value" if row.distance_exact else "an evenly strided sample of the values"
            return f"Computed over {how} of the output"
        return None

    def display(self, row: ModuleComparison, column: int) -> str:
        if column == 0:
            return row.name or "(model output)"
        if column == 1:
            if row.baseline_type == row.current_type:
                return row.current_type
            return f"{row.baseline_type} → {row.current_type}"
        if column == 2:
            if not row.shape_changed:
                return _shapes_text(row.current_shapes)
            return f"{_shapes_text(row.baseline_shapes)} → {_shapes_text(row.current_shapes)}"
        values = (row.mean_delta, row.std_delta, row.min_delta, row.max_delta)
        if 3 <= column <= 6:
            return _number(values[column - 3])
        if column == 7:
            return "—" if row.relative_l2 is None else f"{row.relative_l2:.4g}"
        return "—" if row.cosine is None else f"{row.cosine:.4g}"

    def sort_key(self, row: ModuleComparison, position: int, column: int) -> Any:
        if column == 0:
            return position
        if column in (1, 2):
            return self.display(row, column)
        value = (None, None, None, row.mean_delta, row.std_delta, row.min_delta, row.max_delta,
                 row.relative_l2, row.cosine)[column]
        return math.inf if value is None else value


class ComparePanel(ModelWorkPanel):
    """The current run against the baseline: a header line, a table and a plot."""

    sig_module_clicked = Signal(str)
    """The qualified name of the module whose row or point the user clicked."""
    sig_comparison_ready = Signal(object)
    """A Comparison now shown (for the tree to colour modules by how far their output moved)."""

    def __init__(self, controller: SessionController, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.setObjectName("comparePanel")
        self.comparison: Comparison | None = None
        self._pending_runs: tuple[ProbeRun, ProbeRun] | None = None

        self.summary_label = QLabel(self)
        self.summary_label.setObjectName("compareSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.start_button = QPushButton("Compare with the unedited model", self)
        self.start_button.setObjectName("compareStart")
        self.start_button.setToolTip("Run the unedited model and the edited one on the same input and compare every layer")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("compareProgress")
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)  # shown while a comparison runs

        self.model = CompareTableModel(self)
        self.proxy, self.table = sorted_table(self, self.model, "compareTable")
        self.table.clicked.connect(self._on_table_clicked)

        self.plot_widget = pg.PlotWidget(self, background=BACKGROUND)
        self.plot_widget.setObjectName("comparePlot")
        self.plot = self.plot_widget.getPlotItem()
        style_plot(self.plot, "output moved (relative L2)", None, "module, in model order", None)
        # Relative L2 is a plain ratio: no "(x0.001)" SI scaling on its axis.
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.moved_curve = self.plot.plot([], [], pen=pg.mkPen(MEAN, width=1.5), symbol="o", symbolSize=5,
                                          symbolBrush=MEAN, symbolPen=None, name="relative L2")
        self.changed_points = pg.ScatterPlotItem([], [], symbol="x", size=9, brush=ERROR, pen=pg.mkPen(ERROR))
        self.plot.addItem(self.changed_points)
        self.moved_curve.sigPointsClicked.connect(self._on_curve_points_clicked)
        self._plotted: list[str] = []

        top = QHBoxLayout()
        top.addWidget(self.summary_label, 1)
        top.addWidget(self.progress)
        top.addWidget(self.start_button)
        splitter = table_over_plot(self, self.table, self.plot_widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

        self.start_button.clicked.connect(self._on_start_button_clicked)
        self.set_session(controller.session)
        controller.sig_run_shown.connect(self._on_controller_run_shown)
        if controller.shown is not None:
            self._on_controller_run_shown(*controller.shown)

    # ----------------------------------------------------------------- API

    def set_session(self, session: Session | None) -> None:
        """Compare runs of this session from now on; clears what is shown."""
        super().set_session(session)
        self._pending_runs = None
        self.show_comparison(None)
        self._update_controls()

    def start(self) -> bool:
        """Ask for the baseline and the edited model to be run and show the comparison; False when not now."""
        from inspector.core.task import compare_job

        session = self._session
        if session is None or not self.can_start():
            return False
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.summary_label.setText("Running the unedited model, then the edited one…")
        started = self._request("compare", compare_job(session), f"Comparing {session.source} with its unedited model",
                                self._on_worker_succeeded, self._on_worker_failed,
                                on_progress=self._on_worker_progressed)
        if not started:
            self.progress.setVisible(False)
            self.summary_label.setText(self._summary(self.comparison))
        return started

    def set_runs(self, baseline: ProbeRun | None, current: ProbeRun | None) -> None:
        """Show a comparison of two runs the window already has (statistic deltas; distances only where kept)."""
        if baseline is None or current is None:
            self.show_comparison(None)
            return
        from inspector.core.compare import compare_runs

        self.show_comparison(compare_runs(baseline, current))

    def show_comparison(self, comparison: Comparison | None) -> None:
        """Show ``comparison`` (None: nothing to compare yet)."""
        self.comparison = comparison
        rows = [] if comparison is None else list(comparison.modules.values())
        self.model.set_rows(rows)
        self._draw(rows)
        self.summary_label.setText(self._summary(comparison))
        if comparison is not None:
            self.sig_comparison_ready.emit(comparison)

    def _on_controller_run_shown(self, run: ProbeRun, baseline: ProbeRun | None) -> None:
        """A run with edits in place: the quick comparison with the baseline the session already has."""
        if baseline is not None:
            # In the next turn of the event loop: the tree and the plots draw the run first.
            self._pending_runs = (baseline, run)
            QTimer.singleShot(0, self._show_pending_runs)

    def _show_pending_runs(self) -> None:
        pending, self._pending_runs = self._pending_runs, None
        if pending is not None:
            self.set_runs(*pending)

    def select_module(self, name: str) -> bool:
        """Select the row of ``name``; False when it is not in the comparison."""
        for position, row in enumerate(self.model.rows):
            if row.name == name:
                index = self.proxy.mapFromSource(self.model.index(position, 0))
                self.table.selectRow(index.row())
                self.table.scrollTo(index)
                return True
        return False

    # ----------------------------------------------------------------- worker

    def _on_start_button_clicked(self) -> None:
        self.start()

    def _on_worker_progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _on_worker_succeeded(self, comparison: Comparison | None) -> None:
        if comparison is None:
            self.summary_label.setText("Comparison cancelled.")
            return
        self.show_comparison(comparison)

    def _on_worker_failed(self, error: BaseException, trace: str) -> None:
        lines = str(error).strip().splitlines()
        self.summary_label.setText(f"The comparison could not run: {lines[0] if lines else type(error).__name__}")

    def _worker_finished(self) -> None:
        self.progress.setVisible(False)

    def _update_controls(self) -> None:
        self.start_button.setEnabled(self.can_start())

    # ----------------------------------------------------------------- views

    @staticmethod
    def _summary(comparison: Comparison | None) -> str:
        if comparison is None:
            return ("Compare the edited model with the unedited one on the same input: which layers' outputs "
                    "moved, and how far.")
        if comparison.current_error is not None:
            head = f"<b>The edited model fails</b> in {html.escape(comparison.current_error)}"
        elif comparison.baseline_error is not None:
            head = f"<b>The unedited model fails</b> in {html.escape(comparison.baseline_error)}"
        elif comparison.output_shape_changed:
            head = (f"<b>Output shapes changed</b>: {_shapes_text(comparison.baseline_output_shapes)} → "
                    f"{_shapes_text(comparison.output_shapes)} (no distance between outputs of different shapes)")
        elif comparison.output.relative_l2 is not None:
            cosine = comparison.output.cosine
            head = (f"<b>Output moved</b>: relative L2 {comparison.output.relative_l2:.4g}, "
                    f"cosine {'—' if cosine is None else format(cosine, '.4g')}")
        else:
            head = "Output distance not computed (use Compare to run both models)"
        changed = sum(1 for m in comparison.modules.values() if m.shape_changed)
        return (f"{head}. {len(comparison.modules)} modules gave an output in both runs, {changed} changed shape, "
                f"{len(comparison.baseline_only)} only before the edits.")

    def _draw(self, rows: list[ModuleComparison]) -> None:
        named = [r for r in rows if r.name]
        self._plotted = [r.name for r in named]
        xs = np.arange(len(named), dtype=float)
        # Unknown distances are gaps (NaN), not zeros.
        ys = np.array([np.nan if r.relative_l2 is None else r.relative_l2 for r in named], dtype=float)
        self.moved_curve.setData(xs, ys, connect="finite")
        changed = [i for i, r in enumerate(named) if r.shape_changed]
        top = float(np.nanmax(ys)) if np.isfinite(ys).any() else 1.0
        self.changed_points.setData(np.array(changed, dtype=float), np.full(len(changed), top))

    def _on_table_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.sig_module_clicked.emit(self.model.rows[self.proxy.mapToSource(index).row()].name)

    def _on_curve_points_clicked(self, _item: Any, points: Any, *_: Any) -> None:
        if len(points):
            position = int(round(points[0].pos().x()))
            if 0 <= position < len(self._plotted):
                name = self._plotted[position]
                self.select_module(name)
                self.sig_module_clicked.emit(name)
