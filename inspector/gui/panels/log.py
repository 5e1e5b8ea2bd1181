"""The Log tab: what happened, in order, with times (loads, edits, runs, errors and their tracebacks)."""

from __future__ import annotations

import html
import time

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QVBoxLayout, QWidget

MAX_LINES = 5000
_COLOURS = {"info": "#222222", "warning": "#8a6d00", "error": "#9b1c12", "detail": "#666666"}


class LogPanel(QWidget):
    """An append-only, read-only log."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("logPanel")
        self.text_edit = QPlainTextEdit(self)
        self.text_edit.setObjectName("logText")
        self.text_edit.setReadOnly(True)
        self.text_edit.setMaximumBlockCount(MAX_LINES)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.text_edit.setFont(font)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text_edit)

    def append(self, message: str, level: str = "info") -> None:
        """Add one entry (``info``, ``warning``, ``error``, or ``detail`` for tracebacks)."""
        stamp = time.strftime("%H:%M:%S")
        colour = _COLOURS.get(level, _COLOURS["info"])
        body = html.escape(message).replace("\n", "<br>").replace("  ", "&nbsp;&nbsp;")
        self.text_edit.appendHtml(f"<span style='color:#888'>{stamp}</span> <span style='color:{colour}'>{body}</span>")

    def text(self) -> str:
        """The log as plain text."""
        return self.text_edit.toPlainText()
