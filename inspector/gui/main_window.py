"""The main window: it assembles the panels and the actions; the behaviour lives in what it assembles.

Left: the module tree with its search box. Right: the input panel, then tabs
(Plots, Details, Summary, Log; Compare, Sweep, Graph once the plots load),
under a message banner. The controller owns the session, the edit history
and the queue of model work, and publishes what happens; each panel
subscribes itself. :class:`~inspector.gui.window_messages.WindowMessages`
speaks (banner, log, status bar), :class:`~inspector.gui.window_files.ModelFiles`
does the File menu. Nothing here imports torch: the window paints first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QSplitter, QTabWidget, QToolBar, QVBoxLayout, QWidget

from inspector.gui import actions as actions_mod
from inspector.gui import icons, settings
from inspector.gui.controller import SessionController
from inspector.gui.panels.banner import MessageBanner
from inspector.gui.panels.details import DetailsPanel
from inspector.gui.panels.input_panel import InputPanel
from inspector.gui.panels.log import LogPanel
from inspector.gui.panels.module_tree import ModuleTreePanel
from inspector.gui.panels.summary import SummaryPanel
from inspector.gui.prompts import Prompts
from inspector.gui.window_files import ModelFiles
from inspector.gui.window_messages import WindowMessages

if TYPE_CHECKING:
    from inspector.core.probe import ProbeRun
    from inspector.core.session import Session
    from inspector.core.tree import ModuleNode
    from inspector.gui.analysis_tabs import AnalysisTabs
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
        """The Compare, Sweep and Graph tabs, created with the plots."""

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
        controller = self.controller
        self.banner = MessageBanner(self)
        self.tree_panel = ModuleTreePanel(self)
        self.tree_panel.tree_model.set_replaced_icon(icons.icon("identity"))
        self.tree_panel.follow(controller)
        self.tree = self.tree_panel.tree
        self.tree_model = self.tree_panel.tree_model
        self.proxy = self.tree_panel.proxy
        self.search_edit = self.tree_panel.search_edit

        self.input_panel = InputPanel(self)
        self.input_panel.choose_image = lambda: self.prompts.choose_image()
        self.input_panel.follow(controller)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self._plots_placeholder = QLabel("Plots appear here once a model is open and has run (F5).", self)
        self._plots_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.details_panel = DetailsPanel(self)
        self.details_panel.follow(controller, self.tree_panel)
        self.summary_panel = SummaryPanel(self)
        self.summary_panel.follow(controller, self.input_panel)
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

        self.messages = WindowMessages(controller, self.banner, self.log_panel, self.statusBar(), self.input_panel,
                                       self.select_module, self)
        self.model_label = self.messages.model_label
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.setObjectName("recentMenu")
        self.files = ModelFiles(controller, self.input_panel, self.messages, self.recent_menu, self)

    def _action_slots(self) -> dict[str, Any]:
        return {
            "actionOpenModel": self.files.choose_and_open_model,
            "actionOpenFile": self.files.choose_and_open_file,
            "actionOpenSession": self.files.choose_and_open_session,
            "actionSaveSession": self.save_session,
            "actionQuit": self.close,
            "actionUndo": self.controller.undo,
            "actionRedo": self.controller.redo,
            "actionReplaceIdentity": self.replace_current_with_identity,
            "actionRestoreOriginal": self.restore_current,
            "actionRestoreAll": self.controller.restore_all,
            "actionRun": self.start_run,
            "actionCancel": self.cancel_run,
            "actionFind": self.tree_panel.focus_search,
            "actionExpandAll": self.tree.expandAll,
            "actionCollapseAll": self.tree_panel.collapse,
            "actionSavePlot": self.save_plot,
            "actionExportCsv": self.export_csv,
            "actionRefreshSummary": self.summary_panel.refresh,
            "actionAbout": self._on_about_triggered,
        }

    def _build_menus(self) -> None:
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

    def _connect(self) -> None:
        controller = self.controller
        self.tree_panel.sig_current_changed.connect(self._on_tree_panel_current_changed)
        self.tree_panel.sig_context_menu_requested.connect(self._on_tree_panel_context_menu_requested)
        # Connected after every panel's own subscriptions: the window's signals come last.
        controller.sig_session_opened.connect(self._on_controller_session_opened)
        controller.sig_edited.connect(self.update_actions)
        controller.sig_busy_changed.connect(self.update_actions)
        controller.sig_run_finished.connect(self._on_controller_run_finished)
        self.summary_panel.sig_filled.connect(self.sig_summary_finished)
        self.undo_stack.indexChanged.connect(self._on_undo_stack_changed)
        self.undo_stack.cleanChanged.connect(self._on_undo_stack_changed)
        self.banner.sig_module_requested.connect(self.select_module)
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        self._selection_timer.timeout.connect(self._on_selection_timer_timeout)

    # ================================================================= state

    @property
    def prompts(self) -> Any:
        """Asks the user (confirm, trust, architecture, files); tests put in their own answers."""
        return self.controller.prompts

    @prompts.setter
    def prompts(self, prompts: Any) -> None:
        self.controller.prompts = prompts  # tests put in their own answers

    @property
    def session(self) -> Session | None:
        """The inspected session (it owns the model); None before a model is open."""
        return self.controller.session

    @property
    def busy(self) -> bool:
        """True while a task uses the model (loading, running, summarising, comparing, sweeping)."""
        return self.controller.busy

    @property
    def running(self) -> bool:
        """A run is in progress and has not been asked to stop."""
        return self.controller.running

    def update_actions(self, *_: object) -> None:
        """Enable each action for the state the window is in now."""
        actions_mod.update_actions(self.actions, actions_mod.state_of(self.controller, self.current_module()))

    def current_module(self) -> str | None:
        """Qualified name of the tree's current module (``""`` is the root), None when none."""
        return self.tree_panel.current_module()

    def select_module(self, name: str) -> bool:
        """Make a module the tree's current one and scroll to it; False when it is not in the tree."""
        return self.tree_panel.select_module(name)

    # ================================================================= what the menus and tests call

    def open_model(self, spec: str, *, arch: str | None = None, trust: bool = False, wait: bool = False,
                   named: bool = True) -> bool:
        """Open a model from any MODEL form (see :meth:`ModelFiles.open_model`)."""
        # Device "auto": the checkpoint is loaded dispatched by accelerate (what fits in memory, the rest on disk).
        self.controller.load_options = {"dispatched": True} if self.input_panel.device() == "auto" else {}
        return self.files.open_model(spec, arch=arch, trust=trust, wait=wait, named=named)

    def open_session_file(self, path: str, *, trust: bool = False, wait: bool = False) -> bool:
        """Open a saved session (see :meth:`ModelFiles.open_session_file`)."""
        return self.files.open_session_file(path, trust=trust, wait=wait)

    def save_session(self) -> bool:
        """Save the session to a file the user names; the edits count as saved."""
        return self.files.save_session()

    def replace_current_with_identity(self) -> bool:
        """Replace the tree's current module with ``nn.Identity`` (an undoable edit: nothing is asked)."""
        return self.controller.replace_with_identity(self.current_module() or "")

    def restore_current(self) -> bool:
        """Put the original module back at the tree's current path."""
        return self.controller.restore(self.current_module() or "")

    def start_run(self) -> bool:
        """Run the input panel's input through the model on a worker; False when it cannot start now."""
        from inspector.core.errors import InspectorError

        if self.session is None or self.busy:
            return False
        try:
            spec = self.input_panel.inputs()
        except InspectorError as error:
            self.input_panel.show_problem(str(error))
            self.messages.report("The input cannot be built", str(error), level="warning")
            self.sig_run_finished.emit(None)
            return False
        device = self.input_panel.device()
        if not self.controller.start_run(spec, device, self.input_panel.mode()):
            return False
        self.input_panel.set_running(True)
        self.input_panel.show_problem(None)
        self.messages.status(f"Running {self.session.source} on {device}…")
        return True

    def cancel_run(self) -> None:
        """Stop the run at the next module boundary."""
        if self.controller.cancel_run():
            self.messages.status("Cancelling…")

    def save_plot(self) -> None:
        """Save the plot on screen as a PNG file the user names."""
        self.files.save_plot(self._drawn_plots)

    def export_csv(self) -> None:
        """Write every module's statistics of the last run to a CSV file the user names."""
        self.files.export_csv(self._drawn_plots, self.tree_model.root)

    def _drawn_plots(self) -> PlotsPanel | None:
        """The plots with the last run drawn (it may be waiting for the next turn): what is saved."""
        self._ensure_plots()
        if self.plots is not None:
            self.plots.draw_pending()
        return self.plots

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

    def _ensure_plots(self) -> None:
        """Create the plots (and the tabs made with them) on first use: pyqtgraph loads after the window shows."""
        if self.plots is not None or self.controller.closing:
            return
        from inspector.gui.analysis_tabs import AnalysisTabs
        from inspector.gui.panels.plots import PlotsPanel

        self.plots = PlotsPanel(self)
        self.plots.follow(self.controller)
        self.plots.select_module(self.current_module() or None)
        self.plots.sig_module_clicked.connect(self.select_module)
        current = self.tabs.currentIndex()
        self.tabs.removeTab(PLOTS_TAB)
        self.tabs.insertTab(PLOTS_TAB, self.plots, "Plots")
        self.analysis = AnalysisTabs(self.controller, self.tabs, self.tree_panel, self.context_menu,
                                     self.replace_current_with_identity)
        self.tabs.setCurrentIndex(current)
        self._plots_placeholder.deleteLater()

    # ================================================================= slots

    def _on_controller_session_opened(self, session: Session, _tree: ModuleNode) -> None:
        if self.plots is None:  # in the next turn of the event loop: the tree is shown first
            QTimer.singleShot(0, self._ensure_plots)
        self._update_title()
        self.update_actions()
        self.sig_model_loaded.emit(session.source)

    def _on_controller_run_finished(self, run: ProbeRun | None) -> None:
        self.update_actions()
        self.sig_run_finished.emit(run)

    def _on_tree_panel_current_changed(self, _name: str | None) -> None:
        self.update_actions()
        self._selection_timer.start()

    def _on_selection_timer_timeout(self) -> None:
        if self.plots is not None:
            self.plots.select_module(self.current_module() or None)

    def _on_tree_panel_context_menu_requested(self, position: QPoint) -> None:
        menu = self.context_menu()
        menu.exec(position)
        menu.deleteLater()

    def _on_undo_stack_changed(self, *_: object) -> None:
        self.update_actions()
        self._update_title()

    def _on_tabs_current_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.summary_panel and self.summary_panel.stale:
            self.summary_panel.refresh()

    def _on_about_triggered(self) -> None:
        from inspector.core.about import about_lines

        self.prompts.inform("About Model Inspector", "Model Inspector: look inside PyTorch models. Replace any "
                            "layer with nn.Identity, run a sample, and see every layer's shapes and statistics."
                            "\n\n" + "\n".join(about_lines()))

    def _update_title(self) -> None:
        if self.session is None:
            self.setWindowTitle("Model Inspector")
            return
        edited = " (edited)" if self.session.replaced else ""
        # [*] is where Qt puts its "modified" mark (unsaved edits).
        self.setWindowTitle(f"{self.session.source}{edited}[*] — Model Inspector")
        self.setWindowModified(not self.undo_stack.isClean())

    # ================================================================= Qt events

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask before losing edits; then stop the model's work and wait for it (a stuck task, a bounded time)."""
        if not self.controller.may_discard_edits():
            event.ignore()
            return
        if self.analysis is not None:
            self.analysis.shut_down()
        self.controller.shut_down()
        settings.save_window(self, self.splitter)
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_model(paths[0])
