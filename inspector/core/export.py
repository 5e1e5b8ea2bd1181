"""Export what was found: the edited model, a script that rebuilds it, the statistics and a plot.

:func:`export_session` writes into one folder:

- ``model_state_dict.pt``: the edited model's ``state_dict`` (tensors only,
  loadable with ``torch.load(..., weights_only=True)``); the keys of the
  modules that were replaced with Identity are not in it;
- ``rebuild_model.py``: Python that rebuilds the edited model from its
  source (``torchvision.models.get_model(ARCH, weights=None)``, then
  ``model.set_submodule(path, nn.Identity())`` for every path in the list
  ``REPLACED``), loads the weights above when they sit beside it, and, run
  on its own, prints the output shapes of the sample input as JSON; every
  name in it is data, never code (see :mod:`inspector.core.rebuild_script`);
- ``report.json`` and ``layers.csv``: the report of the last run and its
  per-layer statistics;
- ``layer_stats.png``: mean, mean ± std, min and max of every layer's output
  in the order the layers ran (drawn with Pillow: the core has no Qt);
- ``graph.svg``: the dataflow graph (:mod:`inspector.core.graph`), drawn;
- on request ``model.ts`` (TorchScript, traced) and ``model.pt2``
  (``torch.export``), each written only after its output on the sample input
  matched the eager model's.

A folder that already holds any of these names (an earlier export, or a
user's own ``report.json``) is refused unless ``force``; then the whole set
is replaced and files of the earlier export this one does not write are
removed. The files the model was read from are never written over, not even
with ``force``. Every file is written by :mod:`inspector.core.output`'s
rules (symlinks followed, the umask's mode).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from inspector.core.common import first_line, preserved_state, tensors_in
from inspector.core.inputs import parse_dtype
from inspector.core.layer_table import layers_csv
from inspector.core.output import OutputError, identity, open_output, probe_folder, protected_identities, write_text
from inspector.core.precision import model_dtype
from inspector.core.probe import ProbeRun
from inspector.core.rebuild_script import STATE_FILE, rebuild_snippet
from inspector.core.report import build_report, dumps
from inspector.core.session import Session

SNIPPET_FILE = "rebuild_model.py"
REPORT_FILE = "report.json"
CSV_FILE = "layers.csv"
PLOT_FILE = "layer_stats.png"
GRAPH_FILE = "graph.svg"
TORCHSCRIPT_FILE = "model.ts"
EXPORT_FILE = "model.pt2"
EXPORT_FILES = (STATE_FILE, SNIPPET_FILE, REPORT_FILE, CSV_FILE, PLOT_FILE, GRAPH_FILE, TORCHSCRIPT_FILE, EXPORT_FILE)
"""Every name an export writes: a folder holding any of them is only written into with ``force``."""
RTOL = 1e-4
ATOL = 1e-5
"""How close a TorchScript or torch.export output must be to the eager output to be written."""


class ExportError(OutputError):
    """The export folder cannot be written, or holds files that must not be replaced."""


@dataclass
class ExportResult:
    """What :func:`export_session` wrote, and what it left out and why."""

    folder: str
    files: list[str] = field(default_factory=list)
    """Paths written, in the order written."""
    notes: list[str] = field(default_factory=list)
    """One line per thing not written (a TorchScript trace that failed, a meta model's weights)."""


# --------------------------------------------------------------------------- statistics


def plot_layer_stats(run: ProbeRun, path: str, title: str = "", protected: Iterable[str] = ()) -> bool:
    """Draw mean, mean ± std, min and max of each layer's first output, in execution order, as a PNG.

    Returns False (and writes nothing) when no layer has statistics.
    """
    from PIL import Image, ImageDraw

    rows = []
    for name in run.execution_order():
        first = run.records[name].first
        stats = first.stats if first is not None else None
        if stats is not None and stats.mean is not None and stats.std is not None and stats.min is not None and stats.max is not None:
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
    series: list[tuple[list[float], str, str]] = [
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
    with open_output(path, binary=True, protected=protected) as stream:
        image.save(stream, format="PNG")
    return True


# --------------------------------------------------------------------------- compiled forms


def _matches(expected: Any, actual: Any) -> str | None:
    """None when ``actual`` has the shapes and (within RTOL/ATOL) the values of ``expected``; else why not."""
    a, b = tensors_in(expected), tensors_in(actual)
    if [list(t.shape) for t in a] != [list(t.shape) for t in b]:
        return f"its output shapes {[list(t.shape) for t in b]} differ from the eager {[list(t.shape) for t in a]}"
    for x, y in zip(a, b, strict=True):
        if not torch.allclose(x.float(), y.to(x.device).float(), rtol=RTOL, atol=ATOL, equal_nan=True):
            worst = (x.float() - y.to(x.device).float()).abs().max().item()
            return f"its output differs from the eager output (max abs difference {worst:.3g})"
    return None


def _compiled_forms(
    session: Session, folder: str, torchscript: bool, exported_program: bool, result: ExportResult,
    protected: list[str],
) -> None:
    model = session.model
    args = session.make_inputs()
    dtype = parse_dtype(session.dtype) if session.dtype is not None else None
    if dtype is not None and dtype.is_floating_point:
        result.notes.append(
            f"TorchScript and torch.export programs hold the weights in {session.dtype}, as the model ran (--dtype)"
        )
    # A train-mode forward (and tracing it) moves BatchNorm's running statistics: put them back too.
    with preserved_state(model, buffers=session.mode == "train"):
        model.train(session.mode == "train")
        with torch.no_grad(), model_dtype(model, dtype):
            eager = model(*args)
            if torchscript:
                _write_torchscript(model, args, eager, os.path.join(folder, TORCHSCRIPT_FILE), result, protected)
            if exported_program:
                _write_exported(model, args, eager, os.path.join(folder, EXPORT_FILE), result, protected)


def _write_torchscript(
    model: torch.nn.Module, args: tuple[Any, ...], eager: Any, path: str, result: ExportResult, protected: list[str]
) -> None:
    try:
        with warnings.catch_warnings():
            # TorchScript is deprecated in recent torch; the person asked for it all the same.
            warnings.simplefilter("ignore", FutureWarning)
            # Tracer warnings say the trace may not generalise; it is checked against eager below.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(model, args, check_trace=False, strict=False)
        mismatch = _matches(eager, traced(*args))
    except Exception as error:  # noqa: BLE001 - tracing a user's model can raise anything
        result.notes.append(f"TorchScript not written: tracing raised {type(error).__name__}: {first_line(error)}")
        return
    if mismatch is not None:
        result.notes.append(f"TorchScript not written: {mismatch}")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with open_output(path, binary=True, protected=protected) as stream:
            torch.jit.save(traced, stream)
    result.files.append(path)


def _write_exported(
    model: torch.nn.Module, args: tuple[Any, ...], eager: Any, path: str, result: ExportResult, protected: list[str]
) -> None:
    try:
        program = torch.export.export(model, args)
        mismatch = _matches(eager, program.module()(*args))
    except Exception as error:  # noqa: BLE001 - torch.export can raise anything on a user's model
        result.notes.append(f"torch.export program not written: {type(error).__name__}: {first_line(error)}")
        return
    if mismatch is not None:
        result.notes.append(f"torch.export program not written: {mismatch}")
        return
    with open_output(path, binary=True, protected=protected) as stream:
        torch.export.save(program, stream)
    result.files.append(path)


# --------------------------------------------------------------------------- everything


def source_files(session: Session) -> list[str]:
    """The files the session's model and input were read from, which an export never writes over.

    The model file, the ``.py`` of a ``file.py:fn`` callable, a folder the
    model was read from (its files), and an image the input was filled from.
    """
    source = session.loaded.source
    candidates = [source, source.rsplit(":", 1)[0], source.split(":", 1)[-1]]
    spec = session.input_spec
    if spec is not None and spec.fill.startswith("image:"):
        candidates.append(spec.fill[len("image:"):])
    return [path for path in dict.fromkeys(candidates) if path and os.path.exists(path)]


def check_export_folder(folder: str, *, force: bool = False, protected: Iterable[str] = ()) -> None:
    """Raise :class:`ExportError` now, before any work, when :func:`export_session` into ``folder`` would fail
    or replace what it must not: a file in the way of the folder, a folder nothing can be written in, an
    earlier export or a user's own file of an export's name (unless ``force``), a file the model was read from.

    Makes nothing.
    """
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise ExportError(f"cannot create the export folder {folder}: it is a file")
    nearest = os.path.abspath(folder)
    while not os.path.lexists(nearest):
        nearest = os.path.dirname(nearest)
    if not os.path.isdir(nearest):
        raise ExportError(f"cannot create the export folder {folder}: {nearest} is a file")
    try:
        probe_folder(nearest)
    except OSError as error:
        raise ExportError(f"cannot create the export folder {folder}: {nearest}: {error.strerror or error}") from None
    if nearest != os.path.abspath(folder):
        return
    present = [name for name in EXPORT_FILES if os.path.lexists(os.path.join(folder, name))]
    inputs = protected_identities(protected)
    for name in present:
        path = os.path.join(folder, name)
        if identity(path) in inputs:
            raise ExportError(
                f"{path} is the model being inspected and is never overwritten, not even with --force: "
                "export into another folder"
            )
        if os.path.isdir(path):
            raise ExportError(f"cannot export into {folder}: {name} there is a folder")
    if present and not force:
        raise ExportError(
            f"the export folder {folder} already holds {', '.join(present)} (an earlier export, or files of yours): "
            "pass --force to replace the whole set, or export into another folder"
        )


def export_session(
    session: Session,
    folder: str,
    *,
    run: ProbeRun | None = None,
    report: dict[str, Any] | None = None,
    torchscript: bool = False,
    exported_program: bool = False,
    force: bool = False,
    protected: Iterable[str] = (),
) -> ExportResult:
    """Write the edited model, its rebuild script, the statistics and the plot into ``folder``.

    ``run`` defaults to the session's last run (no report, CSV or plot
    without one); ``report`` to the report built from ``run`` (pass the
    command line's, with its ``compare`` object, to write that one).
    ``folder`` is created when missing. A folder holding files of an
    export's names is refused unless ``force`` (then the whole set is
    replaced); the model's own files (:func:`source_files`, and
    ``protected``) are never written over. Each regular file is written
    through a temporary file and a rename.
    """
    protected = [*protected, *source_files(session)]
    check_export_folder(folder, force=force, protected=protected)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise ExportError(f"cannot create the export folder {folder}: {error.strerror or error}") from None
    earlier = [name for name in EXPORT_FILES if os.path.lexists(os.path.join(folder, name))]
    result = ExportResult(folder)
    model = session.model
    state_written = False
    if session.on_meta:
        result.notes.append("weights not written: the model is on the meta device (built without weights)")
    else:
        state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
        path = os.path.join(folder, STATE_FILE)
        with open_output(path, binary=True, protected=protected) as stream:
            torch.save(state, stream)
        result.files.append(path)
        state_written = True
    path = os.path.join(folder, SNIPPET_FILE)
    write_text(path, rebuild_snippet(session, STATE_FILE if state_written else None), protected=protected)
    result.files.append(path)
    run = run if run is not None else session.last_run
    if report is None and run is not None:
        report = build_report(session, run)
    if report is not None:
        path = os.path.join(folder, REPORT_FILE)
        write_text(path, dumps(report), protected=protected)
        result.files.append(path)
        path = os.path.join(folder, CSV_FILE)
        write_text(path, layers_csv(report["layers"]), protected=protected)
        result.files.append(path)
    if run is not None:
        path = os.path.join(folder, PLOT_FILE)
        edits = f" with {', '.join(session.replaced)} replaced by Identity" if session.replaced else ""
        title = f"{session.source}{edits}: layer output mean, ±std, min, max"
        if plot_layer_stats(run, path, title=title, protected=protected):
            result.files.append(path)
        else:
            result.notes.append("plot not drawn: the run has no statistics (a meta-device or TorchScript run)")
    if run is not None and not session.read_only:
        from inspector.core.graph import capture_session
        from inspector.core.graph_layout import graph_file_text

        path = os.path.join(folder, GRAPH_FILE)
        write_text(path, graph_file_text(capture_session(session, meta=run.device == "meta"), path), protected=protected)
        result.files.append(path)
    if (torchscript or exported_program) and not session.on_meta:
        _compiled_forms(session, folder, torchscript, exported_program, result, protected)
    # The set is replaced as a whole: what the earlier export wrote and this one did not
    # (its weights, its plot) would describe another model.
    written = {os.path.basename(path) for path in result.files}
    for name in earlier:
        if name not in written:
            os.unlink(os.path.join(folder, name))
            result.notes.append(f"removed {name} of the earlier export (this export has none)")
    return result
