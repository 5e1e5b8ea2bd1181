"""Every action of the window, declared once: id, text, shortcut, and when it is enabled.

Menus, the toolbar and the tree's context menu are all built from
:data:`ACTIONS` with :func:`create_actions`, and :func:`update_actions`
re-evaluates each action's ``enabled_when`` against a :class:`UiState`
snapshot, so "while a run is going, nothing may edit the model" is written
in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from inspector.gui import icons

if TYPE_CHECKING:
    from inspector.gui.controller import SessionController


@dataclass(frozen=True)
class UiState:
    """What the window is doing now, as far as actions care."""

    has_model: bool = False
    busy: bool = False
    """A worker is using the model (loading, running, summarising)."""
    running: bool = False
    """A probed run is in progress (it can be cancelled)."""
    editable: bool = False
    """The model takes edits (TorchScript modules do not)."""
    current: str | None = None
    """Qualified name of the tree's current module; None when nothing is selected."""
    current_replaced: bool = False
    current_inside_replaced: bool = False
    any_replaced: bool = False
    can_undo: bool = False
    can_redo: bool = False
    undo_text: str = ""
    redo_text: str = ""
    has_run: bool = False


def state_of(controller: SessionController, current: str | None) -> UiState:
    """The state of ``controller`` (its session, work and edit history) with ``current`` the tree's module."""
    session = controller.session
    stack = controller.undo_stack
    replaced = session.replaced if session is not None else []
    return UiState(
        has_model=session is not None,
        busy=controller.busy,
        running=controller.running,
        editable=session is not None and not session.read_only,
        current=current,
        current_replaced=current in replaced,
        current_inside_replaced=current is not None and any(current.startswith(r + ".") for r in replaced),
        any_replaced=bool(replaced),
        can_undo=stack.canUndo(),
        can_redo=stack.canRedo(),
        undo_text=stack.undoText(),
        redo_text=stack.redoText(),
        has_run=session is not None and session.last_run is not None,
    )


@dataclass(frozen=True)
class ActionSpec:
    """One action: its objectName, text, shortcut, tip, icon, and when it is enabled."""

    id: str
    text: str
    shortcut: QKeySequence.StandardKey | str | None
    tip: str
    enabled_when: Callable[[UiState], bool]
    icon: str | None = None
    text_when: Callable[[UiState], str] | None = None
    """Text that depends on the state (Undo names the edit it undoes)."""


def _can_edit(state: UiState) -> bool:
    return state.has_model and state.editable and not state.busy


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("actionOpenModel", "Open &Model…", QKeySequence.StandardKey.New,
               "Choose a torchvision model by task", lambda s: not s.busy, icon="zoo"),
    ActionSpec("actionOpenFile", "&Open File…", QKeySequence.StandardKey.Open,
               "Open a .pt/.pth/.ts/.pt2 file or a Python file with a model factory",
               lambda s: not s.busy, icon="open"),
    ActionSpec("actionOpenSession", "Open &Session…", "Ctrl+Shift+O",
               "Open a saved session: the model, its edits, the input and the device", lambda s: not s.busy),
    ActionSpec("actionSaveSession", "Sa&ve Session As…", QKeySequence.StandardKey.Save,
               "Save the model's source, its edits, the input and the device to a session file",
               lambda s: s.has_model and not s.busy),
    ActionSpec("actionQuit", "&Quit", QKeySequence.StandardKey.Quit, "Close the window", lambda s: True),
    ActionSpec("actionUndo", "&Undo", QKeySequence.StandardKey.Undo, "Undo the last edit",
               lambda s: s.can_undo and not s.busy, icon="undo",
               text_when=lambda s: f"&Undo {s.undo_text}" if s.undo_text else "&Undo"),
    ActionSpec("actionRedo", "&Redo", "Ctrl+Shift+Z", "Redo the last undone edit",
               lambda s: s.can_redo and not s.busy, icon="redo",
               text_when=lambda s: f"&Redo {s.redo_text}" if s.redo_text else "&Redo"),
    ActionSpec("actionReplaceIdentity", "Replace with &Identity", "Ctrl+I",
               "Replace the selected module with nn.Identity (its input is passed on unchanged)",
               lambda s: _can_edit(s) and bool(s.current) and not s.current_replaced
               and not s.current_inside_replaced,
               icon="identity"),
    ActionSpec("actionRestoreOriginal", "Restore &Original", "Ctrl+Shift+I",
               "Put the original module back at the selected path",
               lambda s: _can_edit(s) and s.current_replaced, icon="restore"),
    ActionSpec("actionRestoreAll", "Restore &All", "Ctrl+Alt+I", "Put every replaced module back",
               lambda s: _can_edit(s) and s.any_replaced, icon="restore_all"),
    ActionSpec("actionRun", "&Run", "F5", "Run the sample input through the model (F5)",
               lambda s: s.has_model and not s.busy, icon="run"),
    ActionSpec("actionCancel", "&Cancel Run", "Shift+F5", "Stop the run at the next module (Shift+F5)",
               lambda s: s.running, icon="stop"),
    ActionSpec("actionFind", "&Find Module", QKeySequence.StandardKey.Find, "Search modules by name or type",
               lambda s: s.has_model),
    ActionSpec("actionExpandAll", "&Expand All", "Ctrl+E", "Expand every module of the tree",
               lambda s: s.has_model, icon="expand"),
    ActionSpec("actionCollapseAll", "C&ollapse All", "Ctrl+Shift+E", "Collapse the tree to the top level",
               lambda s: s.has_model, icon="collapse"),
    ActionSpec("actionSavePlot", "Save &Plot as PNG…", "Ctrl+Shift+P", "Save the plot on screen as a PNG image",
               lambda s: s.has_run),
    ActionSpec("actionExportCsv", "Export &Statistics as CSV…", "Ctrl+Shift+S",
               "Write every module's statistics of the last run as CSV", lambda s: s.has_run),
    ActionSpec("actionRefreshSummary", "Refresh &Summary", "Ctrl+Shift+M",
               "Compute the torchinfo summary of the model as it is now",
               lambda s: s.has_model and not s.busy),
    ActionSpec("actionAbout", "&About Model Inspector", QKeySequence.StandardKey.HelpContents, "What this tool is",
               lambda s: True),
)

MENUS: tuple[tuple[str, tuple[str | None, ...]], ...] = (
    ("&File", ("actionOpenModel", "actionOpenFile", "@recent", None, "actionOpenSession", "actionSaveSession",
               None, "actionSavePlot", "actionExportCsv", None, "actionQuit")),
    ("&Edit", ("actionUndo", "actionRedo", None, "actionReplaceIdentity", "actionRestoreOriginal",
               "actionRestoreAll")),
    ("&View", ("actionFind", "actionExpandAll", "actionCollapseAll", None, "actionRefreshSummary")),
    ("&Run", ("actionRun", "actionCancel")),
    ("&Help", ("actionAbout",)),
)
"""Menu titles and their entries; None is a separator, ``@recent`` the recent-models submenu."""

TOOLBAR: tuple[str | None, ...] = (
    "actionOpenModel", "actionOpenFile", None, "actionUndo", "actionRedo", None,
    "actionReplaceIdentity", "actionRestoreOriginal", "actionRestoreAll", None, "actionRun", "actionCancel",
)

CONTEXT_MENU: tuple[str | None, ...] = (
    "actionReplaceIdentity", "actionRestoreOriginal", "actionRestoreAll", None, "actionExpandAll",
    "actionCollapseAll",
)


def create_actions(parent: QObject, slots: Mapping[str, Callable[[], object]]) -> dict[str, QAction]:
    """One QAction per :data:`ACTIONS` entry, triggering ``slots[id]``; disabled until updated."""
    actions: dict[str, QAction] = {}
    for spec in ACTIONS:
        action = QAction(spec.text, parent)
        action.setObjectName(spec.id)
        if spec.shortcut is not None:
            action.setShortcut(QKeySequence(spec.shortcut))
            # Shortcuts work in the whole window, not only where the menu is.
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{spec.tip} ({shortcut})" if shortcut and shortcut not in spec.tip else spec.tip)
        action.setStatusTip(spec.tip)
        if spec.icon is not None:
            action.setIcon(icons.icon(spec.icon))
        slot = slots.get(spec.id)
        if slot is not None:
            action.triggered.connect(lambda _checked=False, slot=slot: slot())
        action.setEnabled(False)
        actions[spec.id] = action
    return actions


def update_actions(actions: Mapping[str, QAction], state: UiState) -> None:
    """Enable each action when its ``enabled_when`` holds, and refresh state-dependent texts."""
    for spec in ACTIONS:
        action = actions[spec.id]
        action.setEnabled(bool(spec.enabled_when(state)))
        if spec.text_when is not None:
            action.setText(spec.text_when(state))

