"""File → Save Session / Open Session: the dialogs' side of :mod:`inspector.core.session_file`.

Two functions the window's actions call. They ask through the window's
prompts object (``save_file`` and ``trust``, see :mod:`inspector.gui.prompts`),
so tests script the answers, and return plain values; the window chooses the
file to open, shows the messages and puts the opened session in place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
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


@dataclass
class Opened:
    """What opening a session file gave: the session (None when nothing opened) and what to tell the user."""

    session: Session | None
    problems: list[str] = field(default_factory=list)
    """What could not be restored, one line each (the session opened all the same)."""
    error: str | None = None
    """Why nothing opened; None when the session opened or the user declined to trust the file."""


def open_session_file(prompts: Any, path: str) -> Opened:
    """Open a session file; a pickled model asks the user for trust first, as opening the model would.

    It loads the model on the calling thread, as ``open_model(wait=True)``
    does; the trust prompt needs the GUI thread.
    """
    from inspector.core.errors import InspectorError, TrustRequired
    from inspector.core.session_file import open_session

    try:
        session, problems = open_session(path)
    except TrustRequired as error:
        if not prompts.trust(path, str(error), error.wanted):
            return Opened(None, error=None)
        try:
            session, problems = open_session(path, trust=True)
        except InspectorError as again:
            return Opened(None, error=str(again))
    except InspectorError as error:
        return Opened(None, error=str(error))
    return Opened(session, problems)
