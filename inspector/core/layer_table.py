"""The per-layer CSV: one writer for the window's statistics export and the export's ``layers.csv``.

Both write :data:`CSV_COLUMNS` from layer records in the report's form
(:func:`inspector.core.report.build_report`'s ``layers``: name, type, depth,
params, replaced, calls, output_shapes, stats, time_ms). The export writes
every module of the report, in model order; the window writes the modules
of the shown run, in execution order (:func:`run_layers`), from the run and
its plain tree, never touching the live model. Cells: shapes as JSON
(``[[1, 64, 56, 56]]``), numbers at full precision, an empty cell for a value
that does not exist (no statistics on the meta device, NaN or infinite).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspector.core.probe import ProbeRun
    from inspector.core.tree import ModuleNode

CSV_COLUMNS = (
    "name", "type", "depth", "params", "replaced", "calls", "output_shapes",
    "numel", "mean", "std", "min", "max", "zero_fraction", "nan_count", "inf_count", "time_ms",
)
"""The header, in column order (documented in docs/cli.md, "Export")."""
STAT_COLUMNS = ("mean", "std", "min", "max", "zero_fraction", "nan_count", "inf_count")


def layers_csv(layers: Iterable[Mapping[str, Any]]) -> str:
    """The CSV text of ``layers`` (report-form layer records), one row each, in the order given."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for layer in layers:
        stats = layer.get("stats") or {}
        shapes = layer.get("output_shapes") or []
        numel = stats.get("numel")
        if numel is None and shapes:  # a meta run has shapes but no statistics
            numel = sum(math.prod(shape) for shape in shapes)
        writer.writerow(
            [layer["name"], layer["type"], layer["depth"], _cell(layer.get("params")), _cell(layer.get("replaced")),
             _cell(layer.get("calls")), json.dumps(shapes), _cell(numel)]
            + [_cell(stats.get(key)) for key in STAT_COLUMNS]
            + [_cell(layer.get("time_ms"))]
        )
    return buffer.getvalue()


def run_layers(run: ProbeRun, tree: ModuleNode | None = None) -> list[dict[str, Any]]:
    """Report-form records of the modules that ran in ``run``, in execution order.

    ``tree`` (the plain tree of the model the run was made on) gives each
    module's parameters and whether it is replaced; without it those cells are empty.
    """
    nodes = {node.qualified_name: node for node in tree.walk()} if tree is not None else {}
    layers = []
    for name in run.execution_order():
        record = run.records[name]
        first = record.calls[0]
        node = nodes.get(name)
        layers.append({
            "name": name,
            "type": record.type_name,
            "depth": name.count(".") + 1,
            "params": node.total_params if node is not None else None,
            "replaced": node.replaced if node is not None else None,
            "calls": len(record.calls),
            "output_shapes": first.output_shapes,
            "stats": first.stats.as_dict() if first.stats is not None else None,
            "time_ms": first.time_ms if run.timed else None,
        })
    return layers


def _cell(value: Any) -> str:
    """A CSV cell: empty for a value that does not exist, full precision otherwise."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) or math.isinf(value) else repr(value)
    return str(value)
