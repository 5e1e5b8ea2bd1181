"""Export what was found: the edited model, a script that rebuilds it, the statistics and a plot.

:func:`export_session` writes into one folder:

- ``model_state_dict.pt``: the edited model's ``state_dict`` (tensors only,
  loadable with ``torch.load(..., weights_only=True)``); the keys of the
  modules that were replaced with Identity are not in it;
- ``rebuild_model.py``: Python that rebuilds the edited model from its
  source (``torchvision.models.get_model("resnet18", weights=None)`` and
  one ``nn.Identity`` line per edit), loads the weights above when they sit
  beside it, and, run on its own, prints the output shapes of the sample
  input as JSON;
- ``report.json`` and ``layers.csv``: the report of the last run and its
  per-layer statistics;
- ``layer_stats.png``: mean, mean ± std, min and max of every layer's output
  in the order the layers ran (drawn with Pillow: the core has no Qt);
- ``graph.svg``: the dataflow graph (:mod:`inspector.core.graph`), drawn;
- on request ``model.ts`` (TorchScript, traced) and ``model.pt2``
  (``torch.export``), each written only after its output on the sample input
  matched the eager model's.
"""

from __future__ import annotations

import csv
import io
import keyword
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from inspector.core.errors import InspectorError
from inspector.core.probe import ProbeRun, tensors_in
from inspector.core.report import build_report, dumps, write_atomic
from inspector.core.session import Session

STATE_FILE = "model_state_dict.pt"
SNIPPET_FILE = "rebuild_model.py"
REPORT_FILE = "report.json"
CSV_FILE = "layers.csv"
PLOT_FILE = "layer_stats.png"
GRAPH_FILE = "graph.svg"
TORCHSCRIPT_FILE = "model.ts"
EXPORT_FILE = "model.pt2"
CSV_COLUMNS = (
    "name", "type", "depth", "params", "replaced", "calls", "output_shapes",
    "numel", "mean", "std", "min", "max", "zero_fraction", "nan_count", "inf_count", "time_ms",
)
RTOL = 1e-4
ATOL = 1e-5
"""How close a TorchScript or torch.export output must be to the eager output to be written."""


class ExportError(InspectorError):
    """The export folder cannot be written."""


@dataclass
class ExportResult:
    """What :func:`export_session` wrote, and what it left out and why."""

    folder: str
    files: list[str] = field(default_factory=list)
    """Paths written, in the order written."""
    notes: list[str] = field(default_factory=list)
    """One line per thing not written (a TorchScript trace that failed, a meta model's weights)."""


# --------------------------------------------------------------------------- the snippet


def _is_identifier_path(path: str) -> bool:
    return all(part.isidentifier() and not keyword.iskeyword(part) for part in path.split("."))


def _edit_line(path: str) -> str:
    if _is_identifier_path(path):
        return f"model.{path} = nn.Identity()"
    # Indices (``layer1.0``) and odd names are not attributes: set_submodule takes any path.
    return f"model.set_submodule({path!r}, nn.Identity())"


def _num_classes_from_notes(notes: list[str]) -> int | None:
    for note in notes:
        match = re.search(r"num_classes=(\d+)", note)
        if match:
            return int(match.group(1))
    return None


def _build_lines(session: Session) -> tuple[list[str], list[str]]:
    """(import lines, lines that leave ``model`` built from its source, before the edits)."""
    loaded = session.loaded
    imports = ["import torch", "from torch import nn"]
    if loaded.kind in ("torchvision", "state_dict") and loaded.arch:
        imports.append("import torchvision")
        kwargs = [f"weights={loaded.weights!r}" if loaded.kind == "torchvision" and loaded.weights else "weights=None"]
        if loaded.task in ("detection", "segmentation"):
            kwargs.append("weights_backbone=None")
        num_classes = _num_classes_from_notes(loaded.notes) if loaded.kind == "state_dict" else None
        if num_classes is not None:
            kwargs.append(f"num_classes={num_classes}")
        return imports, [f"model = torchvision.models.get_model({loaded.arch!r}, {', '.join(kwargs)})"]
    if loaded.kind == "callable":
        target, _, attr = loaded.source.rpartition(":")
        if target.endswith(".py"):
            imports.append("import importlib.util")
            path = os.path.abspath(target)
            return imports, [
                f"_spec = importlib.util.spec_from_file_location('user_model', {path!r})",
                "_module = importlib.util.module_from_spec(_spec)",
                "_spec.loader.exec_module(_module)",
                f"model = _module.{attr}()",
            ]
        return imports, [f"from {target} import {attr}", "", f"model = {attr}()"]
    path = os.path.abspath(loaded.source)
    if loaded.kind == "torchscript":
        return imports, [f"model = torch.jit.load({path!r}, map_location='cpu')"]
    if loaded.kind == "export":
        return imports, [f"model = torch.export.load({path!r}).module()"]
    # A pickled module: the full unpickler runs code from the file.
    return imports, [
        "# weights_only=False runs code from the file: only for a file you trust.",
        f"model = torch.load({path!r}, map_location='cpu', weights_only=False)",
    ]


def _input_lines(session: Session) -> list[str]:
    """Lines that make ``args``, the sample input, the way :func:`inspector.core.inputs.make_inputs` does."""
    spec = session.input_spec
    if spec is None:
        return ["args = ()  # no sample input was set in the inspector: give your own"]
    shape = ", ".join(str(s) for s in spec.shape)
    lines = [f"generator = torch.Generator().manual_seed({spec.seed})"]
    fill = spec.fill
    if fill.startswith("image:"):
        lines.append(f"# The inspector read the image {fill[len('image:'):]!r}; random values stand in for it here.")
        fill = "randn"
    floating = spec.dtype in ("float32", "float64", "float16", "bfloat16")
    if fill in ("zeros", "ones"):
        draw = f"torch.{fill}({shape})"
    elif not floating:
        draw = f"torch.randint(0, {2 if fill == 'rand' else 10}, ({shape},), generator=generator)"
    else:
        # Drawn in float32 and then converted, as the inspector does, so the values agree.
        draw = f"torch.{fill}({shape}, generator=generator)"
    if spec.dtype != "float32" or (not floating and fill in ("zeros", "ones")):
        draw += f".to(torch.{spec.dtype})"
    if spec.layout == "pair":
        lines.append(f"args = tuple({draw} for _ in range(2))  # two images, as optical-flow models take")
    elif spec.layout == "images":
        lines.append(f"batch = {draw}")
        batch = "batch" if len(spec.shape) == 4 else "batch.unsqueeze(0)"
        lines.append(f"args = (list({batch}.unbind(0)),)  # a list of images, as detection models take")
    else:
        lines += [f"x = {draw}", "args = (x,)"]
    return lines


def rebuild_snippet(session: Session, state_file: str | None = STATE_FILE) -> str:
    """Python source that rebuilds the session's edited model from its source.

    Run on its own it loads ``state_file`` when the file sits beside it,
    runs the sample input (same shape, dtype, fill and seed) and prints the
    output shapes as JSON, e.g. ``[[1, 512]]``.
    """
    imports, build = _build_lines(session)
    edits = [_edit_line(path) for path in session.replaced]
    described = ", ".join(session.replaced) if session.replaced else "no layer"
    lines = [
        f'"""Rebuild {session.source} as edited in Model Inspector: {described} replaced with nn.Identity.',
        "",
        "Run it to print the output shapes of the sample input; import it to get `model`.",
        '"""',
        "",
        "import json",
        "import os",
        "",
        *imports,
        "",
        *build,
        *edits,
        "",
        "",
        "def output_shapes(value):",
        '    """The shapes of every tensor in a model output, depth first."""',
        "    if isinstance(value, torch.Tensor):",
        "        return [list(value.shape)]",
        "    if isinstance(value, dict):",
        "        value = list(value.values())",
        "    if isinstance(value, (list, tuple)):",
        "        return [shape for item in value for shape in output_shapes(item)]",
        "    return []",
        "",
        "",
        'if __name__ == "__main__":',
    ]
    if state_file is not None:
        lines += [
            f"    state_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), {state_file!r})",
            "    if os.path.exists(state_path):",
            "        model.load_state_dict(torch.load(state_path, map_location='cpu', weights_only=True))",
        ]
    lines.append("    model.train()" if session.mode == "train" else "    model.eval()")
    lines += ["    " + line for line in _input_lines(session)]
    lines += [
        "    with torch.no_grad():",
        "        output = model(*args)",
        "    print(json.dumps(output_shapes(output)))",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- statistics


def layers_csv(report: dict[str, Any]) -> str:
    """The report's layers as CSV: one row a layer, statistics flattened, shapes as ``1x64x56x56``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for layer in report["layers"]:
        stats = layer.get("stats") or {}
        shapes = ";".join("x".join(str(s) for s in shape) for shape in layer.get("output_shapes") or [])
        row = [layer["name"], layer["type"], layer["depth"], layer["params"], layer["replaced"], layer.get("calls"), shapes]
        row += [_cell(stats.get(key)) for key in CSV_COLUMNS[7:15]]
        row.append(_cell(layer.get("time_ms")))
        writer.writerow(row)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value


def plot_layer_stats(run: ProbeRun, path: str, title: str = "") -> bool:
    """Draw mean, mean ± std, min and max of each layer's first output, in execution order, as a PNG.

    Returns False (and writes nothing) when no layer has statistics.
    """
    from PIL import Image, ImageDraw

    rows = []
    for name in run.execution_order():
        first = run.records[name].first
        stats = first.stats if first is not None else None
        if stats is not None and stats.mean is not None and stats.std is not None:
            rows.append((stats.mean, stats.std, stats.min, stats.max))
    if not rows:
        return False
    width, height, left, right, top, bottom = 1200, 520, 70, 20, 40, 40
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    low = min(min(r[2] for r in rows), min(r[0] - r[1] for r in rows))
    high = max(max(r[3] for r in rows), max(r[0] + r[1] for r in rows))
    if high == low:
        high, low = high + 1.0, low - 1.0

    def point(index: int, value: float) -> tuple[float, float]:
        x = left + (width - left - right) * (index / max(1, len(rows) - 1))
        y = top + (height - top - bottom) * (1.0 - (value - low) / (high - low))
        return x, y

    draw.rectangle([left, top, width - right, height - bottom], outline="#888888")
    if low < 0.0 < high:
        draw.line([point(0, 0.0), point(len(rows) - 1, 0.0)], fill="#cccccc")
    series = [
        ([r[3] for r in rows], "#d62728", "max"),
        ([r[0] + r[1] for r in rows], "#9ecae1", "mean + std"),
        ([r[0] for r in rows], "#1f77b4", "mean"),
        ([r[0] - r[1] for r in rows], "#9ecae1", "mean - std"),
        ([r[2] for r in rows], "#2ca02c", "min"),
    ]
    for values, colour, _ in series:
        points = [point(i, v) for i, v in enumerate(values)]
        if len(points) == 1:
            points.append(points[0])
        draw.line(points, fill=colour, width=2)
    draw.text((left, 8), title or "layer output statistics, in the order the layers ran", fill="black")
    # The legend sits in the title row, right-aligned, clear of the lines.
    x = width - right
    for _, colour, label in reversed(series):
        x -= 8 + int(draw.textlength(label))
        draw.text((x, 24), label, fill=colour)
    draw.text((5, top), f"{high:.3g}", fill="black")
    draw.text((5, height - bottom - 10), f"{low:.3g}", fill="black")
    draw.text((left, height - bottom + 8), f"{len(rows)} layers with statistics", fill="black")
    folder = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(folder, f".inspector-{os.getpid()}-{PLOT_FILE}")
    image.save(temporary, format="PNG")
    os.replace(temporary, path)
    return True


# --------------------------------------------------------------------------- compiled forms


def _matches(expected: Any, actual: Any) -> str | None:
    """None when ``actual`` has the shapes and (within RTOL/ATOL) the values of ``expected``; else why not."""
    a, b = tensors_in(expected), tensors_in(actual)
    if [list(t.shape) for t in a] != [list(t.shape) for t in b]:
        return f"its output shapes {[list(t.shape) for t in b]} differ from the eager {[list(t.shape) for t in a]}"
    for x, y in zip(a, b):
        if not torch.allclose(x.float(), y.to(x.device).float(), rtol=RTOL, atol=ATOL, equal_nan=True):
            worst = (x.float() - y.to(x.device).float()).abs().max().item()
            return f"its output differs from the eager output (max abs difference {worst:.3g})"
    return None


def _compiled_forms(
    session: Session, folder: str, torchscript: bool, exported_program: bool, result: ExportResult
) -> None:
    model = session.model
    args = session.make_inputs()
    flags = [(m, m.training) for m in model.modules()]
    try:
        model.train(session.mode == "train")
        with torch.no_grad():
            eager = model(*args)
            if torchscript:
                _write_torchscript(model, args, eager, os.path.join(folder, TORCHSCRIPT_FILE), result)
            if exported_program:
                _write_exported(model, args, eager, os.path.join(folder, EXPORT_FILE), result)
    finally:
        for module, flag in flags:
            module.training = flag


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _write_torchscript(model: torch.nn.Module, args: tuple[Any, ...], eager: Any, path: str, result: ExportResult) -> None:
    try:
        with warnings.catch_warnings():
            # TorchScript is deprecated in recent torch; the person asked for it all the same.
            warnings.simplefilter("ignore", FutureWarning)
            # Tracer warnings say the trace may not generalise; it is checked against eager below.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(model, args, check_trace=False, strict=False)
        mismatch = _matches(eager, traced(*args))
    except Exception as error:  # noqa: BLE001 - tracing a user's model can raise anything
        result.notes.append(f"TorchScript not written: tracing raised {type(error).__name__}: {_first_line(error)}")
        return
    if mismatch is not None:
        result.notes.append(f"TorchScript not written: {mismatch}")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(traced, path)
    result.files.append(path)


def _write_exported(model: torch.nn.Module, args: tuple[Any, ...], eager: Any, path: str, result: ExportResult) -> None:
    try:
        program = torch.export.export(model, args)
        mismatch = _matches(eager, program.module()(*args))
    except Exception as error:  # noqa: BLE001 - torch.export can raise anything on a user's model
        result.notes.append(f"torch.export program not written: {type(error).__name__}: {_first_line(error)}")
        return
    if mismatch is not None:
        result.notes.append(f"torch.export program not written: {mismatch}")
        return
    torch.export.save(program, path)
    result.files.append(path)


# --------------------------------------------------------------------------- everything


def export_session(
    session: Session,
    folder: str,
    *,
    run: ProbeRun | None = None,
    report: dict[str, Any] | None = None,
    torchscript: bool = False,
    exported_program: bool = False,
) -> ExportResult:
    """Write the edited model, its rebuild script, the statistics and the plot into ``folder``.

    ``run`` defaults to the session's last run (no report, CSV or plot
    without one); ``report`` to the report built from ``run`` (pass the
    command line's, with its ``compare`` object, to write that one).
    ``folder`` is created when missing. Each file is written through a
    temporary file and a rename.
    """
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise ExportError(f"cannot create the export folder {folder}: {error.strerror or error}") from None
    if not os.access(folder, os.W_OK):
        raise ExportError(f"cannot write into the export folder {folder}")
    result = ExportResult(folder)
    model = session.model
    state_written = False
    if session.on_meta:
        result.notes.append("weights not written: the model is on the meta device (built without weights)")
    else:
        state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
        path = os.path.join(folder, STATE_FILE)
        temporary = os.path.join(folder, f".inspector-{os.getpid()}-{STATE_FILE}")
        torch.save(state, temporary)
        os.replace(temporary, path)
        result.files.append(path)
        state_written = True
    path = os.path.join(folder, SNIPPET_FILE)
    write_atomic(path, rebuild_snippet(session, STATE_FILE if state_written else None))
    result.files.append(path)
    run = run if run is not None else session.last_run
    if report is None and run is not None:
        report = build_report(session, run)
    if report is not None:
        path = os.path.join(folder, REPORT_FILE)
        write_atomic(path, dumps(report))
        result.files.append(path)
        path = os.path.join(folder, CSV_FILE)
        write_atomic(path, layers_csv(report))
        result.files.append(path)
    if run is not None:
        path = os.path.join(folder, PLOT_FILE)
        edits = f" with {', '.join(session.replaced)} replaced by Identity" if session.replaced else ""
        if plot_layer_stats(run, path, title=f"{session.source}{edits}: layer output mean, ±std, min, max"):
            result.files.append(path)
        else:
            result.notes.append("plot not drawn: the run has no statistics (a meta-device or TorchScript run)")
    if run is not None and not session.read_only:
        from inspector.core.graph import capture_session
        from inspector.core.graph_layout import graph_file_text

        path = os.path.join(folder, GRAPH_FILE)
        write_atomic(path, graph_file_text(capture_session(session, meta=run.device == "meta"), path))
        result.files.append(path)
    if (torchscript or exported_program) and not session.on_meta:
        _compiled_forms(session, folder, torchscript, exported_program, result)
    return result
