"""The Open Model dialog lists timm and Hugging Face models beside torchvision's, searchable and described."""

from __future__ import annotations

import pytest


def test_timm_and_hf_are_listed_searched_described_and_chosen(qtbot):
    timm = pytest.importorskip("timm")
    pytest.importorskip("transformers")
    from inspector.gui.open_dialog import OpenModelDialog

    dialog = OpenModelDialog()
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.extra_sources_listed, timeout=120_000)
    timm_group, hf_group = dialog._tasks["timm"], dialog._tasks["hf"]
    assert timm_group.childCount() == len(timm.list_models())
    assert timm_group.text(0) == f"timm ({timm_group.childCount()})"
    hf_names = {hf_group.child(j).text(0) for j in range(hf_group.childCount())}
    assert {"hf:bert", "hf:gpt2", "hf:llama"} <= hf_names

    dialog.search_edit.setText("resnet18")
    shown = {timm_group.child(j).text(0) for j in range(timm_group.childCount()) if not timm_group.child(j).isHidden()}
    assert "timm:resnet18" in shown and all("resnet18" in name for name in shown)
    assert hf_group.isHidden()  # no Hugging Face type matches

    assert dialog.select("timm:resnet18")
    qtbot.waitUntil(lambda: "parameters" in dialog.description.text(), timeout=60_000)
    assert "11,689,512 parameters" in dialog.description.text()  # timm's resnet18, as torchvision's

    dialog.search_edit.setText("")
    assert dialog.select("hf:bert")
    qtbot.waitUntil(lambda: "BertModel" in dialog.description.text(), timeout=60_000)
    assert "109,482,240 parameters" in dialog.description.text()  # bert-base's default configuration
    dialog.buttons.accepted.emit()
    assert dialog.chosen == "hf:bert"
