"""The main window driven as a person would: select, right-click, replace with Identity, run, undo.

Every test uses the real window from ``build_window`` on real models, and
reads what a user would read: the tree's cells, the banner, the actions'
enabled state and texts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torchvision
from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QWidget

from inspector.gui.tree_model import FAILED_BACKGROUND, QUALIFIED_NAME_ROLE

RUN_TIMEOUT_MS = 120_000
MODELS = Path(__file__).resolve().parent / "gui_models.py"


def model_spec(name: str) -> str:
    """The MODEL spec of a class in ``gui_models.py``."""
    return f"{MODELS}:{name}"


def column_of(window: Any, header: str) -> int:
    """The column of the tree view whose header reads ``header``."""
    model = window.tree.model()
    for column in range(model.columnCount()):
        if model.headerData(column, Qt.Orientation.Horizontal) == header:
            return column
    raise AssertionError(f"no column headed {header!r}")


def view_index(window: Any, name: str, header: str = "Name") -> QModelIndex:
    """The tree view's index of a module's cell, found by walking the view's own model."""
    model = window.tree.model()
    index = model.index(0, 0)
    for part in name.split(".") if name else []:
        rows = [model.index(r, 0, index) for r in range(model.rowCount(index))]
        index = next(i for i in rows if i.data() == part)
    assert index.data(QUALIFIED_NAME_ROLE) == name
    return index.siblingAtColumn(column_of(window, header))


def cell(window: Any, name: str, header: str) -> str:
    return view_index(window, name, header).data()


def select(window: Any, name: str) -> None:
    """Click a module's row in the tree, like a person."""
    index = view_index(window, name)
    window.tree.scrollTo(index)
    window.tree.setCurrentIndex(index)
    assert window.current_module() == name


def run(window: Any, qtbot: Any) -> Any:
    """Trigger Run and wait until the window shows the result; returns the ProbeRun."""
    with qtbot.waitSignal(window.sig_run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.actions["actionRun"].trigger()
    return blocker.args[0]


def test_fc_replaced_with_identity_outputs_512_features(window, qtbot):
    select(window, "fc")
    window.actions["actionReplaceIdentity"].trigger()
    assert cell(window, "fc", "Type") == "Identity"

    result = run(window, qtbot)

    assert result.ok
    assert cell(window, "fc", "Output shape") == "[1, 512]"
    assert result.output_shapes == [[1, 512]]
    # The same edit done by hand on torchvision's model gives the same shape.
    reference = torchvision.models.resnet18(weights=None).eval()
    reference.fc = torch.nn.Identity()
    with torch.no_grad():
        assert list(reference(torch.randn(1, 3, 224, 224)).shape) == [1, 512]


def test_undo_then_rerun_gives_1000_classes_and_the_same_weights(window, qtbot):
    original_fc = window.session.model.fc
    weight_before = original_fc.weight.detach().clone()
    select(window, "fc")
    window.actions["actionReplaceIdentity"].trigger()
    run(window, qtbot)
    assert window.actions["actionUndo"].text().replace("&", "") == "Undo Replace fc with Identity"

    window.actions["actionUndo"].trigger()
    result = run(window, qtbot)

    assert result.ok
    assert cell(window, "fc", "Output shape") == "[1, 1000]"
    assert cell(window, "fc", "Type") == "Linear"
    assert window.session.model.fc is original_fc
    assert torch.equal(window.session.model.fc.weight, weight_before)
    assert window.actions["actionRedo"].text().replace("&", "") == "Redo Replace fc with Identity"


def test_redo_replays_the_edit(window, qtbot):
    select(window, "fc")
    window.actions["actionReplaceIdentity"].trigger()
    window.actions["actionUndo"].trigger()
    window.actions["actionRedo"].trigger()
    assert window.session.replaced == ["fc"]
    assert cell(window, "fc", "Type") == "Identity"
    assert run(window, qtbot).output_shapes == [[1, 512]]


def test_layer2_replaced_fails_in_layer3_conv1_and_the_window_lives(window, prompts, qtbot):
    run(window, qtbot)  # a first run: now the window knows layer2 changes the shape
    select(window, "layer2")
    window.actions["actionReplaceIdentity"].trigger()
    assert prompts.titles("confirm") == []  # an undoable edit asks nothing
    assert window.session.replaced == ["layer2"]

    result = run(window, qtbot)

    assert result.error is not None and result.error.module == "layer3.0.conv1"
    assert window.current_module() == "layer3.0.conv1"
    failing = view_index(window, "layer3.0.conv1")
    assert failing.data(Qt.ItemDataRole.BackgroundRole).color() == FAILED_BACKGROUND
    assert window.banner.isVisibleTo(window)
    assert "layer3.0.conv1" in window.banner.text() and "[1, 64, 56, 56]" in window.banner.text()
    # Records before the failure are kept and shown.
    assert cell(window, "layer1", "Output shape") == "[1, 64, 56, 56]"
    assert cell(window, "layer4", "Output shape") == "not run"
    # The window still works: undo and run again.
    window.actions["actionUndo"].trigger()
    assert run(window, qtbot).output_shapes == [[1, 1000]]
    assert not window.banner.isVisibleTo(window)


def test_replacing_fc_after_a_run_asks_nothing_and_tells_the_shapes_next_to_undo(window, prompts, qtbot):
    run(window, qtbot)
    weight_before = window.session.model.fc.weight.detach().clone()
    select(window, "fc")
    window.actions["actionReplaceIdentity"].trigger()

    assert prompts.asked == []
    assert window.session.replaced == ["fc"]
    assert window.banner.isVisibleTo(window) and window.banner.level == "info"
    text = window.banner.text()
    assert "fc turned [1, 512] into [1, 1000]" in text and "passes [1, 512] on unchanged" in text
    assert window.banner.action_button.isVisibleTo(window) and window.banner.action_button.text() == "Undo"

    qtbot.mouseClick(window.banner.action_button, Qt.MouseButton.LeftButton)

    assert window.session.replaced == []
    assert type(window.session.model.fc).__name__ == "Linear"
    assert torch.equal(window.session.model.fc.weight, weight_before)
    assert not window.banner.isVisibleTo(window)
    assert run(window, qtbot).output_shapes == [[1, 1000]]


def test_no_note_when_shapes_are_kept(window, prompts, qtbot):
    run(window, qtbot)
    select(window, "layer1.0")  # a residual block: [1, 64, 56, 56] in and out
    window.actions["actionReplaceIdentity"].trigger()
    assert prompts.asked == []
    assert window.session.replaced == ["layer1.0"]
    assert not window.banner.isVisibleTo(window)


def test_the_root_cannot_be_replaced(window):
    select(window, "")
    assert not window.actions["actionReplaceIdentity"].isEnabled()
    assert window.replace_current_with_identity() is False
    assert window.session.replaced == []
    assert window.undo_stack.count() == 0


def test_restore_original_and_restore_all(window):
    fc, layer4 = window.session.model.fc, window.session.model.layer4
    for name in ("fc", "layer4"):
        select(window, name)
        window.actions["actionReplaceIdentity"].trigger()
    assert window.actions["actionRestoreOriginal"].isEnabled()  # layer4 is current and replaced
    window.actions["actionRestoreOriginal"].trigger()
    assert window.session.replaced == ["fc"]
    assert window.session.model.layer4 is layer4
    assert cell(window, "layer4", "Type") == "Sequential"
    assert window.tree.model().rowCount(view_index(window, "layer4")) == 2  # its blocks are back in the tree
    window.actions["actionRestoreAll"].trigger()
    assert window.session.replaced == []
    assert window.session.model.fc is fc
    assert not window.actions["actionRestoreAll"].isEnabled()


def test_parameter_counts_follow_edits(window):
    total = sum(p.numel() for p in window.session.model.parameters())
    assert cell(window, "", "Params") == f"{total:,}"
    select(window, "fc")
    window.actions["actionReplaceIdentity"].trigger()
    assert cell(window, "fc", "Params") == "0"
    assert cell(window, "", "Params") == f"{total - 512 * 1000 - 1000:,}"


def test_context_menu_offers_the_three_edits(window, qtbot):
    menu = window.context_menu()
    names = [action.objectName() for action in menu.actions()]
    assert {"actionReplaceIdentity", "actionRestoreOriginal", "actionRestoreAll"} <= set(names)

    # A real right-click on fc: the menu pops up with fc current and Replace enabled.
    index = view_index(window, "fc")
    window.show()
    qtbot.waitExposed(window)
    window.tree.scrollTo(index)
    seen: dict[str, Any] = {}

    def inspect_popup() -> None:
        popup = QApplication.activePopupWidget()
        if isinstance(popup, QMenu):
            seen["actions"] = {a.objectName(): a.isEnabled() for a in popup.actions() if a.objectName()}
            popup.close()

    QTimer.singleShot(200, inspect_popup)
    position = window.tree.visualRect(index).center()
    window.tree.customContextMenuRequested.emit(position)
    assert window.current_module() == "fc"
    assert seen["actions"]["actionReplaceIdentity"] is True
    assert seen["actions"]["actionRestoreOriginal"] is False


def test_cells_after_a_run_match_torch(window, qtbot):
    run(window, qtbot)
    model = window.session.model
    captured: dict[str, torch.Tensor] = {}
    handle = model.conv1.register_forward_hook(lambda m, i, o: captured.setdefault("conv1", o.detach().clone()))
    try:
        from inspector.core.inputs import make_inputs

        with torch.no_grad():
            model.eval()(*make_inputs(window.session.input_spec))
    finally:
        handle.remove()
    output = captured["conv1"]
    assert cell(window, "conv1", "Output shape") == str(list(output.shape))
    assert float(cell(window, "conv1", "Mean")) == pytest_approx(output.mean().item())
    assert float(cell(window, "conv1", "Std")) == pytest_approx(output.std(unbiased=False).item())
    zero_percent = 100.0 * (output == 0).sum().item() / output.numel()
    assert float(cell(window, "conv1", "Zero %")) == pytest_approx(zero_percent, abs_tolerance=0.05)


def pytest_approx(value: float, abs_tolerance: float | None = None) -> Any:
    """The cell shows four significant digits."""
    import pytest

    tolerance = abs_tolerance if abs_tolerance is not None else max(abs(value) * 1e-3, 1e-6)
    return pytest.approx(value, abs=tolerance)


def test_details_show_every_call(window, qtbot):
    run(window, qtbot)
    select(window, "layer1.0.conv1")
    text = window.details_panel.text()
    assert "Conv2d" in text and "layer1.0.conv1" in text
    assert "[1, 64, 56, 56]" in text  # its input and output shapes
    assert "Ran 1 time" in text


def search(window: Any, qtbot: Any, text: str) -> None:
    """Type into the search box and wait for the filter to apply (it waits for typing to pause)."""
    window.search_edit.setText(text)
    qtbot.waitUntil(lambda: window.proxy.search == text.strip().lower())


def test_search_keeps_the_ancestors_of_matches(window, qtbot):
    search(window, qtbot, "downsample")
    model = window.tree.model()
    root = model.index(0, 0)
    top = {model.index(r, 0, root).data() for r in range(model.rowCount(root))}
    assert top == {"layer2", "layer3", "layer4"}  # layer1 has no downsample; fc and conv1 do not match
    layer2 = view_index(window, "layer2.0.downsample")
    assert layer2.isValid()
    search(window, qtbot, "BatchNorm")  # the type matches too, case-insensitively
    assert view_index(window, "layer1.0.bn1").isValid()
    window.search_edit.clear()
    model = window.tree.model()
    assert model.rowCount(model.index(0, 0)) == len(list(window.session.model.children()))
    search(window, qtbot, "layer2.0.bn1")
    window.plots.sig_module_clicked.emit("fc")  # selecting a filtered-out module clears the search
    assert window.current_module() == "fc"
    assert window.search_edit.text() == ""


def test_modules_that_ran_twice_or_not_at_all_say_so(open_window, qtbot):
    window = open_window(model_spec("TwiceAndUnused"))
    window.input_panel.shape_edit.setText("2,4")
    run(window, qtbot)
    assert cell(window, "shared", "Output shape") == "[2, 4] ×2"
    assert cell(window, "unused", "Output shape") == "not run"
    assert view_index(window, "unused", "Output shape").data(Qt.ItemDataRole.ForegroundRole) is not None


def test_a_bad_input_shape_is_a_message_not_a_crash(window, qtbot):
    window.input_panel.shape_edit.setText("1,3,abc")
    result = run(window, qtbot)
    assert result is None
    assert window.input_panel.problem_label.isVisibleTo(window)
    assert "not a shape" in window.input_panel.problem_label.text()
    window.input_panel.shape_edit.setText("1,3,64,64")
    assert run(window, qtbot).output_shapes == [[1, 1000]]


def test_a_shape_the_model_cannot_take_fails_in_conv1(window, qtbot):
    window.input_panel.shape_edit.setText("1,5,64,64")
    result = run(window, qtbot)
    assert result.error is not None and result.error.module == "conv1"
    assert window.current_module() == "conv1"


def test_device_combo_lists_cpu_first(window):
    from inspector.core.devices import available_devices
    from inspector.core.dispatch import device_choices

    combo = window.findChild(type(window.input_panel.device_combo), "deviceCombo")
    assert combo.itemText(0) == "cpu"
    # Then "auto" (dispatch by accelerate) where accelerate is installed.
    assert [combo.itemText(i) for i in range(combo.count())] == device_choices(available_devices())
    for name in ("moduleTree", "inputShapeEdit", "runButton", "cancelButton", "deviceCombo"):
        assert window.findChild(QWidget, name) is not None, name
    for name in ("actionRun", "actionReplaceIdentity", "actionRestoreOriginal", "actionRestoreAll",
                 "actionUndo", "actionRedo"):
        assert window.findChild(QAction, name) is not None, name
    assert window.input_panel.shape_edit.text() == "1,3,224,224"


def test_summary_tab_shows_the_edited_model(window, qtbot):
    with qtbot.waitSignal(window.sig_summary_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.tabs.setCurrentIndex(2)
    assert "ResNet" in blocker.args[0] and "Linear" in blocker.args[0]
    select(window, "fc")
    window.actions["actionReplaceIdentity"].trigger()
    assert window.summary_panel.stale
    with qtbot.waitSignal(window.sig_summary_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.actions["actionRefreshSummary"].trigger()
    assert "Identity" in blocker.args[0]
    assert type(window.session.model.fc).__name__ == "Identity"


def test_plot_clicks_select_in_the_tree(window, qtbot):
    run(window, qtbot)
    assert window.plots is not None
    window.plots.sig_module_clicked.emit("layer3.1.bn2")
    assert window.current_module() == "layer3.1.bn2"


def test_the_status_bar_gives_the_models_size_now_and_as_loaded(window):
    assert "11,689,512 parameters · 68 modules" in window.model_label.text()
    assert "as loaded" not in window.model_label.text()
    select(window, "fc")
    window.actions["actionReplaceIdentity"].trigger()
    # fc's 513,000 parameters are gone; the Identity stands where fc was (68 modules still)
    assert "11,176,512 parameters · 68 modules (as loaded: 11,689,512 · 68)" in window.model_label.text()
    window.actions["actionUndo"].trigger()
    assert "as loaded" not in window.model_label.text()


def test_help_about_names_the_versions_and_the_statistics_route(window, prompts):
    import torch

    window.actions["actionAbout"].trigger()
    title, text = next((a[1], a[2]) for a in prompts.asked if a[0] == "inform")
    assert title == "About Model Inspector"
    assert f"torch {torch.__version__.split('+')[0]}" in text and "statistics: " in text and "devices: cpu" in text
