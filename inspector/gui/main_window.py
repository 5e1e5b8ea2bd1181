"""The main window: it assembles the panels and the actions, and hands work to the core.

Left: a search box over the module tree. Right: the input & device panel,
then tabs (Plots, Details, Summary, Log). A message banner across the top
shows errors where the user is looking. Every change to the model is a
command on the undo stack; runs, loads and summaries are done by workers
on their own threads, and while one uses the model the actions that would
change it are disabled.

The window keeps the :class:`~inspector.core.session.Session` (which owns the
model) and never a reference to the ``nn.Module`` itself. Nothing here
imports torch at module level: the window paints first, and torch is
imported by the first load, behind it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMenu, QSplitter, QTabWidget, QToolBar, QVBoxLayout, QWidget

from inspector.gui import actions as actions_mod
from inspector.gui import collector, icons, settings
from inspector.gui.analysis_tabs import AnalysisTabs
from inspector.gui.controller import SessionController
from inspector.gui.panels.banner import MessageBanner
from inspector.gui.panels.details import DetailsPanel
from inspector.gui.panels.input_panel import InputPanel
from inspector.gui.panels.log import LogPanel
from inspector.gui.panels.summary import SummaryPanel
from inspector.gui.prompts import Prompts
from inspector.gui.panels.module_tree import ModuleTreePanel
from inspector.gui.tree_model import format_shapes

if TYPE_CHECKING:
    from inspector.core.edits import Edit
    from inspector.core.probe import ProbeRun
    from inspector.core.session import Session
    from inspector.core.tree import ModuleNode
    from inspector.gui.panels.plots import PlotsPanel

SELECTION_DELAY_MS = 60
"""Plots follow the tree's selection at most this often (arrow keys repeat faster)."""
PLOTS_TAB = 0


class MainWindow(QMainWindow):
    """Model Inspector's window over one :class:`Session` at a time."""

    sig_model_loaded = Signal(str)
    """A model was opened and is shown (its source, e.g. ``torchvision:resnet18``)."""
    sig_run_finished = Signal(object)
    """A run ended and the window shows it: the ProbeRun (ok, failed or cancelled), or None when it could not start."""
    sig_summary_finished = Signal(str)
    """The Summary tab was filled (the torchinfo text, or the message saying why not)."""

    def __init__(self, prompts: Any = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Model Inspector")
        self.setWindowIcon(icons.icon("app"))
        self.setAcceptDrops(True)
        self.controller = SessionController(prompts if prompts is not None else Prompts(self), self)
        self.undo_stack = self.controller.undo_stack
        self.plots: PlotsPanel | None = None
        self.analysis: AnalysisTabs | None = None
        """The Compare and Sweep tabs, created with the plots."""
        self._plots_pending = False
        """A run finished and the plots have not drawn it yet (they do in the next event-loop turn)."""

        self._build_widgets()
        self.actions = actions_mod.create_actions(self, self._action_slots())
        self._build_menus()
        self.input_panel.attach_actions(self.actions["actionRun"], self.actions["actionCancel"])
        self.summary_panel.attach_action(self.actions["actionRefreshSummary"])
        self._selection_timer = QTimer(self)
        self._selection_timer.setSingleShot(True)
        self._selection_timer.setInterval(SELECTION_DELAY_MS)
        self._connect()
        settings.restore_window(self, self.splitter)
        self.update_actions()

    # ================================================================= building

    def _build_widgets(self) -> None:
        self.banner = MessageBanner(self)
        self.tree_panel = ModuleTreePanel(self)
        self.tree_panel.tree_model.set_replaced_icon(icons.icon("identity"))
        self.tree = self.tree_panel.tree
        self.tree_model = self.tree_panel.tree_model
        self.proxy = self.tree_panel.proxy
        self.search_edit = self.tree_panel.search_edit

        self.input_panel = InputPanel(self)
        self.input_panel.choose_image = lambda: self.prompts.choose_image()
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self._plots_placeholder = QLabel("Plots appear here once a model is open and has run (F5).", self)
        self._plots_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.details_panel = DetailsPanel(self)
        self.summary_panel = SummaryPanel(self)
        self.log_panel = LogPanel(self)
        self.tabs.addTab(self._plots_placeholder, "Plots")
        self.tabs.addTab(self.details_panel, "Details")
        self.tabs.addTab(self.summary_panel, "Summary")
        self.tabs.addTab(self.log_panel, "Log")
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 6, 0)
        right_layout.setSpacing(4)
        right_layout.addWidget(self.input_panel)
        right_layout.addWidget(self.tabs, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.tree_panel)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        central = QWidget(self)
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(6, 4, 6, 0)
        central_layout.setSpacing(4)
        central_layout.addWidget(self.banner)
        central_layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.model_label = QLabel("No model", self)
        self.device_label = QLabel("", self)
        self.run_label = QLabel("", self)
        for label in (self.model_label, self.device_label, self.run_label):
            self.statusBar().addPermanentWidget(label)

    def _action_slots(self) -> dict[str, Any]:
        return {
            "actionOpenModel": self.choose_and_open_model,
            "actionOpenFile": self.choose_and_open_file,
            "actionOpenSession": self.choose_and_open_session,
            "actionSaveSession": self.save_session,
            "actionQuit": self.close,
            "actionUndo": self.undo,
            "actionRedo": self.redo,
            "actionReplaceIdentity": self.replace_current_with_identity,
            "actionRestoreOriginal": self.restore_current,
            "actionRestoreAll": self.restore_all,
            "actionRun": self.start_run,
            "actionCancel": self.cancel_run,
            "actionFind": self.tree_panel.focus_search,
            "actionExpandAll": self.tree.expandAll,
            "actionCollapseAll": self.tree_panel.collapse,
            "actionSavePlot": self.save_plot,
            "actionExportCsv": self.export_csv,
            "actionRefreshSummary": self.refresh_summary,
            "actionAbout": self._on_about_triggered,
        }

    def _build_menus(self) -> None:
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.setObjectName("recentMenu")
        for title, entries in actions_mod.MENUS:
            menu = self.menuBar().addMenu(title)
            for entry in entries:
                if entry is None:
                    menu.addSeparator()
                elif entry == "@recent":
                    menu.addMenu(self.recent_menu)
                else:
                    menu.addAction(self.actions[entry])
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for entry in actions_mod.TOOLBAR:
            if entry is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(self.actions[entry])
        self.addToolBar(toolbar)
        self._fill_recent_menu()

    def _connect(self) -> None:
        self.tree_panel.sig_current_changed.connect(self._on_tree_panel_current_changed)
        self.tree_panel.sig_context_menu_requested.connect(self._on_tree_panel_context_menu_requested)
        self.controller.sig_session_opened.connect(self._on_controller_session_opened)
        self.controller.sig_session_file_opened.connect(self._on_controller_session_file_opened)
        self.controller.sig_edited.connect(self._on_controller_edited)
        self.controller.sig_busy_changed.connect(self._on_controller_busy_changed)
        self.controller.sig_run_progressed.connect(self.input_panel.set_progress)
        self.controller.sig_run_finished.connect(self._on_controller_run_finished)
        self.controller.sig_summary_finished.connect(self._on_controller_summary_finished)
        self.controller.sig_problem.connect(self._on_controller_problem)
        self.controller.sig_edit_noted.connect(self._on_controller_edit_noted)
        self.controller.sig_task_stuck.connect(self._on_controller_task_stuck)
        self.controller.sig_task_abandoned.connect(self._on_controller_task_abandoned)
        self.undo_stack.indexChanged.connect(self._on_undo_stack_index_changed)
        self.undo_stack.cleanChanged.connect(self._on_undo_stack_clean_changed)
        self.banner.sig_module_requested.connect(self.select_module)
        self.input_panel.sig_changed.connect(self.summary_panel.mark_stale)
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        self._selection_timer.timeout.connect(self._on_selection_timer_timeout)

    # ================================================================= state

    @property
    def prompts(self) -> Any:
        """Asks the user (confirm, trust, architecture, files); tests put in their own answers."""
        return self.controller.prompts

    @prompts.setter
    def prompts(self, prompts: Any) -> None:
        """Asks the user (confirm, trust, architecture, files); tests put in their own answers."""
        self.controller.prompts = prompts

    @property
    def session(self) -> Session | None:
        """The inspected session (it owns the model); None before a model is open."""
        return self.controller.session

    @property
    def busy(self) -> bool:
        """True while a worker uses the model (loading, running, summarising)."""
        return self.controller.busy

    @property
    def running(self) -> bool:
        """A run is in progress and has not been asked to stop."""
        return self.controller.running

    def ui_state(self) -> actions_mod.UiState:
        """What the actions need to know to be enabled or not, now."""
        session = self.session
        current = self.current_module()
        replaced = session.replaced if session is not None else []
        return actions_mod.UiState(
            has_model=session is not None,
            busy=self.busy,
            running=self.running,
            editable=session is not None and not session.read_only,
            current=current,
            current_replaced=current in replaced,
            current_inside_replaced=current is not None and any(current.startswith(r + ".") for r in replaced),
            any_replaced=bool(replaced),
            can_undo=self.undo_stack.canUndo(),
            can_redo=self.undo_stack.canRedo(),
            undo_text=self.undo_stack.undoText(),
            redo_text=self.undo_stack.redoText(),
            has_run=session is not None and session.last_run is not None,
        )

    def update_actions(self) -> None:
        """Enable each action for the state the window is in now."""
        actions_mod.update_actions(self.actions, self.ui_state())

    def current_module(self) -> str | None:
        """Qualified name of the tree's current module (``""`` is the root), None when none."""
        return self.tree_panel.current_module()

    def select_module(self, name: str) -> bool:
        """Make a module the tree's current one and scroll to it; False when it is not in the tree."""
        return self.tree_panel.select_module(name)

    # ================================================================= models

    def open_model(self, spec: str, *, arch: str | None = None, trust: bool = False, wait: bool = False,
                   named: bool = True) -> bool:
        """Open a model from any MODEL form; ``wait`` returns once it is shown (see the controller).

        ``named=False``: ``spec`` was not chosen by the person just now (the recent list), so a
        Python callable asks for trust first.
        """
        self._collect_before_opening()
        self._show_status(f"Opening {spec}…")
        # Device "auto": the checkpoint is loaded dispatched by accelerate (what fits in memory, the rest on disk).
        self.controller.load_options = {"dispatched": True} if self.input_panel.device() == "auto" else {}
        started = self.controller.open_model(spec, arch=arch, trust=trust, wait=wait, named=named)
        if started and not wait:
            self.input_panel.set_running(True)
        return started

    def _collect_before_opening(self) -> None:
        gui_collector = collector.of(QApplication.instance())
        if gui_collector is not None and self.session is not None and not self.busy:
            gui_collector.collect_everything()

    def choose_and_open_model(self) -> None:
        """Let the user pick a torchvision model in the zoo dialog and open it."""
        arch = self.session.loaded.arch if self.session is not None else None
        name = self.prompts.choose_model(arch)
        if name:
            self.open_model(name)

    def choose_and_open_file(self) -> None:
        """Let the user pick a model file (or a Python factory) and open it."""
        path = self.prompts.open_model_file(settings.last_model_folder())
        if path:
            settings.remember_model_folder(os.path.dirname(path.split(":")[0]))
            self.open_model(path)

    def choose_and_open_session(self) -> None:
        """Let the user pick a saved session file and open it."""
        path = self.prompts.open_session_file(settings.last_model_folder())
        if path:
            self.open_session_file(path)

    def open_session_file(self, path: str, *, trust: bool = False, wait: bool = False) -> bool:
        """Open a saved session (model, edits, input, device); what could not be restored is listed.

        The model loads on a worker, as for Open Model; ``wait`` returns once it is shown. A model
        that is code or a pickle asks for trust, unless ``trust`` (``gui --session FILE --trust``).
        """
        self._collect_before_opening()
        self._show_status(f"Opening {path}…")
        started = self.controller.open_session_file(path, trust=trust, wait=wait)
        if started and not wait:
            self.input_panel.set_running(True)
        return started

    def _on_controller_session_file_opened(self, path: str, problems: list[str]) -> None:
        settings.remember_model_folder(os.path.dirname(path))
        if problems:
            self._report(f"Opened {path}, not all of it", "\n".join(problems), level="warning")
        self.log_panel.append(f"Opened the session {path}")

    def save_session(self) -> bool:
        """Save the model's source, edits, input and device to a session file; the edits count as saved."""
        from inspector.core.errors import InspectorError
        from inspector.gui import session_io

        session = self.session
        if session is None or self.busy:
            return False
        try:
            session.set_input(self.input_panel.inputs())
        except InspectorError:
            pass  # the session keeps the last input that worked
        session.mode = self.input_panel.mode()
        path, error = session_io.save_session_as(self.prompts, session, settings.last_model_folder())
        if error:
            self._report("Session not saved", error)
            return False
        if path is None:
            return False
        self.undo_stack.setClean()
        self.log_panel.append(f"Saved the session to {path}")
        self._show_status(f"Saved {path}", 5000)
        return True

    def _on_controller_session_opened(self, session: Session, tree: ModuleNode) -> None:
        from inspector.core.devices import available_devices

        self.tree_model.set_tree(tree)
        self.tree_model.set_placement(session.dispatch.placement_of if session.dispatch is not None else None)
        self.tree_panel.show_new_tree()
        if self.analysis is not None:
            self.analysis.set_session(session)
        if self.plots is not None:
            self.plots.clear()
        else:  # in the next turn of the event loop: the tree is shown first
            QTimer.singleShot(0, self._ensure_plots)
        self.details_panel.clear()
        self.summary_panel.set_message("The torchinfo summary is computed when this tab is shown.")
        self.summary_panel.mark_stale()
        self.banner.hide()
        self.input_panel.set_running(False)
        from inspector.core.dispatch import device_choices

        self.input_panel.set_devices(device_choices(available_devices()))
        self.input_panel.set_inputs(session.inputs)
        self.input_panel.set_device("auto" if session.dispatch is not None else str(session.device))
        self.input_panel.set_mode(session.mode)
        self.input_panel.finish_progress("not run yet")
        self._set_model_label(session, tree)
        self.device_label.setText(str(session.device))
        self.run_label.setText("")
        self._remember_recent(session.source, session.loaded.arch if session.loaded.kind == "state_dict" else None)
        self._update_title()
        self.log_panel.append(f"Opened {session.source} ({session.class_name}, {session.params:,} parameters, "
                              f"{session.module_count:,} modules)")
        for note in session.loaded.notes:
            self.log_panel.append(note, "warning")
        if session.read_only:
            self.banner.show_message("Read-only model", "TorchScript modules take no hooks and no edits: the tree "
                                     "and output shapes are shown, per-layer records are not.", level="info")
        self._show_status(f"Opened {session.source}", 5000)
        gui_collector = collector.of(QApplication.instance())
        if gui_collector is not None:
            gui_collector.freeze_survivors()
        self.update_actions()
        if self.tabs.currentWidget() is self.summary_panel:
            self.refresh_summary()
        self.sig_model_loaded.emit(session.source)

    # ================================================================= edits

    def replace_current_with_identity(self) -> bool:
        """Replace the tree's current module with ``nn.Identity`` (warning first when its shapes differ)."""
        return self.controller.replace_with_identity(self.current_module() or "")

    def restore_current(self) -> bool:
        """Put the original module back at the tree's current path."""
        return self.controller.restore(self.current_module() or "")

    def restore_all(self) -> bool:
        """Put every replaced module back (one undoable edit)."""
        return self.controller.restore_all()

    def undo(self) -> bool:
        return self.controller.undo()

    def redo(self) -> bool:
        return self.controller.redo()

    def _on_controller_edited(self, edit: Edit) -> None:
        session = self.session
        assert session is not None
        current = self.current_module()
        tree = session.tree()
        self.tree_model.refresh_paths(tree, [swap.path for swap in edit.swaps])
        self._set_model_label(session, tree)
        self.tree_model.set_stale(session.last_run is not None)
        self.summary_panel.mark_stale()
        if self.analysis is not None:
            self.analysis.model_edited()
        self.log_panel.append(edit.text)
        self._show_status(edit.text, 4000)
        if self.banner.about_edit:  # it told what the previous edit did; this one changed that
            self.banner.hide()
        if current is not None and self.current_module() == current:
            self._show_details()
        self.update_actions()

    def _set_model_label(self, session: Session, tree: ModuleNode) -> None:
        """Source, class and size in the status bar: the model as it is now, and as loaded once edits change it."""
        modules = sum(1 for _ in tree.walk())
        text = f"{session.source} · {session.class_name} · {tree.total_params:,} parameters · {modules:,} modules"
        if (tree.total_params, modules) != (session.params, session.module_count):
            text += f" (as loaded: {session.params:,} · {session.module_count:,})"
        self.model_label.setText(text)

    # ================================================================= runs

    def start_run(self) -> bool:
        """Run the sample input through the model on a worker; False when it cannot start now."""
        from inspector.core.errors import InspectorError

        if self.session is None or self.busy:
            return False
        try:
            spec = self.input_panel.inputs()
        except InspectorError as error:
            self.input_panel.show_problem(str(error))
            self._report("The input cannot be built", str(error), level="warning")
            self.sig_run_finished.emit(None)
            return False
        if not self.controller.start_run(spec, self.input_panel.device(), self.input_panel.mode()):
            return False
        self.input_panel.set_running(True)
        self.input_panel.show_problem(None)
        self._show_status(f"Running {self.session.source} on {self.input_panel.device()}…")
        return True

    def cancel_run(self) -> None:
        """Stop the run at the next module boundary."""
        if self.controller.cancel_run():
            self._show_status("Cancelling…")

    def _on_controller_run_finished(self, run: ProbeRun | None) -> None:
        session = self.session
        if run is None or session is None:
            self.input_panel.finish_progress("failed")
            self.sig_run_finished.emit(run)
            return
        self.device_label.setText(run.device)
        done = sum(1 for record in run.records.values() if record.calls)
        if run.cancelled:
            self.input_panel.finish_progress(f"cancelled after {done} of {len(run.records)} modules")
            self.log_panel.append(f"Run cancelled after {done} of {len(run.records)} modules", "warning")
            self._show_status("Run cancelled", 5000)
            self.sig_run_finished.emit(run)
            return
        self.tree_model.set_run(run)
        # The plots are drawn in the next turn of the event loop, so the tree
        # repaints in between: each turn stays well under 100 ms.
        self._plots_pending = True
        QTimer.singleShot(0, self._update_plots)
        took = f"{run.total_ms:.0f} ms" if run.total_ms is not None else "—"
        self.run_label.setText(f"last run {took}")
        if run.error is None:
            if self.banner.level == "error":
                self.banner.hide()
            self.input_panel.finish_progress(f"done: {done} modules in {took}")
            self.log_panel.append(f"Ran {session.source} on {run.device} ({run.mode}) in {took}: "
                                  f"output {format_shapes(run.output_shapes)}")
            self._show_status(f"Output {format_shapes(run.output_shapes)} in {took}", 8000)
            self._show_details()
        else:
            self._show_run_error(run, done)
        self.update_actions()
        self.sig_run_finished.emit(run)

    def _update_plots(self) -> None:
        """Show the last run in the plots, the run before the edits faintly behind it."""
        session = self.session
        if session is None or self.controller.closing or not self._plots_pending:
            return
        self._plots_pending = False
        self._ensure_plots()
        if self.plots is not None:
            self.plots.set_runs(session.last_run, session.baseline_run if session.replaced else None)
            self.plots.select_module(self.current_module() or None)
        if self.analysis is not None:
            self.analysis.run_shown(session)

    def _show_run_error(self, run: ProbeRun, done: int) -> None:
        error = run.error
        assert error is not None
        where = error.module if error.module else "the model's own forward"
        title = f"The run failed in {where}" + (f" ({error.type_name})" if error.type_name else "")
        message = (f"{error.exception_type}: {error.message}\nInput shapes: {format_shapes(error.input_shapes)}\n"
                   f"The records of the {done} modules that ran before it are kept.")
        self.input_panel.finish_progress("failed")
        self._report(title, message, module=error.module)
        if error.module is not None:
            self.select_module(error.module)
        self._show_details()

    def _on_controller_busy_changed(self, busy: bool) -> None:
        if not busy:
            self.input_panel.set_running(False)
            if self.tabs.currentWidget() is self.summary_panel and self.summary_panel.stale:
                # The tab was shown while the model was busy: fill it now.
                QTimer.singleShot(0, self.refresh_summary)
        self.update_actions()

    def _on_controller_edit_noted(self, title: str, message: str) -> None:
        self.banner.show_message(title, message, level="info", action=("Undo", self.controller.undo), about_edit=True)
        self.log_panel.append(message)

    def _on_controller_problem(self, title: str, message: str, level: str, trace: str) -> None:
        self._report(title, message, level=level, trace=trace or None)

    def abandon_task(self) -> bool:
        """Give up a stuck run: the model is closed and opened again from its source, without its edits."""
        return self.controller.abandon_task()

    def _on_controller_task_stuck(self, module: str, type_name: str, seconds: float) -> None:
        where = module or "the model's own forward"
        self.banner.show_message(
            f"The run is stuck in {where} ({type_name})",
            f"No module has started or returned for {seconds:.0f} s. Cancel stops the run when the model enters "
            "its next module; a forward that never does can only be abandoned: the model is then closed and "
            "opened again from its source, without its edits.",
            level="warning", module=module, action=("Abandon run", self.abandon_task))
        self.log_panel.append(f"The run has been in {where} ({type_name}) for {seconds:.0f} s", "warning")
        self._show_status(f"Stuck in {where} for {seconds:.0f} s")

    def _on_controller_task_abandoned(self, description: str, module: str) -> None:
        where = f" in {module}" if module else ""
        self._report(f"Abandoned: {description}",
                     f"It was stuck{where}. Its thread runs on in the background until the app quits; the model "
                     "is opened again from its source, without its edits.", level="warning")
        self.input_panel.finish_progress("abandoned")

    # ================================================================= summary, plots, files

    def refresh_summary(self) -> None:
        """Compute the torchinfo summary of the model as it is now, on a worker."""
        from inspector.core.errors import InspectorError

        if self.session is None or self.busy:
            return
        try:
            spec = self.input_panel.inputs()
        except InspectorError as error:
            self.summary_panel.set_message(f"No summary: {error}")
            self.sig_summary_finished.emit(str(error))
            return
        if self.controller.start_summary(spec, self.input_panel.mode()):
            self.summary_panel.set_message("Computing the summary…")

    def _on_controller_summary_finished(self, text: str | None, caption: str) -> None:
        if text is None:
            self.summary_panel.set_message(caption)
            self.sig_summary_finished.emit(caption)
            return
        self.summary_panel.set_text(text, caption)
        self.sig_summary_finished.emit(text)

    def _ensure_plots(self) -> None:
        """Create the plots panel on first use: pyqtgraph loads after the window is on screen."""
        if self.plots is not None or self.controller.closing:
            return
        from inspector.gui.panels.plots import PlotsPanel

        self.plots = PlotsPanel(self)
        self.plots.setObjectName("plotsPanel")
        self.plots.sig_module_clicked.connect(self.select_module)
        current = self.tabs.currentIndex()
        self.tabs.removeTab(PLOTS_TAB)
        self.tabs.insertTab(PLOTS_TAB, self.plots, "Plots")
        self.analysis = AnalysisTabs(self, self.tabs.indexOf(self.log_panel))
        self.tabs.setCurrentIndex(current)
        self._plots_placeholder.deleteLater()

    def save_plot(self) -> None:
        """Save the plot on screen as a PNG file the user names."""
        path = self.prompts.save_file("Save plot", "plot.png", "PNG image (*.png)")
        if path:
            self._write_with_plots(path, "the plot", lambda plots: plots.save_png(path))

    def export_csv(self) -> None:
        """Write every module's statistics of the last run to a CSV file the user names."""
        path = self.prompts.save_file("Export statistics", "statistics.csv", "CSV (*.csv)")
        if path:
            self._write_with_plots(path, "the statistics", lambda plots: plots.export_csv(path))

    def _write_with_plots(self, path: str, what: str, write: Any) -> None:
        from inspector.core.errors import InspectorError

        if self._plots_pending:  # the last run is not drawn yet: draw it now, it is what is saved
            self._update_plots()
        if self.plots is None:
            return
        try:
            write(self.plots)
        except (InspectorError, OSError) as error:
            self._report(f"Could not write {what}", str(error), level="warning")
            return
        self.log_panel.append(f"Wrote {what} to {path}")

    # ================================================================= slots

    def _on_tree_panel_current_changed(self, _name: str | None) -> None:
        self._show_details()
        self.update_actions()
        self._selection_timer.start()

    def _on_selection_timer_timeout(self) -> None:
        if self.plots is not None:
            name = self.current_module()
            self.plots.select_module(name if name else None)

    def _show_details(self) -> None:
        name = self.current_module()
        node = self.tree_model.find(name) if name is not None else None
        if node is None or self.session is None:
            self.details_panel.clear()
            return
        original = None
        if node.replaced:
            module = self.session.editor.original(name)  # type: ignore[arg-type]
            original = f"{type(module).__name__}({module.extra_repr()})" if module is not None else None
        self.details_panel.show_module(node, self.tree_model.run, stale=self.tree_model.stale, original=original)

    def context_menu(self) -> QMenu:
        """The tree's right-click menu, built from the declared actions."""
        menu = QMenu(self)
        menu.setObjectName("treeContextMenu")
        for entry in actions_mod.CONTEXT_MENU:
            if entry is None:
                menu.addSeparator()
            else:
                menu.addAction(self.actions[entry])
        return menu

    def _on_tree_panel_context_menu_requested(self, position: QPoint) -> None:
        menu = self.context_menu()
        menu.exec(position)
        menu.deleteLater()

    def _on_undo_stack_index_changed(self, _index: int) -> None:
        self.update_actions()
        self._update_title()

    def _on_undo_stack_clean_changed(self, _clean: bool) -> None:
        self._update_title()

    def _on_tabs_current_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.summary_panel and self.summary_panel.stale:
            self.refresh_summary()

    def _on_about_triggered(self) -> None:
        from inspector.core.about import about_lines

        self.prompts.inform("About Model Inspector", "Model Inspector: look inside PyTorch models. Replace any "
                            "layer with nn.Identity, run a sample, and see every layer's shapes and statistics."
                            "\n\n" + "\n".join(about_lines()))

    # ================================================================= messages, title, settings

    def _report(self, title: str, message: str, *, level: str = "error", module: str | None = None,
                trace: str | None = None) -> None:
        """Show a problem in the banner and the log (with its traceback when it was unexpected)."""
        self.banner.show_message(title, message, level=level, module=module)
        self.log_panel.append(f"{title}: {message}", level)
        if trace:
            self.log_panel.append(trace.rstrip(), "detail")
        self._show_status(title, 8000)

    def _show_status(self, text: str, timeout_ms: int = 0) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def _update_title(self) -> None:
        if self.session is None:
            self.setWindowTitle("Model Inspector")
            return
        edited = " (edited)" if self.session.replaced else ""
        # [*] is where Qt puts its "modified" mark (unsaved edits).
        self.setWindowTitle(f"{self.session.source}{edited}[*] — Model Inspector")
        self.setWindowModified(not self.undo_stack.isClean())

    def _remember_recent(self, source: str, arch: str | None) -> None:
        settings.remember_model(source, arch)
        self._fill_recent_menu()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        entries = settings.recent_models()
        for entry in entries:
            action = self.recent_menu.addAction(entry.label)
            # A list remembered on disk is not the person naming code: a callable asks for trust.
            action.triggered.connect(
                lambda _checked=False, e=entry: self.open_model(e.source, arch=e.arch, named=False)
            )
        self.recent_menu.setEnabled(bool(entries))

    def save_settings(self) -> None:
        """Remember the window's geometry and splitter sizes."""
        settings.save_window(self, self.splitter)

    # ================================================================= Qt events

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask before losing edits; then stop the workers and wait for their threads (a stuck one, a bounded time)."""
        if not self.controller.may_discard_edits():
            event.ignore()
            return
        if self.analysis is not None:
            self.analysis.shut_down()
        self.controller.shut_down()
        self.save_settings()
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_model(paths[0])

