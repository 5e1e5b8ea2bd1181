"""A message strip at the top of the window: a failed run's module, message and input shapes.

Errors are shown where the user is looking, not only in a modal dialog: the
banner stays until it is dismissed or the next run succeeds, and offers to
select the module that raised.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton, QWidget

_LEVEL_STYLE = {
    "error": "background:#fbe3e1; border:1px solid #e3a29b; color:#5c1710;",
    "warning": "background:#fff4d6; border:1px solid #e6c96d; color:#5a4300;",
    "info": "background:#e6f0fb; border:1px solid #a9c6ea; color:#173f6b;",
}


class MessageBanner(QFrame):
    """A dismissable strip with a title, a message, an optional "Show module" button and one optional action."""

    sig_module_requested = Signal(str)
    """The user asked to see the module the message is about (its qualified name)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self._module: str | None = None
        self._action: Callable[[], object] | None = None
        self.level = "info"
        self.label = QLabel(self)
        self.label.setObjectName("bannerText")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.show_button = QPushButton("Show module", self)
        self.show_button.setObjectName("bannerShowModule")
        self.action_button = QPushButton(self)
        self.action_button.setObjectName("bannerAction")
        self.action_button.hide()
        self.close_button = QToolButton(self)
        self.close_button.setObjectName("bannerClose")
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.show_button)
        layout.addWidget(self.action_button)
        layout.addWidget(self.close_button)
        self.show_button.clicked.connect(self._on_show_button_clicked)
        self.action_button.clicked.connect(self._on_action_button_clicked)
        self.close_button.clicked.connect(self.hide)
        self.about_edit = False
        self.hide()

    def show_message(self, title: str, message: str, *, level: str = "error", module: str | None = None,
                     action: tuple[str, Callable[[], object]] | None = None, about_edit: bool = False) -> None:
        """Show ``title`` in bold and ``message`` (plain text) under it; ``action``: (button text, what it does).

        ``about_edit``: the message tells what an edit just did (the next edit or undo makes it stale).
        """
        self.level = level
        self._module = module
        self.about_edit = about_edit
        self._action = action[1] if action is not None else None
        self.action_button.setText(action[0] if action is not None else "")
        self.action_button.setVisible(action is not None)
        self.setStyleSheet(f"QFrame#messageBanner {{ {_LEVEL_STYLE.get(level, _LEVEL_STYLE['info'])} "
                           "border-radius:4px; }")
        body = html.escape(message).replace("\n", "<br>")
        self.label.setText(f"<b>{html.escape(title)}</b><br>{body}")
        self.show_button.setVisible(module is not None)
        self.show()

    @property
    def module(self) -> str | None:
        """The module the shown message is about, if any."""
        parent = self.parentWidget()
        shown = self.isVisibleTo(parent) if parent is not None else self.isVisible()
        return self._module if shown else None

    def text(self) -> str:
        """The shown text without markup."""
        return self.label.text().replace("<br>", "\n").replace("<b>", "").replace("</b>", "")

    def _on_action_button_clicked(self) -> None:
        action, self._action = self._action, None
        self.action_button.hide()
        if action is not None:
            action()

    def _on_show_button_clicked(self) -> None:
        if self._module is not None:
            self.sig_module_requested.emit(self._module)
