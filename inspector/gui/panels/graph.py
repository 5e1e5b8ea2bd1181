"""The Graph tab: the dataflow graph of the last run, laid out top to bottom.

After each run, while this tab is shown, the panel asks the window's
controller to capture the graph with a run of its own
(:func:`inspector.core.graph.capture_session`: the graph's hooks and torch
function mode, one more forward) in its queue of model work, as Compare and
Sweep do, and to lay it out there with grandalf
(:mod:`inspector.core.graph_layout`); the GUI thread only builds the scene.
A run made while another tab is shown marks the graph stale; it is captured
when the tab is next shown.

What the view does:

- each node is a box with its name, type and output shape; operations
  (``add``, ``cat``, ``flatten``, ...) are small rounded boxes;
- wheel zooms, dragging pans, **Fit** (or the F key) shows it all;
- double-click a container to open it in place; double-click a node inside
  an open container to close that container; the first view is the deepest
  one with at most ~150 nodes;
- replaced modules are dashed pass-throughs; the failing node is red with
  its error, and the edges that carried tensors into it are red;
- nodes can be coloured by a statistic of the run (mean, std, zero %, NaN);
- clicking a node selects its module in the tree, and the tree's selection
  is shown here; right-click gives the tree's menu (Replace with Identity,
  Restore);
- the search box outlines matching nodes (and the closed containers that
  hold a match);
- Save writes SVG or PNG.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint, QRectF, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsScene,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from inspector.core.graph import DataflowGraph, GraphNode, auto_depth, collapse
from inspector.core.graph_layout import GraphLayout, layout
from inspector.core.task import TaskState
from inspector.gui.panels.graph_canvas import EdgeItem, GraphCanvas, NodeItem, scale_colour
from inspector.gui.panels.model_work import CLOSE_WAIT_MS, ModelWorkPanel

if TYPE_CHECKING:
    from inspector.core.probe import ProbeRun
    from inspector.core.session import Session
    from inspector.gui.controller import SessionController

STATISTICS = ("none", "mean", "std", "zero %", "NaN")
"""What the nodes can be coloured by (from the run's records)."""
BUILD_SLICE_S = 0.04
"""The scene is built in slices of about this long, each in its own turn of the event loop."""
PNG_LIMIT = 16000
"""The saved PNG is scaled down so that neither side passes this many pixels."""


@dataclass
class GraphShown:
    """What the worker hands the GUI thread: the captured graph, the open containers, the view and its layout."""

    graph: DataflowGraph
    expanded: set[str]
    visible: DataflowGraph
    placed: GraphLayout


def view_of(graph: DataflowGraph, expanded: set[str] | None) -> GraphShown:
    """Collapse ``graph`` to ``expanded`` (None: the deepest depth with at most ~150 nodes) and lay it out."""
    if expanded is None:
        depth = auto_depth(graph)
        expanded = {n.id for n in graph.nodes.values() if n.container and n.depth < depth}
    else:
        expanded = {i for i in expanded if i in graph.nodes and graph.nodes[i].container}
    visible = collapse(graph, expanded=expanded)
    return GraphShown(graph, expanded, visible, layout(visible))


def statistic_of(run: ProbeRun | None, node: GraphNode, statistic: str) -> float | None:
    """The chosen statistic of a module call's output in ``run``; None for operations or when unknown."""
    if run is None or node.kind != "module" or node.module is None or statistic == "none":
        return None
    record = run.records.get(node.module)
    if record is None or node.call >= len(record.calls):
        return None
    stats = record.calls[node.call].stats
    if stats is None:
        return None
    value = {"mean": stats.mean, "std": stats.std, "zero %": 100.0 * stats.zero_fraction,
             "NaN": float(stats.nan_count)}[statistic]
    return None if value is None or not math.isfinite(value) else float(value)

class GraphPanel(ModelWorkPanel):
    """The dataflow graph of the last run: captured and laid out on a worker, drawn in a zoomable scene."""

    sig_module_clicked = Signal(str)
    """The module of the node the user clicked (an operation's: the module whose forward ran it)."""
    sig_context_menu_requested = Signal(str, QPoint)
    """A right-click on a node: its module, and the global position for the menu."""
    sig_graph_shown = Signal(object)
    """The view now drawn (the collapsed DataflowGraph), after a capture or an open/close."""

    def __init__(self, controller: SessionController, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.setObjectName("graphPanel")
        self.prompts_of: Callable[[], Any] | None = None
        """Gives the window's prompts (they ask for the file to save to); tests put in their own."""
        self.shown: GraphShown | None = None
        self._run: ProbeRun | None = None
        self._stale = False
        self._expanded: set[str] | None = None
        self._layout_state: TaskState | None = None
        self._layout_pending: set[str] | None = None
        self._items: dict[str, NodeItem] = {}
        self._selected_module: str | None = None
        self._colour_note = ""
        self._build_token = 0
        self._building: Iterator[None] = iter(())

        self.status_label = QLabel("The graph is drawn after a run.", self)
        self.status_label.setObjectName("graphStatus")
        self.status_label.setWordWrap(True)
        self.colour_combo = QComboBox(self)
        self.colour_combo.setObjectName("graphColour")
        self.colour_combo.addItems(["nothing", "mean", "std", "zero %", "NaN count"])
        self.colour_combo.setToolTip("Colour each module's box by a statistic of its output in the last run")
        self.search_edit = QLineEdit(self)
        self.search_edit.setObjectName("graphSearch")
        self.search_edit.setPlaceholderText("Highlight nodes by name or type")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(200)
        self.search_edit.setMaximumWidth(260)
        self.fit_button = QPushButton("Fit", self)
        self.fit_button.setObjectName("graphFit")
        self.fit_button.setToolTip("Show the whole graph (F)")
        self.save_button = QPushButton("Save…", self)
        self.save_button.setObjectName("graphSave")
        self.save_button.setToolTip("Save the graph as shown: SVG or PNG")
        self.scene = QGraphicsScene(self)
        self.canvas = GraphCanvas(self.scene, self)
        self.font = QFont(self.font())
        self.font.setPixelSize(11)
        self.bold = QFont(self.font)
        self.bold.setBold(True)

        top = QHBoxLayout()
        top.addWidget(self.search_edit)
        top.addWidget(QLabel("Colour by", self))
        top.addWidget(self.colour_combo)
        top.addStretch(1)
        top.addWidget(self.fit_button)
        top.addWidget(self.save_button)
        layout_ = QVBoxLayout(self)
        layout_.setContentsMargins(6, 4, 6, 4)
        layout_.addLayout(top)
        layout_.addWidget(self.status_label)
        layout_.addWidget(self.canvas, 1)

        self.fit_button.clicked.connect(self.canvas.fit)
        self.save_button.clicked.connect(self._on_save_button_clicked)
        self.colour_combo.currentIndexChanged.connect(self._on_colour_combo_changed)
        self.search_edit.textChanged.connect(self._on_search_edit_changed)
        self.canvas.sig_node_clicked.connect(self._on_canvas_node_clicked)
        self.canvas.sig_node_double_clicked.connect(self._on_canvas_node_double_clicked)
        self.canvas.sig_node_context_requested.connect(self._on_canvas_node_context_requested)
        self.set_session(controller.session)
        controller.sig_run_shown.connect(self._on_controller_run_shown)

    # ----------------------------------------------------------------- API

    def set_session(self, session: Session | None) -> None:
        """A new model: nothing drawn until it runs; containers open at the default depth again."""
        super().set_session(session)
        self._run = None
        self._stale = False
        self._expanded = None
        self.shown = None
        self._items = {}
        self.scene.clear()
        self.status_label.setText("The graph is drawn after a run.")
        self._update_controls()

    def run_finished(self, run: ProbeRun | None) -> None:
        """A run ended: capture its graph now when this tab is shown, else when it is next shown."""
        if run is None or run.cancelled or self._session is None:
            return
        self._run = run
        self._stale = True
        if self.isVisible():
            self.refresh()
        else:
            self.status_label.setText("A new run: the graph is captured when this tab is shown.")

    def _on_controller_run_shown(self, run: ProbeRun, _baseline: ProbeRun | None) -> None:
        self.run_finished(run)

    def mark_stale(self) -> None:
        """The model was edited: what is drawn is the model before the edit, until the next run."""
        if self.shown is not None:
            self.status_label.setText("The model changed since this graph: run (F5) to redraw it.")

    def refresh(self) -> bool:
        """Ask for the graph of the model as it is now to be captured (one more forward); False when not now."""
        session = self._session
        if not self._stale or session is None or not self.can_start():
            return False
        expanded = set(self._expanded) if self._expanded is not None else None

        def job(state: TaskState) -> GraphShown | None:
            from inspector.core.graph import capture_session

            graph = capture_session(session, should_stop=state.should_stop)
            if graph.cancelled:
                return None
            return view_of(graph, expanded)

        self._stale = False
        self.status_label.setText("Capturing the graph (one more forward) and laying it out…")
        if not self._request("graph", job, f"Drawing the graph of {session.source}",
                             self._on_capture_worker_succeeded, self._on_worker_failed):
            self._stale = True
            return False
        return True

    def set_busy(self, busy: bool) -> None:
        super().set_busy(busy)
        if not busy and self._stale and self.isVisible():
            QTimer.singleShot(0, self.refresh)

    def shut_down(self) -> None:
        super().shut_down()
        state = self._layout_state
        if state is not None:
            self.controller.stop_task(state, CLOSE_WAIT_MS)
            self._layout_state = None

    def select_module(self, name: str | None) -> None:
        """Outline the node of ``name`` (the closed container holding it, when it is inside one)."""
        self._selected_module = name
        target = self._node_for_module(name) if name is not None else None
        for node_id, item in self._items.items():
            selected = node_id == target
            if item.selected != selected:
                item.selected = selected
                item.update()
        if target is not None:
            self.canvas.ensureVisible(self._items[target], 40, 40)

    def open_container(self, node_id: str) -> bool:
        """Show a closed container's children in its place; False when it is not a closed container."""
        if self.shown is None or node_id not in self.shown.visible.nodes:
            return False
        if not self.shown.graph.nodes[node_id].container:
            return False
        return self._relayout(self.shown.expanded | {node_id})

    def close_container(self, node_id: str) -> bool:
        """Fold an open container (and every container open inside it) back into one node."""
        if self.shown is None or node_id not in self.shown.expanded:
            return False
        inside = {i for i in self.shown.expanded if node_id in self.shown.graph.ancestors(i)}
        return self._relayout(self.shown.expanded - inside - {node_id})

    def node_item(self, node_id: str) -> NodeItem | None:
        return self._items.get(node_id)

    def save_svg(self, path: str) -> None:
        """Write the graph as shown (open containers, layout) as SVG."""
        from inspector.core.graph_layout import svg_text
        from inspector.core.report import write_atomic

        if self.shown is None:
            return
        title = self._session.source if self._session is not None else ""
        write_atomic(path, svg_text(self.shown.visible, self.shown.placed, title=title))

    def save_png(self, path: str) -> bool:
        """Write the graph as shown (its colours and outlines too) as a PNG image."""
        rect = self.scene.itemsBoundingRect().adjusted(-20, -20, 20, 20)
        if rect.isEmpty():
            return False
        scale = min(2.0, PNG_LIMIT / max(rect.width(), rect.height()))
        image = QImage(int(rect.width() * scale), int(rect.height() * scale), QImage.Format.Format_ARGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.scene.render(painter, QRectF(0, 0, image.width(), image.height()), rect)
        painter.end()
        return image.save(path, "PNG")

    # ----------------------------------------------------------------- workers

    def _relayout(self, expanded: set[str]) -> bool:
        if self.shown is None:
            return False
        if self._layout_state is not None:
            self._layout_pending = expanded
            return True
        from inspector.gui.controller import TaskRequest

        graph = self.shown.graph
        state = self._layout_state = TaskState("Laying out the graph")

        def mine(callback: Callable[..., None]) -> Callable[..., None]:
            def call(*args: Any) -> None:
                if self._layout_state is state:
                    self._layout_state = None
                    callback(*args)
            return call

        # Layout reads only the captured graph, never the model: it runs beside the model's queue.
        request = TaskRequest("layout", lambda _state: view_of(graph, expanded), state,
                              mine(self._on_layout_worker_succeeded), mine(self._on_layout_failed), uses_model=False)
        if not self.controller.submit(request):
            self._layout_state = None
            return False
        return True

    def _on_capture_worker_succeeded(self, shown: GraphShown | None) -> None:
        if shown is None:
            self.status_label.setText("Graph capture cancelled.")
            return
        self._show(shown, fresh=True)

    def _on_layout_worker_succeeded(self, shown: GraphShown) -> None:
        if self._closing:
            return
        if self.shown is not None and shown.graph is self.shown.graph:
            self._show(shown, fresh=False)
        pending, self._layout_pending = self._layout_pending, None
        if pending is not None:
            self._relayout(pending)

    def _on_layout_failed(self, error: BaseException, trace: str) -> None:
        if not self._closing:
            self._on_worker_failed(error, trace)

    def _on_worker_failed(self, error: BaseException, trace: str) -> None:
        lines = str(error).strip().splitlines()
        self.status_label.setText(f"No graph: {lines[0] if lines else type(error).__name__}")

    def _update_controls(self) -> None:
        has_graph = self.shown is not None
        self.fit_button.setEnabled(has_graph)
        self.save_button.setEnabled(has_graph)

    # ----------------------------------------------------------------- drawing

    def _show(self, shown: GraphShown, *, fresh: bool) -> None:
        """Draw ``shown``: its items are added in slices of at most ~40 ms, so a 1,000-node graph never
        holds the event loop for long; ``sig_graph_shown`` follows the last slice."""
        self.shown = shown
        self._expanded = set(shown.expanded)
        self._build_token += 1
        self.scene.clear()
        self._items = {}
        placed = shown.placed
        self.scene.setSceneRect(QRectF(-40, -40, placed.width + 80, placed.height + 80))
        self.status_label.setText(self._summary(shown))
        self._update_controls()
        if fresh:
            self.canvas.show_top()
        self._building = self._scene_items(shown)
        self._add_items(self._build_token, fresh)

    def _scene_items(self, shown: GraphShown) -> Iterator[None]:
        visible, placed = shown.visible, shown.placed
        for edge, points in zip(visible.edges, placed.paths, strict=True):
            if len(points) >= 2:
                tip = f"{edge.source} → {edge.target}: {edge.label}" + (" (into the failing call)" if edge.failed else "")
                self.scene.addItem(EdgeItem(points, edge.failed, tip))
                yield None
        for node_id, node in visible.nodes.items():
            box = placed.boxes.get(node_id)
            if box is None:
                continue
            item = NodeItem(node, QRectF(box.left, box.top, box.width, box.height), self.font, self.bold)
            self.scene.addItem(item)
            self._items[node_id] = item
            yield None

    def _add_items(self, token: int, fresh: bool) -> None:
        if token != self._build_token or self.shown is None:
            return  # a newer view replaced this one
        deadline = time.perf_counter() + BUILD_SLICE_S
        for _ in self._building:
            if time.perf_counter() > deadline:
                QTimer.singleShot(0, lambda: self._add_items(token, fresh))
                return
        self._apply_colours()
        self._apply_search()
        self.select_module(self._selected_module)
        if fresh:
            failed = next((i for i, n in self.shown.visible.nodes.items() if n.failed), None)
            if failed is not None:
                self.canvas.centerOn(self._items[failed])
        self.sig_graph_shown.emit(self.shown.visible)

    @staticmethod
    def _summary(shown: GraphShown) -> str:
        graph, visible = shown.graph, shown.visible
        ops = sum(1 for n in visible.nodes.values() if n.kind == "op")
        text = (f"{len(visible.nodes)} nodes ({ops} operations), {len(visible.edges)} edges shown; "
                f"{len(graph.nodes)} in the whole graph. Double-click a box to open or close it.")
        if graph.error is not None:
            text = f"<b style='color:#c53030'>Failed in {graph.error.node or graph.error.module}</b> · " + text
        if graph.device == "meta":
            text += " Shapes only (meta)."
        return text

    def _node_for_module(self, name: str) -> str | None:
        if self.shown is None:
            return None
        graph = self.shown.graph
        node = graph.node_of_module(name)
        if node is None:
            return None
        for candidate in [node.id] + graph.ancestors(node.id):
            if candidate in self._items:
                return candidate
        # An open container is not a node: outline nothing.
        return None

    def _apply_colours(self) -> None:
        statistic = STATISTICS[self.colour_combo.currentIndex()]
        values: dict[str, float] = {}
        if statistic != "none":
            for node_id, item in self._items.items():
                value = statistic_of(self._run, item.node, statistic)
                if value is not None:
                    values[node_id] = value
        note = ""
        if statistic == "NaN":
            shares = {i: 1.0 if v > 0 else 0.0 for i, v in values.items()}
            note = f"Colour: {sum(1 for v in values.values() if v > 0)} module(s) with NaN (deep orange)."
        elif values:
            low, high = min(values.values()), max(values.values())
            shares = {i: (v - low) / (high - low) if high > low else 0.5 for i, v in values.items()}
            note = f"Colour: {statistic} of each module's output, {low:.3g} (pale) to {high:.3g} (deep orange)."
        else:
            shares = {}
            if statistic != "none":
                note = "Colour: no statistics in this run (a meta run has shapes only)."
        self._colour_note = note
        if self.shown is not None:
            self.status_label.setText(self._summary(self.shown) + (" " + note if note else ""))
        for node_id, item in self._items.items():
            share = shares.get(node_id)
            item.fill = scale_colour(share) if share is not None else None
            if statistic != "none" and node_id in values:
                item.setToolTip(f"{item._tooltip()}\n{statistic}: {values[node_id]:.4g}")
            else:
                item.setToolTip(item._tooltip())
            item.update()

    def _apply_search(self) -> None:
        text = self.search_edit.text().strip().lower()
        matched: set[str] = set()
        if text and self.shown is not None:
            graph = self.shown.graph
            for node in graph.nodes.values():
                if text in node.id.lower() or text in node.type_name.lower():
                    for candidate in [node.id] + graph.ancestors(node.id):
                        if candidate in self._items:
                            matched.add(candidate)
                            break
        for node_id, item in self._items.items():
            if item.matched != (node_id in matched):
                item.matched = node_id in matched
                item.update()
        if matched:
            first = min(matched, key=lambda i: self._items[i].node.order)
            self.canvas.ensureVisible(self._items[first], 40, 40)

    # ----------------------------------------------------------------- slots

    def _on_canvas_node_clicked(self, node_id: str) -> None:
        item = self._items.get(node_id)
        if item is None or item.node.module is None:
            return
        self.select_module(item.node.module)
        self.sig_module_clicked.emit(item.node.module)

    def _on_canvas_node_double_clicked(self, node_id: str) -> None:
        item = self._items.get(node_id)
        if item is None or self.shown is None:
            return
        if item.node.container:
            self.open_container(node_id)
        elif item.node.parent is not None:
            self.close_container(item.node.parent)

    def _on_canvas_node_context_requested(self, node_id: str, position: QPoint) -> None:
        item = self._items.get(node_id)
        if item is not None and item.node.kind == "module" and item.node.module:
            self.sig_context_menu_requested.emit(item.node.module, position)

    def _on_colour_combo_changed(self, _index: int) -> None:
        self._apply_colours()

    def _on_search_edit_changed(self, _text: str) -> None:
        self._apply_search()

    def _on_save_button_clicked(self) -> None:
        if self.prompts_of is None or self.shown is None:
            return
        path = self.prompts_of().save_file("Save graph", "graph.svg", "SVG image (*.svg);;PNG image (*.png)")
        if not path:
            return
        try:
            if path.lower().endswith(".png"):
                if not self.save_png(path):
                    raise OSError("the image could not be written")
            else:
                self.save_svg(path)
        except OSError as error:
            self.status_label.setText(f"Not saved: {error.strerror or error}")
            return
        self.status_label.setText(f"Saved {path}")

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale:
            QTimer.singleShot(0, self.refresh)
