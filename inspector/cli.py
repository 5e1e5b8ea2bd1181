"""The command line: ``model-inspector [gui|report|list-models] ...`` (see docs/cli.md).

Usage errors print one line on standard error and exit 2, with no traceback
and nothing written to ``--json PATH``. A model whose forward raises still
gets its report, with exit status 3.

``report`` and ``sweep`` run their work on a thread of their own while the
main thread watches it (see :class:`_Supervisor`): ``--timeout`` and Ctrl-C
end the process even when the model's code never returns (a Python loop,
a TorchScript loop in C++), which the main thread could not do while
running the model itself.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import Any, NoReturn, Sequence

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_FORWARD_FAILED = 3
EXIT_INTERRUPTED = 130
PROG = "model-inspector"
TIMEOUT_GRACE_S = 2.0
"""After ``--timeout``, how long the work has to stop at its next module before it is abandoned."""
INTERRUPT_GRACE_S = 2.0
"""After Ctrl-C, how long the work has to stop before the process ends without it."""


class UsageError(Exception):
    """Bad usage: exit 2 with this one-line message."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line, as every other usage error."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {PROG} --help)")


def _add_model_and_input_options(parser: argparse.ArgumentParser) -> None:
    """MODEL and the options that load it and build its sample input (shared by report and sweep)."""
    parser.add_argument("model", help="torchvision name, file, or module:callable")
    parser.add_argument("--input-shape", metavar="SHAPE", help="e.g. 1,3,224,224 (default: the model's natural input)")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--fill", default="randn", help="randn, rand, zeros, ones, or image:PATH")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--mode", choices=("eval", "train"), default="eval")
    parser.add_argument("--arch", help="torchvision architecture a state_dict file is loaded into")
    parser.add_argument("--weights", help="torchvision weights enum name, e.g. DEFAULT")
    parser.add_argument("--trust", action="store_true", help="allow full unpickling of a pickled model file")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Look inside PyTorch models: tree, Identity edits, probed runs.")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    gui = commands.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("model", nargs="?", default="resnet18", help="MODEL to open (default: resnet18)")
    gui.add_argument("--arch", help="torchvision architecture of a state_dict file")
    gui.add_argument("--trust", action="store_true", help="allow full unpickling of the model file")
    gui.add_argument("--session", metavar="FILE", help="open a saved session (.inspector.json) instead of MODEL")

    report = commands.add_parser("report", help="probe a model and print the JSON report")
    _add_model_and_input_options(report)
    report.add_argument("--identity", action="append", default=[], metavar="NAME",
                        help="replace the submodule NAME with nn.Identity (repeatable)")
    report.add_argument("--meta", action="store_true", help="shapes only, on the meta device; no weights allocated")
    report.add_argument("--json", default="-", metavar="PATH", help="where the report goes (- is standard output)")
    report.add_argument("--compare", action="store_true",
                        help="also run the unedited model on the same input: every layer gains a baseline")
    report.add_argument("--export", metavar="DIR",
                        help="write the edited model's weights, a script that rebuilds it, CSV and a plot into DIR")

    sweep = commands.add_parser("sweep", help="replace each module alone with Identity and record what happens")
    _add_model_and_input_options(sweep)
    sweep.add_argument("--only", nargs="+", action="extend", default=[], metavar="TYPE",
                       help="only modules of these types, e.g. --only BatchNorm2d ReLU")
    sweep.add_argument("--under", metavar="PATH", help="only modules inside the submodule PATH")
    sweep.add_argument("--leaves", action="store_true", help="only modules without children")
    sweep.add_argument("--json", default="-", metavar="PATH", help="where the result goes (- is standard output)")
    for command in (report, sweep):
        command.add_argument("--timeout", type=float, metavar="SECONDS",
                             help="stop after SECONDS: exit 3, the JSON written with timed_out true and the "
                                  "module that was running")

    models = commands.add_parser("list-models", help="list torchvision models, TASK<TAB>NAME")
    models.add_argument(
        "--task",
        default="classification",
        choices=("classification", "detection", "segmentation", "video", "optical_flow", "all"),
    )
    return parser


_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def one_line(text: str) -> str:
    """``text`` with line breaks shown as escapes, so an error stays one line.

    A user's argument (a path, a layer name) can hold a newline; echoed as
    is, it would split the one-line error the spec promises.
    """
    return "".join(ch.encode("unicode_escape").decode("ascii") if ch in _LINE_BREAKS else ch for ch in text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(args_list)
        if args.command in (None, "gui"):
            return _gui(args)
        if args.command == "list-models":
            return _list_models(args.task)
        if args.command == "sweep":
            return _supervised(_sweep, args)
        return _supervised(_report, args)
    except UsageError as error:
        print(f"{PROG}: error: {one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (e.g. `| head`) stopped early: not an error of ours.
        sys.stderr.close()
        return EXIT_OK


def _gui(args: argparse.Namespace) -> int:
    from inspector.gui.app import main as gui_main

    model = getattr(args, "model", None) or "resnet18"
    options = {"arch": getattr(args, "arch", None), "trust": getattr(args, "trust", False)}
    if getattr(args, "session", None):
        options["session"] = args.session
    return gui_main(model, **options)


def _list_models(task: str) -> int:
    from inspector.core.loading import list_models

    for task_name, name in list_models(task):
        print(f"{task_name}\t{name}")
    return EXIT_OK


def _open_session(args: argparse.Namespace, identities: Sequence[str] = (), meta: bool = False) -> Any:
    """The session of a report or a sweep: model loaded, edits made, input, mode and device set.

    Raises the core's InspectorError for anything the user can fix.
    """
    from inspector.core import inputs as inputs_mod
    from inspector.core.devices import resolve_device
    from inspector.core.session import Session

    shape = inputs_mod.parse_shape(args.input_shape) if args.input_shape is not None else None
    dtype = inputs_mod.dtype_name(args.dtype)
    inputs_mod.check_fill(args.fill)
    device = resolve_device(args.device)
    session = Session.open(args.model, arch=args.arch, weights=args.weights, trust=args.trust, meta=meta)
    for name in identities:
        session.replace_with_identity(name)
    if shape is not None:
        layout = session.input_spec.layout if session.input_spec is not None else "tensor"
        session.set_input(inputs_mod.InputSpec(shape, layout=layout))
    spec = session.require_input().replace(dtype=dtype, fill=args.fill, seed=args.seed)
    session.set_input(spec)
    inputs_mod.check_fits(spec, device)
    session.mode = args.mode
    if not meta:
        session.move_to(device)
    return session


def _report(args: argparse.Namespace) -> int:
    # Imported here so that `--help` and usage errors answer before torch loads.
    from inspector.core.errors import InspectorError
    from inspector.core.report import build_report, dumps

    try:
        if args.export is not None:
            _check_folder(args.export)
        session = _open_session(args, args.identity, meta=args.meta)
        _supervisor(args).session = session
        baseline = None
        if args.compare:
            # The same input and seed through the unedited model; the edits
            # are put back exactly afterwards.
            with session.editor.suspended():
                baseline = session.run(meta=args.meta, keep_output=True, should_stop=_supervisor(args).should_stop)
        run = session.run(meta=args.meta, keep_output=args.compare, should_stop=_supervisor(args).should_stop)
        if args.meta:
            run.device = "meta"
        report = build_report(session, run)
        if baseline is not None:
            from inspector.core.compare import add_baseline

            add_baseline(report, baseline, run)
        _supervisor(args).settle(report, run.cancelled, run)
        text = dumps(report)
    except InspectorError as error:
        raise UsageError(str(error)) from None
    except MemoryError:
        raise UsageError("out of memory while building the model or its input; try a smaller --input-shape") from None
    if args.export is not None:
        _export(session, run, report, args.export)
    _write_json(text, args.json)
    if run.error is not None:
        print(f"{PROG}: the forward failed: {one_line(str(run.error))}", file=sys.stderr)
        return EXIT_FORWARD_FAILED
    return EXIT_OK


def _write_json(text: str, path: str) -> None:
    """The JSON document to standard output (``-``) or atomically to ``path``."""
    from inspector.core.report import write_atomic

    if path == "-":
        sys.stdout.write(text + "\n")
        return
    try:
        write_atomic(path, text)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None


def _check_folder(folder: str) -> None:
    """Fail before any work when an export folder cannot be made (without making it yet)."""
    import os

    nearest = os.path.abspath(folder)
    while not os.path.exists(nearest):
        nearest = os.path.dirname(nearest)
    if not os.path.isdir(nearest) or not os.access(nearest, os.W_OK):
        what = "is a file" if os.path.isfile(nearest) else "cannot be written"
        raise UsageError(f"cannot create the export folder {folder}: {nearest} {what}")


def _export(session: Any, run: Any, report: dict[str, Any], folder: str) -> None:
    from inspector.core.errors import InspectorError
    from inspector.core.export import export_session

    try:
        result = export_session(session, folder, run=run, report=report)
    except InspectorError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot write into {folder}: {error.strerror or error}") from None
    for note in result.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)


def _sweep(args: argparse.Namespace) -> int:
    from inspector.core.errors import InspectorError
    from inspector.core.report import dumps
    from inspector.core.sweep import BaselineFailed, sweep

    progress = None
    if sys.stderr.isatty():
        def progress(done: int, total: int) -> None:
            print(f"\r{PROG}: sweep {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)
    try:
        session = _open_session(args)
        _supervisor(args).session = session
        result = sweep(session, only_types=args.only or None, under=args.under, leaves=args.leaves,
                       on_progress=progress, should_stop=_supervisor(args).should_stop,
                       on_entry=_supervisor(args).entries.append)
    except BaselineFailed as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return EXIT_FORWARD_FAILED
    except InspectorError as error:
        raise UsageError(str(error)) from None
    except MemoryError:
        raise UsageError("out of memory while building the model or its input; try a smaller --input-shape") from None
    document = result.as_dict()
    _supervisor(args).settle(document, result.cancelled)
    text = dumps(document)
    _write_json(text, args.json)
    return EXIT_OK


# --------------------------------------------------------------------------- --timeout and Ctrl-C


class _TimedOut(Exception):
    """Raised on the work's thread when the run stopped because ``--timeout`` expired; carries the JSON."""

    def __init__(self, document: dict[str, Any]) -> None:
        super().__init__("timed out")
        self.document = document


class _Abandoned(Exception):
    """Raised on the work's thread when the main thread already gave it up and wrote the JSON itself."""


class _Supervisor:
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


def _supervisor(args: argparse.Namespace) -> _Supervisor:
    supervisor = getattr(args, "supervisor", None)
    if supervisor is None:
        supervisor = args.supervisor = _Supervisor(getattr(args, "timeout", None))
    return supervisor


def _supervised(command: Any, args: argparse.Namespace) -> int:
    """Run ``command(args)`` on a thread of its own; the main thread keeps the deadline and answers Ctrl-C.

    Without a main thread to take signals (called from another thread),
    the command runs here and now.
    """
    timeout = getattr(args, "timeout", None)
    if timeout is not None and not (0 < timeout < float("inf")):
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout:g}")
    supervisor = _supervisor(args)
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
                _exit_now(EXIT_INTERRUPTED)
            return EXIT_INTERRUPTED
    finally:
        # None: a handler not installed from Python, which cannot be put back from here.
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if "error" in outcome:
        raise outcome["error"]
    return int(outcome["status"])


def _wait(done: threading.Event, supervisor: _Supervisor, args: argparse.Namespace) -> None:
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

    _write_json(dumps(supervisor.fallback(args)), args.json)
    error = supervisor.error()
    print(f"{PROG}: {error['message']}; the model's code did not stop, so the process ends without it",
          file=sys.stderr)
    _exit_now(EXIT_FORWARD_FAILED)


def _work(command: Any, args: argparse.Namespace, supervisor: _Supervisor) -> int:
    """``command(args)`` on the work's thread, watched; a timed-out run writes its JSON and exits 3."""
    from inspector.core.watch import ModuleWatch, from_user

    watch = supervisor.watch = ModuleWatch().install()
    try:
        return command(args)
    except _TimedOut as timed_out:
        from inspector.core.report import dumps

        _write_json(dumps(timed_out.document), args.json)
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
        _exit_now(EXIT_INTERRUPTED)
    note_user_interrupt()
    raise KeyboardInterrupt


def _exit_now(status: int) -> NoReturn:
    """End the process with ``status`` now, without waiting for a work thread stuck in the model's code.

    Python would wait for nothing (the thread is a daemon), but finalising
    the interpreter under a thread inside torch aborts; so the streams are
    flushed and the process ends here.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


if __name__ == "__main__":
    raise SystemExit(main())
