"""File → Save Session / Open Session: the dialogs' side of :mod:`inspector.core.session_file`.

Saving asks through the window's prompts object (``save_file``, see
:mod:`inspector.gui.prompts`), so tests script the answers, and returns plain
values. Opening a session file is the controller's
(:meth:`inspector.gui.controller.Controller.open_session_file`): the model
loads on a worker, like any other.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspector.core.session import Session

SESSION_FILTER = "Model Inspector sessions (*.inspector.json);;All files (*)"


def with_suffix(path: str) -> str:
    """``path`` ending in ``.inspector.json`` (a plain ``.json`` becomes ``.inspector.json``)."""
    from inspector.core.session_file import SUFFIX

    if path.endswith(SUFFIX):
        return path
    return (path[: -len(".json")] if path.endswith(".json") else path) + SUFFIX


def suggested_name(session: Session, folder: str = "") -> str:
    """A file name for a new session file: the model's name, e.g. ``resnet18.inspector.json``."""
    base = session.source.split(":")[-1]
    base = os.path.splitext(os.path.basename(base))[0] or "session"
    return os.path.join(folder, with_suffix(base))


def save_session_as(prompts: Any, session: Session, folder: str = "") -> tuple[str | None, str | None]:
    """Ask where to save ``session`` and save it: ``(path, None)``, ``(None, None)`` when the user
    cancelled, or ``(None, message)`` when it could not be written."""
    from inspector.core.session_file import save_session

    chosen = prompts.save_file("Save Session", suggested_name(session, folder), SESSION_FILTER)
    if not chosen:
        return None, None
    path = with_suffix(chosen)
    try:
        save_session(session, path)
    except OSError as error:
        return None, f"{path} could not be written: {error.strerror or error}"
    return path, None
