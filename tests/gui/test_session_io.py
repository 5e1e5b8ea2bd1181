"""File → Save/Open Session through scripted prompts: the saved file opens to the same edits."""

from __future__ import annotations

import torch

from inspector.core.session import Session
from inspector.gui.session_io import open_session_file, save_session_as, suggested_name, with_suffix
from tests.models import TinyMLP


def test_save_then_open(tmp_path, prompts):
    session = Session.open("tests.models:tiny_mlp")
    session.replace_with_identity("act")
    prompts.save_path = str(tmp_path / "mine")
    path, error = save_session_as(prompts, session, str(tmp_path))
    assert error is None and path == str(tmp_path / "mine.inspector.json")
    assert prompts.titles("save") == ["Save Session"]
    opened = open_session_file(prompts, path)
    assert opened.error is None and opened.problems == []
    assert opened.session is not None and opened.session.replaced == ["act"]


def test_cancelled_save_and_unwritable_folder(tmp_path, prompts):
    session = Session.open("tests.models:tiny_mlp")
    prompts.save_path = None
    assert save_session_as(prompts, session) == (None, None)
    prompts.save_path = str(tmp_path / "missing" / "s.inspector.json")
    path, error = save_session_as(prompts, session)
    assert path is None and "could not be written" in error


def test_a_pickled_model_asks_for_trust(tmp_path, prompts):
    from inspector.core.session_file import save_session

    model_path = tmp_path / "mlp.pt"
    torch.save(TinyMLP(), model_path)
    path = tmp_path / "s.inspector.json"
    save_session(Session.open(str(model_path), trust=True), str(path))
    prompts.trust_answer = False
    declined = open_session_file(prompts, str(path))
    assert declined.session is None and declined.error is None
    prompts.trust_answer = True
    opened = open_session_file(prompts, str(path))
    assert opened.session is not None and len(prompts.asked) == 2


def test_names():
    assert with_suffix("a/b") == "a/b.inspector.json"
    assert with_suffix("a/b.json") == "a/b.inspector.json"
    assert with_suffix("a/b.inspector.json") == "a/b.inspector.json"
    assert suggested_name(Session.open("tests.models:tiny_mlp")).startswith("tiny_mlp")
