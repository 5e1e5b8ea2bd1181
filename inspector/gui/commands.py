"""Undo commands over the core's edits: the one edit history of the window.

Each command holds one core :class:`~inspector.core.edits.Edit`. Its first
``redo`` makes the edit (``replace_with_identity``, ``restore``,
``restore_all``); later ``redo`` calls apply the same Edit again and ``undo``
calls revert it (:meth:`Session.apply` / :meth:`Session.revert`), the same
Identity and original objects going back each time. The core's editor keeps
only the state (what is replaced, the originals), so there is no second
history to keep in step.

A first ``redo`` that the core refuses (an :class:`EditError`) marks the
command obsolete, so ``QUndoStack.push`` drops it; the error goes to the
``on_refused`` callback for the window to show (the command object itself
is deleted by the stack by then).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

if TYPE_CHECKING:
    from inspector.core.edits import Edit
    from inspector.core.errors import InspectorError
    from inspector.core.session import Session

EditListener = Callable[["Edit"], None]
"""Called after every apply, replay or revert with the core's Edit (its swaps name the changed paths)."""
RefusalListener = Callable[["InspectorError"], None]
"""Called when the core refuses the edit, with its error (a message a person can act on)."""


class EditCommand(QUndoCommand):
    """One edit of the model, undoable; ``make`` performs it the first time (or ``edit`` is already made)."""

    def __init__(
        self,
        session: Session,
        text: str,
        make: Callable[[], Edit] | None,
        on_changed: EditListener,
        on_refused: RefusalListener,
        *,
        edit: Edit | None = None,
    ) -> None:
        super().__init__(text)
        self._session = session
        self._make = make
        self._on_changed = on_changed
        self._on_refused = on_refused
        self.edit: Edit | None = edit
        """The core's edit this command applies and reverts (None until first made)."""
        self._in_place = edit is not None
        """True while the edit is in the model and a push's redo must not make it again."""

    def redo(self) -> None:
        from inspector.core.errors import InspectorError

        if self._in_place:  # the push of an edit already in the model (a session file's)
            self._in_place = False
            return
        try:
            if self.edit is None:
                assert self._make is not None
                self.edit = self._make()
                self.setText(self.edit.text)
            else:
                self._session.apply(self.edit)
        except InspectorError as error:
            self.setObsolete(True)
            self._on_refused(error)
            return
        self._on_changed(self.edit)

    def undo(self) -> None:
        assert self.edit is not None
        self._session.revert(self.edit)
        self._on_changed(self.edit)


def replace_with_identity(
    session: Session, path: str, on_changed: EditListener, on_refused: RefusalListener
) -> EditCommand:
    """The command that puts an ``nn.Identity`` at ``path``."""
    return EditCommand(
        session, f"Replace {path} with Identity", lambda: session.replace_with_identity(path), on_changed, on_refused
    )


def restore(session: Session, path: str, on_changed: EditListener, on_refused: RefusalListener) -> EditCommand:
    """The command that puts the original module back at ``path``."""
    return EditCommand(session, f"Restore {path}", lambda: session.restore(path), on_changed, on_refused)


def restore_all(session: Session, on_changed: EditListener, on_refused: RefusalListener) -> EditCommand:
    """The command that puts every original back."""
    return EditCommand(session, "Restore all", session.restore_all, on_changed, on_refused)


def already_made(session: Session, path: str, on_changed: EditListener, on_refused: RefusalListener) -> EditCommand:
    """A command for the Identity already at ``path`` (a session opened from a file).

    Pushing it changes nothing; afterwards it undoes and redoes like any other.
    """
    edit = session.editor.made(path)
    return EditCommand(session, edit.text, None, on_changed, on_refused, edit=edit)
