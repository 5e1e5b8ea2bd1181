"""The Graph tab on resnet18: drawn after a run, selection both ways with the tree, the tree's menu, pass-throughs."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QContextMenuEvent, QImage
from PySide6.QtWidgets import QApplication, QMenu

from inspector.core.inputs import InputSpec
from inspector.gui.panels.graph import EdgeItem, GraphPanel, statistic_of

TIMEOUT_MS = 120_000


def node_position(panel: GraphPanel, node_id: str) -> QPoint:
    """Where a node's box is in the canvas's viewport (scrolled into view first)."""
    item = panel.node_item(node_id)
    assert item is not None, f"{node_id} is not drawn"
    panel.canvas.ensureVisible(item, 20, 20)
    return panel.canvas.mapFromScene(item.rect.center())


@pytest.fixture
def graph_window(window: Any, qtbot: Any) -> Any:
    """resnet18 on a 64x64 input, the Graph tab shown."""
    window.input_panel.set_spec(InputSpec((1, 3, 64, 64)))
    window._ensure_plots()
    assert window.analysis is not None
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    window.tabs.setCurrentWidget(window.analysis.graph)
    return window


def run_and_draw(window: Any, qtbot: Any) -> Any:
    """Run (F5) and wait until the Graph tab has drawn the graph of that run; returns the view drawn."""
    panel = window.analysis.graph
    with (
        qtbot.waitSignal(panel.sig_graph_shown, timeout=TIMEOUT_MS) as shown,
        qtbot.waitSignal(window.sig_run_finished, timeout=TIMEOUT_MS),
    ):
        window.actions["actionRun"].trigger()
    qtbot.waitUntil(lambda: not window.busy, timeout=TIMEOUT_MS)
    return shown.args[0]


def test_nodes_and_the_tree_select_each_other(graph_window, qtbot):
    window = graph_window
    panel = window.analysis.graph
    visible = run_and_draw(window, qtbot)
    # resnet18 opens at the deepest depth with at most ~150 nodes: every conv of every block.
    assert "layer1.0.conv1" in visible.nodes and len(visible.nodes) <= 150
    assert sum(1 for n in visible.nodes.values() if n.type_name == "add") == 8

    qtbot.mouseClick(panel.canvas.viewport(), Qt.MouseButton.LeftButton, pos=node_position(panel, "layer2.0.conv2"))
    assert window.current_module() == "layer2.0.conv2"
    assert panel.node_item("layer2.0.conv2").selected

    window.select_module("layer3.1.bn1")
    assert panel.node_item("layer3.1.bn1").selected and not panel.node_item("layer2.0.conv2").selected

    # Double-click a node inside layer1.0: the block closes into one box; double-click it: it opens again.
    with qtbot.waitSignal(panel.sig_graph_shown, timeout=TIMEOUT_MS) as closed:
        qtbot.mouseDClick(panel.canvas.viewport(), Qt.MouseButton.LeftButton, pos=node_position(panel, "layer1.0.bn1"))
    assert "layer1.0" in closed.args[0].nodes and "layer1.0.bn1" not in closed.args[0].nodes
    assert closed.args[0].nodes["layer1.0"].output_shapes == [[1, 64, 16, 16]]
    window.select_module("layer1.0.conv2")  # inside the closed block: the block is outlined
    assert panel.node_item("layer1.0").selected
    with qtbot.waitSignal(panel.sig_graph_shown, timeout=TIMEOUT_MS) as opened:
        qtbot.mouseDClick(panel.canvas.viewport(), Qt.MouseButton.LeftButton, pos=node_position(panel, "layer1.0"))
    assert "layer1.0.bn1" in opened.args[0].nodes


def test_replace_from_the_graph_menu_then_the_next_run_shows_the_pass_through(graph_window, qtbot):
    window = graph_window
    panel = window.analysis.graph
    run_and_draw(window, qtbot)
    seen: dict[str, Any] = {}

    def choose_replace() -> None:
        popup = QApplication.activePopupWidget()
        if isinstance(popup, QMenu):
            actions = {a.objectName(): a for a in popup.actions() if a.objectName()}
            seen["enabled"] = actions["actionReplaceIdentity"].isEnabled()
            popup.close()
            actions["actionReplaceIdentity"].trigger()

    QTimer.singleShot(200, choose_replace)
    position = node_position(panel, "layer1.0.conv2")
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, position, panel.canvas.viewport().mapToGlobal(position))
    QApplication.sendEvent(panel.canvas.viewport(), event)
    assert seen.get("enabled") is True
    assert window.session.replaced == ["layer1.0.conv2"]
    assert "run (F5) to redraw" in panel.status_label.text()

    visible = run_and_draw(window, qtbot)
    node = visible.nodes["layer1.0.conv2"]
    assert node.replaced and node.passthrough and node.type_name == "Identity"
    into = [e for e in visible.edges if e.target == "layer1.0.conv2"]
    out = [e for e in visible.edges if e.source == "layer1.0.conv2"]
    assert [e.source for e in into] == ["layer1.0.relu"] and [e.target for e in out] == ["layer1.0.bn2"]
    assert into[0].tensor == out[0].tensor
    assert "Identity (replaced)" in panel.node_item("layer1.0.conv2").lines


@pytest.fixture
def panel(panel_widget: Any) -> GraphPanel:
    widget = panel_widget(GraphPanel)
    widget.show()
    return widget


def draw(panel: GraphPanel, session: Any, qtbot: Any) -> Any:
    panel.controller.set_session(session)
    run = session.run()
    with qtbot.waitSignal(panel.sig_graph_shown, timeout=TIMEOUT_MS) as shown:
        panel.run_finished(run)
    qtbot.waitUntil(lambda: not panel.running, timeout=TIMEOUT_MS)
    return run, shown.args[0]


def test_a_failing_edit_is_drawn_red_where_the_shapes_stopped_fitting(panel, small_resnet18_session, qtbot):
    session = small_resnet18_session
    session.replace_with_identity("layer2")
    _, visible = draw(panel, session, qtbot)
    failed = [n for n in visible.nodes.values() if n.failed]
    assert [n.id for n in failed] == ["layer3.0.conv1"] and "128 channels" in failed[0].error
    red = [item for item in panel.scene.items() if isinstance(item, EdgeItem) and item.failed]
    assert len(red) == 1 and "[1, 64, 16, 16]" in red[0].toolTip() and "layer2 →" in red[0].toolTip()
    assert panel.node_item("layer2").node.passthrough
    assert "Failed in layer3.0.conv1" in panel.status_label.text()


def test_colour_by_statistic_search_and_save(panel, small_resnet18_session, qtbot, tmp_path):
    run, visible = draw(panel, small_resnet18_session, qtbot)
    relu = panel.node_item("layer1.0.relu")
    assert relu.fill is None
    panel.colour_combo.setCurrentText("zero %")
    expected = 100.0 * run.records["layer1.0.relu"].calls[0].stats.zero_fraction
    assert statistic_of(run, relu.node, "zero %") == pytest.approx(expected)
    assert relu.fill is not None and panel.node_item("layer1.0.add").fill is None  # operations have no records
    assert f"{expected:.4g}" in relu.toolTip()

    panel.search_edit.setText("downsample")
    matched = {i for i, item in panel._items.items() if item.matched}
    assert matched == {n for n in visible.nodes if "downsample" in n}
    panel.search_edit.clear()
    assert not any(item.matched for item in panel._items.values())

    svg, png = tmp_path / "g.svg", tmp_path / "g.png"
    panel.save_svg(str(svg))
    root = ElementTree.fromstring(svg.read_text())
    ids = {g.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g")}
    assert "node-layer4.1.conv2" in ids
    assert panel.save_png(str(png))
    image = QImage(str(png))
    assert image.width() > 100 and image.height() > 100
