"""The window's hands on the session: opening models, edits, and all work on the model.

:class:`SessionController` holds the :class:`~inspector.core.session.Session`
(the one owner of the model), the ``QUndoStack`` of edits (the one edit
history), and the one queue of model work: load, run, summary, and what the
panels ask for (compare, sweep, graph) all go through :meth:`submit`, each
with a :class:`~inspector.core.task.TaskState`. At most one task uses the
model at a time (``busy``); while one does, edits and other model work are
refused (or wait their turn, when asked to), so the GUI thread never touches
the model under a running forward; ``sig_busy_changed`` says busy and idle
once for all of them. The controller reports through signals and knows
nothing about widgets; the window and the panels turn its signals into views.

A run stuck in the model's own code (a forward that never returns) is
noticed by a timer on this thread reading the worker's module watch: after
:attr:`SessionController.stuck_after_s` without a module starting or
returning, ``sig_task_stuck`` names the module. The window may then
:meth:`~SessionController.abandon_task`: the worker is given up, the model it
holds is dropped (it may be half-way through the forward, hooks in place)
and opened again from its source. Closing never blocks on a stuck worker:
it waits :attr:`~SessionController.close_wait_ms`, then abandons it.
"""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from inspector.core.formatting import format_shapes
from inspector.core.task import Job, TaskState, run_job, summary_job
from inspector.gui import commands
from inspector.gui.run_worker import Worker, abandon, load_job, session_file_job

if TYPE_CHECKING:
    from inspector.core.errors import InspectorError
    from inspector.core.inputs import InputSpec, ModelInput
    from inspector.core.probe import ProbeRun
    from inspector.core.session import Session
    from inspector.core.tree import ModuleNode

WARM_IMPORTS = ("inspector.gui.panels.plots",)
"""Imported by the first background load, off the GUI thread (pyqtgraph is slow to import)."""
STUCK_AFTER_S = 10.0
"""A task counts as stuck once no module has started or returned for this long."""
CLOSE_WAIT_MS = 3000
"""Closing waits this long for workers to stop; those still running are then abandoned."""
WATCH_INTERVAL_MS = 250
REOPEN_AFTER_ABANDON = ("run", "summary", "compare", "sweep", "graph")
"""Kinds of task whose abandoning drops the model (it may be half-way through a forward, hooks in place)."""


@dataclass
class TaskRequest:
    """One piece of work for the queue: the job, and who hears of it (called on the GUI thread)."""

    kind: str
    """``load``, ``run``, ``summary``, ``compare``, ``sweep``, ``graph``, or ``layout`` (no model)."""
    job: Job
    state: TaskState
    on_succeeded: Callable[[Any], object]
    on_failed: Callable[[BaseException, str], object]
    on_progress: Callable[[int, int], None] | None = None
    on_partial: Callable[[Any], None] | None = None
    on_abandoned: Callable[[], None] | None = None
    """Called when the task is given up (stuck); the window's own tasks say it with ``sig_task_abandoned``."""
    uses_model: bool = True
    """False: work on data only (a graph's layout): it runs beside the model's task, outside the queue."""


class SessionController(QObject):
    """Loads, edits, runs and summaries on one session, one worker at a time."""

    sig_session_opened = Signal(object, object)
    """A model was opened: the new Session and its plain tree (ModuleNode)."""
    sig_session_file_opened = Signal(str, list)
    """(path, problems) after a session file opened; problems: what could not be restored, one line each."""
    sig_busy_changed = Signal(bool)
    """The model became busy (True: a task uses it) or idle (False); said once, whoever's task it is."""
    sig_edited = Signal(object)
    """An edit was applied, replayed or reverted: the core's Edit (its swaps name the changed paths)."""
    sig_run_progressed = Signal(int, int)
    """(modules done, modules in total) during a run."""
    sig_run_shown = Signal(object, object)
    """The run the window shows now, published once: (ProbeRun, the baseline run before the edits or None).

    Emitted when a run ended that is not cancelled (ok or failed in the model),
    before ``sig_run_finished``; the tree, plots, details, compare and graph
    subscribe to it when they are created (and read :attr:`SessionController.shown`)."""
    sig_run_finished = Signal(object)
    """A run ended: the ProbeRun (ok, failed in the model, or cancelled), or None when it could not be made."""
    sig_summary_finished = Signal(object, str)
    """The torchinfo text (None when it failed) and a caption saying what it describes or why it failed."""
    sig_edit_noted = Signal(str, str)
    """An edit was made whose consequence the user should see: title, message (Undo stays one click away)."""
    sig_problem = Signal(str, str, str, str)
    """Something to show a person: title, message, level (error/warning/info), traceback ("" when expected)."""
    sig_task_stuck = Signal(str, str, float)
    """The task has been in one module for a while: (qualified name, type name, seconds since anything moved)."""
    sig_task_abandoned = Signal(str, str)
    """A stuck task was given up: (what it was doing, the module it was stuck in, "" when none)."""

    def __init__(self, prompts: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.prompts = prompts
        """Asks the user: confirm, trust, choose_architecture (see :mod:`inspector.gui.prompts`)."""
        self.session: Session | None = None
        self.undo_stack = QUndoStack(self)
        self._task: Worker | None = None
        self._request: TaskRequest | None = None
        """What the task using the model now was asked for (None when idle)."""
        self._queue: deque[TaskRequest] = deque()
        """Requests waiting for the model, in order (asked with ``wait_turn``)."""
        self._workers: set[Worker] = set()
        self._closing = False
        self.load_options: dict[str, Any] = {}
        """Passed on to every model load (``{"dispatched": True}`` for device auto)."""
        self._edit_refused = False
        self._skip_discard = False
        self._announced_busy = False
        self.shown: tuple[ProbeRun, ProbeRun | None] | None = None
        """The run shown now and its baseline (see ``sig_run_shown``); None before a run of this session."""
        self.stuck_after_s = STUCK_AFTER_S
        """Seconds without a module starting or returning before ``sig_task_stuck``."""
        self.close_wait_ms = CLOSE_WAIT_MS
        """How long closing waits for each worker before abandoning it."""
        self._stuck_reported: float | None = None
        """The watch's activity time when the stuck task was last reported (once per stall)."""
        self._watch_timer = QTimer(self)
        self._watch_timer.setInterval(WATCH_INTERVAL_MS)
        self._watch_timer.timeout.connect(self._on_watch_timer_timeout)

    # ----------------------------------------------------------------- state

    @property
    def busy(self) -> bool:
        """True while a task uses the model (opening, running, summarising, comparing, sweeping, a graph)."""
        return self._task is not None

    @property
    def task_kind(self) -> str:
        """The kind of the task using the model (``load``, ``run``, ``sweep``, ...), or ``""`` when idle."""
        return self._request.kind if self._request is not None else ""

    @property
    def running(self) -> bool:
        """A run is in progress and has not been asked to stop."""
        return self._task is not None and self.task_kind == "run" and not self._task.cancel_requested

    @property
    def closing(self) -> bool:
        """True once :meth:`shut_down` ran: the window is going away."""
        return self._closing

    @property
    def workers(self) -> set[Worker]:
        """Every worker whose thread has not finished yet."""
        return set(self._workers)

    # ----------------------------------------------------------------- opening

    def open_model(self, spec: str, *, arch: str | None = None, trust: bool = False, wait: bool = False,
                   named: bool = True) -> bool:
        """Open a model from any MODEL form; ``wait`` loads on this thread and returns once it is open.

        A pickled file asks for trust, a state_dict for its architecture, and
        the load is tried again with the answer. ``named=False`` (the recent
        list): a Python callable asks for trust too. False when nothing was
        opened (or, without ``wait``, when the load could not start).
        """
        if self.busy or self._closing or not self.may_discard_edits():
            return False
        job = load_job(spec, arch=arch, trust=trust, named=named, warm=() if wait else WARM_IMPORTS,
                       **self.load_options)
        if wait:
            try:
                session, tree = job(TaskState(f"Opening {spec}"))
            except BaseException as error:  # every failure becomes a message, a factory's sys.exit too
                if _from_user(error):
                    raise
                return self._on_load_failed(spec, arch, error, traceback.format_exc(), wait=True)
            self.set_session(session, tree)
            return True
        return self._start("load", job, f"Opening {spec}", self._on_load_worker_succeeded,
                           lambda error, trace: self._on_load_failed(spec, arch, error, trace, wait=False))

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
                result = job(TaskState(f"Opening {path}"))
            except BaseException as error:  # every failure becomes a message, a factory's sys.exit too
                if _from_user(error):
                    raise
                return self._on_session_file_failed(path, error, traceback.format_exc(), wait=True)
            self._on_session_file_loaded(path, result)
            return True
        return self._start("load", job, f"Opening {path}", lambda result: self._on_session_file_loaded(path, result),
                           lambda error, trace: self._on_session_file_failed(path, error, trace, wait=False))

    def _on_session_file_loaded(self, path: str, result: tuple[Session, ModuleNode, list[str]]) -> None:
        session, tree, problems = result
        self.set_session(session, tree)
        self.sig_session_file_opened.emit(path, list(problems))

    def _on_session_file_failed(self, path: str, error: BaseException, trace: str, *, wait: bool) -> bool:
        from inspector.core.errors import InspectorError, TrustRequired

        if self._closing:
            return False
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
        self.shown = None
        for path in session.replaced:
            self.undo_stack.push(commands.already_made(session, path, self.sig_edited.emit, self._on_edit_refused))
        self.undo_stack.setClean()  # as opened: nothing to save yet
        self.sig_session_opened.emit(session, tree if tree is not None else session.tree())

    def _on_load_worker_succeeded(self, result: tuple[Session, ModuleNode]) -> None:
        self.set_session(*result)

    def _on_load_failed(self, spec: str, arch: str | None, error: BaseException, trace: str, *, wait: bool) -> bool:
        from inspector.core.errors import ArchitectureRequired, InspectorError, TrustRequired

        if self._closing:
            return False
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
        """Replace ``path`` with ``nn.Identity``; an undoable edit, so nothing is asked.

        When the last run shows that the module changes its input's shape, the
        consequence is told afterwards in the window (``sig_edit_noted``), next to Undo.
        """
        if self.session is None or self.busy or not path:
            return False
        note = self.shape_change_note(path)
        made = self._push(commands.replace_with_identity(self.session, path, self.sig_edited.emit,
                                                         self._on_edit_refused))
        if made and note:
            self.sig_edit_noted.emit(f"Replaced {path} with Identity", note)
        return made

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

    def shape_change_note(self, path: str) -> str | None:
        """What replacing ``path`` does to the shapes downstream (from the last run); None if nothing."""
        run = self.session.last_run if self.session is not None else None
        record = run.records.get(path) if run is not None else None
        call = record.first if record is not None else None
        if call is None or call.input_shapes == call.output_shapes:
            return None
        return (
            f"{path} turned {format_shapes(call.input_shapes)} into {format_shapes(call.output_shapes)}; "
            f"Identity passes {format_shapes(call.input_shapes[:1])} on unchanged, so the layers after it "
            "receive another shape (for feature extraction that is the point). The next run shows whether "
            "they still accept it."
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
        self.set_input(spec, mode)
        return self._start("run", run_job(self.session, device), f"Running {self.session.source}",
                           self._on_run_worker_succeeded, self._on_run_worker_failed,
                           on_progress=self.sig_run_progressed.emit)

    def set_input(self, spec: InputSpec | ModelInput, mode: str) -> None:
        """The one place the window's input and mode reach the session (runs, summaries, saving)."""
        if self.session is not None:
            self.session.set_input(spec)
            self.session.mode = mode

    def _on_run_worker_succeeded(self, run: ProbeRun) -> None:
        session = self.session
        if not run.cancelled and session is not None:
            baseline = session.baseline_run if session.replaced else None
            self.shown = (run, baseline)
            self.sig_run_shown.emit(run, baseline)
        self.sig_run_finished.emit(run)

    def cancel_run(self) -> bool:
        """Stop the run at the next module (the forward really stops; nothing runs on)."""
        if not self.running or self._task is None:
            return False
        self._task.cancel()
        self.sig_busy_changed.emit(True)  # state changed: Cancel is no longer available
        return True

    def _on_run_worker_failed(self, error: BaseException, trace: str) -> None:
        from inspector.core.errors import InspectorError

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
        self.set_input(spec, mode)
        shapes = [list(leaf.shape) for leaf in as_model_input(spec).specs()]
        caption = (f"{session.source}{' (edited)' if session.replaced else ''}, "
                   f"input {format_shapes(shapes)}, {mode} mode")
        return self._start("summary", summary_job(session), "Summarising",
                           lambda text: self.sig_summary_finished.emit(text, caption),
                           lambda error, trace: self.sig_summary_finished.emit(None, f"No summary: {_message(error)}"))

    # ----------------------------------------------------------------- workers

    def submit(self, request: TaskRequest, *, wait_turn: bool = False) -> bool:
        """Run ``request`` on a worker: the one way model work starts (the panels' too).

        A request for the model while another task uses it is refused (False),
        or with ``wait_turn`` queued and started when the model is free. A
        request that needs no model (``uses_model=False``) starts at once.
        Nothing starts once the window is closing.
        """
        if self._closing:
            return False
        if request.uses_model and (self._task is not None or self._queue):
            if not wait_turn:
                return False
            self._queue.append(request)
            return True
        self._launch(request)
        return True

    def _start(self, kind: str, job: Job, description: str, on_succeeded: Callable[[Any], object],
               on_failed: Callable[[BaseException, str], object], *,
               on_progress: Callable[[int, int], None] | None = None) -> bool:
        return self.submit(TaskRequest(kind, job, TaskState(description), on_succeeded, on_failed,
                                       on_progress=on_progress))

    def _launch(self, request: TaskRequest) -> Worker:
        """Start ``request``'s job on a worker, its signals connected first.

        Connected before the thread starts, never after: a job that takes a
        millisecond (a tiny model's run) can finish, and emit into no
        connection, before the next line of this thread runs.
        """
        worker = Worker(request.job, request.state, self)
        self._workers.add(worker)
        worker.finished.connect(self._on_worker_thread_finished)
        worker.sig_succeeded.connect(lambda result: self._on_task_ended(worker, request, result, None, ""))
        worker.sig_failed.connect(lambda error, trace: self._on_task_ended(worker, request, None, error, trace))
        if request.on_progress is not None:
            worker.sig_progressed.connect(request.on_progress)
        if request.on_partial is not None:
            worker.sig_partial.connect(request.on_partial)
        if request.uses_model:
            self._task, self._request = worker, request
            self._stuck_reported = None
            self._watch_timer.start()
        worker.start()
        if request.uses_model:
            self._announce_busy()
        return worker

    def _on_task_ended(self, worker: Worker, request: TaskRequest, result: Any, error: BaseException | None,
                       trace: str) -> None:
        if self._closing:
            return
        if worker is self._task:
            self._task, self._request = None, None
            self._watch_timer.stop()
            self._next()
        if error is None:
            request.on_succeeded(result)
        else:
            request.on_failed(error, trace)

    def _next(self) -> None:
        """The model is free: start the next waiting request, or say that the model is idle."""
        while self._queue and self._task is None and not self._closing:
            self._launch(self._queue.popleft())
        self._announce_idle()

    def _announce_busy(self) -> None:
        """``sig_busy_changed``: True as each task starts (what may be cancelled changed), False once idle."""
        busy = self.busy
        if busy or self._announced_busy:
            self._announced_busy = busy
            self.sig_busy_changed.emit(busy)

    def _announce_idle(self) -> None:
        if not self.busy and self._announced_busy:
            self._announce_busy()

    def stop_task(self, state: TaskState, wait_ms: int | None = None) -> bool:
        """Ask the task of ``state`` to stop (a waiting one is dropped); with ``wait_ms``, wait for its thread.

        A task still running after ``wait_ms`` is abandoned. False when no such task was found.
        """
        for request in list(self._queue):
            if request.state is state:
                self._queue.remove(request)
                return True
        state.request_stop()
        worker = next((w for w in self._workers if w.state is state), None)
        if worker is None:
            return False
        if wait_ms is not None and not worker.wait(max(0, wait_ms)):
            self._give_up(worker)
        return True

    def _give_up(self, worker: Worker) -> None:
        self._workers.discard(worker)
        abandon(worker)
        if worker is self._task:
            self._task, self._request = None, None
            self._watch_timer.stop()
            self._next()

    def stuck_in(self) -> tuple[str, str, float] | None:
        """Where the task is stuck: (module, type, seconds idle), once idle for ``stuck_after_s``; else None."""
        worker = self._task
        watch = worker.watch if worker is not None else None
        if watch is None:
            return None
        where = watch.current
        idle = watch.idle_for()
        if where is None or idle < self.stuck_after_s:
            return None
        return where[0], where[1], idle

    def _on_watch_timer_timeout(self) -> None:
        stuck = self.stuck_in()
        worker = self._task
        if stuck is None or worker is None or worker.watch is None:
            return
        if self._stuck_reported == worker.watch.activity:
            return  # this stall was reported already
        self._stuck_reported = worker.watch.activity
        self.sig_task_stuck.emit(*stuck)

    def abandon_task(self) -> bool:
        """Give up the task that uses the model (a stuck run or summary); the model is opened again.

        The worker's thread cannot be stopped; it is left running detached
        and its results are never used. The model it holds may be half-way
        through a forward, its hooks still in place, so it is dropped with
        its edits, and the same source is opened again (the user already
        chose to open it: a pickled file or a factory is not asked about
        again). False when there is no task.
        """
        worker, request = self._task, self._request
        if worker is None or request is None or self._closing:
            return False
        description, kind = worker.description, request.kind
        where = worker.watch.current if worker.watch is not None else None
        self._workers.discard(worker)
        abandon(worker)
        self._task, self._request = None, None
        self._watch_timer.stop()
        self._queue.clear()  # they were for the model given up
        self.sig_task_abandoned.emit(description, where[0] if where is not None else "")
        if request.on_abandoned is not None:
            request.on_abandoned()
        session = self.session
        if kind in REOPEN_AFTER_ABANDON and session is not None:
            loaded = session.loaded
            self.session = None
            self.undo_stack.clear()
            self._skip_discard = True
            try:
                self.open_model(loaded.source, arch=loaded.arch if loaded.kind == "state_dict" else None,
                                trust=loaded.kind in ("pickle", "export", "callable"))
            finally:
                self._skip_discard = False
        self._announce_idle()
        return True

    def _on_worker_thread_finished(self) -> None:
        worker = self.sender()
        if isinstance(worker, Worker):
            self._workers.discard(worker)
            worker.deleteLater()

    def shut_down(self) -> None:
        """Cancel every worker and wait for its thread, at most ``close_wait_ms``; later results are dropped.

        A run stops at its next module. A load, a summary, or a forward
        stuck in the model's own code may not stop: such a worker is
        abandoned (see :func:`inspector.gui.run_worker.abandon`), so closing
        never blocks.
        """
        self._closing = True
        self._watch_timer.stop()
        self._queue.clear()
        for worker in list(self._workers):
            worker.cancel()
        for worker in list(self._workers):
            if not worker.wait(max(0, self.close_wait_ms)):
                abandon(worker)
        self._workers.clear()
        self._task, self._request = None, None

    def _problem(self, title: str, message: str, level: str, trace: str = "") -> None:
        self.sig_problem.emit(title, message, level, trace)


def _from_user(error: BaseException) -> bool:
    """The user's own Ctrl-C (it ends the app), as opposed to a KeyboardInterrupt the model raised."""
    from inspector.core.watch import from_user

    return from_user(error)


def _message(error: BaseException) -> str:
    """An exception as one line a person can read."""
    from inspector.core.errors import InspectorError

    if isinstance(error, SystemExit):
        # str(SystemExit(2)) is "2", which says nothing.
        return f"SystemExit: the model's code called sys.exit({error.code!r})"
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(error, InspectorError):
        return first or type(error).__name__
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
