"""The command line: ``model-inspector [gui|report|list-models] ...`` (see docs/cli.md).

Usage errors print one line on standard error and exit 2, with no traceback
and nothing written to ``--json PATH``. A model whose forward raises still
gets its report, with exit status 3.

``report`` and ``sweep`` run their work on a thread of their own while the
main thread keeps ``--timeout`` and answers Ctrl-C (:mod:`inspector.supervisor`).
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_FORWARD_FAILED = 3
EXIT_INTERRUPTED = 130
PROG = "model-inspector"


class UsageError(Exception):
    """Bad usage: exit 2 with this one-line message."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line, as every other usage error."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {PROG} --help)")


def _add_model_and_input_options(parser: argparse.ArgumentParser) -> None:
    """MODEL and the options that load it and build its sample input (shared by report and sweep)."""
    parser.add_argument("model", help="torchvision name, timm:NAME, hf:TYPE|PATH|org/name, file, or module:callable")
    parser.add_argument("--input-shape", metavar="SHAPE", help="e.g. 1,3,224,224 (default: the model's natural input)")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=SHAPE[:DTYPE[:FILL]]", dest="input_items",
                        help="one input of forward, by parameter name or position (repeatable), "
                             "e.g. input_ids=1,16:int64 attention_mask=1,16:int64:ones")
    parser.add_argument("--inputs", metavar="FILE", dest="inputs_file",
                        help=".json description of nested inputs, or tensors from a .pt (weights-only) or .safetensors")
    parser.add_argument("--dtype", default=None,
                        help="float32, float16, bfloat16, float64: the floating inputs and the model's floating "
                             "parameters and buffers run in it (put back after the run); an integer dtype is the "
                             "first input's")
    parser.add_argument("--fill", default=None,
                        help="the first input's fill: randn, rand, zeros, ones, randint[:LOW,HIGH], arange, or image:PATH")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--grad", action="store_true", help="run with gradients enabled (a forward that differentiates)")
    parser.add_argument("--device", default="cpu",
                        help="cpu, cuda:0, mps, ... or auto: load the checkpoint into a model that accelerate spreads "
                             "over the GPUs, the CPU and a disk folder (see --max-memory, --offload-dir)")
    parser.add_argument("--max-memory", metavar="DEVICE=SIZE[,...]",
                        help="with --device auto: what each device may hold, e.g. cpu=2GiB or cuda:0=20GiB,cpu=30GiB "
                             "(KiB, MiB, GiB, KB, MB, GB); the rest is offloaded to disk")
    parser.add_argument("--offload-dir", metavar="DIR",
                        help="with --device auto: where offloaded weights are written (default: a temporary folder, "
                             "removed afterwards)")
    parser.add_argument("--mode", choices=("eval", "train"), default="eval")
    parser.add_argument("--arch", help="architecture a state_dict file is loaded into: any MODEL source (resnet18, timm:NAME, hf:...)")
    parser.add_argument("--weights", help="torchvision weights enum name, e.g. DEFAULT (timm: any value asks for timm's pretrained weights)")
    parser.add_argument("--hf-class", metavar="CLASS", help="hf: the transformers class to build (default AutoModel)")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                        help="hf: override a configuration field, e.g. num_hidden_layers=2 (repeatable)")
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
    gui.add_argument("--trust", action="store_true",
                     help="allow the model (or the session's model) to run code: full unpickling, a session's callable")
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
    report.add_argument("--force", action="store_true",
                        help="--export may replace the files of an earlier export in DIR (the whole set)")
    report.add_argument("--graph", metavar="FILE",
                        help="write the dataflow graph: FILE.svg (drawn), FILE.dot (Graphviz) or FILE.json")

    sweep = commands.add_parser("sweep", help="replace each module alone with Identity and record what happens")
    _add_model_and_input_options(sweep)
    sweep.add_argument("--only", nargs="+", action="extend", default=[], metavar="TYPE",
                       help="only modules of these types, e.g. --only BatchNorm2d ReLU")
    sweep.add_argument("--under", metavar="PATH", help="only modules inside the submodule PATH")
    sweep.add_argument("--leaves", action="store_true", help="only modules without children")
    sweep.add_argument("--json", metavar="PATH", help="where the JSON result goes (- is standard output)")
    sweep.add_argument("--no-replay", action="store_true",
                       help="run the whole forward for every candidate, instead of replaying the unchanged start")
    for command in (report, sweep):
        command.add_argument("--timeout", type=float, metavar="SECONDS",
                             help="stop after SECONDS: exit 3, the JSON written with timed_out true and the "
                                  "module that was running")

    models = commands.add_parser("list-models", help="list models: torchvision TASK<TAB>NAME, or one name a line for timm/hf")
    models.add_argument("--source", choices=("torchvision", "timm", "hf"), default="torchvision",
                        help="timm: every timm architecture; hf: every transformers model type")
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
            return _list_models(args.task, args.source)
        from inspector.core.output import StdoutToStderr
        from inspector.supervisor import supervised

        # Decided before standard output is diverted: a table for a terminal, JSON otherwise.
        args.as_table = _wants_table(args)

        # Whatever the model prints while it loads and runs goes to standard error:
        # standard output carries only the JSON (written with the guard paused).
        with StdoutToStderr() as args.stdout_guard:
            return supervised(_closing(_sweep if args.command == "sweep" else _report), args)
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


def _closing(command: Any) -> Any:
    """``command``, then the session's close (a dispatched model's temporary offload folder goes), however it ended."""

    def run(args: argparse.Namespace) -> int:
        try:
            status: int = command(args)
            return status
        finally:
            session = _stop(args).session
            if session is not None and getattr(session, "dispatch", None) is not None:
                print(f"{PROG}: note: {session.dispatch.summary_line()}", file=sys.stderr)
                session.close()

    return run


def _gui(args: argparse.Namespace) -> int:
    from inspector.gui.platform_check import platform_problem

    # Qt aborts the process (exit 134) when it cannot open a window; say why first.
    problem = platform_problem()
    if problem is not None:
        raise UsageError(problem)
    from inspector.gui.app import main as gui_main

    model = getattr(args, "model", None) or "resnet18"
    options: dict[str, Any] = {"arch": getattr(args, "arch", None), "trust": getattr(args, "trust", False)}
    if getattr(args, "session", None):
        options["session"] = args.session
    return gui_main(model, **options)


def _list_models(task: str, source: str = "torchvision") -> int:
    from inspector.core.loading import list_models

    if source != "torchvision":
        from inspector.core.errors import InspectorError
        from inspector.core.sources import hf_source, timm_source

        try:
            names = timm_source.list_models() if source == "timm" else hf_source.model_types()
        except InspectorError as error:
            raise UsageError(str(error)) from None
        print("\n".join(f"{source}:{name}" for name in names))
        return EXIT_OK

    for task_name, name in list_models(task):
        print(f"{task_name}\t{name}")
    return EXIT_OK


def _open_session(args: argparse.Namespace, identities: Sequence[str] = (), meta: bool = False) -> Any:
    """The session of a report or a sweep: model loaded, edits made, input, mode and device set.

    Raises the core's InspectorError for anything the user can fix.
    """
    from inspector.core import inputs as inputs_mod
    from inspector.core.devices import resolve_device
    from inspector.core.input_files import load_inputs_file
    from inspector.core.session import Session
    from inspector.core.sources.hf_source import parse_config_overrides

    shape = inputs_mod.parse_shape(args.input_shape) if args.input_shape is not None else None
    dtype = inputs_mod.dtype_name(args.dtype) if args.dtype is not None else None
    items = [inputs_mod.parse_input_option(text) for text in args.input_items]
    if args.fill is not None:
        inputs_mod.check_fill(args.fill)
    if args.seed is not None:
        inputs_mod.check_seed(args.seed)
    from_file = load_inputs_file(args.inputs_file) if args.inputs_file is not None else None
    dispatch_options = _dispatch_options(args, meta)
    resolved = resolve_device(args.device) if not dispatch_options else None
    session = Session.open(args.model, arch=args.arch, weights=args.weights, trust=args.trust, meta=meta,
                           hf_class=args.hf_class, config=parse_config_overrides(args.config), **dispatch_options)
    # A dispatched model's main device is where accelerate put its first layers.
    device = session.device if session.dispatch is not None or resolved is None else resolved
    for name in identities:
        session.replace_with_identity(name)
    described = _input_of(session, args, shape, dtype, items, from_file)
    if described is not None:
        session.set_input(described)
    inputs = session.require_inputs()
    inputs_mod.check_call(session.model, inputs)
    for spec in inputs.specs():
        inputs_mod.check_fill(spec.fill, spec.dtype)
    if dtype in inputs_mod.FLOAT_DTYPES:
        session.dtype = dtype
    session.grad = args.grad
    inputs_mod.check_fits(
        inputs.map_specs(lambda _, spec: spec.replace(dtype=dtype) if dtype and spec.floating else spec), device
    )
    session.mode = args.mode
    if not meta:
        session.move_to(device)
    # What is imported and built by now (torch, the model) lives as long as the
    # command: the cyclic collector need not walk it again. One full collection
    # of it costs ~0.3 s on a 2-core machine and came once in every report, in
    # the middle of the run or of writing its JSON.
    gc.freeze()
    return session


def _dispatch_options(args: argparse.Namespace, meta: bool) -> dict[str, Any]:
    """``--device auto``'s options for the loader (empty for any other device); misuse is a usage error."""
    auto = args.device.strip().lower() == "auto"
    if not auto:
        for flag, value in (("--max-memory", args.max_memory), ("--offload-dir", args.offload_dir)):
            if value is not None:
                raise UsageError(f"{flag} needs --device auto")
        return {}
    if meta:
        raise UsageError("--meta needs no weights; --device auto is for loading them (give one or the other)")
    if args.dtype is not None:
        raise UsageError("--dtype cannot be combined with --device auto: offloaded weights keep the checkpoint's dtype")
    if getattr(args, "export", None) is not None:
        raise UsageError("--export writes every weight into one file, which --device auto is for avoiding; "
                         "export without --device auto")
    from inspector.core.dispatch import accelerate_module, parse_max_memory

    accelerate_module()  # missing: say which extra installs it before anything loads
    return {"dispatched": True, "max_memory": parse_max_memory(args.max_memory), "offload_dir": args.offload_dir}


def _input_of(session: Any, args: argparse.Namespace, shape: Any, dtype: str | None, items: list[Any],
              from_file: Any) -> Any:
    """The input the options describe: the file's, the --input flags', or the natural one, then
    --input-shape, --fill, --seed and an integer --dtype on the first tensor."""
    from inspector.core import inputs as inputs_mod
    from inspector.core.errors import InputError
    from inspector.core.input_defaults import vocab_size

    natural = session.inputs
    if from_file is not None:
        base = from_file
    elif items or natural is None:
        base = inputs_mod.ModelInput()
    else:
        base = natural
    if shape is not None:
        first = base.first_spec() if base is natural else None
        if first is not None and (len(base.leaves()) > 1 or first.name):
            # Several natural inputs (ids and their mask, two siamese branches): every one of the first's
            # shape takes the new shape, keeping its dtype and fill.
            old = first.shape
            base = base.map_specs(
                lambda _, spec: spec.replace(shape=shape, source="given") if spec.shape == old else spec
            )
        elif first is not None:
            # The one-tensor shorthand keeps the natural layout (a list of images, a pair of frames).
            spec = inputs_mod.InputSpec(shape, layout=first.layout, source="given")
            base = inputs_mod.ModelInput([spec], {}, base.seed, base.origin)
        else:
            spec = inputs_mod.InputSpec(shape, source="given")
            base = inputs_mod.ModelInput([spec, *base.args[1:]], dict(base.kwargs), base.seed, base.origin)
    args_list, kwargs = list(base.args), dict(base.kwargs)
    positions: dict[int, Any] = {}
    for name, item_shape, item_dtype, item_fill in items:
        item_dtype = item_dtype or "float32"
        vocab = None if item_dtype in inputs_mod.FLOAT_DTYPES else vocab_size(session.model, name)
        spec = inputs_mod.InputSpec(
            item_shape, item_dtype, item_fill or inputs_mod.default_fill(name, item_dtype, vocab),
            name=None if name.isdigit() else name, source="given",
        )
        if name.isdigit():
            if int(name) in positions or (int(name) == 0 and shape is not None):
                raise InputError(f"input {name} is given twice")
            positions[int(name)] = spec
        else:
            if name in kwargs and from_file is None:
                raise InputError(f"the input {name!r} is given twice")
            kwargs[name] = spec
    if positions:
        for index, spec in sorted(positions.items()):
            if index < len(args_list):
                args_list[index] = spec
            elif index == len(args_list):
                args_list.append(spec)
            else:
                raise InputError(
                    f"input {index} is given but input {len(args_list)} is not; positions start at 0"
                )
    seed = args.seed if args.seed is not None else base.seed
    result = inputs_mod.ModelInput(args_list, kwargs, seed, base.origin)
    specs = [(path, leaf) for path, leaf in result.leaves() if isinstance(leaf, inputs_mod.InputSpec)]
    if not result.leaves() and natural is None:
        return None
    first_path = specs[0][0] if specs else None

    def first_only(path: str, spec: Any) -> Any:
        # --fill and an integer --dtype describe the first tensor, as they did when there was only one.
        if path != first_path:
            return spec
        if dtype is not None and dtype not in inputs_mod.FLOAT_DTYPES:
            fill = args.fill or spec.fill
            if args.fill is None and (fill in inputs_mod.FLOAT_ONLY_FILLS or fill.startswith("randint")):
                name = spec.name or path
                fill = inputs_mod.default_fill(name, dtype, vocab_size(session.model, name))
            return spec.replace(dtype=dtype, fill=fill)
        if args.fill is not None:
            return spec.replace(fill=args.fill)
        return spec

    return result.map_specs(first_only)


def _report(args: argparse.Namespace) -> int:
    # Imported here so that `--help` and usage errors answer before torch loads.
    import time

    from inspector import terminal
    from inspector.core.errors import InspectorError
    from inspector.core.report import build_report, dumps

    as_table = args.as_table
    shown = _shows_progress(args)
    started = time.perf_counter()
    try:
        if args.graph is not None:
            from inspector.core.graph_layout import graph_format

            graph_format(args.graph)
        protected = args.protected = _input_files(args)
        _check_outputs(args, protected)
        with terminal.status(shown, f"Opening {args.model}…"):
            session = _open_session(args, args.identity, meta=args.meta)
        _stop(args).session = session
        baseline = again = None
        stop = _stop(args).should_stop
        if args.compare:
            from inspector.core.compare import run_seeded

            # The same input and seed through the unedited model, twice (its
            # noise floor); the edits are put back exactly afterwards. Every
            # run starts from the same random state, so dropout left on in
            # eval mode moves nothing by itself.
            with session.editor.suspended(), terminal.progress(shown, "Baseline") as on_progress:
                baseline = run_seeded(session, meta=args.meta, keep_output=True, on_progress=on_progress,
                                      should_stop=stop)
                again = run_seeded(session, meta=args.meta, keep_output=True, should_stop=stop)
            with terminal.progress(shown, "Running") as on_progress:
                run = run_seeded(session, meta=args.meta, keep_output=True, on_progress=on_progress,
                                 should_stop=stop)
        else:
            with terminal.progress(shown, "Running") as on_progress:
                run = session.run(meta=args.meta, keep_output=False, on_progress=on_progress, should_stop=stop)
        if args.meta:
            run.device = "meta"
        report = build_report(session, run)
        if baseline is not None:
            from inspector.core.compare import add_baseline

            add_baseline(report, baseline, run, again)
        _stop(args).settle(report, run.cancelled, run)
        text = dumps(report)
        graph_text = _graph_text(session, args) if args.graph is not None else None
    except InspectorError as error:
        raise UsageError(str(error)) from None
    except MemoryError:
        raise UsageError("out of memory while building the model or its input; try a smaller --input-shape") from None
    if args.export is not None:
        _export(session, run, report, args.export, force=args.force, protected=protected)
    if graph_text is not None:
        _write_output(graph_text, args.graph, args, protected)
    if args.json is not None or not as_table:
        _write_json(text, args, protected)
    if as_table:
        with _own_stdout(args):
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


def _own_stdout(args: argparse.Namespace) -> Any:
    """Standard output as it was (not the model's diversion to standard error), for the program's own output."""
    import contextlib

    guard = getattr(args, "stdout_guard", None)
    return guard.paused() if guard is not None else contextlib.nullcontext()


def _write_json(text: str, args: argparse.Namespace, protected: Sequence[str] = ()) -> None:
    """The JSON document to standard output (``-``) or to ``--json PATH`` as a shell redirection writes it."""
    _write_output(text, args.json or "-", args, protected)


def _write_output(text: str, path: str, args: argparse.Namespace, protected: Sequence[str] = ()) -> None:
    """A document of ours to ``path`` (``-``: standard output) as a shell redirection writes it."""
    from inspector.core.output import OutputError, write_text

    try:
        # /dev/stdout too must be standard output as it was, not the model's diversion.
        with _own_stdout(args):
            if path == "-":
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
            else:
                write_text(path, text, protected=protected)
    except OutputError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None


def _input_files(args: argparse.Namespace) -> list[str]:
    """The files this run reads (the model, a callable's .py, an image fill, ...): no output replaces them."""
    import os

    named = [getattr(args, option, None) for option in ("model", "arch", "fill", "inputs")]
    candidates = []
    for text in (value for value in named if isinstance(value, str) and value):
        # file.py:fn, image:PATH, hf:FOLDER: the path is on either side of a colon.
        candidates += [text, text.rsplit(":", 1)[0], text.split(":", 1)[-1]]
    return [path for path in dict.fromkeys(candidates) if os.path.exists(path)]


def _check_outputs(args: argparse.Namespace, protected: Sequence[str]) -> None:
    """Refuse, before anything is loaded or run, an output that cannot or must not be written."""
    from inspector.core.output import check_output

    if args.json not in (None, "-"):
        check_output(args.json, protected, what="the JSON")
    if getattr(args, "graph", None) is not None:
        check_output(args.graph, protected, what="the graph")
    if getattr(args, "export", None) is not None:
        from inspector.core.export import check_export_folder

        check_export_folder(args.export, force=args.force, protected=protected)


def _export(session: Any, run: Any, report: dict[str, Any], folder: str, *, force: bool,
            protected: Sequence[str]) -> None:
    from inspector.core.errors import InspectorError
    from inspector.core.export import export_session

    try:
        result = export_session(session, folder, run=run, report=report, force=force, protected=protected)
    except InspectorError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot write into {folder}: {error.strerror or error}") from None
    for note in result.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)


def _sweep(args: argparse.Namespace) -> int:
    from inspector import terminal
    from inspector.core.errors import InspectorError
    from inspector.core.report import dumps
    from inspector.core.sweep import BaselineFailed, sweep

    as_table = args.as_table
    shown = _shows_progress(args)
    try:
        protected = args.protected = _input_files(args)
        _check_outputs(args, protected)
        with terminal.status(shown, f"Opening {args.model}…"):
            session = _open_session(args)
        _stop(args).session = session
        with terminal.progress(shown, "Sweep") as on_progress:
            result = sweep(session, only_types=args.only or None, under=args.under, leaves=args.leaves,
                           on_progress=on_progress, should_stop=_stop(args).should_stop,
                           on_entry=_stop(args).entries.append, reuse_prefix=not args.no_replay)
    except BaselineFailed as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return EXIT_FORWARD_FAILED
    except InspectorError as error:
        raise UsageError(str(error)) from None
    except MemoryError:
        raise UsageError("out of memory while building the model or its input; try a smaller --input-shape") from None
    document = result.as_dict()
    if session.dispatch is not None:
        document["dispatch"] = session.dispatch.summary()
    _stop(args).settle(document, result.cancelled)
    if args.json is not None or not as_table:
        _write_json(dumps(document), args, protected)
    if as_table:
        with _own_stdout(args):
            terminal.print_sweep(document)
    return EXIT_OK


def _stop(args: argparse.Namespace) -> Any:
    """The :class:`inspector.supervisor.Supervisor` of this command: its stop, its deadline, its JSON."""
    from inspector.supervisor import supervisor_of

    return supervisor_of(args)


if __name__ == "__main__":
    raise SystemExit(main())
