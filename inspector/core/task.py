"""One piece of model work, as whoever runs it off the caller's thread sees it: no Qt.

A :class:`TaskState` is handed to a :data:`Job` (a plain function of the
state) and is the only channel between the job and the one who started it:
the job reports progress (:meth:`TaskState.set_progress`) and partial results
(:meth:`TaskState.add_partial`, e.g. a sweep's entries as they come) and
checks :meth:`TaskState.should_stop`; the starter asks it to stop
(:meth:`TaskState.request_stop`) and reads what has come so far. The
window's controller runs every job on the model (load, run, summary,
compare, sweep, graph) through one queue with one of these each (as
Orange's ``TaskState`` and ``ConcurrentMixin`` do); the job factories below
are the ones it and the panels use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspector.core.compare import Comparison
    from inspector.core.probe import ProbeRun
    from inspector.core.session import Session
    from inspector.core.sweep import SweepResult

ProgressListener = Callable[[int, int], None]
PartialListener = Callable[[Any], None]


class TaskState:
    """Progress, a stop request and partial results of one job; safe to use from two threads."""

    def __init__(self, description: str = "") -> None:
        self.description = description
        """What the job is, for a status line ("Running resnet18")."""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._progress = (0, 0)
        self._partial: list[Any] = []
        self.on_progress: ProgressListener | None = None
        """Called on the job's thread with (done, total) after each :meth:`set_progress`."""
        self.on_partial: PartialListener | None = None
        """Called on the job's thread with each partial result after :meth:`add_partial`."""
        self.watch: Any = None
        """The :class:`inspector.core.watch.ModuleWatch` of the job's thread while it runs (None otherwise)."""

    # ----------------------------------------------------------------- the starter's side

    def request_stop(self) -> None:
        """Ask the job to stop at its next check (a run stops at its next module)."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """True once :meth:`request_stop` was called."""
        return self._stop.is_set()

    @property
    def progress(self) -> tuple[int, int]:
        """(done, total) as last reported; (0, 0) before the first report."""
        with self._lock:
            return self._progress

    @property
    def partial_results(self) -> list[Any]:
        """Every partial result reported so far, in order (a copy)."""
        with self._lock:
            return list(self._partial)

    # ----------------------------------------------------------------- the job's side

    def should_stop(self) -> bool:
        """The job's check: True once a stop was requested."""
        return self._stop.is_set()

    def set_progress(self, done: int, total: int) -> None:
        """Report (done, total)."""
        with self._lock:
            self._progress = (done, total)
        listener = self.on_progress
        if listener is not None:
            listener(done, total)

    def add_partial(self, result: Any) -> None:
        """Report one partial result (kept, and passed on to :attr:`on_partial`)."""
        with self._lock:
            self._partial.append(result)
        listener = self.on_partial
        if listener is not None:
            listener(result)


Job = Callable[[TaskState], Any]
"""A plain function of its TaskState that returns a result or raises."""


def run_job(session: Session, device: str) -> Job:
    """The job of one run of the session's input: move the model to ``device``, check the input fits, run it.

    Moving a big model to an accelerator takes time too, so it happens in
    the job, off the caller's thread, like the run itself.
    """

    def job(state: TaskState) -> ProbeRun:
        from inspector.core.inputs import check_fits

        if str(session.device) != device:
            session.move_to(device)
        if session.inputs is not None:
            check_fits(session.inputs, session.device)
        return session.run(on_progress=state.set_progress, should_stop=state.should_stop)

    return job


def summary_job(session: Session) -> Job:
    """The job of the torchinfo summary of the model as it is now (its text)."""

    def job(state: TaskState) -> str:
        return session.summary()

    return job


def compare_job(session: Session) -> Job:
    """The job of comparing the edited model with the unedited one on the session's input (None when stopped)."""

    def job(state: TaskState) -> Comparison | None:
        from inspector.core.compare import compare_session

        return compare_session(session, on_progress=state.set_progress, should_stop=state.should_stop)

    return job


def sweep_job(session: Session, *, only_types: list[str] | None, under: str | None, leaves: bool) -> Job:
    """The job of a knockout sweep; each entry is a partial result as soon as its step ends."""

    def job(state: TaskState) -> SweepResult:
        from inspector.core.sweep import sweep

        return sweep(session, only_types=only_types or None, under=under, leaves=leaves,
                     on_progress=state.set_progress, should_stop=state.should_stop, on_entry=state.add_partial)

    return job
