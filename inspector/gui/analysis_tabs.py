"""The Compare, Sweep and Graph tabs, wired to the tree and the window's tabs.

The panels ask the window's controller for their work on the model (one
queue: while a sweep swaps modules in and out of the live model, no edit,
run, load or summary starts) and follow its session, busy state and shown
run by themselves. What is left here is how they talk to the tree: clicks
select modules, the comparison tints the tree, the graph shows the tree's
selection and offers its menu, a sweep's row becomes a real edit. They are
created with the plots, once pyqtgraph is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QMenu, QTabWidget

if TYPE_CHECKING:
    from inspector.core.compare import Comparison
    from inspector.core.edits import Edit
    from inspector.gui.controller import SessionController
    from inspector.gui.panels.module_tree import ModuleTreePanel


class AnalysisTabs:
    """Owns the Compare, Sweep and Graph panels of one window and their links to the tree."""

    def __init__(self, controller: SessionController, tabs: QTabWidget, tree_panel: ModuleTreePanel,
                 context_menu: Callable[[], QMenu], replace_current: Callable[[], bool]) -> None:
        from inspector.gui.panels.compare import ComparePanel
        from inspector.gui.panels.graph import GraphPanel
        from inspector.gui.panels.sweep import SweepPanel

        self.tree_panel = tree_panel
        self._context_menu = context_menu
        self._replace_current = replace_current
        parent = tabs.window()
        self.compare = ComparePanel(controller, parent)
        self.sweep = SweepPanel(controller, parent)
        self.graph = GraphPanel(controller, parent)
        index = tabs.count() - 1  # before the Log tab
        tabs.insertTab(index, self.compare, "Compare")
        tabs.insertTab(index + 1, self.sweep, "Sweep")
        tabs.insertTab(index + 2, self.graph, "Graph")
        for panel in (self.compare, self.sweep, self.graph):
            panel.sig_module_clicked.connect(tree_panel.select_module)
        self.sweep.sig_edit_requested.connect(self._on_sweep_edit_requested)
        # The graph is captured after each run, by a forward of its own, while its tab is shown.
        self.graph.prompts_of = lambda: controller.prompts
        tree_panel.sig_current_changed.connect(self.graph.select_module)
        self.graph.sig_context_menu_requested.connect(self._on_graph_context_menu_requested)
        self.graph.select_module(tree_panel.current_module())
        if controller.shown is not None:
            self.graph.run_finished(controller.shown[0])
        self.compare.sig_comparison_ready.connect(self._on_compare_comparison_ready)
        controller.sig_edited.connect(self._on_controller_edited)

    def shut_down(self) -> None:
        """Stop the panels' tasks and wait for them (before the window closes)."""
        self.compare.shut_down()
        self.sweep.shut_down()
        self.graph.shut_down()

    def _on_controller_edited(self, _edit: Edit) -> None:
        """The model changed: a shown sweep or graph no longer describes it."""
        self.sweep.mark_stale()
        self.graph.mark_stale()

    def _on_compare_comparison_ready(self, comparison: Comparison) -> None:
        """Colour the tree by how far each module's output moved from the baseline."""
        from inspector.gui.panels.compare import moved_colour

        colours = {}
        for name, row in comparison.modules.items():
            colour = moved_colour(row.relative_l2, row.shape_changed)
            if colour is not None:
                colours[name] = colour
        self.tree_panel.tree_model.set_movement(colours)

    def _on_graph_context_menu_requested(self, name: str, position: Any) -> None:
        """The tree's own menu (Replace with Identity, Restore) on the module of the node right-clicked."""
        if self.tree_panel.select_module(name):
            menu = self._context_menu()
            menu.exec(position)
            menu.deleteLater()

    def _on_sweep_edit_requested(self, name: str) -> None:
        if self.tree_panel.select_module(name):
            self._replace_current()
