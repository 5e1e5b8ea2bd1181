"""The File menu's work: opening models and session files, saving sessions, the recent list.

:class:`ModelFiles` asks through the controller's prompts (so tests script
the answers), opens through the controller (the model loads on a worker),
and remembers folders and recent models in the settings. It writes to the
window only through :class:`~inspector.gui.window_messages.WindowMessages`
and the input panel it is given.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication, QMenu

from inspector.gui import collector, settings

if TYPE_CHECKING:
    from inspector.core.session import Session
    from inspector.core.tree import ModuleNode
    from inspector.gui.controller import SessionController
    from inspector.gui.panels.input_panel import InputPanel
    from inspector.gui.panels.plots import PlotsPanel
    from inspector.gui.window_messages import WindowMessages


class ModelFiles(QObject):
    """Open, open session, save session and the recent list of one window."""

    def __init__(self, controller: SessionController, input_panel: InputPanel, messages: WindowMessages,
                 recent_menu: QMenu, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.input_panel = input_panel
        self.messages = messages
        self.recent_menu = recent_menu
        controller.sig_session_opened.connect(self._on_controller_session_opened)
        controller.sig_session_file_opened.connect(self._on_controller_session_file_opened)
        self.fill_recent_menu()

    def open_model(self, spec: str, *, arch: str | None = None, trust: bool = False, wait: bool = False,
                   named: bool = True) -> bool:
        """Open a model from any MODEL form; ``wait`` returns once it is shown (see the controller).

        ``named=False``: ``spec`` was not chosen by the person just now (the recent list), so a
        Python callable asks for trust first.
        """
        self._collect_before_opening()
        self.messages.status(f"Opening {spec}…")
        started = self.controller.open_model(spec, arch=arch, trust=trust, wait=wait, named=named)
        if started and not wait:
            self.input_panel.set_running(True)
        return started

    def open_session_file(self, path: str, *, trust: bool = False, wait: bool = False) -> bool:
        """Open a saved session (model, edits, input, device); what could not be restored is listed.

        The model loads on a worker, as for Open Model; ``wait`` returns once it is shown. A model
        that is code or a pickle asks for trust, unless ``trust`` (``gui --session FILE --trust``).
        """
        self._collect_before_opening()
        self.messages.status(f"Opening {path}…")
        started = self.controller.open_session_file(path, trust=trust, wait=wait)
        if started and not wait:
            self.input_panel.set_running(True)
        return started

    def choose_and_open_model(self) -> None:
        """Let the user pick a model in the zoo dialog and open it."""
        session = self.controller.session
        name = self.controller.prompts.choose_model(session.loaded.arch if session is not None else None)
        if name:
            self.open_model(name)

    def choose_and_open_file(self) -> None:
        """Let the user pick a model file (or a Python factory) and open it."""
        path = self.controller.prompts.open_model_file(settings.last_model_folder())
        if path:
            settings.remember_model_folder(os.path.dirname(path.split(":")[0]))
            self.open_model(path)

    def choose_and_open_session(self) -> None:
        """Let the user pick a saved session file and open it."""
        path = self.controller.prompts.open_session_file(settings.last_model_folder())
        if path:
            self.open_session_file(path)

    def save_session(self) -> bool:
        """Save the model's source, edits, input and device to a session file; the edits count as saved."""
        from inspector.core.errors import InspectorError
        from inspector.gui import session_io

        controller = self.controller
        session = controller.session
        if session is None or controller.busy:
            return False
        try:
            controller.set_input(self.input_panel.inputs(), self.input_panel.mode())
        except InspectorError:
            session.mode = self.input_panel.mode()  # the session keeps the last input that worked
        path, error = session_io.save_session_as(controller.prompts, session, settings.last_model_folder())
        if error:
            self.messages.report("Session not saved", error)
            return False
        if path is None:
            return False
        controller.undo_stack.setClean()
        self.messages.log(f"Saved the session to {path}")
        self.messages.status(f"Saved {path}", 5000)
        return True

    def save_plot(self, plots: Callable[[], PlotsPanel | None]) -> None:
        """Save the plot on screen as a PNG file the user names."""
        path = self.controller.prompts.save_file("Save plot", "plot.png", "PNG image (*.png)")
        if path:
            self._write_with_plots(plots(), path, "the plot", lambda panel: panel.save_png(path))

    def export_csv(self, plots: Callable[[], PlotsPanel | None], tree: ModuleNode | None) -> None:
        """Write every module's statistics of the last run to a CSV file the user names (``tree``: the plain
        tree the window shows, for the params and replaced columns; the live model is not touched)."""
        path = self.controller.prompts.save_file("Export statistics", "statistics.csv", "CSV (*.csv)")
        if path:
            self._write_with_plots(plots(), path, "the statistics", lambda panel: panel.export_csv(path, tree))

    def _write_with_plots(self, plots: PlotsPanel | None, path: str, what: str, write: Callable[[Any], None]) -> None:
        from inspector.core.errors import InspectorError

        if plots is None:
            return
        try:
            write(plots)
        except (InspectorError, OSError) as error:
            self.messages.report(f"Could not write {what}", str(error), level="warning")
            return
        self.messages.log(f"Wrote {what} to {path}")

    def fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        entries = settings.recent_models()
        for entry in entries:
            action = self.recent_menu.addAction(entry.label)
            # A list remembered on disk is not the person naming code: a callable asks for trust.
            action.triggered.connect(
                lambda _checked=False, e=entry: self.open_model(e.source, arch=e.arch, named=False)
            )
        self.recent_menu.setEnabled(bool(entries))

    def _collect_before_opening(self) -> None:
        gui_collector = collector.of(QApplication.instance())
        if gui_collector is not None and self.controller.session is not None and not self.controller.busy:
            gui_collector.collect_everything()

    def _on_controller_session_opened(self, session: Session, _tree: ModuleNode) -> None:
        settings.remember_model(session.source, session.loaded.arch if session.loaded.kind == "state_dict" else None)
        self.fill_recent_menu()
        gui_collector = collector.of(QApplication.instance())
        if gui_collector is not None:
            gui_collector.freeze_survivors()

    def _on_controller_session_file_opened(self, path: str, problems: list[str]) -> None:
        settings.remember_model_folder(os.path.dirname(path))
        if problems:
            self.messages.report(f"Opened {path}, not all of it", "\n".join(problems), level="warning")
        self.messages.log(f"Opened the session {path}")
