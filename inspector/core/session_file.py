"""Session files (``.inspector.json``): a session saved as plain JSON, never a pickle.

A session file holds what is needed to come back to the same place: where
the model comes from, the edits in the order they were made, the input
spec, the device and mode, and the last run's per-module records
(shapes, statistics, histograms, times). Opening one loads the model again
from its source, re-applies the edits, and puts the saved run back as the
session's last run, so the tree, the edits and the plots are as they were
without running anything. Torchvision models with random weights are
rebuilt from the same seed, so a new run gives the same numbers too.

What cannot be restored (an edit whose path no longer exists, a device
this machine lacks, a missing input image) is reported, one line each, and
the rest opens; a model that cannot be found at all is an error.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from inspector.core.devices import resolve_device
from inspector.core.errors import InspectorError, TrustRequired
from inspector.core.input_files import inputs_from_json, inputs_to_json
from inspector.core.inputs import InputSpec, check_fill, parse_dtype
from inspector.core.probe import CallRecord, ModuleRecord, ProbeError, ProbeRun
from inspector.core.report import dumps, write_atomic
from inspector.core.session import Session
from inspector.core.stats import Histogram, LayerStats

SCHEMA = "model-inspector/session@1"
SUFFIX = ".inspector.json"
FILE_KINDS = ("state_dict", "torchscript", "pickle", "export")


class SessionFileError(InspectorError):
    """A session file that cannot be read at all (not JSON, not a session file)."""


# --------------------------------------------------------------------------- saving


def _source_for_file(session: Session) -> str:
    """The model source with any file path made absolute, so the session opens from any folder."""
    loaded = session.loaded
    if loaded.kind in FILE_KINDS:
        return os.path.abspath(loaded.source)
    if loaded.kind == "callable":
        target, _, attr = loaded.source.rpartition(":")
        if target.endswith(".py"):
            return f"{os.path.abspath(target)}:{attr}"
    return loaded.source


def _fill_for_file(fill: str) -> str:
    """An image fill with its path made absolute; other fills as they are."""
    if fill.startswith("image:"):
        return "image:" + os.path.abspath(fill[len("image:"):])
    return fill


def _inputs_for_file(session: Session) -> dict[str, Any] | None:
    inputs = session.inputs
    if inputs is None or (len(inputs.args) == 1 and not inputs.kwargs and isinstance(inputs.args[0], InputSpec)):
        return None
    return inputs_to_json(inputs, fill_path=_fill_for_file)


def _histogram_dict(histogram: Histogram | None) -> dict[str, Any] | None:
    if histogram is None:
        return None
    return {
        "counts": [int(c) for c in histogram.counts],
        "edges": [float(e) for e in histogram.edges],
        "sample_size": histogram.sample_size,
        "sampled": histogram.sampled,
    }


def run_to_dict(run: ProbeRun) -> dict[str, Any]:
    """A probed run as plain JSON-ready data (every call of every module)."""
    return {
        "device": run.device,
        "mode": run.mode,
        "output_shapes": run.output_shapes,
        "error": (
            {**run.error.as_dict(), "exception_type": run.error.exception_type} if run.error is not None else None
        ),
        "total_ms": run.total_ms,
        "timed": run.timed,
        "records": [
            {
                "name": record.name,
                "type": record.type_name,
                "calls": [
                    {
                        "index": call.index,
                        "input_shapes": call.input_shapes,
                        "output_shapes": call.output_shapes,
                        "stats": call.stats.as_dict() if call.stats is not None else None,
                        "histogram": _histogram_dict(call.histogram),
                        "time_ms": call.time_ms,
                    }
                    for call in record.calls
                ],
            }
            for record in run.records.values()
        ],
    }


def session_to_dict(session: Session) -> dict[str, Any]:
    """The session as the JSON object of a session file."""
    loaded = session.loaded
    spec = session.input_spec
    return {
        "schema": SCHEMA,
        "model": {
            "source": _source_for_file(session),
            "kind": loaded.kind,
            "arch": loaded.arch,
            "weights": loaded.weights,
            "meta": session.on_meta,
        },
        "edits": list(session.replaced),
        "input": None if spec is None else {**spec.as_dict(), "fill": _fill_for_file(spec.fill), "layout": spec.layout},
        # Every input (names, positions, nested parts) when there is more than the one tensor that
        # "input" above describes; "input" stays the first one, for older readers.
        "inputs": _inputs_for_file(session),
        "device": str(session.device),
        "mode": session.mode,
        "last_run": run_to_dict(session.last_run) if session.last_run is not None else None,
    }


def save_session(session: Session, path: str) -> None:
    """Write the session to ``path`` as JSON, atomically (a failed write leaves the old file whole)."""
    write_atomic(path, dumps(session_to_dict(session)))


# --------------------------------------------------------------------------- opening


def _histogram_from(data: dict[str, Any] | None) -> Histogram | None:
    if not data:
        return None
    return Histogram(
        counts=np.asarray(data["counts"], dtype=np.int64),
        edges=np.asarray(data["edges"], dtype=np.float64),
        sample_size=int(data["sample_size"]),
        sampled=bool(data["sampled"]),
    )


def run_from_dict(data: dict[str, Any]) -> ProbeRun:
    """A :class:`ProbeRun` from :func:`run_to_dict`'s data (without the model output, which is not saved)."""
    records: dict[str, ModuleRecord] = {}
    for item in data["records"]:
        record = ModuleRecord(item["name"], item["type"])
        for call in item["calls"]:
            stats = call.get("stats")
            record.calls.append(
                CallRecord(
                    index=int(call["index"]),
                    input_shapes=call["input_shapes"],
                    output_shapes=call["output_shapes"],
                    stats=LayerStats(**stats) if stats is not None else None,
                    histogram=_histogram_from(call.get("histogram")),
                    time_ms=call.get("time_ms"),
                )
            )
        records[record.name] = record
    error = data.get("error")
    return ProbeRun(
        records=records,
        output_shapes=data["output_shapes"],
        device=data["device"],
        mode=data["mode"],
        error=(
            ProbeError(
                error["module"], error["type"], error["message"], error.get("exception_type", "Exception"),
                error["input_shapes"],
            )
            if error
            else None
        ),
        total_ms=data.get("total_ms"),
        timed=bool(data.get("timed", True)),
    )


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except FileNotFoundError:
        raise SessionFileError(f"no such session file: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SessionFileError(f"cannot read {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise SessionFileError(f"{path} is not a session file (not JSON: {error.msg} at line {error.lineno})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise SessionFileError(f"{path} is not a session file (its schema is not {SCHEMA})")
    return data


def _open_model(model: dict[str, Any], path: str, trust: bool) -> Session:
    source = str(model.get("source") or "")
    options = {"arch": model.get("arch") if model.get("kind") == "state_dict" else None,
               "weights": model.get("weights"), "trust": trust, "meta": bool(model.get("meta"))}
    if model.get("kind") in FILE_KINDS and not os.path.exists(source):
        # A session folder moved together with its model file.
        beside = os.path.join(os.path.dirname(os.path.abspath(path)), os.path.basename(source))
        if os.path.exists(beside):
            source = beside
    try:
        return Session.open(source, **options)
    except TrustRequired:
        raise
    except InspectorError as error:
        raise SessionFileError(f"the model of {path} could not be opened: {error}") from None


def open_session(path: str, *, trust: bool = False) -> tuple[Session, list[str]]:
    """Open a session file: ``(session, problems)``.

    ``problems`` says, one line each, what could not be restored (an edit
    that no longer applies, a missing device or image); the rest opens. The
    saved run becomes the session's ``last_run`` (and ``baseline_run`` when
    it had no edits) only when every edit came back, so that its records
    match the model's modules. Raises :class:`SessionFileError` when
    ``path`` is not a session file or its model cannot be opened at all,
    and :class:`inspector.core.errors.TrustRequired` when the model is a
    pickled file and ``trust`` is False: a session file never grants trust,
    the caller asks the person and opens again with ``trust=True``.
    """
    data = _read(path)
    problems: list[str] = []
    session = _open_model(data.get("model") or {}, path, trust)
    edits_ok = True
    for edit in data.get("edits") or []:
        try:
            session.replace_with_identity(edit)
        except InspectorError as error:
            edits_ok = False
            problems.append(f"the edit {edit!r} no longer applies: {error}")
    if data.get("inputs") is not None:
        _restore_inputs(session, data["inputs"], problems)
    else:
        _restore_input(session, data.get("input"), problems)
    _restore_device(session, data.get("device"), problems)
    mode = data.get("mode")
    if mode in ("eval", "train"):
        session.mode = mode
    elif mode is not None:
        problems.append(f"unknown mode {mode!r}; using eval")
    saved = data.get("last_run")
    if saved is not None:
        _restore_run(session, saved, edits_ok, problems)
    return session, problems


def _restore_input(session: Session, saved: dict[str, Any] | None, problems: list[str]) -> None:
    if saved is None:
        return
    try:
        fill = str(saved.get("fill", "randn"))
        dtype = str(saved.get("dtype", "float32"))
        check_fill(fill)
        parse_dtype(dtype)
        shape = tuple(int(s) for s in saved["shape"])
        if not shape or any(s <= 0 for s in shape):
            raise ValueError(shape)
        layout = str(saved.get("layout", "tensor"))
        if layout not in ("tensor", "images", "pair"):
            raise ValueError(layout)
        session.set_input(InputSpec(shape, dtype, fill, int(saved.get("seed", 0)), layout))
    except (InspectorError, KeyError, TypeError, ValueError) as error:
        problems.append(f"the saved input could not be used ({error}); the model's natural input is set instead")
        return
    if fill.startswith("image:") and not os.path.exists(fill[len("image:"):]):
        problems.append(f"the input image {fill[len('image:'):]} is missing; a new run will fail until it is found")


def _restore_inputs(session: Session, saved: Any, problems: list[str]) -> None:
    """The list of inputs of a session file from the second round on."""
    try:
        inputs = inputs_from_json(saved)
    except InspectorError as error:
        problems.append(f"the saved inputs could not be used ({error}); the model's natural input is set instead")
        return
    session.set_input(inputs)
    for spec in inputs.specs():
        if spec.fill.startswith("image:") and not os.path.exists(spec.fill[len("image:"):]):
            problems.append(
                f"the input image {spec.fill[len('image:'):]} is missing; a new run will fail until it is found"
            )


def _restore_device(session: Session, device: str | None, problems: list[str]) -> None:
    if not device or device == "cpu" or session.on_meta:
        return
    try:
        resolve_device(device)
        session.move_to(device)
    except InspectorError:
        problems.append(f"the device {device} is not available here; the model stays on the CPU")


def _restore_run(session: Session, saved: dict[str, Any], edits_ok: bool, problems: list[str]) -> None:
    if not edits_ok:
        problems.append("the last run's statistics were not restored: the model differs from the saved one")
        return
    try:
        run = run_from_dict(saved)
    except (KeyError, TypeError, ValueError) as error:
        problems.append(f"the last run's statistics could not be read ({type(error).__name__}: {error})")
        return
    names = [name for name, _ in session.model.named_modules()]
    if list(run.records) != names:
        problems.append("the last run's statistics were not restored: the model's modules differ from the saved ones")
        return
    session.last_run = run
    if not session.replaced:
        session.baseline_run = run
