"""The Compare view on resnet18: the worker's comparison, the table's numbers and colours, the plot."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from inspector.core.compare import compare_runs
from inspector.gui.panels.compare import ComparePanel, moved_colour
from inspector.gui.panels.row_table import SORT_ROLE

TIMEOUT_MS = 120_000


@pytest.fixture
def session(small_resnet18_session):
    return small_resnet18_session


@pytest.fixture
def panel(panel_widget):
    return panel_widget(ComparePanel)


def row_of(panel: ComparePanel, name: str) -> int:
    return panel.proxy.match(panel.proxy.index(0, 0), Qt.ItemDataRole.DisplayRole, name, 1,
                             Qt.MatchFlag.MatchExactly)[0].row()


def test_compare_layer1_0_on_the_worker(qtbot, panel, session):
    session.replace_with_identity("layer1.0")
    panel.controller.set_session(session)
    with qtbot.waitSignal(panel.sig_comparison_ready, timeout=TIMEOUT_MS) as ready:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    comparison = ready.args[0]
    assert not panel.running and session.replaced == ["layer1.0"]
    assert "relative L2" in panel.summary_label.text()
    assert f"{comparison.output.relative_l2:.4g}" in panel.summary_label.text()
    layer2 = row_of(panel, "layer2")
    assert panel.proxy.index(layer2, 7).data() == f"{comparison.modules['layer2'].relative_l2:.4g}"
    assert panel.proxy.index(row_of(panel, "layer1.0"), 1).data() == "BasicBlock → Identity"
    # Unmoved modules are not tinted; moved ones are.
    assert panel.proxy.index(row_of(panel, "conv1"), 0).data(Qt.ItemDataRole.BackgroundRole) is None
    assert panel.proxy.index(layer2, 0).data(Qt.ItemDataRole.BackgroundRole) is not None
    # The plot holds one point per named module, NaN where no distance is known.
    x, _ = panel.moved_curve.getData()
    assert len(x) == len([m for m in comparison.modules if m])


def test_fc_shapes_changed_are_marked(qtbot, panel, session):
    session.replace_with_identity("fc")
    panel.controller.set_session(session)
    with qtbot.waitSignal(panel.sig_comparison_ready, timeout=TIMEOUT_MS):
        panel.start()
    assert "Output shapes changed" in panel.summary_label.text()
    assert "[1, 1000] → [1, 512]" in panel.summary_label.text()
    fc = row_of(panel, "fc")
    assert panel.proxy.index(fc, 2).data() == "[1, 1000] → [1, 512]"
    assert panel.proxy.index(fc, 7).data() == "—"
    assert len(panel.changed_points.data) == 1


def test_set_runs_gives_deltas_without_distances_and_sorts_numerically(panel, session):
    baseline = session.run()
    session.replace_with_identity("layer3.1")
    current = session.run()
    panel.set_runs(baseline, current)
    expected = compare_runs(baseline, current)
    assert panel.proxy.rowCount() == len(expected.modules)
    assert "Output distance not computed" in panel.summary_label.text()
    panel.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)
    keys = [panel.proxy.index(row, 3).data(SORT_ROLE) for row in range(panel.proxy.rowCount())]
    assert keys == sorted(keys, reverse=True)


def test_moved_colour_scale():
    assert moved_colour(None) is None and moved_colour(0.0) is None and moved_colour(1e-6) is None
    small, large = moved_colour(1e-3), moved_colour(0.5)
    assert small is not None and large is not None
    assert large.green() < small.green() and large.alpha() > small.alpha()
    assert moved_colour(None, shape_changed=True) is not None
