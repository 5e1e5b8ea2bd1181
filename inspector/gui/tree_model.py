"""The module tree as a Qt item model, and the search proxy over it.

:class:`ModuleTreeModel` only translates: it answers ``index``/``parent``/
``rowCount``/``data`` from the plain :class:`~inspector.core.tree.ModuleNode`
tree the core builds, which owns every node (PySide's ``internalPointer()``
keeps no Python reference, so the nodes must live elsewhere). The results of
the latest run are looked up by qualified name in the run's records when a
cell is painted, so a 10,000-module model costs no per-row objects here.

An edit changes one subtree: :meth:`ModuleTreeModel.refresh_paths` removes the
old children rows, copies the new node's fields over, inserts the new
children, and updates the ancestors' parameter counts, all with the narrow
signals, so selection and expansion elsewhere survive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon

from inspector.core.formatting import format_number, format_shape, format_shapes

__all__ = ["format_number", "format_shape", "format_shapes", "ModuleTreeModel", "ModuleFilterProxy"]

if TYPE_CHECKING:
    from inspector.core.probe import CallRecord, ProbeRun
    from inspector.core.tree import ModuleNode

Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("Name", "Type", "Output shape", "Params", "Mean", "Std", "Zero %", "Device")
NAME, TYPE, OUTPUT_SHAPE, PARAMS, MEAN, STD, ZERO, DEVICE = range(len(COLUMNS))
RESULT_COLUMNS = (OUTPUT_SHAPE, MEAN, STD, ZERO)

# Computed once: the view asks for flags twice per row when it lays out, and
# or-ing enum members in Python costs more than the rest of the call.
_ITEM_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_NO_FLAGS = Qt.ItemFlag.NoItemFlags
_NUMBER_ALIGNMENT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

QUALIFIED_NAME_ROLE = Qt.ItemDataRole.UserRole
"""Column 0 carries the module's qualified name (``""`` for the root) in this role."""

MAX_ALIASES_SHOWN = 8

FAILED_BACKGROUND = QColor("#f8d3d0")
FAILED_FOREGROUND = QColor("#9b1c12")
NOT_RUN_FOREGROUND = QColor("#9a9a9a")
STALE_FOREGROUND = QColor("#8a8a8a")
REPLACED_FOREGROUND = QColor("#2158a8")


class ModuleTreeModel(QAbstractItemModel):
    """Read-only item model over a :class:`ModuleNode` tree; the root module is the one top row."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._root: ModuleNode | None = None
        self._run: ProbeRun | None = None
        self._stale = False
        self._failed: str | None = None
        self._movement: dict[str, QColor] = {}
        self._replaced_icon = QIcon()
        self._placement: Callable[[str], str | None] | None = None

    # ----------------------------------------------------------------- content

    @property
    def root(self) -> ModuleNode | None:
        """The shown tree's root node (None before a model is set)."""
        return self._root

    @property
    def run(self) -> ProbeRun | None:
        return self._run

    @property
    def stale(self) -> bool:
        """True when the shown results were recorded before the latest edit."""
        return self._stale

    def set_replaced_icon(self, icon: QIcon) -> None:
        """The icon shown before the name of a module replaced with Identity."""
        self._replaced_icon = icon

    def set_tree(self, root: ModuleNode | None) -> None:
        """Show a new model's tree (a new model, so a reset is what happened)."""
        self.beginResetModel()
        self._root = root
        self._run = None
        self._failed = None
        self._stale = False
        self._movement = {}
        self.endResetModel()

    def set_placement(self, placement_of: Callable[[str], str | None] | None) -> None:
        """Where each module's weights live (``cuda:0``, ``cpu``, ``disk``), for a model dispatched by accelerate; None: one place, the column stays empty."""
        self._placement = placement_of
        self._emit_results_changed()  # every row's cells, the Device column among them

    def set_movement(self, colours: dict[str, QColor]) -> None:
        """Tint modules by how far their output moved against the baseline (name -> colour)."""
        self._movement = dict(colours)
        self._emit_results_changed()

    def set_run(self, run: ProbeRun | None) -> None:
        """Show a run's shapes and statistics in the result columns."""
        self._run = run
        self._failed = run.error.module if run is not None and run.error is not None else None
        self._stale = False
        self._emit_results_changed()

    def set_stale(self, stale: bool) -> None:
        """Grey out results that no longer describe the model (an edit came after the run)."""
        if stale != self._stale:
            self._stale = stale
            self._emit_results_changed()

    def node(self, index: Index) -> ModuleNode | None:
        """The plain node behind an index (None for the invalid index)."""
        if not index.isValid():
            return None
        return index.internalPointer()

    def find(self, qualified_name: str) -> ModuleNode | None:
        """The node at a dotted path, or None."""
        return self._root.find(qualified_name) if self._root is not None else None

    def index_of(self, qualified_name: str, column: int = 0) -> QModelIndex:
        """The index of the module at a dotted path, invalid when there is none."""
        node = self.find(qualified_name)
        if node is None:
            return QModelIndex()
        return self.createIndex(node.row, column, node)

    def record_call(self, node: ModuleNode) -> tuple[int, CallRecord | None] | None:
        """(number of calls, first call) of a module in the shown run; None without a run or record."""
        if self._run is None:
            return None
        record = self._run.records.get(node.qualified_name)
        if record is None:
            return None
        return len(record.calls), record.first

    # ----------------------------------------------------------------- edits

    def refresh_paths(self, new_root: ModuleNode, paths: Iterable[str]) -> None:
        """Bring the subtrees at ``paths`` in line with ``new_root`` (the tree after an edit).

        Nodes outside those subtrees stay the very same objects, so indexes,
        selection and expansion outside the edit survive.
        """
        if self._root is None:
            self.set_tree(new_root)
            return
        for path in _outermost(paths):
            old = self._nearest_existing(path)
            new = new_root.find(old.qualified_name)
            if new is None:  # the model changed shape under us: nothing narrower is right
                self.set_tree(new_root)
                return
            self._replace_subtree(old, new)
            self._update_ancestors(old, new)

    def _nearest_existing(self, path: str) -> ModuleNode:
        assert self._root is not None
        while path:
            node = self._root.find(path)
            if node is not None:
                return node
            path = path.rpartition(".")[0]
        return self._root

    def _replace_subtree(self, old: ModuleNode, new: ModuleNode) -> None:
        index = self.createIndex(old.row, 0, old)
        if old.children:
            self.beginRemoveRows(index, 0, len(old.children) - 1)
            for child in old.children:
                child.parent = None
            old.children = []
            self.endRemoveRows()
        old.type_name = new.type_name
        old.own_params = new.own_params
        old.total_params = new.total_params
        old.extra_repr = new.extra_repr
        old.replaced = new.replaced
        old.aliases = list(new.aliases)
        old.contains_itself = new.contains_itself
        self._emit_row_changed(old)
        if new.children:
            self.beginInsertRows(index, 0, len(new.children) - 1)
            for child in new.children:
                child.parent = old
            old.children = new.children
            new.children = []
            self.endInsertRows()

    def _update_ancestors(self, old: ModuleNode, new: ModuleNode) -> None:
        ancestor, counterpart = old.parent, new.parent
        while ancestor is not None and counterpart is not None:
            if ancestor.total_params != counterpart.total_params:
                ancestor.total_params = counterpart.total_params
                self._emit_row_changed(ancestor)
            ancestor, counterpart = ancestor.parent, counterpart.parent

    def _emit_row_changed(self, node: ModuleNode) -> None:
        self.dataChanged.emit(
            self.createIndex(node.row, 0, node), self.createIndex(node.row, len(COLUMNS) - 1, node)
        )

    def _emit_results_changed(self) -> None:
        """dataChanged for the result columns of every row, one signal per parent."""
        if self._root is None:
            return
        roles = [
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ForegroundRole,
            Qt.ItemDataRole.BackgroundRole,
            Qt.ItemDataRole.ToolTipRole,
            Qt.ItemDataRole.FontRole,
        ]
        last = len(COLUMNS) - 1
        self.dataChanged.emit(self.createIndex(0, 0, self._root), self.createIndex(0, last, self._root), roles)
        for node in self._root.walk():
            if node.children:
                first, final = node.children[0], node.children[-1]
                self.dataChanged.emit(
                    self.createIndex(first.row, 0, first), self.createIndex(final.row, last, final), roles
                )

    # ----------------------------------------------------------------- Qt model

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        if self._root is None or column < 0 or column >= len(COLUMNS) or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, self._root) if row == 0 else QModelIndex()
        node: ModuleNode = parent.internalPointer()
        if row >= len(node.children):
            return QModelIndex()
        return self.createIndex(row, column, node.children[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        node: ModuleNode = index.internalPointer()
        parent = node.parent
        if parent is None:
            return QModelIndex()
        return self.createIndex(parent.row, 0, parent)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        if self._root is None:
            return 0
        if not parent.isValid():
            return 1
        if parent.column() > 0:
            return 0
        node: ModuleNode = parent.internalPointer()
        return len(node.children)

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:
        return self.rowCount(parent) > 0

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return _HEADER_TIPS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        return _ITEM_FLAGS if index.isValid() else _NO_FLAGS

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node: ModuleNode = index.internalPointer()
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(node, column)
        if role == QUALIFIED_NAME_ROLE:
            return node.qualified_name if column == NAME else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(node, column)
        if role == Qt.ItemDataRole.FontRole:
            if node.replaced:
                font = QFont()
                font.setItalic(True)
                return font
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(node, column)
        if role == Qt.ItemDataRole.BackgroundRole:
            if self._failed is not None and node.qualified_name == self._failed:
                return QBrush(FAILED_BACKGROUND)
            moved = self._movement.get(node.qualified_name)
            return QBrush(moved) if moved is not None else None
        if role == Qt.ItemDataRole.DecorationRole and column == NAME and node.replaced:
            return self._replaced_icon
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= PARAMS:
            return _NUMBER_ALIGNMENT
        return None

    def _display(self, node: ModuleNode, column: int) -> str:
        if column == NAME:
            return node.name
        if column == TYPE:
            # A shared module is one row (as named_modules() lists it); the mark says there are more places.
            return f"{node.type_name} (shared)" if node.aliases else node.type_name
        if column == PARAMS:
            return f"{node.total_params:,}"
        if column == DEVICE:
            return (self._placement(node.qualified_name) or "") if self._placement is not None else ""
        found = self.record_call(node)
        if found is None:
            return ""
        calls, first = found
        if first is None:
            return "not run" if column == OUTPUT_SHAPE else ""
        if column == OUTPUT_SHAPE:
            if not first.output_shapes and self._on_failing_path(node):
                return "raised"
            text = format_shapes(first.output_shapes)
            return f"{text} ×{calls}" if calls > 1 else text
        stats = first.stats
        if stats is None:
            return ""
        if column == MEAN:
            return format_number(stats.mean)
        if column == STD:
            return format_number(stats.std)
        if column == ZERO:
            return f"{100.0 * stats.zero_fraction:.1f}"
        return ""

    def _on_failing_path(self, node: ModuleNode) -> bool:
        """The module that raised, or one of the modules whose call it was inside."""
        failed = self._failed
        name = node.qualified_name
        return failed is not None and (not name or failed == name or failed.startswith(name + "."))

    def _foreground(self, node: ModuleNode, column: int) -> QBrush | None:
        if self._failed is not None and node.qualified_name == self._failed:
            return QBrush(FAILED_FOREGROUND)
        if column in RESULT_COLUMNS and self._stale:
            return QBrush(STALE_FOREGROUND)
        found = self.record_call(node)
        if found is not None and found[1] is None:
            return QBrush(NOT_RUN_FOREGROUND)
        if node.replaced and column in (NAME, TYPE):
            return QBrush(REPLACED_FOREGROUND)
        return None

    def _tooltip(self, node: ModuleNode, column: int) -> str | None:
        lines = [node.qualified_name or f"{node.type_name} (the whole model)"]
        if node.replaced:
            lines.append("Replaced with Identity: its input is passed on unchanged")
        if node.aliases:
            shown = ", ".join(node.aliases[:MAX_ALIASES_SHOWN])
            more = len(node.aliases) - MAX_ALIASES_SHOWN
            lines.append(f"Shared: the same module is also registered as {shown}" + (f" and {more} more" if more > 0 else ""))
            lines.append("It is shown once, here; an edit at one of those names changes only that name")
        if node.contains_itself:
            lines.append("Registered inside itself: torch cannot move, save or switch mode of this model")
        if self._run is not None and self._run.error is not None and self._run.error.module == node.qualified_name:
            error = self._run.error
            lines.append(f"Raised {error.exception_type}: {error.message}")
            lines.append("Input shapes: " + format_shapes(error.input_shapes))
        found = self.record_call(node)
        if found is not None:
            calls, first = found
            if first is None:
                lines.append("Did not run in the last run")
            elif calls > 1:
                lines.append(f"Ran {calls} times; the columns show the first call")
        if self._stale and column in RESULT_COLUMNS:
            lines.append("These results are from before the latest edit; run again (F5)")
        return "\n".join(lines)


_HEADER_TIPS = (
    "Attribute name of the module (qualified name in the tooltip)",
    "Class of the module",
    "Shape of each tensor the module returned (first call); ×N when it ran N times",
    "Parameters of the module and everything under it (tied parameters once)",
    "Mean of the first call's output (finite values)",
    "Standard deviation of the first call's output (population)",
    "Percentage of exact zeros in the first call's output",
    "Where the module's weights live when accelerate dispatched the model (device auto): cuda:N, cpu or disk",
)


def _outermost(paths: Iterable[str]) -> list[str]:
    """The paths that are not inside another path of the list (an outer refresh covers them)."""
    unique = sorted(set(paths), key=lambda p: (p.count("."), p))
    kept: list[str] = []
    for path in unique:
        if not any(path == k or path.startswith(k + ".") or k == "" for k in kept):
            kept.append(path)
    return kept


class ModuleFilterProxy(QSortFilterProxyModel):
    """Search by name or type, case-insensitive, keeping the ancestors of every match."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._needle = ""

    def set_search(self, text: str) -> None:
        """Show only modules whose qualified name or type contains ``text`` (and their ancestors)."""
        needle = text.strip().lower()
        if needle == self._needle:
            return
        self._needle = needle
        # A full re-filter, not begin/endFilterChange: the incremental path
        # updates the mappings of every expanded parent per removed range,
        # which took 12 s on 1,500 expanded modules; this takes 0.2 s.
        self.invalidate()

    @property
    def search(self) -> str:
        """The text the proxy filters by, lower-cased (empty: no filter)."""
        return self._needle

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not self._needle:
            return True
        source = self.sourceModel()
        index = source.index(source_row, 0, source_parent)
        node = index.internalPointer() if index.isValid() else None
        if node is None:
            return False
        return self._needle in node.qualified_name.lower() or self._needle in node.type_name.lower()
