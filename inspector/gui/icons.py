"""Icons and the stylesheet, read from the packaged ``inspector/resources`` folder."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def resource_path(name: str) -> Path:
    """The path of a packaged resource file."""
    return RESOURCES / name


@cache
def icon(name: str) -> QIcon:
    """The icon ``resources/icon-<name>.svg``; an empty icon when the file is missing."""
    path = resource_path(f"icon-{name}.svg")
    return QIcon(str(path)) if path.exists() else QIcon()


def stylesheet() -> str:
    """The application stylesheet (empty when the file is missing)."""
    path = resource_path("style.qss")
    return path.read_text(encoding="utf-8") if path.exists() else ""
