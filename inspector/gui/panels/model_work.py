"""The base of panels that ask for work on the model (Compare, Sweep, Graph).

Such a panel never runs the model itself: it asks the window's controller
(:meth:`~inspector.gui.controller.SessionController.submit`), which runs
every task on the model through one queue, and shows what comes back. It
follows the controller by itself: a new session (``sig_session_opened``)
and busy/idle (``sig_busy_changed``: nothing starts here while the model is
busy). :meth:`shut_down` stops its task before the window closes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from inspector.core.task import Job, TaskState

if TYPE_CHECKING:
    from inspector.core.session import Session
    from inspector.core.tree import ModuleNode
    from inspector.gui.controller import SessionController

CLOSE_WAIT_MS = 3000
"""Shutting down waits this long for the panel's task before it is given up."""


class ModelWorkPanel(QWidget):
    """A panel with at most one task of its own on the session's model, run by the controller."""

    def __init__(self, controller: SessionController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        """The window's controller: the session, and the one queue of work on its model."""
        self._session: Session | None = None
        self._state: TaskState | None = None
        self._other_busy = controller.busy
        self._closing = False
        controller.sig_session_opened.connect(self._on_controller_session_opened)
        controller.sig_busy_changed.connect(self.set_busy)

    @property
    def running(self) -> bool:
        """This panel's task is queued or running."""
        return self._state is not None

    def can_start(self) -> bool:
        """A session is open, nothing runs here, nothing else holds the model, the window is not closing."""
        return self._session is not None and not self.running and not self._other_busy and not self._closing

    def set_session(self, session: Session | None) -> None:
        """Work on this session from now on (override to clear what is shown)."""
        self._session = session

    def set_busy(self, busy: bool) -> None:
        """The model is busy (a run, a load, another panel's task): nothing may start here meanwhile."""
        self._other_busy = busy
        self._update_controls()

    def cancel(self) -> None:
        """Ask this panel's task to stop at its next check."""
        if self._state is not None:
            self._state.request_stop()

    def shut_down(self) -> None:
        """Stop this panel's task and wait for it, a bounded time, then give it up (before the window closes)."""
        self._closing = True
        state = self._state
        if state is not None:
            self.controller.stop_task(state, CLOSE_WAIT_MS)
            self._finish()

    def closeEvent(self, event: Any) -> None:
        self.shut_down()
        super().closeEvent(event)

    # ----------------------------------------------------------------- asking

    def _request(self, kind: str, job: Job, description: str, on_succeeded: Callable[[Any], None],
                 on_failed: Callable[[BaseException, str], None], *,
                 on_progress: Callable[[int, int], None] | None = None,
                 on_partial: Callable[[Any], None] | None = None) -> bool:
        """Ask the controller to run ``job`` on the model; False when it cannot start now.

        The callbacks hear only of this panel's current task: a late result
        of a task given up (shut down, abandoned) reaches nobody.
        """
        from inspector.gui.controller import TaskRequest

        state = TaskState(description)

        def mine(callback: Callable[..., None] | None) -> Callable[..., None]:
            def call(*args: Any) -> None:
                if callback is not None and self._state is state and not self._closing:
                    callback(*args)
            return call

        def ended(callback: Callable[..., None]) -> Callable[..., None]:
            def call(*args: Any) -> None:
                if self._state is state and not self._closing:
                    self._finish()
                    callback(*args)
            return call

        request = TaskRequest(kind, job, state, ended(on_succeeded), ended(on_failed),
                              on_progress=mine(on_progress) if on_progress is not None else None,
                              on_partial=mine(on_partial) if on_partial is not None else None,
                              on_abandoned=ended(lambda: on_failed(RuntimeError("abandoned: it was stuck"), "")))
        # Set first: a job that ends at once reports before submit returns.
        self._state = state
        if not self.controller.submit(request):
            self._state = None
            return False
        self._update_controls()
        return True

    def _finish(self) -> None:
        """The task is over: controls back."""
        if self._state is None:
            return
        self._state = None
        self._worker_finished()
        self._update_controls()

    def _on_controller_session_opened(self, session: Session, _tree: ModuleNode) -> None:
        self.set_session(session)

    def _worker_finished(self) -> None:
        """What a panel hides or resets when its task ends (override)."""

    def _update_controls(self) -> None:
        """Enable what can be used now (override)."""
