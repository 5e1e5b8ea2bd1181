"""The window's hands on the session: opening models, edits, runs and summaries.

:class:`SessionController` holds the :class:`~inspector.core.session.Session`
(the one owner of the model), the ``QUndoStack`` of edits, and the workers.
At most one worker uses the model at a time (``busy``); while it does, edits
and other model work are refused, so the GUI thread never touches the model
under a running forward. The controller reports through signals and knows
nothing about widgets; the window turns its signals into views.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from inspector.gui import commands
from inspector.gui.run_worker import Job, Worker, load_job, probe_job, session_file_job
from inspector.gui.tree_model import format_shapes

if TYPE_CHECKING:
    from inspector.core.edits import Edit
    from inspector.core.errors import InspectorError
    from inspector.core.inputs import InputSpec, ModelInput
    from inspector.core.probe import ProbeRun
    from inspector.core.session import Session
    from inspector.core.tree import ModuleNode

WARM_IMPORTS = ("inspector.gui.panels.plots",)
"""Imported by the first background load, off the GUI thread (pyqtgraph is slow to import)."""


class SessionController(QObject):
    """Loads, edits, runs and summaries on one session, one worker at a time."""

    sig_session_opened = Signal(object, object)
    """A model was opened: the new Session and its plain tree (ModuleNode)."""
    sig_session_file_opened = Signal(str, list)
    """(path, problems) after a session file opened; problems: what could not be restored, one line each."""
    sig_busy_changed = Signal(bool)
    """A worker started (True) or ended (False) using the model."""
    sig_edited = Signal(object)
    """An edit was applied, replayed or reverted: the core's Edit (its swaps name the changed paths)."""
    sig_run_progressed = Signal(int, int)
    """(modules done, modules in total) during a run."""
    sig_run_finished = Signal(object)
    """A run ended: the ProbeRun (ok, failed in the model, or cancelled), or None when it could not be made."""
    sig_summary_finished = Signal(object, str)
    """The torchinfo text (None when it failed) and a caption saying what it describes or why it failed."""
    sig_problem = Signal(str, str, str, str)
    """Something to show a person: title, message, level (error/warning/info), traceback ("" when expected)."""

    def __init__(self, prompts: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.prompts = prompts
        """Asks the user: confirm, trust, choose_architecture (see :mod:`inspector.gui.prompts`)."""
        self.session: Session | None = None
        self.undo_stack = QUndoStack(self)
        self._task: Worker | None = None
        self._task_kind = ""
        self._workers: set[Worker] = set()
        self._closing = False
        self._edit_refused = False
        self._skip_discard = False
        self._lenders: set[str] = set()
        """Other parts of the window using the model now (a sweep, a comparison)."""

    # ----------------------------------------------------------------- state

    @property
    def busy(self) -> bool:
        """True while a worker uses the model (opening, running, summarising, or a panel's sweep)."""
        return self._task is not None or bool(self._lenders)

    def set_borrowed(self, borrower: str, borrowed: bool) -> None:
        """Another part of the window runs the model on its own worker (a sweep swaps modules in and
        out): while it does, no edit, run, load or summary may start."""
        was = self.busy
        if borrowed:
            self._lenders.add(borrower)
        else:
            self._lenders.discard(borrower)
        if self.busy != was:
            self.sig_busy_changed.emit(self.busy)

    @property
    def task_kind(self) -> str:
        """``load``, ``run``, ``summary``, or ``""`` when idle."""
        return self._task_kind

    @property
    def running(self) -> bool:
        """A run is in progress and has not been asked to stop."""
        return self._task is not None and self._task_kind == "run" and not self._task.cancel_requested

    @property
    def closing(self) -> bool:
        """True once :meth:`shut_down` ran: the window is going away."""
        return self._closing

    @property
    def workers(self) -> set[Worker]:
        """Every worker whose thread has not finished yet."""
        return set(self._workers)

    # ----------------------------------------------------------------- opening

    def open_model(self, spec: str, *, arch: str | None = None, trust: bool = False, wait: bool = False) -> bool:
        """Open a model from any MODEL form; ``wait`` loads on this thread and returns once it is open.

        A pickled file asks for trust, a state_dict for its architecture, and
        the load is tried again with the answer. False when nothing was
        opened (or, without ``wait``, when the load could not start).
        """
        if self.busy or self._closing or not self.may_discard_edits():
            return False
        job = load_job(spec, arch=arch, trust=trust, warm=() if wait else WARM_IMPORTS)
        if wait:
            try:
                session, tree = job(lambda done, total: None, lambda: False)
            except Exception as error:  # noqa: BLE001 - every failure becomes a message
                return self._on_load_failed(spec, arch, error, traceback.format_exc(), wait=True)
            self.set_session(session, tree)
            return True
        self._start(
            "load",
            job,
            f"Opening {spec}",
            self._on_load_worker_succeeded,
            lambda error, trace: self._on_load_failed(spec, arch, error, trace, wait=False),
        )
        return True

    def open_session_file(self, path: str, *, trust: bool = False, wait: bool = False) -> bool:
        """Open a saved session (model, edits, input, device) on a worker; ``wait`` loads on this thread.

        A session whose model is a pickled module asks for trust first, as
        opening that model would. False when nothing was opened (or, without
        ``wait``, when the load could not start).
        """
        if self.busy or self._closing or not self.may_discard_edits():
            return False
        job = session_file_job(path, trust=trust)
        if wait:
            try:
                result = job(lambda done, total: None, lambda: False)
            except Exception as error:  # noqa: BLE001 - every failure becomes a message
                return self._on_session_file_failed(path, error, traceback.format_exc(), wait=True)
            self._on_session_file_loaded(path, result)
            return True
        self._start(
            "load",
            job,
            f"Opening {path}",
            lambda result: self._on_session_file_worker_succeeded(path, result),
            lambda error, trace: self._on_session_file_failed(path, error, trace, wait=False),
        )
        return True

    def _on_session_file_worker_succeeded(self, path: str, result: tuple[Session, ModuleNode, list[str]]) -> None:
        if self._closing:
            return
        self._end()
        self._on_session_file_loaded(path, result)

    def _on_session_file_loaded(self, path: str, result: tuple[Session, ModuleNode, list[str]]) -> None:
        session, tree, problems = result
        self.set_session(session, tree)
        self.sig_session_file_opened.emit(path, list(problems))

    def _on_session_file_failed(self, path: str, error: Exception, trace: str, *, wait: bool) -> bool:
        from inspector.core.errors import InspectorError, TrustRequired

        if self._closing:
            return False
        self._end()
        if isinstance(error, TrustRequired):
            if self.prompts.trust(path, str(error), error.wanted):
                return self._reopen(lambda: self.open_session_file(path, trust=True, wait=wait))
            return False  # declined: nothing opened, nothing to report
        known = isinstance(error, InspectorError)
        self._problem(f"Could not open {path}", _message(error), "error", "" if known else trace)
        return False

    def set_session(self, session: Session, tree: ModuleNode | None = None) -> None:
        """Make ``session`` the one inspected; edits it already has (from a session file) can be undone."""
        self.undo_stack.clear()  # commands of the previous model must not outlive it
        self.session = session
        for text in session.editor.history:
            self.undo_stack.push(commands.already_made(session, text, self.sig_edited.emit, self._on_edit_refused))
        self.undo_stack.setClean()  # as opened: nothing to save yet
        self.sig_session_opened.emit(session, tree if tree is not None else session.tree())

    def _on_load_worker_succeeded(self, result: tuple[Session, ModuleNode]) -> None:
        if self._closing:
            return
        self._end()
        self.set_session(*result)

    def _on_load_failed(self, spec: str, arch: str | None, error: Exception, trace: str, *, wait: bool) -> bool:
        from inspector.core.errors import ArchitectureRequired, InspectorError, TrustRequired

        if self._closing:
            return False
        self._end()
        if isinstance(error, TrustRequired):
            if self.prompts.trust(spec, str(error), error.wanted):
                return self._reopen(lambda: self.open_model(spec, arch=arch, trust=True, wait=wait))
            self._problem("Not opened", f"{spec} was not opened: reading it needs trust. {error}", "warning")
            return False
        if isinstance(error, ArchitectureRequired):
            from inspector.core.loading import list_models

            chosen = self.prompts.choose_architecture(spec, [name for _, name in list_models("all")])
            if chosen:
                return self._reopen(lambda: self.open_model(spec, arch=chosen, trust=False, wait=wait))
            self._problem("Not opened", f"{spec} holds weights only and no architecture was chosen.", "warning")
            return False
        known = isinstance(error, InspectorError)
        self._problem(f"Could not open {spec}", _message(error), "error", "" if known else trace)
        return False

    def _reopen(self, open_again: Callable[[], bool]) -> bool:
        # The user already agreed to leave the old model; do not ask again.
        saved, self._skip_discard = self._skip_discard, True
        try:
            return open_again()
        finally:
            self._skip_discard = saved

    def may_discard_edits(self) -> bool:
        """True when there are no unsaved edits, or the user agrees to lose them."""
        if self.session is None or self.undo_stack.isClean() or self._skip_discard:
            return True
        replaced = self.session.replaced
        listed = ", ".join(replaced[:5]) + (" …" if len(replaced) > 5 else "")
        detail = f" ({len(replaced)} module(s) replaced: {listed})" if replaced else ""
        return bool(self.prompts.confirm(
            "Discard edits?", f"The edits to {self.session.source}{detail} are not saved. Discard them?"
        ))

    # ----------------------------------------------------------------- edits

    def replace_with_identity(self, path: str) -> bool:
        """Replace ``path`` with ``nn.Identity``, after a warning when the last run shows its shapes differ."""
        if self.session is None or self.busy or not path:
            return False
        warning = self.shape_change_warning(path)
        if warning and not self.prompts.confirm("Replace with Identity?", warning):
            return False
        return self._push(commands.replace_with_identity(self.session, path, self.sig_edited.emit,
                                                         self._on_edit_refused))

    def restore(self, path: str) -> bool:
        """Put the original module back at ``path``; False when busy or refused."""
        if self.session is None or self.busy or not path:
            return False
        return self._push(commands.restore(self.session, path, self.sig_edited.emit, self._on_edit_refused))

    def restore_all(self) -> bool:
        """Put every replaced module back; False when busy or refused."""
        if self.session is None or self.busy:
            return False
        return self._push(commands.restore_all(self.session, self.sig_edited.emit, self._on_edit_refused))

    def undo(self) -> bool:
        if self.busy or not self.undo_stack.canUndo():
            return False
        self.undo_stack.undo()
        return True

    def redo(self) -> bool:
        if self.busy or not self.undo_stack.canRedo():
            return False
        self.undo_stack.redo()
        return True

    def shape_change_warning(self, path: str) -> str | None:
        """Why replacing ``path`` would change what flows downstream (from the last run); None if it would not."""
        run = self.session.last_run if self.session is not None else None
        record = run.records.get(path) if run is not None else None
        call = record.first if record is not None else None
        if call is None or call.input_shapes == call.output_shapes:
            return None
        return (
            f"{path} turns {format_shapes(call.input_shapes)} into {format_shapes(call.output_shapes)}. "
            f"Identity passes {format_shapes(call.input_shapes[:1])} on unchanged, so the layers after it "
            "receive another shape and may fail (for feature extraction that is the point).\n\nReplace it anyway?"
        )

    def _push(self, command: commands.EditCommand) -> bool:
        """Push an edit; False when the core refused it (the stack then dropped the command)."""
        self._edit_refused = False
        self.undo_stack.push(command)
        return not self._edit_refused

    def _on_edit_refused(self, error: InspectorError) -> None:
        self._edit_refused = True
        self._problem("Edit not made", str(error), "warning")

    # ----------------------------------------------------------------- runs and summaries

    def start_run(self, spec: InputSpec | ModelInput, device: str, mode: str) -> bool:
        """Run ``spec`` through the model on ``device`` in ``mode``, on a worker; False when busy."""
        if self.session is None or self.busy or self._closing:
            return False
        self.session.set_input(spec)
        self.session.mode = mode
        self._start(
            "run",
            probe_job(self.session, spec, device, mode),
            f"Running {self.session.source}",
            self._on_run_worker_succeeded,
            self._on_run_worker_failed,
            on_progress=self.sig_run_progressed,
        )
        return True

    def cancel_run(self) -> bool:
        """Stop the run at the next module (the forward really stops; nothing runs on)."""
        if not self.running or self._task is None:
            return False
        self._task.cancel()
        self.sig_busy_changed.emit(True)  # state changed: Cancel is no longer available
        return True

    def _on_run_worker_succeeded(self, run: ProbeRun) -> None:
        if self._closing:
            return
        self._end()
        self.sig_run_finished.emit(run)

    def _on_run_worker_failed(self, error: Exception, trace: str) -> None:
        from inspector.core.errors import InspectorError

        if self._closing:
            return
        self._end()
        if isinstance(error, MemoryError) or "out of memory" in str(error).lower():
            message = "Out of memory during the run; try a smaller input shape or another device."
        else:
            message = _message(error)
        self._problem("The run could not be made", message, "error",
                      "" if isinstance(error, (InspectorError, MemoryError)) else trace)
        self.sig_run_finished.emit(None)

    def start_summary(self, spec: InputSpec | ModelInput, mode: str) -> bool:
        """Compute the torchinfo summary of the model as it is now, on a worker; False when busy."""
        from inspector.core.inputs import as_model_input

        if self.session is None or self.busy or self._closing:
            return False
        session = self.session
        session.set_input(spec)
        session.mode = mode
        shapes = [list(leaf.shape) for leaf in as_model_input(spec).specs()]
        caption = (f"{session.source}{' (edited)' if session.replaced else ''}, "
                   f"input {format_shapes(shapes)}, {mode} mode")
        self._start(
            "summary",
            lambda progress, stop: session.summary(),
            "Summarising",
            lambda text: self._on_summary_done(text, caption),
            lambda error, trace: self._on_summary_done(None, f"No summary: {_message(error)}"),
        )
        return True

    def _on_summary_done(self, text: str | None, caption: str) -> None:
        if self._closing:
            return
        self._end()
        self.sig_summary_finished.emit(text, caption)

    # ----------------------------------------------------------------- workers

    def _start(
        self,
        kind: str,
        job: Job,
        description: str,
        on_succeeded: Callable[[Any], None],
        on_failed: Callable[[Exception, str], None],
        *,
        on_progress: Any = None,
    ) -> Worker:
        """Start ``job`` on a worker, its signals connected first.

        Connected before the thread starts, never after: a job that takes a
        millisecond (a tiny model's run) can finish, and emit into no
        connection, before the next line of this thread runs.
        """
        worker = Worker(job, description, self)
        self._task, self._task_kind = worker, kind
        self._workers.add(worker)
        worker.finished.connect(self._on_worker_thread_finished)
        worker.sig_succeeded.connect(on_succeeded)
        worker.sig_failed.connect(on_failed)
        if on_progress is not None:
            worker.sig_progressed.connect(on_progress)
        worker.start()
        self.sig_busy_changed.emit(True)
        return worker

    def _end(self) -> None:
        if self._task is not None:
            self._task, self._task_kind = None, ""
            self.sig_busy_changed.emit(self.busy)

    def _on_worker_thread_finished(self) -> None:
        worker = self.sender()
        if isinstance(worker, Worker):
            self._workers.discard(worker)
            worker.deleteLater()

    def shut_down(self) -> None:
        """Cancel every worker and wait until its thread has ended; later results are dropped.

        A run stops at its next module; a load or summary cannot be
        interrupted, so closing waits for it.
        """
        self._closing = True
        for worker in list(self._workers):
            worker.cancel()
        for worker in list(self._workers):
            worker.wait()
        self._workers.clear()
        self._task, self._task_kind = None, ""

    def _problem(self, title: str, message: str, level: str, trace: str = "") -> None:
        self.sig_problem.emit(title, message, level, trace)


def _message(error: BaseException) -> str:
    """An exception as one line a person can read."""
    from inspector.core.errors import InspectorError

    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(error, InspectorError):
        return first or type(error).__name__
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
