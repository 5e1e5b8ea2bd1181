"""The Compare, Sweep and Graph tabs, wired to the window.

The panels ask the window's controller for their work on the model (one
queue: while a sweep swaps modules in and out of the live model, no edit,
run, load or summary starts) and follow its session and busy state by
themselves. They are created with the plots, once pyqtgraph is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inspector.core.session import Session
    from inspector.gui.main_window import MainWindow


class AnalysisTabs:
    """Owns the Compare and Sweep panels of one window and their connections."""

    def __init__(self, window: MainWindow, index: int) -> None:
        from inspector.gui.panels.compare import ComparePanel
        from inspector.gui.panels.graph import GraphPanel
        from inspector.gui.panels.sweep import SweepPanel

        self.window = window
        controller = window.controller
        self.compare = ComparePanel(controller, window)
        self.sweep = SweepPanel(controller, window)
        self.graph = GraphPanel(controller, window)
        window.tabs.insertTab(index, self.compare, "Compare")
        window.tabs.insertTab(index + 1, self.sweep, "Sweep")
        window.tabs.insertTab(index + 2, self.graph, "Graph")
        for panel in (self.compare, self.sweep, self.graph):
            panel.sig_module_clicked.connect(window.select_module)
        self.sweep.sig_edit_requested.connect(self._on_sweep_edit_requested)
        # The graph is captured after each run, by a forward of its own on its worker, while its tab is shown.
        self.graph.prompts_of = lambda: window.prompts
        window.sig_run_finished.connect(self.graph.run_finished)
        window.tree_panel.sig_current_changed.connect(self.graph.select_module)
        self.graph.sig_context_menu_requested.connect(self._on_graph_context_menu_requested)
        self.graph.select_module(window.current_module())
        if controller.session is not None:
            self.graph.run_finished(controller.session.last_run)
        self.compare.sig_comparison_ready.connect(self._on_compare_comparison_ready)

    def model_edited(self) -> None:
        """The model changed: a shown sweep or graph no longer describes it."""
        self.sweep.mark_stale()
        self.graph.mark_stale()

    def run_shown(self, session: Session) -> None:
        """After a run with edits in place: the comparison of the two runs the session already has."""
        if session.replaced and session.baseline_run is not None and session.last_run is not None:
            self.compare.set_runs(session.baseline_run, session.last_run)

    def shut_down(self) -> None:
        """Stop both panels' workers and wait for them (before the window closes)."""
        self.compare.shut_down()
        self.sweep.shut_down()
        self.graph.shut_down()

    def _on_compare_comparison_ready(self, comparison: object) -> None:
        """Colour the tree by how far each module's output moved from the baseline."""
        from inspector.gui.panels.compare import moved_colour

        colours = {}
        for name, row in comparison.modules.items():  # type: ignore[attr-defined]
            colour = moved_colour(row.relative_l2, row.shape_changed)
            if colour is not None:
                colours[name] = colour
        self.window.tree_model.set_movement(colours)

    def _on_graph_context_menu_requested(self, name: str, position: object) -> None:
        """The tree's own menu (Replace with Identity, Restore) on the module of the node right-clicked."""
        if self.window.select_module(name):
            menu = self.window.context_menu()
            menu.exec(position)  # type: ignore[arg-type]
            menu.deleteLater()

    def _on_sweep_edit_requested(self, name: str) -> None:
        if self.window.select_module(name):
            self.window.replace_current_with_identity()
