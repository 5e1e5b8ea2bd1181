"""The Sweep tab on resnet18: a real sweep on its worker, the sorted table, the bars, double-click, cancel."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from inspector.gui.panels.row_table import SORT_ROLE
from inspector.gui.panels.sweep import SweepPanel
from tests.helpers import assert_unchanged, snapshot

TIMEOUT_MS = 120_000


@pytest.fixture
def session(small_resnet18_session):
    return small_resnet18_session


@pytest.fixture
def panel(panel_widget):
    return panel_widget(SweepPanel)


def column_texts(panel: SweepPanel, column: int) -> list[str]:
    return [panel.proxy.index(row, column).data() for row in range(panel.proxy.rowCount())]


def test_sweep_fills_table_and_bars_and_leaves_the_model(qtbot, panel, session):
    before = snapshot(session.model)
    panel.controller.set_session(session)
    panel.only_edit.setText("Sequential, BatchNorm2d")
    busy: list[bool] = []
    panel.controller.sig_busy_changed.connect(busy.append)
    with qtbot.waitSignal(panel.sig_finished, timeout=TIMEOUT_MS) as finished:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        assert panel.running and not panel.start_button.isEnabled() and panel.cancel_button.isEnabled()
    result = finished.args[0]
    assert busy == [True, False]
    assert result.complete and len(result.entries) == 7 + 20
    assert column_texts(panel, 0) == [e.name for e in result.entries]
    layer2 = panel.proxy.match(panel.proxy.index(0, 0), Qt.ItemDataRole.DisplayRole, "layer2")[0].row()
    assert panel.proxy.index(layer2, 2).data() == "fails"
    assert panel.proxy.index(layer2, 6).data().startswith("layer3.0.conv1: ")
    # Bars: one blue per run with a distance, one red per failure.
    ok = [e for e in result.entries if e.ok and e.relative_l2 is not None]
    assert len(panel.ok_bars.opts["x"]) == len(ok)
    assert len(panel.failed_bars.opts["x"]) == sum(not e.ok for e in result.entries)
    assert "Swept 27 of 27 modules" in panel.status_label.text()
    assert_unchanged(session.model, before)


def test_sort_by_relative_l2_is_numeric_with_failures_last(qtbot, panel, session):
    panel.controller.set_session(session)
    with qtbot.waitSignal(panel.sig_finished, timeout=TIMEOUT_MS):
        panel.start(only_types=["Sequential", "BatchNorm2d"])
    panel.table.sortByColumn(4, Qt.SortOrder.AscendingOrder)
    keys = [panel.proxy.index(row, 4).data(SORT_ROLE) for row in range(panel.proxy.rowCount())]
    assert keys == sorted(keys)
    assert panel.proxy.index(panel.proxy.rowCount() - 1, 2).data() == "fails"


def test_double_click_asks_for_that_edit(qtbot, panel, session):
    panel.controller.set_session(session)
    with qtbot.waitSignal(panel.sig_finished, timeout=TIMEOUT_MS):
        panel.start(under="layer4.1")
    index = panel.proxy.index(2, 0)
    assert index.data() == "layer4.1.relu"
    panel.show()
    qtbot.waitExposed(panel)
    rect = panel.table.visualRect(index)
    with qtbot.waitSignal(panel.sig_module_clicked) as clicked:
        qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert clicked.args == ["layer4.1.relu"]
    # Qt's item views take a double-click as press, release, double-click on the same index.
    with qtbot.waitSignal(panel.sig_edit_requested) as requested:
        qtbot.mousePress(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseRelease(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert requested.args == ["layer4.1.relu"]
    assert session.replaced == []  # the panel asks; the window makes the edit


def test_cancel_stops_and_restores(qtbot, panel, session):
    before = snapshot(session.model)
    panel.controller.set_session(session)
    with qtbot.waitSignal(panel.sig_finished, timeout=TIMEOUT_MS) as finished:
        panel.start()
        panel.cancel()
    result = finished.args[0]
    assert result.cancelled and len(result.entries) < len(result.candidates)
    assert "Cancelled after" in panel.status_label.text()
    assert not panel.running and panel.start_button.isEnabled()
    assert_unchanged(session.model, before)


def test_busy_model_and_no_session_disable_start(qtbot, panel, session):
    assert not panel.start_button.isEnabled() and not panel.start()
    panel.controller.set_session(session)
    panel.set_busy(True)
    assert not panel.start_button.isEnabled() and not panel.start()
    panel.set_busy(False)
    assert panel.start_button.isEnabled()


def test_bad_filter_is_shown_not_raised(qtbot, panel, session):
    panel.controller.set_session(session)
    with qtbot.waitSignal(panel.sig_finished, timeout=TIMEOUT_MS) as finished:
        panel.start(only_types=["Conv3d"])
    assert finished.args == [None]
    assert "no module of type 'Conv3d'" in panel.status_label.text()


def test_shut_down_waits_for_the_worker(qtbot, panel, session):
    panel.controller.set_session(session)
    assert panel.start()
    panel.shut_down()
    assert not panel.running
    assert session.replaced == []
