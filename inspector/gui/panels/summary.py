"""The Summary tab: torchinfo's table for the model as it is now (edits included) and the input.

The tab asks the window's controller for the text (computed off the GUI
thread through the core's wrapper, :meth:`inspector.core.session.Session.summary`)
and shows it, and says when it no longer matches the model or the input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QAction, QFont, QFontDatabase
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QSizePolicy, QToolButton, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from inspector.core.edits import Edit
    from inspector.core.session import Session
    from inspector.core.tree import ModuleNode
    from inspector.gui.controller import SessionController
    from inspector.gui.panels.input_panel import InputPanel


class SummaryPanel(QWidget):
    """A monospace view of the torchinfo summary, with a Refresh button."""

    sig_filled = Signal(str)
    """The tab was filled: the torchinfo text, or the message saying why not."""

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

    def follow(self, controller: SessionController, input_panel: InputPanel) -> None:
        """Summarise the controller's model on the input panel's input; out of date after an edit or a new input."""
        self._controller, self._input_panel = controller, input_panel
        controller.sig_session_opened.connect(self._on_controller_session_opened)
        controller.sig_edited.connect(self._on_controller_edited)
        controller.sig_summary_finished.connect(self._on_controller_summary_finished)
        controller.sig_busy_changed.connect(self._on_controller_busy_changed)
        input_panel.sig_changed.connect(self.mark_stale)

    def refresh(self) -> None:
        """Ask for the torchinfo summary of the model as it is now (off the GUI thread)."""
        from inspector.core.errors import InspectorError

        controller = self._controller
        if controller.session is None or controller.busy:
            return
        try:
            spec = self._input_panel.inputs()
        except InspectorError as error:
            self.set_message(f"No summary: {error}")
            self.sig_filled.emit(str(error))
            return
        if controller.start_summary(spec, self._input_panel.mode()):
            self.set_message("Computing the summary…")

    def refresh_if_shown(self) -> None:
        """Fill the tab now when it is shown and out of date."""
        if self._shown() and self._stale:
            self.refresh()

    def _on_controller_session_opened(self, _session: Session, _tree: ModuleNode) -> None:
        self.set_message("The torchinfo summary is computed when this tab is shown.")
        self.mark_stale()
        self.refresh_if_shown()

    def _on_controller_edited(self, _edit: Edit) -> None:
        self.mark_stale()

    def _on_controller_summary_finished(self, text: str | None, caption: str) -> None:
        if text is None:
            self.set_message(caption)
            self.sig_filled.emit(caption)
            return
        self.set_text(text, caption)
        self.sig_filled.emit(text)

    def _on_controller_busy_changed(self, busy: bool) -> None:
        if not busy and self._shown() and self._stale:
            # The tab was shown while the model was busy: fill it now.
            QTimer.singleShot(0, self.refresh)

    def _shown(self) -> bool:
        """This tab is the one its window shows (whether the window is on screen or not)."""
        return self.isVisibleTo(self.window())

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
