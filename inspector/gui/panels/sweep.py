"""The Sweep tab: every module replaced alone with Identity, one run each, as a table and a bar plot.

The panel asks the window's controller to run :func:`inspector.core.sweep.sweep`
(off the GUI thread, with progress and cancel); rows arrive as each step finishes. The table sorts on
any column (numbers as numbers); the bar plot shows how far the final output
moved (relative L2) per module in sweep order, failed steps as red bars.
Double-clicking a row asks the window to make that edit for real.

API for the window (the panel holds no model of its own):

- made with the window's controller, it follows the controller's session
  and busy state by itself (while the sweep runs, the model is busy: the
  sweep swaps modules in and out of the live model); :meth:`mark_stale`
  after an edit;
- :meth:`start` / :meth:`cancel`, :meth:`shut_down` before the window closes;
- signals ``sig_edit_requested(str)``, ``sig_module_clicked(str)`` and
  ``sig_finished(object)`` (the SweepResult).
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np
import pyqtgraph as pg  # after PySide6, see above
import PySide6  # noqa: F401 - imported before pyqtgraph so that it picks PySide6
from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget

from inspector.core.formatting import format_number
from inspector.gui.panels.model_work import ModelWorkPanel
from inspector.gui.panels.plot_items import BACKGROUND, ERROR, MEAN, style_plot
from inspector.gui.panels.row_table import RIGHT, RowTableModel, shapes_text, sorted_table, table_over_plot

if TYPE_CHECKING:
    from inspector.core.session import Session
    from inspector.core.sweep import SweepEntry, SweepResult
    from inspector.gui.controller import SessionController



def _number_text(value: float | None) -> str:
    return format_number(value)


class SweepTableModel(RowTableModel["SweepEntry"]):
    """The sweep's entries, one row each, appended as they arrive."""

    COLUMNS = ("Module", "Type", "Runs", "Output shapes", "Relative L2", "Cosine", "Error")

    def role_data(self, entry: SweepEntry, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and not entry.ok:
            return QColor(ERROR)
        if role == Qt.ItemDataRole.ToolTipRole and entry.error is not None:
            return f"{entry.name} replaced with Identity: the forward failed in {entry.error.brief()}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (4, 5):
            return RIGHT
        return None

    def display(self, entry: SweepEntry, column: int) -> str:
        if column == 0:
            return entry.name
        if column == 1:
            return entry.type_name
        if column == 2:
            return "yes" if entry.ok else "fails"
        if column == 3:
            return shapes_text(entry.output_shapes)
        if column == 4:
            return _number_text(entry.relative_l2)
        if column == 5:
            return _number_text(entry.cosine)
        if entry.error is None:
            return ""
        where = "the root" if entry.error.module == "" else entry.error.module or "the model"
        return f"{where}: {entry.error.message}"

    def sort_key(self, row: SweepEntry, position: int, column: int) -> Any:
        if column == 4:
            return math.inf if row.relative_l2 is None else row.relative_l2
        if column == 5:
            return -math.inf if row.cosine is None else row.cosine
        if column == 0:
            return position  # sweep order, which is the model's order
        return self.display(row, column)


class SweepPanel(ModelWorkPanel):
    """Controls, a sortable table and a bar plot of one knockout sweep."""

    sig_edit_requested = Signal(str)
    """The qualified name of a module the user wants replaced with Identity (double-click on its row)."""
    sig_module_clicked = Signal(str)
    """The qualified name of the module whose row or bar the user clicked."""
    sig_finished = Signal(object)
    """The SweepResult of a sweep that ended (complete or cancelled); None when it could not run."""

    def __init__(self, controller: SessionController, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.setObjectName("sweepPanel")
        self.result: SweepResult | None = None

        self.only_edit = QLineEdit(self)
        self.only_edit.setObjectName("sweepOnlyTypes")
        self.only_edit.setPlaceholderText("all types (or e.g. BatchNorm2d, ReLU)")
        self.under_edit = QLineEdit(self)
        self.under_edit.setObjectName("sweepUnder")
        self.under_edit.setPlaceholderText("whole model (or a path, e.g. layer3)")
        self.leaves_box = QCheckBox("Leaves only", self)
        self.leaves_box.setObjectName("sweepLeaves")
        self.start_button = QPushButton("Sweep", self)
        self.start_button.setObjectName("sweepStart")
        self.start_button.setToolTip("Replace each module alone with Identity and run the input once per module")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("sweepCancel")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("sweepProgress")
        self.progress.setTextVisible(True)
        self.status_label = QLabel(self)
        self.status_label.setObjectName("sweepStatus")
        self.status_label.setWordWrap(True)

        self.model = SweepTableModel(self)
        self.proxy, self.table = sorted_table(self, self.model, "sweepTable")
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(self._on_table_double_clicked)
        self.table.clicked.connect(self._on_table_clicked)

        self.plot_widget = pg.PlotWidget(self, background=BACKGROUND)
        self.plot_widget.setObjectName("sweepPlot")
        self.plot = self.plot_widget.getPlotItem()
        style_plot(self.plot, "output change (relative L2)", None, "module, in sweep order", None)
        # Relative L2 is a plain ratio: no "(x0.001)" SI scaling on its axis.
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        # Items made once and updated with setOpts: never one item per entry.
        self.ok_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=MEAN, pen=None)
        self.failed_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=ERROR, pen=None)
        self.plot.addItem(self.ok_bars)
        self.plot.addItem(self.failed_bars)
        self.plot_widget.scene().sigMouseClicked.connect(self._on_plot_scene_clicked)

        filters = QHBoxLayout()
        filters.addWidget(QLabel("Only:"))
        filters.addWidget(self.only_edit, 2)
        filters.addWidget(QLabel("Under:"))
        filters.addWidget(self.under_edit, 2)
        filters.addWidget(self.leaves_box)
        filters.addWidget(self.start_button)
        filters.addWidget(self.cancel_button)
        splitter = table_over_plot(self, self.table, self.plot_widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(filters)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(splitter, 1)

        self.start_button.clicked.connect(self._on_start_button_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        self.set_session(controller.session)

    # ----------------------------------------------------------------- API

    def set_session(self, session: Session | None) -> None:
        """Sweep this session's model from now on; clears the previous results."""
        if self.running:
            self.cancel()
        super().set_session(session)
        self.result = None
        self.model.clear()
        self._draw()
        self.progress.setValue(0)
        if session is None:
            self.status_label.setText("Open a model to sweep it.")
        else:
            self.status_label.setText(
                "Replace each module alone with Identity and run the input once per module: "
                "which layers can the model lose, and how far does its output move?"
            )
        self._update_controls()

    def mark_stale(self) -> None:
        """The model was edited: the shown sweep no longer describes it."""
        if self.result is not None and not self.running:
            self.status_label.setText(self.status_label.text() + "  (the model changed since: sweep again)")

    def start(self, only_types: list[str] | None = None, under: str | None = None, leaves: bool | None = None) -> bool:
        """Start a sweep with these filters (None: as the controls say); False when it cannot start now."""
        from inspector.core.task import sweep_job

        session = self._session
        if session is None or not self.can_start():
            return False
        if only_types is None:
            only_types = [t for t in self.only_edit.text().replace(",", " ").split() if t]
        if under is None:
            under = self.under_edit.text().strip() or None
        if leaves is None:
            leaves = self.leaves_box.isChecked()
        self.result = None
        self.model.clear()
        self._draw()
        self.progress.setRange(0, 0)
        self.status_label.setText("Running the unedited model once, then one step per module…")
        return self._request("sweep", sweep_job(session, only_types=only_types, under=under, leaves=leaves),
                             f"Sweeping {session.source}", self._on_worker_succeeded, self._on_worker_failed,
                             on_progress=self._on_worker_progressed, on_partial=self._on_relay_entry)

    def cancel(self) -> None:
        """Stop the sweep at the next module; the model is restored before the task ends."""
        if self._state is not None:
            super().cancel()
            self.status_label.setText("Cancelling…")
            self.cancel_button.setEnabled(False)

    # ----------------------------------------------------------------- worker

    def _on_start_button_clicked(self) -> None:
        self.start()

    def _on_relay_entry(self, entry: SweepEntry) -> None:
        self.model.append(entry)
        self._draw()

    def _on_worker_progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} / {total} modules")

    def _on_worker_succeeded(self, result: SweepResult) -> None:
        self.result = result
        # Entries still queued behind this signal are in the result already.
        if len(self.model.rows) != len(result.entries):
            self.model.clear()
            for entry in result.entries:
                self.model.append(entry)
        self._draw()
        failed = sum(not e.ok for e in result.entries)
        what = "Cancelled after" if result.cancelled else "Swept"
        self.status_label.setText(
            f"{what} {len(result.entries)} of {len(result.candidates)} modules in {result.total_s:.1f} s: "
            f"{len(result.entries) - failed} still run, {failed} make the forward fail. "
            "Double-click a row to make that edit."
        )
        self.progress.setRange(0, max(len(result.candidates), 1))
        self.progress.setValue(len(result.entries))
        self.sig_finished.emit(result)

    def _on_worker_failed(self, error: BaseException, trace: str) -> None:
        from inspector.core.errors import InspectorError

        text = str(error).strip().splitlines()
        message = text[0] if text else type(error).__name__
        if not isinstance(error, InspectorError):
            message = f"{type(error).__name__}: {message}"
        self.status_label.setText(f"The sweep could not run: {message}")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.sig_finished.emit(None)

    def _update_controls(self) -> None:
        self.start_button.setEnabled(self.can_start())
        self.cancel_button.setEnabled(self.running)
        for widget in (self.only_edit, self.under_edit, self.leaves_box):
            widget.setEnabled(not self.running)

    # ----------------------------------------------------------------- views

    def _draw(self) -> None:
        entries = self.model.rows
        ok = [(i, e.relative_l2) for i, e in enumerate(entries) if e.ok and e.relative_l2 is not None]
        failed = [i for i, e in enumerate(entries) if not e.ok]
        top = max((v for _, v in ok), default=1.0) or 1.0
        self.ok_bars.setOpts(x=np.array([i for i, _ in ok], dtype=float),
                             height=np.array([v for _, v in ok], dtype=float))
        # A failed step moved the output infinitely far: a red bar above the tallest.
        self.failed_bars.setOpts(x=np.array(failed, dtype=float), height=np.full(len(failed), top * 1.1))

    def select_entry(self, name: str) -> bool:
        """Select the row of ``name`` in the table; False when it is not there."""
        for row, entry in enumerate(self.model.rows):
            if entry.name == name:
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                self.table.selectRow(index.row())
                self.table.scrollTo(index)
                return True
        return False

    def _entry_at(self, proxy_index: QModelIndex) -> SweepEntry | None:
        if not proxy_index.isValid():
            return None
        return self.model.rows[self.proxy.mapToSource(proxy_index).row()]

    def _on_table_double_clicked(self, index: QModelIndex) -> None:
        entry = self._entry_at(index)
        if entry is not None and not self.running:
            self.sig_edit_requested.emit(entry.name)

    def _on_table_clicked(self, index: QModelIndex) -> None:
        entry = self._entry_at(index)
        if entry is not None:
            self.sig_module_clicked.emit(entry.name)

    def _on_plot_scene_clicked(self, event: Any) -> None:
        view = self.plot.getViewBox()
        if not view.sceneBoundingRect().contains(event.scenePos()):
            return
        position = view.mapSceneToView(event.scenePos())
        row = int(round(position.x()))
        if 0 <= row < len(self.model.rows) and abs(position.x() - row) <= 0.4:
            name = self.model.rows[row].name
            self.select_entry(name)
            self.sig_module_clicked.emit(name)
