"""Opening a session file never runs code without trust; a session that does not add up is refused in one line.

A session file is data from anywhere (mail, a repository). Each hostile
source below would leave a marker (a folder under ``tmp_path``) if any of
its code ran; the tests assert that the marker is absent after the refusal,
and, where the same file is then opened with trust, that the marker appears,
which proves the check would have noticed code running.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from inspector.core.errors import InspectorError, TrustRequired
from inspector.core.session_file import SCHEMA, SessionFileError, open_session

FAST_MODEL = "torchvision:squeezenet1_1"
"""A torchvision model that builds in a few hundredths of a second, runs no user code and needs no trust."""


def write_session(path: Path, source: Any, kind: Any, **fields: Any) -> Path:
    """A session file as a person could write it by hand, with ``fields`` replacing the defaults."""
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "model": {"source": source, "kind": kind, "arch": None, "weights": None, "meta": False},
        "edits": [],
        "input": None,
        "device": "cpu",
        "mode": "eval",
        "last_run": None,
    }
    data.update(fields)
    path.write_text(json.dumps(data))
    return path


def factory_file(folder: Path, marker: Path, name: str = "factory.py") -> Path:
    """A Python file that makes ``marker`` when imported and again when its ``make`` is called."""
    path = folder / name
    path.write_text(
        "import pathlib\n"
        "import torch\n"
        f"pathlib.Path({str(marker)!r}).mkdir(exist_ok=True)\n"
        "def make():\n"
        f"    pathlib.Path({str(marker)!r}).mkdir(exist_ok=True)\n"
        "    return torch.nn.Linear(4, 2)\n"
    )
    return path


class MakesFolder:
    """Pickled, it asks the unpickler to call ``os.mkdir(path)``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.path,))


# --------------------------------------------------------------------------- callables


def test_a_file_callable_asks_for_trust_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    factory = factory_file(tmp_path, marker)
    session = write_session(tmp_path / "s.inspector.json", f"{factory}:make", "callable")
    with pytest.raises(TrustRequired) as caught:
        open_session(str(session))
    assert not marker.exists()
    # The question names the code that would run.
    assert f"{factory}:make" in caught.value.wanted
    assert f"{factory}:make" in str(caught.value) and "--trust" in str(caught.value)
    opened, problems = open_session(str(session), trust=True)
    assert marker.exists() and isinstance(opened.model, nn.Linear) and problems == []


def test_a_package_callable_asks_for_trust_and_imports_nothing(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    package = f"hostile_{uuid.uuid4().hex}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    factory_file(tmp_path / package, marker, "models.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    session = write_session(tmp_path / "s.inspector.json", f"{package}.models:make", "callable")
    with pytest.raises(TrustRequired) as caught:
        open_session(str(session))
    assert not marker.exists()
    assert f"{package}.models" not in __import__("sys").modules
    assert caught.value.wanted == [f"{package}.models:make"]
    opened, _ = open_session(str(session), trust=True)
    assert marker.exists() and isinstance(opened.model, nn.Linear)


def test_a_standard_library_callable_is_not_called(tmp_path, monkeypatch):
    # tempfile.mkdtemp makes a folder in tempfile.tempdir: pointed at an empty folder here.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    session = write_session(tmp_path / "s.inspector.json", "tempfile:mkdtemp", "callable")
    with pytest.raises(TrustRequired, match="tempfile:mkdtemp"):
        open_session(str(session))
    assert list(scratch.iterdir()) == []
    # Trusted, it is called (and then refused: it returns no model); the folder proves it ran.
    with pytest.raises(SessionFileError, match="not an nn.Module"):
        open_session(str(session), trust=True)
    assert len(list(scratch.iterdir())) == 1


# --------------------------------------------------------------------------- files that need the full unpickler


def test_a_hostile_pickle_asks_for_trust_naming_what_it_calls(tmp_path):
    marker = tmp_path / "ran"
    model = tmp_path / "model.pt"
    torch.save(MakesFolder(str(marker)), model)
    session = write_session(tmp_path / "s.inspector.json", str(model), "pickle")
    with pytest.raises(TrustRequired) as caught:
        open_session(str(session))
    assert not marker.exists()
    assert any(name.endswith("mkdir") for name in caught.value.wanted), caught.value.wanted
    assert str(model) in str(caught.value)


def test_a_torch_export_program_asks_for_trust(tmp_path):
    program = torch.export.export(nn.Linear(4, 2), (torch.randn(1, 4),))
    model = tmp_path / "model.pt2"
    torch.export.save(program, model)
    session = write_session(tmp_path / "s.inspector.json", str(model), "export")
    with pytest.raises(TrustRequired, match="torch.export"):
        open_session(str(session))
    opened, _ = open_session(str(session), trust=True)
    assert opened.loaded.kind == "export"


# --------------------------------------------------------------------------- relative paths


def test_a_relative_callable_is_found_beside_the_session_never_in_the_current_folder(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    here = tmp_path / "current"
    here.mkdir()
    factory_file(here, marker)
    elsewhere = tmp_path / "sessions"
    elsewhere.mkdir()
    session = write_session(elsewhere / "s.inspector.json", "factory.py:make", "callable")
    monkeypatch.chdir(here)
    with pytest.raises(InspectorError) as caught:
        open_session(str(session))
    assert not marker.exists()
    # Whatever the question names is beside the session, not in the current folder.
    assert str(here) not in str(caught.value)
    with pytest.raises(SessionFileError, match="no such file"):
        open_session(str(session), trust=True)
    assert not marker.exists()


def test_a_relative_model_file_is_read_beside_the_session(tmp_path, monkeypatch):
    here = tmp_path / "current"
    here.mkdir()
    elsewhere = tmp_path / "sessions"
    elsewhere.mkdir()
    # A pickle in the current folder (it would need trust) and a plain state_dict beside the session.
    torch.save(MakesFolder(str(tmp_path / "ran")), here / "model.pt")
    from inspector.core.loading import build_torchvision

    weights = build_torchvision("squeezenet1_1").state_dict()
    torch.save(weights, elsewhere / "model.pt")
    session = write_session(elsewhere / "s.inspector.json", "model.pt", "state_dict")
    data = json.loads(session.read_text())
    data["model"]["arch"] = "squeezenet1_1"
    session.write_text(json.dumps(data))
    monkeypatch.chdir(here)
    opened, problems = open_session(str(session))
    assert opened.loaded.kind == "state_dict" and problems == []
    assert opened.loaded.source == str(elsewhere / "model.pt")
    assert not (tmp_path / "ran").exists()


# --------------------------------------------------------------------------- kind must agree with source


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("tempfile:mkdtemp", "torchvision"),
        ("{factory}:make", "state_dict"),
        ("{factory}:make", "torchscript"),
        ("{factory}:make", "torchvision"),
        ("{factory}:make", None),
        ("{factory}:make", ["callable"]),
        ("{factory}:make", "made-up"),
        ("{pickle}", "state_dict"),
        ("{pickle}", "torchscript"),
        ("{pickle}", "callable"),
        ("{pickle}", "torchvision"),
        ("squeezenet1_1", "callable"),
        ("squeezenet1_1", "pickle"),
        ("{pt2}", "state_dict"),
        ("{pt2}", "pickle"),
    ],
)
def test_a_kind_that_disagrees_with_the_source_is_refused(tmp_path, monkeypatch, source, kind):
    marker = tmp_path / "ran"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    factory = factory_file(tmp_path, marker)
    pickled = tmp_path / "model.pt"
    torch.save(MakesFolder(str(marker)), pickled)
    pt2 = tmp_path / "model.pt2"
    torch.export.save(torch.export.export(nn.Linear(4, 2), (torch.randn(1, 4),)), pt2)
    source = source.format(factory=factory, pickle=pickled, pt2=pt2)
    session = write_session(tmp_path / "s.inspector.json", source, kind)
    for trust in (False, True):
        with pytest.raises(SessionFileError) as caught:
            open_session(str(session), trust=trust)
        message = str(caught.value)
        assert "kind" in message and "\n" not in message
        assert not marker.exists() and list(scratch.iterdir()) == []


def test_a_kind_that_agrees_opens_as_before(tmp_path):
    session = write_session(tmp_path / "s.inspector.json", FAST_MODEL, "torchvision")
    opened, problems = open_session(str(session))
    assert opened.loaded.kind == "torchvision" and problems == []


# --------------------------------------------------------------------------- malformed fields


MALFORMED = [
    {"model": []},
    {"model": "squeezenet1_1"},
    {"model": None},
    {"model": {"source": 5, "kind": "torchvision"}},
    {"model": {"source": ["squeezenet1_1"], "kind": "torchvision"}},
    {"model": {"source": FAST_MODEL, "kind": "torchvision", "weights": 7}},
    {"model": {"source": FAST_MODEL, "kind": "torchvision", "meta": "yes"}},
    {"model": {"source": FAST_MODEL, "kind": "torchvision", "arch": {"a": 1}}},
    {"edits": {"classifier": 1}},
    {"edits": "classifier"},
    {"edits": [1, 2]},
    {"edits": [["classifier"]]},
    {"input": [1, 3, 64, 64]},
    {"input": "randn"},
    {"input": {"shape": "abc"}},
    {"input": {"shape": [1, 3, 64, 64], "seed": "x"}},
    {"input": {"shape": [1, 3, 64, 64], "fill": 3}},
    {"device": 5},
    {"device": ["cpu"]},
    {"device": {"type": "cuda"}},
    {"mode": ["eval"]},
    {"mode": {"a": 1}},
    {"last_run": []},
    {"last_run": "run"},
    {"last_run": {"records": "x"}},
    {"last_run": {"records": [[]]}},
    {"last_run": {"records": [{"name": "", "type": "SqueezeNet", "calls": [[]]}]}},
    {"last_run": {"records": [{"name": "", "type": "SqueezeNet", "calls": {"a": 1}}]}},
    {"last_run": {"records": [], "error": "boom", "output_shapes": [], "device": "cpu", "mode": "eval"}},
    {"last_run": {"records": [], "error": {"module": 1}, "output_shapes": [], "device": "cpu", "mode": "eval"}},
]


@pytest.mark.parametrize("fields", MALFORMED, ids=[json.dumps(f)[:60] for f in MALFORMED])
def test_malformed_fields_give_one_clear_line(tmp_path, fields):
    session = write_session(tmp_path / "s.inspector.json", FAST_MODEL, "torchvision", **fields)
    try:
        opened, problems = open_session(str(session))
    except SessionFileError as error:
        assert "\n" not in str(error) and str(error)
        return
    # Opened: whatever could not be used is said, one line each, and the rest is well formed.
    assert all("\n" not in problem for problem in problems)
    assert opened.mode in ("eval", "train")
    assert opened.last_run is None or isinstance(opened.last_run.records, dict)


def test_a_session_that_is_a_list_or_lacks_a_model_is_refused(tmp_path):
    path = tmp_path / "s.inspector.json"
    path.write_text(json.dumps([SCHEMA]))
    with pytest.raises(SessionFileError, match="not a session file"):
        open_session(str(path))
    path.write_text(json.dumps({"schema": SCHEMA}))
    with pytest.raises(SessionFileError, match="model"):
        open_session(str(path))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["model", "edits", "input", "device", "mode", "last_run"]), value=JSON)
def test_any_json_in_any_field_is_refused_in_one_line_or_opens(tmp_path, field, value):
    session = write_session(tmp_path / "s.inspector.json", FAST_MODEL, "torchvision", **{field: value})
    try:
        _, problems = open_session(str(session))
    except SessionFileError as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert all(isinstance(p, str) and "\n" not in p for p in problems)


def test_a_state_dict_whose_architecture_is_code_asks_for_trust(tmp_path):
    marker = tmp_path / "ran"
    factory = factory_file(tmp_path, marker)
    weights = tmp_path / "weights.pt"
    torch.save(nn.Linear(4, 2).state_dict(), weights)
    session = write_session(tmp_path / "s.inspector.json", str(weights), "state_dict")
    data = json.loads(session.read_text())
    data["model"]["arch"] = "factory.py:make"  # relative: beside the session
    session.write_text(json.dumps(data))
    with pytest.raises(TrustRequired) as caught:
        open_session(str(session))
    assert not marker.exists()
    assert caught.value.wanted == [f"{factory}:make"]
    opened, problems = open_session(str(session), trust=True)
    assert marker.exists() and isinstance(opened.model, nn.Linear) and problems == []
