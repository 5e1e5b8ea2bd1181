"""The JSON report of a probed run (schema ``model-inspector/report@1``).

See ``docs/cli.md``: every module of ``named_modules()`` except the root, in
that order and after the edits; first-call shapes and statistics; NaN and
infinity never appear in the JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

from inspector.core.output import write_text
from inspector.core.probe import ProbeRun
from inspector.core.session import Session
from inspector.core.tree import count_params, type_name

SCHEMA = "model-inspector/report@1"


def build_report(session: Session, run: ProbeRun) -> dict[str, Any]:
    """The report of ``run``, made on the session's model as it is now."""
    section = input_section(session)
    replaced = set(session.replaced)
    # A TorchScript model has records where its graph could give them (see core/sources/torchscript.py).
    scripted = session.read_only and not any(r.calls for name, r in run.records.items() if name)
    dispatch = session.dispatch
    layers = []
    # The tree counts every subtree's parameters in one pass, as the GUI shows them;
    # count_params per layer walked each subtree again (cubic in a model nested 1,000 deep).
    totals = {node.qualified_name: node.total_params for node in session.tree().walk()}
    for name, module in session.model.named_modules():
        if not name:
            continue
        record = run.records.get(name)
        first = record.first if record is not None else None
        layer: dict[str, Any] = {
            "name": name,
            "type": type_name(module),
            "depth": name.count(".") + 1,
            "params": totals[name] if name in totals else count_params(module),
            "replaced": name in replaced,
        }
        if scripted:
            layer.update({"calls": None, "output_shapes": [], "stats": None, "time_ms": None})
        else:
            layer.update(
                {
                    "calls": len(record.calls) if record is not None else 0,
                    "output_shapes": first.output_shapes if first is not None else [],
                    "stats": first.stats.as_dict() if first is not None and first.stats is not None else None,
                    "time_ms": first.time_ms if first is not None and run.timed else None,
                }
            )
        if record is not None and record.created_in_forward:
            layer["created_in_forward"] = True
        if dispatch is not None:
            layer["placement"] = dispatch.placement_of(name)
        layers.append(layer)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "model": {
            "source": session.source,
            "class": session.class_name,
            "params": session.params,
            "trainable_params": session.trainable_params,
            "modules": session.module_count,
        },
        "device": run.device,
        "mode": run.mode,
        "input": section,
        "replaced": list(session.replaced),
        "ok": run.ok,
        "error": run.error.as_dict() if run.error is not None else None,
        "output": {"shapes": run.output_shapes},
        "layers": layers,
    }
    if run.created:
        report["created_in_forward"] = created_section(run)
    if dispatch is not None:
        # Only for --device auto: every other report keeps its keys as they were.
        report["dispatch"] = dispatch.summary()
    return report


def created_section(run: ProbeRun) -> list[dict[str, Any]]:
    """The report's ``created_in_forward``: modules called in the forward that are not in the tree (first calls)."""
    section = []
    for record in run.created:
        first = record.first
        section.append(
            {
                "name": record.name,
                "type": record.type_name,
                "calls": len(record.calls),
                "output_shapes": first.output_shapes if first is not None else [],
                "stats": first.stats.as_dict() if first is not None and first.stats is not None else None,
                "time_ms": first.time_ms if first is not None and run.timed else None,
            }
        )
    return section


def input_section(session: Session) -> dict[str, Any]:
    """The report's ``input``: the first tensor's ``shape``/``dtype``/``fill``/``seed`` as in the first round,
    and ``inputs``, every input with its name, shape, dtype, fill, value range and where it came from."""
    from inspector.core.inputs import positional_names

    inputs = session.require_inputs()
    if session.dtype is not None:
        # The run's dtype is what the floating inputs were made in.
        inputs = inputs.map_specs(lambda _, spec: spec.replace(dtype=session.dtype) if spec.floating else spec)
    first = inputs.first_spec()
    section: dict[str, Any] = first.as_dict() if first is not None else {"shape": None, "dtype": None, "fill": None}
    section["seed"] = inputs.seed
    entries = inputs.describe()
    names = positional_names(session.model)
    for entry in entries:
        position = entry.get("position")
        if position is not None and entry["name"] == str(position) and position < len(names):
            entry["name"] = names[position]
    section["inputs"] = entries
    section["source"] = entries[0]["source"] if entries else None
    section["model_dtype"] = session.dtype
    section["grad"] = session.grad
    return section


def clean_numbers(value: Any) -> Any:
    """The same structure with every NaN or infinity replaced by None."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: clean_numbers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_numbers(v) for v in value]
    return value


def dumps(report: dict[str, Any], indent: int | None = 2) -> str:
    """JSON text; ``allow_nan=False`` proves no NaN or infinity slipped through."""
    return json.dumps(clean_numbers(report), indent=indent, allow_nan=False)


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` as a shell redirection would, keeping a previous regular file whole on failure.

    See :mod:`inspector.core.output`: symlinks are followed, devices and
    FIFOs written through, regular files replaced by a rename, new files
    made with the user's umask.
    """
    write_text(path, text)
