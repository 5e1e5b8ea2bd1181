"""The window's smaller parts: the zoo dialog, the image fill, saving plots and statistics, details of an edit."""

from __future__ import annotations

import csv
from typing import Any

import torch
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

RUN_TIMEOUT_MS = 120_000


def run(window: Any, qtbot: Any) -> Any:
    with qtbot.waitSignal(window.sig_run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.actions["actionRun"].trigger()
    return blocker.args[0]


def select(window: Any, name: str) -> None:
    assert window.select_module(name)


def test_the_zoo_dialog_lists_models_by_task_and_describes_one(qtbot):
    from inspector.core.loading import list_models
    from inspector.gui.open_dialog import TASK_TITLES, OpenModelDialog

    dialog = OpenModelDialog()
    qtbot.addWidget(dialog)
    listed = {item.child(j).text(0)
              for task, item in dialog._tasks.items() if task in TASK_TITLES  # timm and hf have their own test
              for j in range(item.childCount())}
    assert listed == {name for _, name in list_models("all")}

    dialog.search_edit.setText("resnet1")
    visible = [dialog.model_list.topLevelItem(0).child(j) for j in range(dialog.model_list.topLevelItem(0).childCount())]
    shown = {item.text(0) for item in visible if not item.isHidden()}
    assert shown == {name for task, name in list_models("classification") if "resnet1" in name}
    assert {"resnet18", "resnet101", "resnet152"} <= shown
    assert dialog.select("resnet18")
    qtbot.waitUntil(lambda: "parameters" in dialog.description.text(), timeout=30_000)
    assert "11,689,512 parameters" in dialog.description.text()  # torchvision's resnet18 has that many
    assert "[1, 3, 224, 224]" in dialog.description.text()
    dialog.buttons.accepted.emit()
    assert dialog.chosen == "resnet18"


def test_the_zoo_dialog_describes_the_model_the_selection_settles_on(qtbot):
    """Descriptions are made on a worker; moving on while one is made ends on the last selection's."""
    from inspector.gui.open_dialog import OpenModelDialog

    dialog = OpenModelDialog()
    qtbot.addWidget(dialog)
    assert dialog.select("vit_b_16")
    dialog._describe_timer.timeout.emit()  # as if the selection had settled there
    assert dialog.select("resnet50")  # ...and then moved on before vit_b_16's description came
    qtbot.waitUntil(lambda: "25,557,032 parameters" in dialog.description.text(), timeout=30_000)
    assert "resnet50" in dialog.description.text()

    assert dialog.select("efficientnet_b7")
    dialog._describe_timer.timeout.emit()
    dialog.reject()  # closing waits for the description being made: no thread outlives the dialog
    assert dialog._describing is None or dialog._describing.isFinished()


def test_open_model_action_opens_the_chosen_model(window, prompts, qtbot):
    prompts.model = "squeezenet1_0"
    with qtbot.waitSignal(window.sig_model_loaded, timeout=RUN_TIMEOUT_MS):
        window.actions["actionOpenModel"].trigger()
    assert window.session.source == "torchvision:squeezenet1_0"
    assert window.tree_model.find("features.0").type_name == "Conv2d"


def test_an_image_fill_runs_the_image(window, prompts, qtbot, tmp_path):
    path = tmp_path / "sample.png"
    Image.new("RGB", (40, 30), (200, 30, 30)).save(path)
    prompts.image = str(path)
    window.input_panel.fill_combo.setCurrentIndex(window.input_panel.fill_combo.findText("image file"))
    assert window.input_panel.image_edit.text() == str(path)  # chose it through the prompt
    window.input_panel.shape_edit.setText("1,3,64,64")
    result = run(window, qtbot)
    assert result.ok
    assert window.session.input_spec.fill == f"image:{path}"
    # A uniform red image normalised with ImageNet's statistics: conv1's input is constant per channel.
    record = result.records["conv1"].first
    assert record.input_shapes == [[1, 3, 64, 64]]


def test_plots_save_as_png_and_statistics_as_csv(window, prompts, qtbot, tmp_path):
    run(window, qtbot)
    prompts.save_path = str(tmp_path / "plot.png")
    window.actions["actionSavePlot"].trigger()
    image = QImage(prompts.save_path)
    assert not image.isNull() and image.width() > 100
    prompts.save_path = str(tmp_path / "stats.csv")
    window.actions["actionExportCsv"].trigger()
    with open(prompts.save_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["name"] for row in rows] == window.session.last_run.execution_order()
    # The columns of the export's layers.csv, params and replaced from the tree the window shows.
    from inspector.core.layer_table import CSV_COLUMNS

    assert tuple(rows[0]) == CSV_COLUMNS
    conv1 = next(row for row in rows if row["name"] == "conv1")
    assert conv1["params"] == str(64 * 3 * 7 * 7) and conv1["replaced"] == "False"
    assert conv1["output_shapes"] == "[[1, 64, 112, 112]]"


def test_details_of_a_replaced_module_name_the_original(window, qtbot):
    select(window, "layer3.1")
    window.actions["actionReplaceIdentity"].trigger()
    text = window.details_panel.text()
    assert "Replaced with Identity" in text and "BasicBlock" in text
    result = run(window, qtbot)
    assert result.ok
    text = window.details_panel.text()
    assert "[1, 256, 14, 14]" in text  # Identity passed its input on unchanged


def test_results_grey_out_after_an_edit_until_the_next_run(window, qtbot):
    run(window, qtbot)
    fc = window.tree_model.index_of("fc", 2)
    assert fc.data(Qt.ItemDataRole.ForegroundRole) is None
    select(window, "layer4.1")  # keeps its shape: the next run goes through
    window.actions["actionReplaceIdentity"].trigger()
    assert window.tree_model.index_of("fc", 2).data(Qt.ItemDataRole.ForegroundRole) is not None
    assert "before the latest edit" in window.details_panel.text()
    run(window, qtbot)
    assert window.tree_model.index_of("fc", 2).data(Qt.ItemDataRole.ForegroundRole) is None


def test_log_records_loads_edits_and_runs(window, qtbot):
    select(window, "fc")
    window.actions["actionReplaceIdentity"].trigger()
    run(window, qtbot)
    log = window.log_panel.text()
    assert "Opened torchvision:resnet18" in log
    assert "Replace fc with Identity" in log
    assert "output [1, 512]" in log


def test_train_mode_runs_leave_batchnorm_statistics_alone(window, qtbot):
    before = window.session.model.bn1.running_mean.clone()
    flags = [m.training for m in window.session.model.modules()]
    window.input_panel.set_mode("eval")
    run(window, qtbot)
    window.input_panel.set_mode("train")
    window.input_panel.shape_edit.setText("2,3,64,64")
    result = run(window, qtbot)
    assert result.ok and result.mode == "train"
    assert torch.equal(window.session.model.bn1.running_mean, before)
    assert [m.training for m in window.session.model.modules()] == flags  # each module's own flag is back


def test_a_summary_asked_for_during_a_run_comes_after_it(window, qtbot):
    with qtbot.waitSignal(window.sig_run_finished, timeout=RUN_TIMEOUT_MS):
        assert window.start_run()
        window.tabs.setCurrentWidget(window.summary_panel)  # busy: nothing can be computed yet
        assert window.summary_panel.stale
    with qtbot.waitSignal(window.sig_summary_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        pass
    assert "ResNet" in blocker.args[0]
    assert not window.summary_panel.stale


def test_a_seed_above_two_to_the_31_runs_as_given(window, qtbot):
    """The command line takes seeds up to 2**64 - 1; the window must neither stop at a spin box's
    2**31 - 1 nor change a session's seed."""
    from PySide6.QtTest import QTest

    panel = window.input_panel
    seed = 2**63 + 12345
    panel.seed_spin.setValue(seed)
    spec = panel.spec()
    assert spec.seed == seed
    result = run(window, qtbot)
    assert result.ok
    panel.seed_spin.setFocus()
    QTest.keyClick(panel.seed_spin, Qt.Key.Key_Up)
    assert panel.spec().seed == seed + 1
    QTest.keyClicks(panel.seed_spin, "9" * 25)  # more digits than any seed: refused as typed
    assert panel.spec().seed == seed + 1
