"""What the window tells a person, from the controller's signals: the banner, the log and the status bar.

:class:`WindowMessages` owns the status bar's labels (model, device, last
run) and turns each of the controller's events (a model opened, an edit, a
run's end, a problem, a stuck task) into the banner, a log line, a status
message and the run's progress text. It knows the widgets it writes to and
nothing else of the window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QStatusBar

from inspector.core.formatting import format_shapes

if TYPE_CHECKING:
    from inspector.core.edits import Edit
    from inspector.core.probe import ProbeRun
    from inspector.core.session import Session
    from inspector.core.tree import ModuleNode
    from inspector.gui.controller import SessionController
    from inspector.gui.panels.banner import MessageBanner
    from inspector.gui.panels.input_panel import InputPanel
    from inspector.gui.panels.log import LogPanel


class WindowMessages(QObject):
    """The banner, the log, the status bar and the run's progress text of one window."""

    def __init__(self, controller: SessionController, banner: MessageBanner, log_panel: LogPanel,
                 status_bar: QStatusBar, input_panel: InputPanel, select_module: Callable[[str], bool],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.banner = banner
        self.log_panel = log_panel
        self.status_bar = status_bar
        self.input_panel = input_panel
        self._select_module = select_module
        self.model_label = QLabel("No model")
        self.device_label = QLabel("")
        self.run_label = QLabel("")
        for label in (self.model_label, self.device_label, self.run_label):
            status_bar.addPermanentWidget(label)
        controller.sig_session_opened.connect(self._on_controller_session_opened)
        controller.sig_edited.connect(self._on_controller_edited)
        controller.sig_run_finished.connect(self._on_controller_run_finished)
        controller.sig_problem.connect(self._on_controller_problem)
        controller.sig_edit_noted.connect(self._on_controller_edit_noted)
        controller.sig_task_stuck.connect(self._on_controller_task_stuck)
        controller.sig_task_abandoned.connect(self._on_controller_task_abandoned)

    # ----------------------------------------------------------------- saying things

    def report(self, title: str, message: str, *, level: str = "error", module: str | None = None,
               trace: str | None = None) -> None:
        """Show a problem in the banner and the log (with its traceback when it was unexpected)."""
        self.banner.show_message(title, message, level=level, module=module)
        self.log_panel.append(f"{title}: {message}", level)
        if trace:
            self.log_panel.append(trace.rstrip(), "detail")
        self.status(title, 8000)

    def status(self, text: str, timeout_ms: int = 0) -> None:
        """A message in the status bar (``timeout_ms`` 0: until the next one)."""
        self.status_bar.showMessage(text, timeout_ms)

    def log(self, text: str, level: str = "info") -> None:
        self.log_panel.append(text, level)

    # ----------------------------------------------------------------- the controller's events

    def _on_controller_session_opened(self, session: Session, tree: ModuleNode) -> None:
        self.banner.hide()
        self.set_model_label(session, tree)
        self.device_label.setText(str(session.device))
        self.run_label.setText("")
        self.log(f"Opened {session.source} ({session.class_name}, {session.params:,} parameters, "
                 f"{session.module_count:,} modules)")
        for note in session.loaded.notes:
            self.log(note, "warning")
        if session.read_only:
            self.banner.show_message("Read-only model", "A TorchScript module cannot be edited. Its layers' shapes and "
                                     "statistics are read from its graph; their times are not.", level="info")
        self.status(f"Opened {session.source}", 5000)

    def set_model_label(self, session: Session, tree: ModuleNode) -> None:
        """Source, class and size in the status bar: the model as it is now, and as loaded once edits change it."""
        modules = sum(1 for _ in tree.walk())
        text = f"{session.source} · {session.class_name} · {tree.total_params:,} parameters · {modules:,} modules"
        if (tree.total_params, modules) != (session.params, session.module_count):
            text += f" (as loaded: {session.params:,} · {session.module_count:,})"
        self.model_label.setText(text)

    def _on_controller_edited(self, edit: Edit) -> None:
        session = self.controller.session
        if session is not None:
            self.set_model_label(session, session.tree())
        self.log(edit.text)
        self.status(edit.text, 4000)
        if self.banner.about_edit:  # it told what the previous edit did; this one changed that
            self.banner.hide()

    def _on_controller_run_finished(self, run: ProbeRun | None) -> None:
        session = self.controller.session
        if run is None or session is None:
            self.input_panel.finish_progress("failed")
            return
        self.device_label.setText(run.device)
        done = sum(1 for record in run.records.values() if record.calls)
        if run.cancelled:
            self.input_panel.finish_progress(f"cancelled after {done} of {len(run.records)} modules")
            self.log(f"Run cancelled after {done} of {len(run.records)} modules", "warning")
            self.status("Run cancelled", 5000)
            return
        took = f"{run.total_ms:.0f} ms" if run.total_ms is not None else "—"
        self.run_label.setText(f"last run {took}")
        if run.error is None:
            if self.banner.level == "error":
                self.banner.hide()
            self.input_panel.finish_progress(f"done: {done} modules in {took}")
            self.log(f"Ran {session.source} on {run.device} ({run.mode}) in {took}: "
                     f"output {format_shapes(run.output_shapes)}")
            self.status(f"Output {format_shapes(run.output_shapes)} in {took}", 8000)
            return
        error = run.error
        where = error.module if error.module else "the model's own forward"
        title = f"The run failed in {where}" + (f" ({error.type_name})" if error.type_name else "")
        message = (f"{error.exception_type}: {error.message}\nInput shapes: {format_shapes(error.input_shapes)}\n"
                   f"The records of the {done} modules that ran before it are kept.")
        self.input_panel.finish_progress("failed")
        self.report(title, message, module=error.module)
        if error.module is not None:
            self._select_module(error.module)

    def _on_controller_edit_noted(self, title: str, message: str) -> None:
        self.banner.show_message(title, message, level="info", action=("Undo", self.controller.undo), about_edit=True)
        self.log(message)

    def _on_controller_problem(self, title: str, message: str, level: str, trace: str) -> None:
        self.report(title, message, level=level, trace=trace or None)

    def _on_controller_task_stuck(self, module: str, type_name: str, seconds: float) -> None:
        where = module or "the model's own forward"
        self.banner.show_message(
            f"The run is stuck in {where} ({type_name})",
            f"No module has started or returned for {seconds:.0f} s. Cancel stops the run when the model enters "
            "its next module; a forward that never does can only be abandoned: the model is then closed and "
            "opened again from its source, without its edits.",
            level="warning", module=module, action=("Abandon run", self.controller.abandon_task))
        self.log(f"The run has been in {where} ({type_name}) for {seconds:.0f} s", "warning")
        self.status(f"Stuck in {where} for {seconds:.0f} s")

    def _on_controller_task_abandoned(self, description: str, module: str) -> None:
        where = f" in {module}" if module else ""
        self.report(f"Abandoned: {description}",
                    f"It was stuck{where}. Its thread runs on in the background until the app quits; the model "
                    "is opened again from its source, without its edits.", level="warning")
        self.input_panel.finish_progress("abandoned")
