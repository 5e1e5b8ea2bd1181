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
                **({"created_in_forward": True} if record.created_in_forward else {}),
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
            # How an hf: model or architecture was built (--hf-class, --config), to build it again.
            "hf_class": loaded.build_options.get("hf_class"),
            "config": loaded.build_options.get("config"),
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

TRUST_KINDS = ("pickle", "export", "callable")
"""Kinds whose opening can run code: a session never grants trust for them, the person does."""


_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def _one_line(text: str) -> str:
    """``text`` with its line breaks shown as escapes: a name from the file must not split a message."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if ch in _LINE_BREAKS else ch for ch in text)


def _what(value: Any) -> str:
    """A JSON value's type as a person reads it, for the one-line errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _number(value: Any, name: str, *, optional: bool = False, integer: bool = False) -> Any:
    if value is None and optional:
        return None
    wanted = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted):
        raise ValueError(f"{name} is {_what(value)}, not a{'n integer' if integer else ' number'}")
    return value


def _string(value: Any, name: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} is {_what(value)}, not a string")
    return value


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{name} is {_what(value)}, not a list")
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{name} is {_what(value)}, not an object")
    return value


def _shapes(value: Any, name: str) -> list[list[int]]:
    return [
        [_number(size, name, integer=True) for size in _list(shape, name)] for shape in _list(value, name)
    ]


def _histogram_from(data: Any) -> Histogram | None:
    if not data:
        return None
    data = _object(data, "a histogram")
    counts = [_number(c, "a histogram count", integer=True) for c in _list(data.get("counts"), "histogram counts")]
    edges = [_number(e, "a histogram edge") for e in _list(data.get("edges"), "histogram edges")]
    if len(edges) != len(counts) + 1:
        raise ValueError(f"a histogram has {len(counts)} counts but {len(edges)} edges")
    sampled = data.get("sampled")
    if not isinstance(sampled, bool):
        raise ValueError(f"a histogram's sampled is {_what(sampled)}, not true/false")
    return Histogram(
        counts=np.asarray(counts, dtype=np.int64),
        edges=np.asarray(edges, dtype=np.float64),
        sample_size=_number(data.get("sample_size"), "a histogram's sample_size", integer=True),
        sampled=sampled,
    )


_STATS_FIELDS = {
    "numel": (True, False), "mean": (False, True), "std": (False, True), "min": (False, True),
    "max": (False, True), "zero_fraction": (False, False), "nan_count": (True, False), "inf_count": (True, False),
}
"""LayerStats' fields: (integer, may be null)."""


def _stats_from(data: Any) -> LayerStats | None:
    if data is None:
        return None
    data = _object(data, "a call's stats")
    if set(data) != set(_STATS_FIELDS):
        raise ValueError(f"a call's stats have the fields {sorted(data)}, not {sorted(_STATS_FIELDS)}")
    values = {
        key: _number(data[key], f"the stat {key}", optional=optional, integer=integer)
        for key, (integer, optional) in _STATS_FIELDS.items()
    }
    return LayerStats(**values)


def run_from_dict(data: Any) -> ProbeRun:
    """A :class:`ProbeRun` from :func:`run_to_dict`'s data (without the model output, which is not saved).

    Every field is checked for its type: data from a file that does not fit
    raises ``ValueError`` saying which field, never another exception.
    """
    data = _object(data, "the last run")
    records: dict[str, ModuleRecord] = {}
    for item in _list(data.get("records"), "the last run's records"):
        item = _object(item, "a record")
        record = ModuleRecord(_string(item.get("name"), "a record's name"), _string(item.get("type"), "a record's type"))
        created = item.get("created_in_forward", False)
        if not isinstance(created, bool):
            raise ValueError(f"a record's created_in_forward is {_what(created)}, not true/false")
        record.created_in_forward = created
        for call in _list(item.get("calls"), "a record's calls"):
            call = _object(call, "a call")
            record.calls.append(
                CallRecord(
                    index=_number(call.get("index"), "a call's index", integer=True),
                    input_shapes=_shapes(call.get("input_shapes"), "a call's input_shapes"),
                    output_shapes=_shapes(call.get("output_shapes"), "a call's output_shapes"),
                    stats=_stats_from(call.get("stats")),
                    histogram=_histogram_from(call.get("histogram")),
                    time_ms=_number(call.get("time_ms"), "a call's time_ms", optional=True),
                )
            )
        records[record.name] = record
    error = data.get("error")
    if error is not None:
        error = _object(error, "the last run's error")
        error = ProbeError(
            _string(error.get("module"), "the error's module", optional=True),
            _string(error.get("type"), "the error's type", optional=True),
            _string(error.get("message"), "the error's message"),
            _string(error.get("exception_type", "Exception"), "the error's exception_type"),
            _shapes(error.get("input_shapes", []), "the error's input_shapes"),
        )
    timed = data.get("timed", True)
    if not isinstance(timed, bool):
        raise ValueError(f"the last run's timed is {_what(timed)}, not true/false")
    return ProbeRun(
        records=records,
        output_shapes=_shapes(data.get("output_shapes"), "the last run's output_shapes"),
        device=_string(data.get("device"), "the last run's device"),
        mode=_string(data.get("mode"), "the last run's mode"),
        error=error,
        total_ms=_number(data.get("total_ms"), "the last run's total_ms", optional=True),
        timed=timed,
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
    except RecursionError:
        raise SessionFileError(f"{path} is not a session file (its JSON is nested too deeply)") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise SessionFileError(f"{path} is not a session file (its schema is not {SCHEMA})")
    return data


def _field(data: dict[str, Any], key: str, types: tuple[type, ...], what: str, path: str) -> Any:
    """``data[key]`` when it is null/missing or one of ``types``; else the one-line refusal."""
    value = data.get(key)
    if value is not None and (isinstance(value, bool) != (bool in types) or not isinstance(value, types)):
        raise SessionFileError(f"{path} is not a valid session file: {what} is {_what(value)}")
    return value


def _beside(source: str, path: str) -> str:
    """A relative path in a session file is relative to the session file's folder, never the current folder."""
    if os.path.isabs(source):
        return source
    return os.path.join(os.path.dirname(os.path.abspath(path)), source)


def _kind_mismatch(path: str, source: str, kind: str, why: str) -> SessionFileError:
    return SessionFileError(f"{path} is refused: its model's kind {kind!r} does not agree with its source {source!r} ({why})")


def _checked_source(model: dict[str, Any], path: str) -> tuple[str, str]:
    """``(source, kind)`` of the session's model, relative paths resolved beside the session, and checked
    to agree without reading or running anything: a file is never treated as code nor code as a name."""
    from inspector.core.loading import _is_export, _is_torchscript, _zip_names, classify_source

    source = _field(model, "source", (str,), "model.source", path)
    kind = _field(model, "kind", (str,), "model.kind", path)
    if not source or not source.strip():
        raise SessionFileError(f"{path} is not a valid session file: model.source is missing")
    if not kind:
        raise _kind_mismatch(path, source, "", "model.kind is missing")
    source = source.strip()
    if kind == "callable":
        target, _, attr = source.rpartition(":")
        if target.endswith(".py"):
            source = f"{_beside(target, path)}:{attr}"
        if classify_source(source) != "callable":
            raise _kind_mismatch(path, source, kind, "the source is not module:callable or file.py:callable")
        if target.endswith(".py") and not os.path.isfile(source.rpartition(":")[0]):
            missing = source.rpartition(":")[0]
            raise SessionFileError(_one_line(f"the model of {path} could not be opened: no such file: {missing}"))
        return source, kind
    if kind in FILE_KINDS:
        source = _beside(source, path)
        if not os.path.exists(source):
            # A session folder moved together with its model file.
            beside = os.path.join(os.path.dirname(os.path.abspath(path)), os.path.basename(source))
            if os.path.exists(beside):
                source = beside
        if classify_source(source) != "file":
            raise _kind_mismatch(path, source, kind, "the source is not a file")
        names = _zip_names(source) if os.path.isfile(source) else []
        actual = "torchscript" if _is_torchscript(names) else "export" if _is_export(source, names) else None
        if actual != kind and (actual is not None or kind in ("torchscript", "export")):
            raise _kind_mismatch(path, source, kind, f"the file is {'a ' + actual if actual else 'not one'}")
        return source, kind
    # Any other kind names a model by name (torchvision...): its source is neither a file nor code.
    form = classify_source(source)
    if form in ("file", "callable"):
        raise _kind_mismatch(path, source, kind, f"the source is a {form}")
    return source, kind


_LOADER_OPTIONS = frozenset({
    "trust_remote_code", "code_revision", "revision", "local_files_only", "force_download", "cache_dir",
    "proxies", "token", "use_auth_token", "subfolder", "return_unused_kwargs", "resume_download", "from_tf",
    "from_flax", "mirror", "user_agent",
})
"""Keyword arguments of transformers' loaders, not configuration fields: a session file may not set them
(``trust_remote_code`` would run a folder's own Python code; the others fetch or read other files)."""


def _hf_options(model: dict[str, Any], path: str) -> dict[str, Any]:
    """``hf_class`` and ``config`` of the session's model (``--hf-class``, ``--config``), checked.

    The class is a name transformers exports (the loader looks nothing else
    up); the configuration's keys are field names (values are any JSON, as
    ``--config`` reads them). Loader options (``trust_remote_code``, ...)
    and private fields are refused: --config typed at the command line is
    the person's consent, a session file is no one's.
    """
    options: dict[str, Any] = {}
    hf_class = _field(model, "hf_class", (str,), "model.hf_class", path)
    if hf_class is not None:
        if not hf_class.isidentifier():
            raise SessionFileError(_one_line(f"{path} is not a valid session file: model.hf_class {hf_class!r} is not a class name"))
        options["hf_class"] = hf_class
    config = _field(model, "config", (dict,), "model.config", path)
    if config:
        for key in config:
            if not key.isidentifier() or key.startswith("_") or key in _LOADER_OPTIONS:
                raise SessionFileError(
                    _one_line(f"{path} is refused: model.config may hold configuration fields only, not {key!r}")
                )
        options["config"] = dict(config)
    return options


def _open_model(model: Any, path: str, trust: bool) -> Session:
    if model is None:
        raise SessionFileError(f"{path} is not a valid session file: it has no model")
    if not isinstance(model, dict):
        raise SessionFileError(f"{path} is not a valid session file: model is {_what(model)}, not an object")
    source, kind = _checked_source(model, path)
    arch = _field(model, "arch", (str,), "model.arch", path)
    weights = _field(model, "weights", (str,), "model.weights", path)
    meta = _field(model, "meta", (bool,), "model.meta", path)
    hf_options = _hf_options(model, path)
    # Trust is passed on only for the kinds that need it, so a file whose
    # kind says "state_dict" is never fully unpickled, whatever the person said.
    needs_trust = kind in TRUST_KINDS
    if kind == "state_dict" and arch is not None:
        from inspector.core.loading import _callable_trust_message, classify_source

        if classify_source(arch) == "callable":
            # The architecture the weights go into is code (--arch file.py:fn): the
            # person typed it once, but a session file is no one's consent.
            target = arch.rpartition(":")[0]
            if target.endswith(".py"):
                arch = f"{_beside(target, path)}:{arch.rpartition(':')[2]}"
            if not trust:
                raise TrustRequired(f"{path} loads its weights into {_callable_trust_message(arch)}", [arch])
    options = {"arch": arch if kind == "state_dict" else None, "weights": weights,
               "trust": trust and needs_trust, "meta": bool(meta), "named": False}
    if kind in ("hf", "state_dict"):
        options.update(hf_options)
    try:
        session = Session.open(source, **options)
    except TrustRequired as error:
        if not needs_trust:
            raise _kind_mismatch(path, source, kind, "the file needs the full unpickler") from None
        raise TrustRequired(f"{path} opens a model that needs trust: {error}", error.wanted) from None
    except InspectorError as error:
        raise SessionFileError(_one_line(f"the model of {path} could not be opened: {error}")) from None
    if session.loaded.kind != kind:
        raise _kind_mismatch(path, source, kind, f"it opened as {session.loaded.kind!r}")
    return session


def open_session(path: str, *, trust: bool = False) -> tuple[Session, list[str]]:
    """Open a session file: ``(session, problems)``.

    ``problems`` says, one line each, what could not be restored (an edit
    that no longer applies, a missing device or image); the rest opens. The
    saved run becomes the session's ``last_run`` (and ``baseline_run`` when
    it had no edits) only when every edit came back, so that its records
    match the model's modules. Raises :class:`SessionFileError` when
    ``path`` is not a session file, a field has the wrong type, its model's
    ``kind`` does not agree with its ``source``, or its model cannot be
    opened at all; and :class:`inspector.core.errors.TrustRequired` when the
    model is code (a Python callable) or a file that needs the full
    unpickler and ``trust`` is False: a session file never grants trust, the
    caller asks the person and opens again with ``trust=True``. Relative
    paths in the file are relative to its folder.
    """
    data = _read(path)
    edits = _field(data, "edits", (list,), "edits", path) or []
    if not all(isinstance(edit, str) for edit in edits):
        raise SessionFileError(f"{path} is not a valid session file: edits must be a list of module names")
    problems: list[str] = []
    # What the model is, and its edits, decide what opens: of the wrong type, they refuse the file.
    # The rest only restores where the session was: what does not fit is left out, one line each.
    saved_input = data.get("input")
    device = data.get("device")
    if device is not None and not isinstance(device, str):
        problems.append(f"the saved device is {_what(device)}, not a device name; the model stays on the CPU")
        device = None
    mode = data.get("mode")
    saved = data.get("last_run")
    session = _open_model(data.get("model"), path, trust)
    edits_ok = True
    for edit in edits:
        try:
            session.replace_with_identity(edit)
        except InspectorError as error:
            edits_ok = False
            problems.append(f"the edit {edit!r} no longer applies: {error}")
    if data.get("inputs") is not None:
        _restore_inputs(session, data["inputs"], problems)
    else:
        _restore_input(session, saved_input, problems)
    _restore_device(session, device, problems)
    if isinstance(mode, str) and mode in ("eval", "train"):
        session.mode = mode
    elif mode is not None:
        problems.append(f"unknown mode {mode!r}; using eval")
    if saved is not None:
        _restore_run(session, saved, edits_ok, problems)
    return session, [_one_line(problem) for problem in problems]


def _restore_input(session: Session, saved: Any, problems: list[str]) -> None:
    if saved is None:
        return
    if not isinstance(saved, dict):
        problems.append(f"the saved input is {_what(saved)}, not an object; the model's natural input is set instead")
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
    except (InspectorError, AttributeError, KeyError, TypeError, ValueError, OverflowError) as error:
        problems.append(f"the saved input could not be used ({error}); the model's natural input is set instead")
        return
    if fill.startswith("image:") and not os.path.exists(fill[len("image:"):]):
        problems.append(f"the input image {fill[len('image:'):]!r} is missing; a new run will fail until it is found")


def _restore_inputs(session: Session, saved: Any, problems: list[str]) -> None:
    """The list of inputs of a session file from the second round on."""
    try:
        inputs = inputs_from_json(saved)
    except (InspectorError, AttributeError, KeyError, TypeError, ValueError, OverflowError) as error:
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
        problems.append(f"the device {device!r} is not available here; the model stays on the CPU")


def _restore_run(session: Session, saved: Any, edits_ok: bool, problems: list[str]) -> None:
    if not edits_ok:
        problems.append("the last run's statistics were not restored: the model differs from the saved one")
        return
    try:
        run = run_from_dict(saved)
    except ValueError as error:
        problems.append(f"the last run's statistics could not be read ({error})")
        return
    names = [name for name, _ in session.model.named_modules()]
    if list(run.records) != names:
        problems.append("the last run's statistics were not restored: the model's modules differ from the saved ones")
        return
    session.last_run = run
    if not session.replaced:
        session.baseline_run = run
