"""A message strip at the top of the window: a failed run's module, message and input shapes.

Errors are shown where the user is looking, not only in a modal dialog: the
banner stays until it is dismissed or the next run succeeds, and offers to
select the module that raised.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton, QWidget

_LEVEL_STYLE = {
    "error": "background:#fbe3e1; border:1px solid #e3a29b; color:#5c1710;",
    "warning": "background:#fff4d6; border:1px solid #e6c96d; color:#5a4300;",
    "info": "background:#e6f0fb; border:1px solid #a9c6ea; color:#173f6b;",
}


class MessageBanner(QFrame):
    """A dismissable strip with a title, a message, and an optional "Show module" button."""

    sig_module_requested = Signal(str)
    """The user asked to see the module the message is about (its qualified name)."""
    sig_undo_requested = Signal()
    """The user asked to undo the edit the message is about."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self._module: str | None = None
        self.level = "info"
        self.label = QLabel(self)
        self.label.setObjectName("bannerText")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.show_button = QPushButton("Show module", self)
        self.show_button.setObjectName("bannerShowModule")
        self.undo_button = QPushButton("Undo", self)
        self.undo_button.setObjectName("bannerUndo")
        self.undo_button.setToolTip("Undo this edit (Ctrl+Z)")
        self.close_button = QToolButton(self)
        self.close_button.setObjectName("bannerClose")
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.show_button)
        layout.addWidget(self.undo_button)
        layout.addWidget(self.close_button)
        self.show_button.clicked.connect(self._on_show_button_clicked)
        self.undo_button.clicked.connect(self.sig_undo_requested)
        self.close_button.clicked.connect(self.hide)
        self.about_edit = False
        self.hide()

    def show_message(self, title: str, message: str, *, level: str = "error", module: str | None = None,
                     about_edit: bool = False) -> None:
        """Show ``title`` in bold and ``message`` (plain text) under it.

        ``about_edit``: the message tells what an edit just did; an Undo button sits beside it.
        """
        self.level = level
        self._module = module
        self.about_edit = about_edit
        self.undo_button.setVisible(about_edit)
        self.setStyleSheet(f"QFrame#messageBanner {{ {_LEVEL_STYLE.get(level, _LEVEL_STYLE['info'])} "
                           "border-radius:4px; }")
        body = html.escape(message).replace("\n", "<br>")
        self.label.setText(f"<b>{html.escape(title)}</b><br>{body}")
        self.show_button.setVisible(module is not None)
        self.show()

    @property
    def module(self) -> str | None:
        """The module the shown message is about, if any."""
        return self._module if self.isVisibleTo(self.parentWidget()) else None

    def text(self) -> str:
        """The shown text without markup."""
        return self.label.text().replace("<br>", "\n").replace("<b>", "").replace("</b>", "")

    def _on_show_button_clicked(self) -> None:
        if self._module is not None:
            self.sig_module_requested.emit(self._module)
