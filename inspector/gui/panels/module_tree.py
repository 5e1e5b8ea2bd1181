"""The left side of the window: a search box over the module tree.

The view shows :class:`~inspector.gui.tree_model.ModuleTreeModel` directly,
and goes through :class:`~inspector.gui.tree_model.ModuleFilterProxy` only
while a search is typed: the proxy asks Python about every row it maps and
every result it forwards, which doubled the time to show a 10,000-module
tree, so without a search it is detached and costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import QHeaderView, QLineEdit, QTreeView, QVBoxLayout, QWidget

from inspector.gui.tree_model import QUALIFIED_NAME_ROLE, ModuleFilterProxy, ModuleTreeModel

if TYPE_CHECKING:
    from inspector.core.edits import Edit
    from inspector.core.probe import ProbeRun
    from inspector.core.session import Session
    from inspector.core.tree import ModuleNode
    from inspector.gui.controller import SessionController

SEARCH_DELAY_MS = 150
"""The search filters once typing pauses this long (each pass walks the whole tree)."""
COLUMN_WIDTHS = (158, 118, 132, 86, 76, 72, 56)


class ModuleTreePanel(QWidget):
    """Search box and tree view; the current module is known by its qualified name."""

    sig_current_changed = Signal(object)
    """The current module changed: its qualified name (``""`` for the root), or None."""
    sig_context_menu_requested = Signal(QPoint)
    """A right-click on the tree, at this global position (the current module is already the clicked one)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree_model = ModuleTreeModel(self)
        self.proxy = ModuleFilterProxy(self)
        self.search_edit = QLineEdit(self)
        self.search_edit.setObjectName("moduleSearch")
        self.search_edit.setPlaceholderText("Filter modules by name or type (Ctrl+F)")
        self.search_edit.setClearButtonEnabled(True)
        self.tree = QTreeView(self)
        self.tree.setObjectName("moduleTree")
        self.tree.setModel(self.tree_model)
        self.tree.setUniformRowHeights(True)  # lets the view skip measuring 10,000 rows
        self.tree.setAlternatingRowColors(True)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.setSelectionMode(QTreeView.SelectionMode.SingleSelection)
        self.tree.setAllColumnsShowFocus(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate(COLUMN_WIDTHS):
            self.tree.setColumnWidth(column, width)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 0, 6)
        layout.setSpacing(4)
        layout.addWidget(self.search_edit)
        layout.addWidget(self.tree, 1)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_search)
        self.search_edit.textChanged.connect(self._on_search_edit_changed)
        self.tree.selectionModel().currentChanged.connect(self._on_tree_current_changed)
        self.tree.customContextMenuRequested.connect(self._on_tree_context_menu_requested)

    def follow(self, controller: SessionController) -> None:
        """Show the controller's model, its edits and the run it shows, from now on."""
        self._controller = controller
        controller.sig_session_opened.connect(self._on_controller_session_opened)
        controller.sig_edited.connect(self._on_controller_edited)
        controller.sig_run_shown.connect(self._on_controller_run_shown)

    def _on_controller_session_opened(self, session: Session, tree: ModuleNode) -> None:
        self.tree_model.set_tree(tree)
        # Where each module's weights live, for a model dispatched by accelerate (--device auto).
        self.tree_model.set_placement(session.dispatch.placement_of if session.dispatch is not None else None)
        self.show_new_tree()

    def _on_controller_edited(self, edit: Edit) -> None:
        session = self._controller.session
        if session is None:
            return
        self.tree_model.refresh_paths(session.tree(), [swap.path for swap in edit.swaps])
        self.tree_model.set_stale(session.last_run is not None)

    def _on_controller_run_shown(self, run: ProbeRun, _baseline: ProbeRun | None) -> None:
        self.tree_model.set_run(run)

    # ----------------------------------------------------------------- current module

    def current_module(self) -> str | None:
        """Qualified name of the current module (``""`` is the root), None when none."""
        index = self.tree.currentIndex()
        if not index.isValid():
            return None
        return index.siblingAtColumn(0).data(QUALIFIED_NAME_ROLE)

    def select_module(self, name: str) -> bool:
        """Make a module current and scroll to it (clearing a search that hides it); False when there is none."""
        source = self.tree_model.index_of(name)
        if not source.isValid():
            return False
        index = self._view_index(source)
        if not index.isValid():
            self.search_edit.clear()
            self.apply_search()
            index = self._view_index(source)
        self.tree.setCurrentIndex(index)
        self.tree.selectionModel().select(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        self.tree.scrollTo(index)
        return True

    def show_new_tree(self) -> None:
        """After a new model's tree was set: no search, the root expanded and current."""
        self.search_edit.clear()
        self.apply_search()
        root = self.tree.model().index(0, 0)
        self.tree.expand(root)
        self.tree.setCurrentIndex(root)

    def collapse(self) -> None:
        """Collapse everything but the root."""
        self.tree.collapseAll()
        self.tree.expand(self.tree.model().index(0, 0))

    def focus_search(self) -> None:
        """Put the cursor in the search box, its text selected."""
        self.search_edit.setFocus()
        self.search_edit.selectAll()

    # ----------------------------------------------------------------- search

    def apply_search(self) -> None:
        """Filter by the search box's text now (typing waits for a pause)."""
        self._search_timer.stop()
        text = self.search_edit.text()
        if self.proxy.search == text.strip().lower():
            return
        self.proxy.set_search(text)
        self._show_model(filtered=bool(text.strip()))
        if text.strip():
            self.tree.expandAll()
        current = self.tree.currentIndex()
        if current.isValid():
            self.tree.scrollTo(current)

    def _on_search_edit_changed(self, text: str) -> None:
        if text.strip():
            self._search_timer.start()
        else:
            self.apply_search()

    def _show_model(self, *, filtered: bool) -> None:
        wanted = self.proxy if filtered else self.tree_model
        if self.tree.model() is wanted:
            return
        current = self.current_module()
        widths = self.tree.header().saveState()
        if filtered:
            self.proxy.setSourceModel(self.tree_model)
        old_selection = self.tree.selectionModel()
        self.tree.setModel(wanted)
        old_selection.deleteLater()
        if not filtered:
            self.proxy.setSourceModel(None)  # type: ignore[arg-type]  # Qt takes None: no source model
        self.tree.header().restoreState(widths)
        self.tree.selectionModel().currentChanged.connect(self._on_tree_current_changed)
        self.tree.expand(wanted.index(0, 0))
        index = self._view_index(self.tree_model.index_of(current)) if current is not None else QModelIndex()
        if index.isValid():
            self.tree.setCurrentIndex(index)
        else:
            self.sig_current_changed.emit(None)

    def _view_index(self, source: QModelIndex) -> QModelIndex:
        """The view's index of a tree-model index (invalid when the search hides it)."""
        if self.tree.model() is self.proxy:
            return self.proxy.mapFromSource(source)
        return source

    # ----------------------------------------------------------------- slots

    def _on_tree_current_changed(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self.sig_current_changed.emit(self.current_module())

    def _on_tree_context_menu_requested(self, position: QPoint) -> None:
        index = self.tree.indexAt(position)
        if index.isValid():
            self.tree.setCurrentIndex(index)
        self.sig_context_menu_requested.emit(self.tree.viewport().mapToGlobal(position))
