"""`report --export DIR`: the same report in the folder, the weights and the rebuild script beside it."""

from __future__ import annotations

import json

import torch

from tests.helpers import assert_one_line_error, run_main, run_report, strict_json


def test_export_writes_report_weights_script_csv_and_plot(tmp_path, capsys):
    folder = tmp_path / "out"
    code, report, err = run_report(
        ["resnet18", "--identity", "fc", "--input-shape", "1,3,64,64", "--compare", "--export", str(folder)], capsys)
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == [
        "graph.svg", "layer_stats.png", "layers.csv", "model_state_dict.pt", "rebuild_model.py", "report.json",
    ]
    assert strict_json((folder / "report.json").read_text()) == report
    state = torch.load(folder / "model_state_dict.pt", weights_only=True)
    assert "fc.weight" not in state and "conv1.weight" in state
    assert "REPLACED = ['fc']" in (folder / "rebuild_model.py").read_text()


def test_export_of_a_failing_forward_still_writes_and_exits_3(tmp_path, capsys):
    folder = tmp_path / "out"
    code, report, err = run_report(
        ["resnet18", "--identity", "layer2", "--input-shape", "1,3,64,64", "--export", str(folder)], capsys)
    assert code == 3
    assert report["error"]["module"] == "layer3.0.conv1"
    assert json.loads((folder / "report.json").read_text())["ok"] is False
    assert "REPLACED = ['layer2']" in (folder / "rebuild_model.py").read_text()
    # The drawn graph marks where it failed.
    assert 'id="node-layer3.0.conv1"' in (folder / "graph.svg").read_text()


def test_an_export_folder_that_cannot_be_made_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run_main(["report", "tests.models:tiny_mlp", "--export", str(blocker / "sub")], capsys)
    assert code == 2 and out == ""
    assert "export folder" in assert_one_line_error(err)
