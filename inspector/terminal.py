"""What the command line shows a person at a terminal: report and sweep tables, progress on standard error.

JSON is for programs; a person at a terminal gets a table, as torchinfo
prints one. Everything here reads the same dictionaries the JSON is made of
(``build_report`` and ``SweepResult.as_dict``), so the table and the JSON
can never disagree. rich draws the tables: it honours ``NO_COLOR`` and the
terminal's width.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

# rich is imported where a table or a spinner is drawn, not with this module:
# a report written as JSON (to a pipe or a file) does without it.

from inspector.core.formatting import format_count, format_number, shapes_text

ALL_MODULES_UP_TO = 200
"""Trees of at most this many modules are shown whole by default; larger ones to depth 2."""
DEFAULT_DEPTH = 2


def _shapes(shapes: list[list[int]] | None) -> str:
    return shapes_text(shapes)


def _number(value: float | None) -> str:
    return format_number(value, none="")


def _count(value: int | None) -> str:
    return format_count(value)


def report_depth(report: dict[str, Any], depth: int | None) -> int | None:
    """The depth the table goes to: ``depth`` when given, else all of a small tree, else 2."""
    if depth is not None:
        return depth
    return None if len(report["layers"]) <= ALL_MODULES_UP_TO else DEFAULT_DEPTH


def report_table(report: dict[str, Any], depth: int | None = None) -> Table:
    """The report's layers as a table: the tree indented by depth, shapes, parameters and statistics."""
    from rich.table import Table
    from rich.text import Text

    error = report.get("error") or {}
    failed = error.get("module")
    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column("Module", no_wrap=True, overflow="ellipsis", max_width=48)
    table.add_column("Type", no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("Output shape", overflow="fold")
    table.add_column("Params", justify="right")
    for name in ("Mean", "Std", "Min", "Max"):
        table.add_column(name, justify="right")
    table.add_column("Zero %", justify="right")
    table.add_column("", no_wrap=False)
    model = report["model"]
    # The report counts parameters as loaded; after edits that is not the model shown, so say nothing here.
    table.add_row(Text(model["class"], style="bold"), model["class"], _shapes(report["output"]["shapes"]),
                  "" if report["replaced"] else _count(model["params"]), "", "", "", "", "", "")
    for layer in report["layers"]:
        if depth is not None and layer["depth"] > depth:
            continue
        stats = layer["stats"] or {}
        leaf = layer["name"].rsplit(".", 1)[-1]
        notes = []
        style = ""
        kind = layer["type"]
        if layer["replaced"]:
            kind = f"{kind} (replaced)"
            style = "cyan"
        if layer.get("created_in_forward"):
            notes.append("created in forward")
        if layer["calls"] == 0:
            notes.append("not run")
            style = style or "dim"
        if stats.get("nan_count"):
            notes.append(f"NaN×{stats['nan_count']:,}")
            style = "yellow"
        if stats.get("inf_count"):
            notes.append(f"inf×{stats['inf_count']:,}")
            style = "yellow"
        if layer["name"] == failed:
            notes.append(f"raised {error.get('message', '')}")
            style = "bold red"
        zeros = stats.get("zero_fraction")
        table.add_row(
            Text("  " * layer["depth"] + leaf),
            kind,
            _shapes(layer["output_shapes"]) if layer["calls"] else "",
            _count(layer["params"]),
            _number(stats.get("mean")),
            _number(stats.get("std")),
            _number(stats.get("min")),
            _number(stats.get("max")),
            "" if zeros is None else f"{100 * zeros:.1f}",
            "; ".join(notes),
            style=style or None,
        )
    return table


def _console(file: TextIO) -> Console:
    """A console that prints names and messages as they are: ``[red]`` is no markup and ``:llama:`` no emoji."""
    from rich.console import Console

    return Console(file=file, highlight=False, markup=False, emoji=False)


def compare_line(compare: dict[str, Any]) -> str:
    """How far the edit moved the output from the unedited model's, and how much of that is noise."""
    distance = compare.get("output_relative_l2")
    if distance is None:
        return "against the unedited model: no distance (the edited model failed or its output shapes differ)"
    line = (f"against the unedited model: the output moved by {distance:.4g} relative L2 "
            f"(cosine {_number(compare.get('output_cosine'))})")
    floor = compare.get("noise_floor_relative_l2")
    if compare.get("baseline_reproducible") is False and floor is not None:
        line += f"; the unedited model itself varies by {floor:.3g} between runs"
    return line


def report_summary(report: dict[str, Any], seconds: float | None = None) -> str:
    """One line under the table: outcome, output shape, parameters, modules, input, time."""
    model = report["model"]
    inputs = report["input"]
    took = f" in {seconds:.2f} s" if seconds is not None else ""
    head = (f"output {_shapes(report['output']['shapes'])}" if report["ok"]
            else f"FAILED in {report['error'].get('module') or 'the model'}")
    loaded = " as loaded" if report["replaced"] else ""
    return (f"{model['source']}: {head} · {model['params']:,} parameters{loaded} · {model['modules']:,} modules · "
            f"input {_shapes([inputs['shape']])} {inputs['dtype']} on {report['device']} ({report['mode']}){took}")


def print_report(report: dict[str, Any], *, depth: int | None = None, seconds: float | None = None,
                 file: TextIO | None = None) -> None:
    """Print the report as a table with its summary line (and a note when the tree was cut)."""
    from rich.text import Text

    console = _console(file or sys.stdout)
    shown_depth = report_depth(report, depth)
    console.print(report_table(report, shown_depth))
    if report["replaced"]:
        console.print(f"replaced with Identity: {', '.join(report['replaced'])}")
    error = report.get("error")
    if error:
        shapes = error.get("input_shapes")
        console.print(Text(f"{error.get('module') or 'the model'} ({error.get('type', '')}) raised: "
                           f"{error.get('message', '')}" + (f"; input {_shapes(shapes)}" if shapes else ""), style="red"))
    if report.get("compare") is not None:
        console.print(compare_line(report["compare"]))
    if depth is None and shown_depth is not None:
        console.print(f"({len(report['layers']):,} modules: shown to depth {shown_depth}; --depth N shows more, "
                      "--format json all of it)", style="dim")
    console.print(report_summary(report, seconds))


def print_sweep(result: dict[str, Any], *, file: TextIO | None = None) -> None:
    """Print a sweep: one row per module replaced alone, how far the output moved or where it failed."""
    from rich.table import Table

    console = _console(file or sys.stdout)
    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column("Module replaced", no_wrap=True, overflow="ellipsis", max_width=48)
    table.add_column("Type", no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("Runs")
    table.add_column("Output shape")
    table.add_column("Relative L2", justify="right")
    table.add_column("Cosine", justify="right")
    table.add_column("Fails in")
    for entry in result["entries"]:
        error = entry["error"] or {}
        table.add_row(entry["name"], entry["type"], "yes" if entry["ok"] else "no",
                      _shapes(entry["output_shapes"]), _number(entry["relative_l2"]), _number(entry["cosine"]),
                      f"{error.get('module') or ''}: {error.get('message', '')}" if error else "",
                      style=None if entry["ok"] else "red")
    console.print(table)
    runs = sum(1 for entry in result["entries"] if entry["ok"])
    console.print(f"{result['model']}: {runs} of {len(result['entries'])} modules can be replaced and the model "
                  f"still runs · baseline output {_shapes(result['baseline']['output_shapes'])}")


@contextmanager
def progress(enabled: bool, description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on standard error, fed by ``on_progress(done, total)``; a no-op when not enabled.

    Only a terminal's standard error shows it (the caller decides), so a pipe
    or a log file never receives a byte of it, and standard output never does.
    """
    if not enabled:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=_console(sys.stderr), transient=True)
    task = bar.add_task(description, total=None)
    with bar:
        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextmanager
def status(enabled: bool, message: str) -> Iterator[None]:
    """A spinner with ``message`` on standard error while something of unknown length runs (loading)."""
    if not enabled:
        yield
        return
    with _console(sys.stderr).status(message):
        yield
