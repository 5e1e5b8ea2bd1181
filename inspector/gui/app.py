"""Starting the desktop app: the QApplication, the main window, and the first model.

:func:`main` puts the window on screen before torch is imported: the first
model is opened by a worker thread (which imports torch) once the event loop
runs, so the user sees the window at once and a "Opening resnet18…" status
rather than nothing for seconds. :func:`build_window` is the synchronous
variant that tests use: it returns with the model loaded.
"""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from inspector import __version__
from inspector.gui import collector, icons
from inspector.gui.main_window import MainWindow

ORGANIZATION = "Model Inspector"
APPLICATION = "Model Inspector"


def application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once), named so QSettings finds its file, with the app's style."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1] if argv is None else argv)
    assert isinstance(app, QApplication)
    if app.property("inspectorConfigured"):
        return app
    # Cyclic garbage is collected on this thread only: a collection on a
    # worker thread would delete Qt objects from the wrong thread.
    collector.install(app)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(icons.icon("app"))
    style = icons.stylesheet()
    if style:
        app.setStyleSheet(style)
    app.setProperty("inspectorConfigured", True)
    return app


def build_window(model: str | None = "resnet18", *, arch: str | None = None, trust: bool = False,
                 prompts: Any = None) -> MainWindow:
    """The main window with ``model`` loaded (None: no model), not shown.

    ``prompts`` replaces the window's dialogs (see :class:`inspector.gui.prompts.Prompts`).
    """
    application()
    window = MainWindow(prompts=prompts)
    if model:
        window.open_model(model, arch=arch, trust=trust, wait=True)
    return window


def main(model: str | None = "resnet18", arch: str | None = None, trust: bool = False,
         session: str | None = None) -> int:
    """Run the app until its window closes; returns the exit status.

    ``session``: a saved session file (``.inspector.json``) to open instead of ``model``;
    ``trust`` then lets its model be code or a pickle without asking (``gui --session FILE --trust``).
    """
    app = application()
    window = MainWindow()
    window.show()
    if session:
        QTimer.singleShot(0, lambda: window.open_session_file(session, trust=trust))
    elif model:
        # After the first paint: the worker imports torch and builds the model behind a visible window.
        QTimer.singleShot(0, lambda: window.open_model(model, arch=arch, trust=trust))
    return finish(app.exec())


def finish(status: int) -> int:
    """The exit status, once the window is gone; the process ends here if a stuck worker still runs.

    An abandoned worker (a forward that never returned) cannot be stopped,
    and letting Python finalise with its thread inside torch aborts the
    process; so, with Qt's own cleanup done, the process exits at once.
    """
    from inspector.core.watch import exit_now
    from inspector.gui.run_worker import abandoned_running

    if abandoned_running():
        exit_now(status)
    return status

