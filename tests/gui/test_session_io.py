"""File → Save/Open Session through scripted prompts: the saved file opens to the same edits."""

from __future__ import annotations

import torch

from inspector.core.session import Session
from inspector.gui.session_io import save_session_as, suggested_name, with_suffix
from tests.models import TinyMLP


def test_save_then_open(tmp_path, prompts, open_window, qtbot):
    session = Session.open("tests.models:tiny_mlp")
    session.replace_with_identity("act")
    prompts.save_path = str(tmp_path / "mine")
    path, error = save_session_as(prompts, session, str(tmp_path))
    assert error is None and path == str(tmp_path / "mine.inspector.json")
    assert prompts.titles("save") == ["Save Session"]
    window = open_window(None)
    prompts.trust_answer = True  # the model is a Python callable: code named by a file asks first
    with qtbot.waitSignal(window.controller.sig_session_file_opened, timeout=60_000) as opened:
        assert window.open_session_file(path)  # on a worker: the window stays responsive
    assert opened.args == [path, []]
    assert window.session.replaced == ["act"] and not window.busy
    assert prompts.titles("trust") == [path]


def test_cancelled_save_and_unwritable_folder(tmp_path, prompts):
    session = Session.open("tests.models:tiny_mlp")
    prompts.save_path = None
    assert save_session_as(prompts, session) == (None, None)
    prompts.save_path = str(tmp_path / "missing" / "s.inspector.json")
    path, error = save_session_as(prompts, session)
    assert path is None and "could not be written" in error


def test_a_pickled_model_asks_for_trust(tmp_path, prompts, open_window, qtbot):
    from inspector.core.session_file import save_session

    model_path = tmp_path / "mlp.pt"
    torch.save(TinyMLP(), model_path)
    path = tmp_path / "s.inspector.json"
    save_session(Session.open(str(model_path), trust=True), str(path))
    window = open_window(None)
    prompts.trust_answer = False
    assert not window.open_session_file(str(path), wait=True)
    assert window.session is None and not window.busy
    assert not window.banner.isVisibleTo(window)  # declining is not a problem to report
    prompts.trust_answer = True
    with qtbot.waitSignal(window.controller.sig_session_file_opened, timeout=60_000):
        assert window.open_session_file(str(path))
    assert window.session is not None and len(prompts.asked) == 2


def test_a_broken_session_file_says_why_and_keeps_the_model(tmp_path, prompts, open_window):
    window = open_window("tests.models:tiny_mlp")
    path = tmp_path / "broken.inspector.json"
    path.write_text("{ not json")
    assert not window.open_session_file(str(path), wait=True)
    assert window.session.source.endswith("tiny_mlp") and not window.busy
    assert window.banner.isVisibleTo(window) and f"Could not open {path}" in window.banner.text()


def test_names():
    assert with_suffix("a/b") == "a/b.inspector.json"
    assert with_suffix("a/b.json") == "a/b.inspector.json"
    assert with_suffix("a/b.inspector.json") == "a/b.inspector.json"
    assert suggested_name(Session.open("tests.models:tiny_mlp")).startswith("tiny_mlp")


# --------------------------------------------------------------------------- code named by a file asks first


def _factory(folder, marker):
    """A Python file that makes the folder ``marker`` when imported."""
    path = folder / "factory.py"
    path.write_text(
        "import pathlib\nimport torch\n"
        f"pathlib.Path({str(marker)!r}).mkdir(exist_ok=True)\n"
        "def make():\n    return torch.nn.Linear(4, 2)\n"
    )
    return path


def _callable_session(tmp_path, spec):
    import json

    from inspector.core.session_file import SCHEMA

    path = tmp_path / "s.inspector.json"
    path.write_text(json.dumps({"schema": SCHEMA, "model": {"source": spec, "kind": "callable"}}))
    return path


def test_a_session_whose_model_is_code_asks_with_the_trust_dialog(tmp_path, prompts, open_window, qtbot):
    marker = tmp_path / "ran"
    spec = f"{_factory(tmp_path, marker)}:make"
    path = _callable_session(tmp_path, spec)
    window = open_window(None)
    prompts.trust_answer = False
    assert not window.open_session_file(str(path), wait=True)
    assert not marker.exists() and window.session is None and not window.busy
    # The same dialog as for a pickled model file, naming the code that would run.
    kind, asked_path, message, wanted = prompts.asked[-1]
    assert (kind, asked_path, wanted) == ("trust", str(path), spec)
    assert spec in message
    prompts.trust_answer = True
    with qtbot.waitSignal(window.controller.sig_session_file_opened, timeout=60_000):
        assert window.open_session_file(str(path))
    assert marker.exists() and window.session is not None and prompts.titles("trust") == [str(path)] * 2


def test_gui_session_with_trust_opens_without_asking(tmp_path, prompts, open_window):
    marker = tmp_path / "ran"
    path = _callable_session(tmp_path, f"{_factory(tmp_path, marker)}:make")
    window = open_window(None)
    assert window.open_session_file(str(path), trust=True, wait=True)
    assert marker.exists() and prompts.titles("trust") == []


def test_a_callable_from_the_recent_list_asks_before_it_runs(tmp_path, prompts, open_window, qtbot):
    from PySide6.QtCore import QSettings

    from inspector.gui import settings

    marker = tmp_path / "ran"
    spec = f"{_factory(tmp_path, marker)}:make"
    saved = QSettings().value("recent/models", "[]")
    try:
        settings.remember_model(spec, None)
        window = open_window(None)
        action = next(a for a in window.recent_menu.actions() if a.text() == spec)
        prompts.trust_answer = False
        action.trigger()
        qtbot.waitUntil(lambda: bool(prompts.titles("trust")) and not window.busy, timeout=60_000)
        assert prompts.titles("trust") == [spec]
        assert not marker.exists() and window.session is None
        # Typed by the person (File > Open Model File), the same callable is their consent.
        assert window.open_model(spec, wait=True)
        assert marker.exists() and prompts.titles("trust") == [spec]
    finally:
        QSettings().setValue("recent/models", saved)
