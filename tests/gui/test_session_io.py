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
    with qtbot.waitSignal(window.controller.sig_session_file_opened, timeout=60_000) as opened:
        assert window.open_session_file(path)  # on a worker: the window stays responsive
    assert opened.args == [path, []]
    assert window.session.replaced == ["act"] and not window.busy


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
