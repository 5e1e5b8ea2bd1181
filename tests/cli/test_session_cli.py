"""`model-inspector gui --session FILE` hands the file to the app (the app itself is tested in tests/gui)."""

from __future__ import annotations

import inspector.gui.app as app


def test_gui_session_is_passed_to_the_app(monkeypatch, tmp_path):
    from inspector.cli import main

    calls = []
    monkeypatch.setattr(app, "main", lambda model, **options: calls.append((model, options)) or 0)
    path = str(tmp_path / "work.inspector.json")
    assert main(["gui", "--session", path]) == 0
    assert main(["gui", "vgg11", "--trust"]) == 0
    assert calls == [
        ("resnet18", {"arch": None, "trust": False, "session": path}),
        ("vgg11", {"arch": None, "trust": True}),
    ]
