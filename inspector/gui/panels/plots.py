"""Plots of a probed run: shapes, activation statistics, and one module's histogram.

(Stub: the API is final, the drawing comes next.)
"""

from __future__ import annotations

import PySide6  # noqa: F401 - pyqtgraph must pick PySide6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from inspector.core.probe import ProbeRun


class PlotsPanel(QWidget):
    """Tabs Shapes, Activations and Histogram over the latest run and its baseline."""

    sig_module_clicked = Signal(str)
    """Qualified name of the module whose point the user clicked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tabs = QTabWidget(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        for title in ("Shapes", "Activations", "Histogram"):
            self.tabs.addTab(QWidget(), title)
        self._run: ProbeRun | None = None
        self._baseline: ProbeRun | None = None

    def set_runs(self, run: ProbeRun | None, baseline: ProbeRun | None) -> None:
        """Show ``run``, with ``baseline`` (the run before the edits) drawn faintly behind it."""
        self._run, self._baseline = run, baseline

    def select_module(self, name: str | None) -> None:
        """Highlight ``name``'s point in each plot and show its histogram."""

    def clear(self) -> None:
        """Forget the runs and show the empty hint."""
        self.set_runs(None, None)

    def save_png(self, path: str) -> None:
        """Save the current tab's plot as a PNG."""
        self.tabs.currentWidget().grab().save(path, "PNG")

    def export_csv(self, path: str) -> None:
        """Write the run's per-layer statistics as CSV."""
