"""The Summary tab: torchinfo's table for the model as it is now (edits included) and the input.

The window computes the text off the GUI thread through the core's wrapper
(:meth:`inspector.core.session.Session.summary`) and hands it here; the tab
only shows it, and says when it no longer matches the model.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QFont, QFontDatabase
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QSizePolicy, QToolButton, QVBoxLayout, QWidget


class SummaryPanel(QWidget):
    """A monospace view of the torchinfo summary, with a Refresh button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("summaryPanel")
        self.status_label = QLabel(self)
        self.status_label.setObjectName("summaryStatus")
        self.status_label.setWordWrap(True)
        # A long error message wraps; it must never widen the window's right side.
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.refresh_button = QToolButton(self)
        self.refresh_button.setObjectName("summaryRefreshButton")
        self.text_edit = QPlainTextEdit(self)
        self.text_edit.setObjectName("summaryText")
        self.text_edit.setReadOnly(True)
        self.text_edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.text_edit.setFont(font)
        top = QHBoxLayout()
        top.setContentsMargins(6, 4, 6, 0)
        top.addWidget(self.status_label, 1)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.text_edit, 1)
        self._stale = True
        self.set_message("The torchinfo summary is computed when this tab is shown.")

    @property
    def stale(self) -> bool:
        """True when the shown text does not describe the model and input as they are now."""
        return self._stale

    def attach_action(self, refresh: QAction) -> None:
        """Make the Refresh button show and trigger the window's action."""
        self.refresh_button.setDefaultAction(refresh)

    def set_text(self, text: str, caption: str) -> None:
        """Show a computed summary, with a caption saying what it describes."""
        self.text_edit.setPlainText(text)
        self.status_label.setText(caption)
        self._stale = False

    def set_message(self, message: str) -> None:
        """Show a state or an error instead of a table (the old table stays until replaced)."""
        self.status_label.setText(message)

    def mark_stale(self) -> None:
        """The model or input changed: the text must be computed again before it is trusted."""
        if not self._stale:
            self._stale = True
            self.status_label.setText(self.status_label.text() + "  (out of date: refresh)")

    def text(self) -> str:
        """The shown summary as plain text."""
        return self.text_edit.toPlainText()
