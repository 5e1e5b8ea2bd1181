"""The base of panels that run the model on a worker of their own (Compare, Sweep).

Such a panel borrows the window's model while its worker runs: it says so
through ``sig_busy_changed``, starts nothing while other work holds the
model (``set_busy``), and is shut down (cancel, then wait) before the window
closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from inspector.core.session import Session
    from inspector.gui.run_worker import Worker


class ModelWorkPanel(QWidget):
    """A panel with at most one worker on the session's model."""

    sig_busy_changed = Signal(bool)
    """True while this panel's worker uses the model: no edit and no run may start until False."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session: Session | None = None
        self._worker: Worker | None = None
        self._other_busy = False
        self._closing = False

    @property
    def running(self) -> bool:
        return self._worker is not None

    def can_start(self) -> bool:
        """A session is open, nothing runs here, nothing else holds the model, the window is not closing."""
        return self._session is not None and not self.running and not self._other_busy and not self._closing

    def set_busy(self, busy: bool) -> None:
        """Other work uses the model (a run, a load, the other panel): nothing may start here meanwhile."""
        self._other_busy = busy
        self._update_controls()

    def shut_down(self) -> None:
        """Cancel and wait for the worker, a bounded time, then abandon it (call before the window closes)."""
        from inspector.gui.controller import CLOSE_WAIT_MS
        from inspector.gui.run_worker import stop_and_wait

        self._closing = True
        worker = self._worker
        if worker is not None:
            stop_and_wait(worker, CLOSE_WAIT_MS)
            self._finish()

    def closeEvent(self, event: Any) -> None:
        self.shut_down()
        super().closeEvent(event)

    def _finish(self) -> None:
        """The worker is gone: controls back, and the model is free again."""
        if self._worker is None:
            return
        self._worker = None
        self._worker_finished()
        self._update_controls()
        self.sig_busy_changed.emit(False)

    def _worker_finished(self) -> None:
        """What a panel hides or resets when its worker ends (override)."""

    def _update_controls(self) -> None:
        """Enable what can be used now (override)."""
