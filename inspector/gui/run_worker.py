"""Long work off the GUI thread: model loading, runs, summaries, comparisons, sweeps, graphs.

A :class:`Worker` runs one :data:`~inspector.core.task.Job` (a plain function
of its :class:`~inspector.core.task.TaskState`) on its own ``QThread`` and
reports only through signals, which Qt queues to the GUI thread.
:meth:`Worker.cancel` asks the state to stop; the core checks it between
modules, so a cancelled run really stops rather than running on with its
result thrown away. Only the window's controller makes workers (one queue
of model work); panels ask the controller.

The controller cancels its workers and waits for them before the window
closes: a thread must never outlive the objects it reports to. A job stuck
in a model's own code (a forward that never returns, never entering another
module where the stop is asked) cannot be stopped: after a bounded wait it
is *abandoned* (:func:`abandon`): its signals are blocked, it belongs to
no window any more, and the app ends the process without waiting for it.
Each worker watches which module its job is in (:attr:`Worker.watch`), so
the window can say where a run is stuck.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from inspector.core.task import Job, TaskState

PROGRESS_INTERVAL_S = 0.05
"""At most one progress signal per interval: a faster stream would only flood the event loop."""


class Worker(QThread):
    """Runs one :data:`Job` on its own thread; results arrive as signals."""

    sig_progressed = Signal(int, int)
    """(done, total) as the job goes, at most every 50 ms."""
    sig_partial = Signal(object)
    """One partial result of the job (a sweep's entry), as soon as it came."""
    sig_succeeded = Signal(object)
    """The job's return value."""
    sig_failed = Signal(object, str)
    """The exception the job raised, and its formatted traceback."""

    def __init__(self, job: Job, state: TaskState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        """The job's progress, stop request and partial results."""
        self._job = job
        self._last_progress = 0.0
        state.on_progress = self._progress
        state.on_partial = self.sig_partial.emit
        self.setObjectName(f"worker: {state.description}")

    @property
    def description(self) -> str:
        """What the job is, for the status bar ("Running resnet18")."""
        return self.state.description

    @property
    def watch(self) -> Any:
        """The :class:`inspector.core.watch.ModuleWatch` of the job's thread while it runs (None before)."""
        return self.state.watch

    def cancel(self) -> None:
        """Ask the job to stop at its next check."""
        self.state.request_stop()

    @property
    def cancel_requested(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self.state.stop_requested

    def run(self) -> None:
        watch = None
        try:
            if "torch" in sys.modules:  # a load imports torch itself; nothing to watch before
                from inspector.core.watch import ModuleWatch

                watch = self.state.watch = ModuleWatch().install()
            result = self._job(self.state)
        except BaseException as error:  # noqa: BLE001 - sys.exit or KeyboardInterrupt in a model's code too
            # A signal never raises on this thread: whatever came here is the
            # job's own failure, reported to the window, never lost.
            self.sig_failed.emit(error, traceback.format_exc())
            return
        finally:
            if watch is not None:
                watch.remove()
        self.sig_succeeded.emit(result)

    def _progress(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done >= total or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.sig_progressed.emit(done, total)


_abandoned: set[Worker] = set()
"""Workers given up while their job was stuck: kept alive here, because a QThread deleted while it runs aborts."""


def stop_and_wait(worker: Worker, wait_ms: int) -> bool:
    """Cancel ``worker`` and wait at most ``wait_ms`` for its thread; False when it had to be abandoned."""
    worker.cancel()
    if worker.wait(max(0, wait_ms)):
        return True
    abandon(worker)
    return False


def abandon(worker: Worker) -> None:
    """Give up on a worker whose job does not stop: no signal of it reaches anyone any more.

    Its thread runs on detached (Python cannot stop a thread); the app ends
    the process without waiting for it (see :func:`abandoned_running`).
    """
    worker.cancel()
    worker.blockSignals(True)
    worker.setParent(None)
    _abandoned.add(worker)


def abandoned_running() -> list[Worker]:
    """Abandoned workers whose thread still runs (those that ended are let go)."""
    for worker in list(_abandoned):
        if not worker.isRunning():
            _abandoned.discard(worker)
    return list(_abandoned)


def preload_torch_libraries() -> bool:
    """Load torch's C++ libraries without holding the GIL, before ``import torch`` does it with it.

    Importing torch opens libtorch_cuda (or libtorch_cpu), the CUDA runtime
    and their kind, a few hundred megabytes; the import machinery does that
    holding the GIL, so the GUI thread stood still for ~0.3-0.4 s while a
    worker imported torch. Called through ctypes, dlopen runs with the GIL
    released; ``import torch`` then finds the libraries loaded. Only
    libraries without Python in them: libtorch_python's initialisers may use
    the Python API, which needs the GIL. Linux only (elsewhere, and on any
    failure, it does nothing and the import works as before). True when the
    libraries were loaded here.
    """
    import ctypes
    import importlib.util
    import os
    import sys

    if "torch" in sys.modules or not sys.platform.startswith("linux"):
        return False
    try:
        found = importlib.util.find_spec("torch")
        folders = list(found.submodule_search_locations or []) if found is not None else []
        candidates = [os.path.join(f, "lib", name) for name in ("libtorch_cuda.so", "libtorch_cpu.so") for f in folders]
        library = next((path for path in candidates if os.path.exists(path)), None)
        if library is None:
            return False
        libc = ctypes.CDLL(None)
        libc.dlopen.restype = ctypes.c_void_p
        libc.dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
        # RTLD_LOCAL: the libraries' symbols stay theirs, as when torch opens them.
        return bool(libc.dlopen(os.fsencode(library), os.RTLD_NOW | os.RTLD_LOCAL))
    except (OSError, AttributeError, ValueError, ImportError):
        return False


def load_job(
    spec: str, *, arch: str | None = None, trust: bool = False, named: bool = True, warm: tuple[str, ...] = (),
    **options: Any,
) -> Job:
    """The job of opening a model: import torch if needed, load, and build the plain tree.

    ``warm`` names modules to import afterwards, so that the GUI thread finds
    them imported (pyqtgraph takes most of a second) rather than stalling on them.
    """

    def job(state: TaskState) -> Any:
        preload_torch_libraries()
        from inspector.core.session import Session

        session = Session.open(spec, arch=arch, trust=trust, named=named, **options)  # options: device auto's
        tree = session.tree()
        for name in warm:
            importlib.import_module(name)
        return session, tree

    return job


def session_file_job(path: str, *, trust: bool = False) -> Job:
    """The job of opening a session file: load its model, apply its edits, build the tree.

    Returns ``(session, tree, problems)``; ``problems`` lists what could not be
    restored (the session opened all the same).
    """

    def job(state: TaskState) -> Any:
        preload_torch_libraries()
        from inspector.core.session_file import open_session

        session, problems = open_session(path, trust=trust)
        return session, session.tree(), problems

    return job
