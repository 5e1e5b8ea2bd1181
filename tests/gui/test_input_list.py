"""The input panel edits a list of inputs: one input looks as it always did; several show a table."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from inspector.core.inputs import InputSpec, ModelInput

RUN_TIMEOUT_MS = 120_000


def run(window: Any, qtbot: Any) -> Any:
    with qtbot.waitSignal(window.sig_run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.actions["actionRun"].trigger()
    return blocker.args[0]


def test_one_input_looks_as_simple_as_before_and_says_where_it_came_from(open_window):
    window = open_window("tests.models:tiny_mlp")
    panel = window.input_panel
    assert panel.shape_edit.text() == "1,4"
    assert not panel.extra_table.isVisibleTo(window)
    assert not panel.name_label.isVisibleTo(window) and not panel.remove_input_button.isVisibleTo(window)
    assert panel.source_label.isVisibleTo(window)
    assert panel.source_label.text() == "Input: guessed from fc1 (Linear)"
    assert panel.inputs() == ModelInput([InputSpec((1, 4))])


def test_two_inputs_show_a_table_and_run(open_window, qtbot):
    window = open_window("tests.input_models:siamese")
    panel = window.input_panel
    assert panel.shape_edit.text() == "1,8" and panel.name_label.text() == "<b>x1</b>"
    assert panel.extra_table.isVisibleTo(window) and panel.extra_table.rowCount() == 1
    assert [panel.extra_table.item(0, c).text() for c in range(4)] == ["1", "1,8", "float32", "randn"]
    assert panel.inputs() == window.session.inputs
    panel.shape_edit.setText("3,8")
    panel.extra_table.item(0, 1).setText("3,8")
    result = run(window, qtbot)
    assert result.ok and result.output_shapes == [[3]]
    assert window.session.inputs.specs()[1].shape == (3, 8)
    assert window.session.inputs.specs()[0].source == "given"  # edited: no longer the guess


def test_inputs_are_added_removed_and_checked(open_window, qtbot):
    window = open_window("tests.input_models:siamese")
    panel = window.input_panel
    panel.extra_table.setCurrentCell(0, 0)
    qtbot.mouseClick(panel.remove_input_button, Qt.MouseButton.LeftButton)
    assert panel.extra_table.rowCount() == 0 and not panel.extra_table.isVisibleTo(window)
    result = run(window, qtbot)
    assert result.error is not None and "x2" in result.error.message  # forward() misses x2
    qtbot.mouseClick(panel.add_input_button, Qt.MouseButton.LeftButton)
    assert [panel.extra_table.item(0, c).text() for c in range(2)] == ["1", "1,8"]
    assert run(window, qtbot).ok
    panel.extra_table.item(0, 0).setText("x2")  # the same input by name
    assert run(window, qtbot).ok
    panel.extra_table.item(0, 0).setText("3")
    assert run(window, qtbot) is None
    assert "positions" in panel.problem_label.text()
    panel.extra_table.item(0, 0).setText("1")
    panel.extra_table.item(0, 3).setText("rand")
    panel.extra_table.item(0, 2).setText("int64")
    assert run(window, qtbot) is None
    assert "randint" in panel.problem_label.text()


def test_keyword_inputs_of_a_hugging_face_model(open_window, qtbot):
    pytest.importorskip("transformers")
    window = open_window("tests.declared_models:bert")
    panel = window.input_panel
    assert panel.name_label.text() == "<b>input_ids</b>"
    assert panel.fill_combo.currentText() == "randint:0,99" and panel.dtype_combo.currentText() == "int64"
    rows = {panel.extra_table.item(r, 0).text(): panel.extra_table.item(r, 3).text()
            for r in range(panel.extra_table.rowCount())}
    assert rows == {"attention_mask": "ones", "token_type_ids": "zeros"}
    assert panel.source_label.text().startswith("Input: declared by the Hugging Face model")
    result = run(window, qtbot)
    assert result.ok, result.error
    assert result.output_shapes[0] == [1, 16, 32]
