"""``report`` and ``sweep`` on a thread of their own: ``--timeout`` and Ctrl-C (see docs/cli.md).

The main thread only watches: the work's thread loads and runs the model.
Then a deadline and Ctrl-C are answered even when the model's code never
returns (a Python loop, a TorchScript loop in C++), which the main thread
could not do while running the model itself. When the deadline passes, the
work is asked to stop at its next module and writes its JSON marked
``timed_out``; a work that does not stop is abandoned: the main thread
writes the JSON from what it knows, and the process ends without the
thread. Ctrl-C is the user's (noted, so never taken for a KeyboardInterrupt
the model raised); a second one ends the process at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from inspector.cli import EXIT_FORWARD_FAILED, EXIT_INTERRUPTED, PROG, UsageError, _write_json
from inspector.core.watch import exit_now

TIMEOUT_GRACE_S = 2.0
"""After ``--timeout``, how long the work has to stop at its next module before it is abandoned."""
INTERRUPT_GRACE_S = 2.0
"""After Ctrl-C, how long the work has to stop before the process ends without it."""


class _TimedOut(Exception):
    """Raised on the work's thread when the run stopped because ``--timeout`` expired; carries the JSON."""

    def __init__(self, document: dict[str, Any]) -> None:
        super().__init__("timed out")
        self.document = document


class _Abandoned(Exception):
    """Raised on the work's thread when the main thread already gave it up and wrote the JSON itself."""


class Supervisor:
    """The state the work's thread and the main thread share: stop, the deadline, who writes the JSON.

    The work asks :meth:`should_stop` between modules. When the deadline
    passes, the main thread notes the module running, asks the work to stop,
    and gives it :data:`TIMEOUT_GRACE_S`: a work that stops writes its JSON
    with ``timed_out`` (see :meth:`settle`); one that does not (its code
    never enters another module) is abandoned and the main thread writes
    the JSON. Exactly one of them writes it (:meth:`claim_output`).
    """

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = timeout
        self.stop = threading.Event()
        self.expired = False
        self.interrupted = False
        """The user pressed Ctrl-C: the work's JSON is not written any more."""
        self.where: tuple[str, str] | None = None
        """(module, type) running when the deadline passed."""
        self.watch: Any = None
        self.session: Any = None
        self.entries: list[Any] = []
        """A sweep's entries as they are made, for the JSON of a sweep given up mid-way."""
        self._output_lock = threading.Lock()
        self._output_claimed = False

    def should_stop(self) -> bool:
        return self.stop.is_set()

    def claim_output(self) -> bool:
        """True for the first caller only: that one writes the JSON."""
        with self._output_lock:
            if self._output_claimed:
                return False
            self._output_claimed = True
            return True

    def expire(self) -> None:
        """The deadline passed: remember where the work is, then ask it to stop."""
        if self.watch is not None:
            self.where = self.watch.current
        self.expired = True
        self.stop.set()

    def error(self, run: Any = None) -> dict[str, Any]:
        """The JSON ``error`` of a timed-out run: the module that was running and what it was given."""
        name, kind = self.where if self.where is not None else (None, None)
        shapes: list[list[int]] = []
        record = run.records.get(name) if run is not None and name is not None else None
        if record is not None and record.calls:
            shapes = record.calls[-1].input_shapes
        stage = "running" if name is not None else ("running the model" if self.session is not None
                                                     else "loading the model")
        where = f" in {name or '(root)'} ({kind})" if name is not None else f" while {stage}"
        return {"module": name, "type": kind, "message": f"timed out after {self.timeout:g} s{where}",
                "input_shapes": shapes}

    def settle(self, document: dict[str, Any], cancelled: bool, run: Any = None) -> None:
        """Called by the work with its JSON before writing it: add ``timed_out`` (with ``--timeout``), claim the output.

        Raises :class:`_TimedOut` (the JSON marked as timed out) when the
        work stopped because the deadline passed, and :class:`_Abandoned`
        when the main thread has written the JSON already.
        """
        if self.interrupted:
            raise _Abandoned()
        timed_out = self.expired and cancelled
        if timed_out:
            if "ok" in document:
                document["ok"] = False
            document["error"] = self.error(run)
        if self.timeout is not None:  # a field of runs that have a deadline; others keep the schema's keys
            document["timed_out"] = timed_out
        if not self.claim_output():
            raise _Abandoned()
        if timed_out:
            raise _TimedOut(document)

    def fallback(self, args: argparse.Namespace) -> dict[str, Any]:
        """The JSON the main thread writes for a work it abandoned: what is known without the work's result."""
        from inspector.core import report as report_mod

        session = self.session
        if args.command == "sweep":
            from inspector.core.sweep import SCHEMA as SWEEP_SCHEMA

            document: dict[str, Any] = {
                "schema": SWEEP_SCHEMA,
                "model": session.source if session is not None else args.model,
                "input": session.input_spec.as_dict() if session is not None and session.input_spec else None,
                "device": str(session.device) if session is not None else args.device,
                "baseline": {"output_shapes": []},
                "entries": [entry.as_dict() for entry in self.entries],
            }
        elif session is not None:
            from inspector.core.probe import ProbeRun

            empty = ProbeRun(records={}, output_shapes=[], device=str(session.device), mode=session.mode)
            document = report_mod.build_report(session, empty)
        else:
            document = {"schema": report_mod.SCHEMA, "model": {"source": args.model}, "device": args.device,
                        "mode": args.mode, "replaced": [], "output": {"shapes": []}, "layers": []}
        if args.command != "sweep":
            document["ok"] = False
        document["error"] = self.error()
        document["timed_out"] = True
        return document


def supervisor_of(args: argparse.Namespace) -> Supervisor:
    supervisor = getattr(args, "supervisor", None)
    if supervisor is None:
        supervisor = args.supervisor = Supervisor(getattr(args, "timeout", None))
    return supervisor


def supervised(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run ``command(args)`` on a thread of its own; the main thread keeps the deadline and answers Ctrl-C.

    Without a main thread to take signals (called from another thread),
    the command runs here and now.
    """
    timeout = getattr(args, "timeout", None)
    if timeout is not None and not (0 < timeout < float("inf")):
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout:g}")
    supervisor = supervisor_of(args)
    if threading.current_thread() is not threading.main_thread():
        return _work(command, args, supervisor)
    from inspector.core.watch import clear_user_interrupt

    if timeout is not None:
        # The deadline counts the model's loading and run, not torch's own start (seconds on a busy machine).
        import torch  # noqa: F401

    clear_user_interrupt()
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            outcome["status"] = _work(command, args, supervisor)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread, which reports it
            outcome["error"] = error
        finally:
            done.set()

    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        worker = threading.Thread(target=target, name=f"{PROG} {args.command}", daemon=True)
        worker.start()
        try:
            _wait(done, supervisor, args)
        except KeyboardInterrupt:
            supervisor.interrupted = True
            supervisor.stop.set()
            print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
            if not done.wait(INTERRUPT_GRACE_S):
                exit_now(EXIT_INTERRUPTED)
            return EXIT_INTERRUPTED
    finally:
        # None: a handler not installed from Python, which cannot be put back from here.
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if "error" in outcome:
        raise outcome["error"]
    return int(outcome["status"])


def _wait(done: threading.Event, supervisor: Supervisor, args: argparse.Namespace) -> None:
    """Wait for the work; past the deadline, stop it, and abandon it if it does not stop."""
    deadline = None if supervisor.timeout is None else time.monotonic() + supervisor.timeout
    # Short waits: Ctrl-C is answered between them on every platform.
    while not done.wait(0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic()))):
        if deadline is not None and time.monotonic() >= deadline:
            break
    if done.is_set():
        return
    supervisor.expire()
    if done.wait(TIMEOUT_GRACE_S):
        return
    if not supervisor.claim_output():
        done.wait()  # the work finished its run and is writing its own JSON
        return
    from inspector.core.report import dumps

    _write_json(dumps(supervisor.fallback(args)), args, getattr(args, "protected", ()))
    error = supervisor.error()
    print(f"{PROG}: {error['message']}; the model's code did not stop, so the process ends without it",
          file=sys.stderr)
    exit_now(EXIT_FORWARD_FAILED)


def _work(command: Callable[[argparse.Namespace], int], args: argparse.Namespace, supervisor: Supervisor) -> int:
    """``command(args)`` on the work's thread, watched; a timed-out run writes its JSON and exits 3."""
    from inspector.core.watch import ModuleWatch, from_user

    watch = supervisor.watch = ModuleWatch().install()
    try:
        return command(args)
    except _TimedOut as timed_out:
        from inspector.core.report import dumps

        _write_json(dumps(timed_out.document), args, getattr(args, "protected", ()))
        print(f"{PROG}: {timed_out.document['error']['message']}", file=sys.stderr)
        return EXIT_FORWARD_FAILED
    except _Abandoned:
        return EXIT_FORWARD_FAILED
    except (SystemExit, KeyboardInterrupt) as error:
        if from_user(error):
            raise
        # The model's own sys.exit or KeyboardInterrupt (a factory that
        # parses argv): its failure, never the process's exit status.
        where = watch.current
        what = f"called sys.exit({error.code!r})" if isinstance(error, SystemExit) else "raised KeyboardInterrupt"
        if where is not None:
            print(f"{PROG}: the forward failed: {where[0] or '(root)'} ({where[1]}) raised {type(error).__name__}: "
                  f"the model's code {what}", file=sys.stderr)
            return EXIT_FORWARD_FAILED
        raise UsageError(f"{args.model}: the model's code {what} while the model was being built") from None
    finally:
        watch.remove()


def _on_sigint(signum: int, frame: Any) -> None:
    """The user's Ctrl-C: noted (so it is never taken for the model's), then KeyboardInterrupt; a second one ends
    the process at once."""
    from inspector.core.watch import note_user_interrupt, user_interrupted

    if user_interrupted():
        print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
        exit_now(EXIT_INTERRUPTED)
    note_user_interrupt()
    raise KeyboardInterrupt
