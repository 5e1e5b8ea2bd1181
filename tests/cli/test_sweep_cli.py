"""`model-inspector sweep`: the sweep@1 JSON, its order and filters, and usage errors as for report."""

from __future__ import annotations

import pytest

from tests.helpers import assert_one_line_error, run_main, strict_json

SMALL = ["--input-shape", "1,3,64,64"]
ENTRY_KEYS = ["name", "type", "ok", "output_shapes", "relative_l2", "cosine", "error"]


def sweep(argv: list[str], capsys) -> tuple[int, dict | None, str]:
    code, out, err = run_main(["sweep", *argv], capsys)
    return code, (strict_json(out) if out.strip() else None), err


def test_sweep_of_resnet18_blocks(capsys):
    code, result, err = sweep(["resnet18", *SMALL, "--only", "Sequential"], capsys)
    assert code == 0, err
    assert list(result) == ["schema", "model", "input", "device", "baseline", "entries"]
    assert result["schema"] == "model-inspector/sweep@1"
    assert result["model"] == "torchvision:resnet18"
    assert result["input"] == {"shape": [1, 3, 64, 64], "dtype": "float32", "fill": "randn", "seed": 0}
    assert result["device"] == "cpu"
    assert result["baseline"] == {"output_shapes": [[1, 1000]], "baseline_reproducible": True, "noise_floor_relative_l2": 0.0}
    names = [e["name"] for e in result["entries"]]
    assert names == ["layer1", "layer2", "layer2.0.downsample", "layer3", "layer3.0.downsample",
                     "layer4", "layer4.0.downsample"]
    assert all(list(e) == ENTRY_KEYS for e in result["entries"])
    by_name = {e["name"]: e for e in result["entries"]}
    layer1 = by_name["layer1"]  # 64 channels in and out: it still runs
    assert layer1["ok"] and layer1["output_shapes"] == [[1, 1000]] and layer1["error"] is None
    assert layer1["relative_l2"] > 0 and -1 <= layer1["cosine"] <= 1
    layer2 = by_name["layer2"]
    assert not layer2["ok"] and layer2["output_shapes"] == [] and layer2["relative_l2"] is None
    assert layer2["error"]["module"] == "layer3.0.conv1" and "channels" in layer2["error"]["message"]
    assert list(layer2["error"]) == ["module", "message"]


def test_only_several_types_under_a_path_to_a_file(tmp_path, capsys):
    path = tmp_path / "sweep.json"
    code, out, err = run_main(
        ["sweep", "resnet18", *SMALL, "--only", "BatchNorm2d", "ReLU", "--under", "layer3", "--seed", "2",
         "--json", str(path)], capsys)
    assert code == 0, err
    assert out == ""
    result = strict_json(path.read_text())
    assert result["input"]["seed"] == 2
    assert [e["name"] for e in result["entries"]] == [
        "layer3.0.bn1", "layer3.0.relu", "layer3.0.bn2", "layer3.0.downsample.1",
        "layer3.1.bn1", "layer3.1.relu", "layer3.1.bn2",
    ]
    assert all(e["ok"] for e in result["entries"])


def test_leaves_only(capsys):
    code, result, err = sweep(["tests.models:tiny_cnn", "--input-shape", "1,3,8,8", "--leaves"], capsys)
    assert code == 0, err
    assert [e["name"] for e in result["entries"]] == [
        "features.0", "features.1", "features.2", "features.3", "features.4", "pool", "flatten",
        "head.0", "head.1", "head.2",
    ]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["resnet18", "--only", "Conv3d"], "no module of type 'Conv3d'"),
        (["resnet18", "--under", "layer5"], "no submodule 'layer5'"),
        (["resnet18", "--input-shape", "1,x"], "not a shape"),
        (["resnet18", "--device", "cuda:9"], "cuda:9"),
        (["not_a_model_at_all"], "unknown model"),
        (["resnet18", "--bogus"], "unrecognized arguments"),
    ],
)
def test_usage_errors_exit_2_with_one_line_and_write_nothing(argv, words, tmp_path, capsys):
    path = tmp_path / "sweep.json"
    code, out, err = run_main(["sweep", *argv, "--json", str(path)], capsys)
    assert code == 2
    assert words in assert_one_line_error(err)
    assert out == "" and not path.exists()


def test_a_model_that_fails_on_its_input_exits_3(tmp_path, capsys):
    path = tmp_path / "sweep.json"
    code, out, err = run_main(["sweep", "resnet18", "--input-shape", "1,4,64,64", "--json", str(path)], capsys)
    assert code == 3
    assert "conv1" in assert_one_line_error(err)
    assert not path.exists()
