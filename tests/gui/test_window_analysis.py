"""The Compare and Sweep tabs inside the window, and sessions saved and opened from the File menu."""

from __future__ import annotations

from typing import Any

import torch

TIMEOUT_MS = 120_000


def run(window: Any, qtbot: Any) -> Any:
    with qtbot.waitSignal(window.sig_run_finished, timeout=TIMEOUT_MS) as blocker:
        window.actions["actionRun"].trigger()
    return blocker.args[0]


def analysis(window: Any, qtbot: Any) -> Any:
    """The window's Compare/Sweep tabs (made a moment after the model opens, with the plots)."""
    qtbot.waitUntil(lambda: window.analysis is not None, timeout=TIMEOUT_MS)
    return window.analysis


def test_a_sweep_locks_edits_and_runs_and_leaves_the_model_as_it_was(window, qtbot):
    tabs = analysis(window, qtbot)
    window.input_panel.shape_edit.setText("1,3,64,64")
    window.select_module("fc")
    weights = {name: p.detach().clone() for name, p in window.session.model.named_parameters()}
    modules = dict(window.session.model.named_modules())

    with qtbot.waitSignal(tabs.sweep.sig_finished, timeout=TIMEOUT_MS) as blocker:
        assert tabs.sweep.start(only_types=["BasicBlock"])
        assert window.busy
        for name in ("actionRun", "actionReplaceIdentity", "actionOpenModel", "actionRefreshSummary"):
            assert not window.actions[name].isEnabled(), name
        assert window.start_run() is False
        assert window.replace_current_with_identity() is False
    result = blocker.args[0]
    assert [entry.name for entry in result.entries] == [f"layer{i}.{j}" for i in range(1, 5) for j in range(2)]

    assert not window.busy
    assert window.actions["actionRun"].isEnabled() and window.actions["actionReplaceIdentity"].isEnabled()
    assert dict(window.session.model.named_modules()) == modules  # the very same module objects
    for name, parameter in window.session.model.named_parameters():
        assert torch.equal(parameter, weights[name]), name
    assert window.session.replaced == []


def test_a_sweep_row_can_become_a_real_edit(window, qtbot):
    tabs = analysis(window, qtbot)
    tabs.sweep.sig_edit_requested.emit("layer3.1")
    assert window.session.replaced == ["layer3.1"]
    assert window.current_module() == "layer3.1"
    assert window.actions["actionUndo"].text().replace("&", "") == "Undo Replace layer3.1 with Identity"


def test_the_compare_tab_shows_an_edited_run_against_the_baseline(window, qtbot):
    tabs = analysis(window, qtbot)
    window.input_panel.shape_edit.setText("1,3,64,64")
    baseline = run(window, qtbot)
    window.select_module("layer4.1")
    window.actions["actionReplaceIdentity"].trigger()
    edited = run(window, qtbot)
    qtbot.waitUntil(lambda: tabs.compare.comparison is not None, timeout=TIMEOUT_MS)
    compared = tabs.compare.comparison.modules
    assert "layer4.1" in compared
    # layer4.1 now returns its input: its output mean in the comparison is the edited run's.
    assert edited.records["layer4.1"].first.stats.mean != baseline.records["layer4.1"].first.stats.mean
    tabs.compare.sig_module_clicked.emit("layer4.0")
    assert window.current_module() == "layer4.0"


def test_a_saved_session_reopens_with_its_edits(open_window, prompts, qtbot, tmp_path):
    window = open_window("resnet18")
    window.select_module("fc")
    window.actions["actionReplaceIdentity"].trigger()
    window.input_panel.shape_edit.setText("2,3,96,96")
    prompts.save_path = str(tmp_path / "features")
    assert window.save_session()
    saved = tmp_path / "features.inspector.json"
    assert saved.exists()
    assert window.undo_stack.isClean()
    assert window.close()  # saved edits: closing does not ask
    assert prompts.titles("confirm") == []

    other = open_window(None)
    prompts.session_file = str(saved)
    with qtbot.waitSignal(other.controller.sig_session_file_opened, timeout=TIMEOUT_MS):
        other.actions["actionOpenSession"].trigger()
    assert other.session is not None
    assert other.session.replaced == ["fc"]
    assert other.input_panel.shape_edit.text() == "2,3,96,96"
    assert other.tree_model.find("fc").type_name == "Identity"
    assert run(other, qtbot).output_shapes == [[2, 512]]

    # The opened edits are on the Undo stack, and opening left nothing to save.
    assert other.undo_stack.isClean()
    assert other.actions["actionUndo"].isEnabled()
    assert other.undo_stack.undoText() == "Replace fc with Identity"
    other.actions["actionUndo"].trigger()
    assert other.session.replaced == [] and other.tree_model.find("fc").type_name == "Linear"
    assert run(other, qtbot).output_shapes == [[2, 1000]]
    other.actions["actionRedo"].trigger()
    assert other.session.replaced == ["fc"] and other.tree_model.find("fc").type_name == "Identity"
    assert other.undo_stack.isClean()


def test_the_tree_is_tinted_by_how_far_each_output_moved(window, qtbot):
    from PySide6.QtCore import Qt

    tabs = analysis(window, qtbot)
    window.input_panel.shape_edit.setText("1,3,64,64")
    window.select_module("layer3.1")
    window.actions["actionReplaceIdentity"].trigger()
    with qtbot.waitSignal(tabs.compare.sig_comparison_ready, timeout=TIMEOUT_MS) as blocker:
        assert tabs.compare.start()
    comparison = blocker.args[0]
    qtbot.waitUntil(lambda: not window.busy, timeout=TIMEOUT_MS)

    def tint(name: str) -> Any:
        return window.tree_model.data(window.tree_model.index_of(name), Qt.ItemDataRole.BackgroundRole)

    # Downstream of the edit the output moved; upstream it is exactly the same.
    assert comparison.modules["fc"].relative_l2 > 0
    assert tint("fc") is not None
    assert comparison.modules["conv1"].relative_l2 == 0
    assert tint("conv1") is None


def test_the_shown_run_is_published_once_and_every_view_shows_that_run(window, qtbot):
    tabs = analysis(window, qtbot)
    window.input_panel.shape_edit.setText("1,3,64,64")
    baseline = run(window, qtbot)
    window.select_module("layer4.1")
    window.actions["actionReplaceIdentity"].trigger()
    published: list[tuple[object, object]] = []
    window.controller.sig_run_shown.connect(lambda shown, before: published.append((shown, before)))
    edited = run(window, qtbot)
    assert published == [(edited, baseline)]
    qtbot.waitUntil(lambda: window.plots.run is edited and tabs.compare.comparison is not None, timeout=TIMEOUT_MS)
    assert window.tree_model.run is edited
    assert window.plots.baseline_series is not None
    assert tabs.compare.comparison.modules["layer4.1"].current_type == "Identity"
    # The plots draw the run they are given, not whatever the session holds.
    window.controller.sig_run_shown.emit(baseline, None)
    qtbot.waitUntil(lambda: window.plots.run is baseline, timeout=TIMEOUT_MS)
    assert window.session.last_run is edited and window.plots.baseline_series is None


def test_no_module_of_the_window_imports_the_main_window():
    from pathlib import Path

    gui = Path(__file__).resolve().parents[2] / "inspector" / "gui"
    importers = [p.name for p in gui.rglob("*.py") if "inspector.gui.main_window" in p.read_text()]
    assert importers == ["app.py"]
