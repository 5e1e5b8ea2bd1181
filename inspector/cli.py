"""The command line: ``model-inspector [gui|report|list-models] ...`` (see docs/cli.md).

Usage errors print one line on standard error and exit 2, with no traceback
and nothing written to ``--json PATH``. A model whose forward raises still
gets its report, with exit status 3.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn, Sequence

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_FORWARD_FAILED = 3
PROG = "model-inspector"


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
    parser.add_argument("--format", choices=("auto", "table", "json"), default="auto",
                        help="table (for a person) or json (for programs); auto: a table at a terminal when "
                             "no --json is given, else JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on standard error")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Look inside PyTorch models: tree, Identity edits, probed runs.")
    parser.add_argument("--version", action="store_true",
                        help="print the version, the versions of torch and friends, the statistics route and devices")
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
    report.add_argument("--json", metavar="PATH", help="where the JSON report goes (- is standard output)")
    report.add_argument("--depth", type=int, metavar="N",
                        help="the table shows modules down to depth N (default: all of a tree of at most 200 "
                             "modules, else 2)")
    report.add_argument("--compare", action="store_true",
                        help="also run the unedited model on the same input: every layer gains a baseline")
    report.add_argument("--export", metavar="DIR",
                        help="write the edited model's weights, a script that rebuilds it, CSV and a plot into DIR")
    report.add_argument("--graph", metavar="FILE",
                        help="write the dataflow graph: FILE.svg (drawn), FILE.dot (Graphviz) or FILE.json")

    sweep = commands.add_parser("sweep", help="replace each module alone with Identity and record what happens")
    _add_model_and_input_options(sweep)
    sweep.add_argument("--only", nargs="+", action="extend", default=[], metavar="TYPE",
                       help="only modules of these types, e.g. --only BatchNorm2d ReLU")
    sweep.add_argument("--under", metavar="PATH", help="only modules inside the submodule PATH")
    sweep.add_argument("--leaves", action="store_true", help="only modules without children")
    sweep.add_argument("--json", metavar="PATH", help="where the JSON result goes (- is standard output)")

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
        if args.version:
            from inspector.core.about import about_lines

            print("\n".join(about_lines()))
            return EXIT_OK
        if args.command in (None, "gui"):
            return _gui(args)
        if args.command == "list-models":
            return _list_models(args.task)
        if args.command == "sweep":
            return _sweep(args)
        return _report(args)
    except UsageError as error:
        print(f"{PROG}: error: {one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) stopped early: not an error of ours.
        sys.stderr.close()
        return EXIT_OK


def _gui(args: argparse.Namespace) -> int:
    from inspector.gui.platform_check import platform_problem

    # Qt aborts the process (exit 134) when it cannot open a window; say why first.
    problem = platform_problem()
    if problem is not None:
        raise UsageError(problem)
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

    import time

    from inspector import terminal

    as_table = _wants_table(args)
    shown = _shows_progress(args)
    started = time.perf_counter()
    try:
        if args.export is not None:
            _check_folder(args.export)
        if args.graph is not None:
            from inspector.core.graph_layout import graph_format

            graph_format(args.graph)
        with terminal.status(shown, f"Opening {args.model}…"):
            session = _open_session(args, args.identity, meta=args.meta)
        baseline = None
        if args.compare:
            # The same input and seed through the unedited model; the edits
            # are put back exactly afterwards.
            with session.editor.suspended(), terminal.progress(shown, "Baseline") as on_progress:
                baseline = session.run(meta=args.meta, keep_output=True, on_progress=on_progress)
        with terminal.progress(shown, "Running") as on_progress:
            run = session.run(meta=args.meta, keep_output=args.compare, on_progress=on_progress)
        if args.meta:
            run.device = "meta"
        report = build_report(session, run)
        if baseline is not None:
            from inspector.core.compare import add_baseline

            add_baseline(report, baseline, run)
        text = dumps(report)
        graph_text = _graph_text(session, args) if args.graph is not None else None
    except InspectorError as error:
        raise UsageError(str(error)) from None
    except MemoryError:
        raise UsageError("out of memory while building the model or its input; try a smaller --input-shape") from None
    if args.export is not None:
        _export(session, run, report, args.export)
    if graph_text is not None:
        _write_json(graph_text, args.graph)
    if args.json is not None or not as_table:
        _write_json(text, args.json or "-")
    if as_table:
        terminal.print_report(report, depth=args.depth, seconds=time.perf_counter() - started)
    if run.error is not None:
        print(f"{PROG}: the forward failed: {one_line(str(run.error))}", file=sys.stderr)
        return EXIT_FORWARD_FAILED
    return EXIT_OK


def _graph_text(session: Any, args: argparse.Namespace) -> str:
    """The dataflow graph of the edited model (a run of its own, with the graph's hooks), as ``--graph`` asks."""
    from inspector.core.graph import capture_session
    from inspector.core.graph_layout import graph_file_text

    edits = f" with {', '.join(session.replaced)} replaced by Identity" if session.replaced else ""
    return graph_file_text(capture_session(session, meta=args.meta), args.graph, title=f"{session.source}{edits}")


def _wants_table(args: argparse.Namespace) -> bool:
    """True when standard output gets a table: asked for, or a terminal with no --json given."""
    if args.format == "table":
        if args.json == "-":
            raise UsageError("--format table prints the table on standard output; give --json a file path")
        return True
    return args.format == "auto" and args.json is None and sys.stdout.isatty()


def _shows_progress(args: argparse.Namespace) -> bool:
    """Progress goes to standard error, and only when it is a terminal (never into a log or a pipe)."""
    return not args.quiet and sys.stderr.isatty()


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

    from inspector import terminal

    as_table = _wants_table(args)
    shown = _shows_progress(args)
    try:
        with terminal.status(shown, f"Opening {args.model}…"):
            session = _open_session(args)
        with terminal.progress(shown, "Sweep") as on_progress:
            result = sweep(session, only_types=args.only or None, under=args.under, leaves=args.leaves,
                           on_progress=on_progress)
    except BaselineFailed as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return EXIT_FORWARD_FAILED
    except InspectorError as error:
        raise UsageError(str(error)) from None
    except MemoryError:
        raise UsageError("out of memory while building the model or its input; try a smaller --input-shape") from None
    document = result.as_dict()
    if args.json is not None or not as_table:
        _write_json(dumps(document), args.json or "-")
    if as_table:
        terminal.print_sweep(document)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
