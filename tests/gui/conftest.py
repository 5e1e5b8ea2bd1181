"""Fixtures of the GUI tests: isolated settings, scripted answers to dialogs, no thread left behind."""

from __future__ import annotations

import weakref
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QStandardPaths, QThread

# Tests never read or write a user's settings (QSettings goes to ~/.qttest).
QStandardPaths.setTestModeEnabled(True)

THREAD_GRACE_MS = 1000
"""How long a thread may take to return after a test (its last signal may still be on its way out)."""


class ScriptedPrompts:
    """Answers the window's questions as a test says, and remembers each question."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, ...]] = []
        self.confirm_answer = True
        self.trust_answer = False
        self.architecture: str | None = None
        self.model: str | None = None
        self.file: str | None = None
        self.image: str | None = None
        self.save_path: str | None = None
        self.session_file: str | None = None

    def titles(self, kind: str) -> list[str]:
        return [question[1] for question in self.asked if question[0] == kind]

    def confirm(self, title: str, text: str) -> bool:
        self.asked.append(("confirm", title, text))
        return self.confirm_answer

    def trust(self, path: str, message: str, wanted: list[str]) -> bool:
        self.asked.append(("trust", path, message, ",".join(wanted)))
        return self.trust_answer

    def choose_architecture(self, path: str, names: list[str]) -> str | None:
        self.asked.append(("architecture", path))
        return self.architecture

    def choose_model(self, current: str | None) -> str | None:
        self.asked.append(("model", current or ""))
        return self.model

    def open_model_file(self, directory: str) -> str | None:
        self.asked.append(("file", directory))
        return self.file

    def open_session_file(self, directory: str) -> str | None:
        self.asked.append(("session", directory))
        return self.session_file

    def choose_image(self) -> str | None:
        self.asked.append(("image",))
        return self.image

    def save_file(self, title: str, suggested: str, file_filter: str) -> str | None:
        self.asked.append(("save", title))
        return self.save_path

    def inform(self, title: str, text: str) -> None:
        self.asked.append(("inform", title, text))


@pytest.fixture(autouse=True)
def _no_thread_left_running(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Fail a test that leaves a QThread running after it (and its widgets) ended.

    Autouse and requested first, so it is torn down after pytest-qt has
    closed the test's widgets.
    """
    started: list[weakref.ref[QThread]] = []
    original_start = QThread.start

    def start(self: QThread, *args: Any) -> None:
        started.append(weakref.ref(self))
        original_start(self, *args)

    monkeypatch.setattr(QThread, "start", start)
    yield
    left = []
    for ref in started:
        thread = ref()
        if thread is None or not shiboken6.isValid(thread):
            continue
        if thread.isRunning() and not thread.wait(THREAD_GRACE_MS):
            left.append(thread.objectName() or repr(thread))
    assert not left, f"threads still running after the test: {left}"


@pytest.fixture
def prompts() -> ScriptedPrompts:
    return ScriptedPrompts()


@pytest.fixture
def open_window(qtbot: Any, prompts: ScriptedPrompts) -> Any:
    """Build a main window on a model (synchronously), registered with qtbot so it is closed after the test."""
    from inspector.gui.app import build_window

    def make(model: str | None = "resnet18", **options: Any) -> Any:
        window = build_window(model, prompts=prompts, **options)
        qtbot.addWidget(window)
        return window

    return make


@pytest.fixture
def window(open_window: Any) -> Any:
    """The main window on resnet18 (random weights)."""
    return open_window("resnet18")


@pytest.fixture
def small_resnet18_session() -> Any:
    """resnet18 on a 64x64 input: every layer runs, in a fraction of the time of 224x224."""
    from inspector.core.inputs import InputSpec
    from inspector.core.session import Session

    session = Session.open("resnet18")
    session.set_input(InputSpec((1, 3, 64, 64)))
    return session


@pytest.fixture
def panel_widget(qtbot: Any, prompts: ScriptedPrompts) -> Any:
    """A panel class -> an instance of it on a controller of its own (``panel.controller``), 900x700,
    closed after the test; ``panel.controller.set_session(session)`` gives it a model."""
    from inspector.gui.controller import SessionController

    def make(panel_class: Any) -> Any:
        controller = SessionController(prompts)
        widget = panel_class(controller)
        controller.setParent(widget)
        qtbot.addWidget(widget)
        widget.resize(900, 700)
        return widget

    return make
