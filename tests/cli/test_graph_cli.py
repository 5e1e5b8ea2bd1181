"""`report --graph FILE`: the dataflow graph as JSON (model-inspector/graph@1), Graphviz text, or a drawn SVG."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

import pytest

from tests.helpers import assert_one_line_error, run_main, run_report

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("suffix", [".json", ".dot", ".svg"])
def test_graph_of_a_failing_edit_in_every_form(tmp_path, capsys, suffix):
    path = tmp_path / f"graph{suffix}"
    code, report, err = run_report(["resnet18", "--identity", "layer2", "--graph", str(path)], capsys)
    assert code == 3 and report is not None and report["error"]["module"] == "layer3.0.conv1"
    text = path.read_text()
    if suffix == ".json":
        document = json.loads(text)
        assert document["schema"] == "model-inspector/graph@1" and document["ok"] is False
        nodes = {n["id"]: n for n in document["nodes"]}
        assert nodes["layer2"]["replaced"] and nodes["layer2"]["passthrough"]
        assert nodes["layer3.0.conv1"]["failed"] and document["error"]["node"] == "layer3.0.conv1"
        failed = [e for e in document["edges"] if e["failed"]]
        assert [(e["source"], e["target"], e["shape"]) for e in failed] == [
            ("layer2", "layer3.0.conv1", [1, 64, 56, 56])]
        assert sum(1 for n in document["nodes"] if n["kind"] == "op" and n["type"] == "add") == 2
    elif suffix == ".dot":
        assert text.startswith("digraph model {") and text.rstrip().endswith("}")
        assert '"layer2" -> "layer3.0.conv1" [label="[1, 64, 56, 56] float32", color="#d62828"' in text
    else:
        root = ElementTree.fromstring(text)
        assert root.tag == f"{SVG}svg"
        names = {g.get("id") for g in root.iter(f"{SVG}g") if g.get("class") == "node"}
        assert {"node-input", "node-conv1", "node-layer1.0.conv1", "node-layer2", "node-layer3.0.conv1"} <= names
        words = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
        assert "layer1.0.conv1" in words and "Identity (replaced)" in words and "[1, 64, 56, 56]" in words


def test_svg_of_a_meta_run_draws_a_large_model_at_a_readable_depth(tmp_path, capsys):
    path = tmp_path / "vit.svg"
    code, _, err = run_report(["vit_b_16", "--meta", "--graph", str(path)], capsys)
    assert code == 0, err
    root = ElementTree.fromstring(path.read_text())
    nodes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    assert 10 <= len(nodes) <= 150
    assert any(g.get("id") == "node-encoder.layers.encoder_layer_11.self_attention" for g in nodes)


def test_an_unknown_graph_form_is_a_usage_error_before_any_work(tmp_path, capsys):
    code, out, err = run_main(["report", "tests.models:tiny_mlp", "--graph", str(tmp_path / "g.png")], capsys)
    assert code == 2 and out == ""
    assert ".svg, .dot or .json" in assert_one_line_error(err)
    assert not (tmp_path / "g.png").exists()


def test_a_torchscript_model_has_no_graph_and_says_why(tmp_path, capsys):
    import torch

    from tests.helpers import trace
    from tests.models import tiny_cnn

    path = tmp_path / "traced.pt"
    trace(tiny_cnn().eval(), torch.randn(1, 3, 8, 8)).save(str(path))
    graph = tmp_path / "g.json"
    code, out, err = run_main(["report", str(path), "--input-shape", "1,3,8,8", "--graph", str(graph)], capsys)
    assert code == 2 and out == ""
    assert "TorchScript" in assert_one_line_error(err) and not graph.exists()


def test_a_tiny_model_graph_in_json_names_each_call(tmp_path, capsys):
    path = tmp_path / "g.json"
    code, _, err = run_report(["tests.models:tiny_cnn", "--input-shape", "1,3,8,8", "--graph", str(path)], capsys)
    assert code == 0, err
    document = json.loads(path.read_text())
    edges = {(e["source"], e["target"]) for e in document["edges"]}
    assert ("features.1", "features.2") in edges and ("features.2", "features.3") in edges
    assert ("pool", "flatten") in edges and ("flatten", "head.0") in edges and ("head.2", "output") in edges
    assert document["ok"] is True and document["error"] is None
