"""A read-only table model over a list of rows, for the Compare and Sweep panels.

:func:`sorted_table` and :func:`table_over_plot` lay the table out the same
way in both panels.

A subclass names its ``COLUMNS`` and says, for one row and column, what to
display (:meth:`RowTableModel.display`), what to sort by
(:meth:`RowTableModel.sort_key`, read through :data:`SORT_ROLE` so numbers
sort as numbers) and any other role (:meth:`RowTableModel.role_data`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QSplitter, QTableView, QWidget

from inspector.core.formatting import shapes_text

__all__ = ["RIGHT", "SORT_ROLE", "RowTableModel", "shapes_text", "sorted_table", "table_over_plot"]

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""The value a column sorts by: numbers for numbers, so 0.1 < 0.02 never happens."""

RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
"""Alignment of a number column."""

Row = TypeVar("Row")


class RowTableModel(QAbstractTableModel, Generic[Row]):
    """One row per item of :attr:`rows`, columns named by ``COLUMNS``."""

    COLUMNS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Row] = []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display(row, index.column())
        if role == SORT_ROLE:
            return self.sort_key(row, index.row(), index.column())
        return self.role_data(row, index.column(), role)

    def set_rows(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def clear(self) -> None:
        self.set_rows([])

    def append(self, row: Row) -> None:
        position = len(self.rows)
        self.beginInsertRows(QModelIndex(), position, position)
        self.rows.append(row)
        self.endInsertRows()

    def display(self, row: Row, column: int) -> str:
        raise NotImplementedError

    def sort_key(self, row: Row, position: int, column: int) -> Any:
        """What ``column`` sorts by; ``position`` is the row's place in :attr:`rows`."""
        return self.display(row, column)

    def role_data(self, row: Row, column: int, role: int) -> Any:
        """Any role other than display and sorting (colours, alignment, tooltips)."""
        return None


def sorted_table(parent: QWidget, model: RowTableModel, object_name: str) -> tuple[QSortFilterProxyModel, QTableView]:
    """A read-only, row-selecting table view of ``model``, sortable by any column (model order first)."""
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    table = QTableView(parent)
    table.setObjectName(object_name)
    table.setModel(proxy)
    table.setSortingEnabled(True)
    table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return proxy, table


def table_over_plot(parent: QWidget, table: QTableView, plot: QWidget) -> QSplitter:
    """The table above its plot, 3:2, neither collapsible."""
    splitter = QSplitter(Qt.Orientation.Vertical, parent)
    splitter.addWidget(table)
    splitter.addWidget(plot)
    splitter.setStretchFactor(0, 3)
    splitter.setStretchFactor(1, 2)
    splitter.setChildrenCollapsible(False)
    plot.setMinimumHeight(180)
    splitter.setSizes([420, 280])
    return splitter
