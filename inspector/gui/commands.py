"""Undo commands over the core's edits.

Each command wraps one edit of :class:`~inspector.core.session.Session`: its
first ``redo`` makes the edit (``replace_with_identity``, ``restore``,
``restore_all``); later ``redo`` calls replay it with ``session.redo()`` and
``undo`` calls ``session.undo()``. The core keeps its own history in step
with the ``QUndoStack``, because every change goes through these commands.

A first ``redo`` that the core refuses (an :class:`EditError`) marks the
command obsolete, so ``QUndoStack.push`` drops it and the two histories stay
aligned; the error goes to the ``on_refused`` callback for the window to show
(the command object itself is deleted by the stack by then).
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
    """One edit of the model, undoable; ``make`` performs it the first time."""

    def __init__(
        self,
        session: Session,
        text: str,
        make: Callable[[], Edit],
        on_changed: EditListener,
        on_refused: RefusalListener,
        *,
        made: bool = False,
    ) -> None:
        super().__init__(text)
        self._session = session
        self._make = make
        self._on_changed = on_changed
        self._on_refused = on_refused
        self._applied_once = made
        self._skip_next_redo = made

    def redo(self) -> None:
        from inspector.core.errors import InspectorError

        if self._skip_next_redo:  # the push of an edit the core had already made
            self._skip_next_redo = False
            return
        if not self._applied_once:
            try:
                edit = self._make()
            except InspectorError as error:
                self.setObsolete(True)
                self._on_refused(error)
                return
            self._applied_once = True
            self.setText(edit.text)
        else:
            edit = self._session.redo()
        self._on_changed(edit)

    def undo(self) -> None:
        edit = self._session.undo()
        self._on_changed(edit)


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


def already_made(session: Session, text: str, on_changed: EditListener, on_refused: RefusalListener) -> EditCommand:
    """A command for an edit already in the core's history (a session opened from a file).

    Pushing it changes nothing; afterwards it undoes and redoes like any other.
    """

    def never() -> Edit:
        raise AssertionError("an edit already made is never made again")

    return EditCommand(session, text, never, on_changed, on_refused, made=True)
