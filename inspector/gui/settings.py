"""What the app remembers between starts (QSettings): recent models, window geometry and splitters.

Trust is never remembered: a pickled model file asks again each time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter

MAX_RECENT = 10
DEFAULT_SIZE = (1500, 920)
DEFAULT_SPLIT = (720, 780)
"""Tree on the left, input and plots on the right, in pixels."""


@dataclass(frozen=True)
class RecentModel:
    """A model opened before: its source, and the architecture a state_dict was loaded into."""

    source: str
    arch: str | None = None

    @property
    def label(self) -> str:
        """How the File > Open Recent menu names it."""
        return self.source + (f" (as {self.arch})" if self.arch else "")


def recent_models() -> list[RecentModel]:
    """The models opened last, newest first."""
    try:
        entries = json.loads(str(QSettings().value("recent/models", "[]")))
    except ValueError:
        return []
    if not isinstance(entries, list):
        return []
    return [
        RecentModel(str(e["source"]), e.get("arch") if isinstance(e.get("arch"), str) else None)
        for e in entries
        if isinstance(e, dict) and e.get("source")
    ]


def remember_model(source: str, arch: str | None) -> None:
    """Put a model first in the recent list (once)."""
    entries = [e for e in recent_models() if e.source != source]
    entries.insert(0, RecentModel(source, arch))
    value = [{"source": e.source, "arch": e.arch} for e in entries[:MAX_RECENT]]
    QSettings().setValue("recent/models", json.dumps(value))


def restore_window(window: QMainWindow, splitter: QSplitter) -> None:
    """Geometry, toolbar state and splitter sizes as they were, or sensible defaults."""
    settings = QSettings()
    geometry = settings.value("window/geometry")
    if geometry is None or not window.restoreGeometry(geometry):
        window.resize(*DEFAULT_SIZE)
    state = settings.value("window/state")
    if state is not None:
        window.restoreState(state)
    split = settings.value("window/mainSplitter")
    if split is None or not splitter.restoreState(split):
        splitter.setSizes(list(DEFAULT_SPLIT))


def save_window(window: QMainWindow, splitter: QSplitter) -> None:
    """Remember the window's geometry, toolbar state and splitter sizes."""
    settings = QSettings()
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState())
    settings.setValue("window/mainSplitter", splitter.saveState())


def last_model_folder() -> str:
    """The folder of the last model or session file opened (file dialogs start there)."""
    return str(QSettings().value("paths/lastModelDir", ""))


def remember_model_folder(folder: str) -> None:
    """Remember where the last model or session file was opened from."""
    QSettings().setValue("paths/lastModelDir", folder)
