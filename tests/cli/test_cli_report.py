"""`report`: the JSON of docs/cli.md field by field, and every option."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from inspector.core.loading import build_torchvision
from tests.helpers import assert_one_line_error, run_report, strict_json, trace

TOP_KEYS = ["schema", "model", "device", "mode", "input", "replaced", "ok", "error", "output", "layers"]
MODEL_KEYS = ["source", "class", "params", "trainable_params", "modules"]
INPUT_KEYS = ["shape", "dtype", "fill", "seed"]
LAYER_KEYS = ["name", "type", "depth", "params", "replaced", "calls", "output_shapes", "stats", "time_ms"]
STATS_KEYS = ["numel", "mean", "std", "min", "max", "zero_fraction", "nan_count", "inf_count"]
ERROR_KEYS = ["module", "type", "message", "input_shapes"]


@pytest.fixture(scope="module")
def feature_report():
    """The seed example: `report resnet18 --identity fc`."""
    import contextlib
    import io

    from inspector.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["report", "resnet18", "--identity", "fc"])
    return code, strict_json(out.getvalue())


def _check_schema(report: dict) -> None:
    assert list(report) == TOP_KEYS
    assert report["schema"] == "model-inspector/report@1"
    assert list(report["model"]) == MODEL_KEYS
    # The first round's keys come first; the second round adds the list of every input after them.
    assert list(report["input"])[: len(INPUT_KEYS)] == INPUT_KEYS
    assert list(report["output"]) == ["shapes"]
    if report["error"] is not None:
        assert list(report["error"]) == ERROR_KEYS
    for layer in report["layers"]:
        assert list(layer) == LAYER_KEYS
        if layer["stats"] is not None:
            assert list(layer["stats"]) == STATS_KEYS


def _first_round(section: dict) -> dict:
    return {key: section[key] for key in INPUT_KEYS}


def test_the_seed_example(feature_report):
    code, report = feature_report
    assert code == 0
    _check_schema(report)
    assert report["model"] == {
        "source": "torchvision:resnet18",
        "class": "ResNet",
        "params": 11689512,
        "trainable_params": 11689512,
        "modules": 68,
    }
    assert report["device"] == "cpu" and report["mode"] == "eval"
    assert _first_round(report["input"]) == {"shape": [1, 3, 224, 224], "dtype": "float32", "fill": "randn", "seed": 0}
    assert report["replaced"] == ["fc"]
    assert report["ok"] is True and report["error"] is None
    assert report["output"] == {"shapes": [[1, 512]]}
    conv1 = report["layers"][0]
    assert conv1["name"] == "conv1" and conv1["type"] == "Conv2d" and conv1["depth"] == 1
    assert conv1["params"] == 9408 and conv1["replaced"] is False and conv1["calls"] == 1
    assert conv1["output_shapes"] == [[1, 64, 112, 112]]
    assert conv1["stats"]["numel"] == 802816
    assert conv1["time_ms"] > 0


def test_layers_follow_named_modules_with_the_depth_and_params_rules(feature_report):
    _, report = feature_report
    model = build_torchvision("resnet18")
    model.fc = torch.nn.Identity()
    modules = [(n, m) for n, m in model.named_modules() if n]
    assert [layer["name"] for layer in report["layers"]] == [n for n, _ in modules]
    for layer, (name, module) in zip(report["layers"], modules, strict=True):
        assert layer["type"] == type(module).__name__
        assert layer["depth"] == name.count(".") + 1
        assert layer["params"] == sum(p.numel() for p in module.parameters()), name
    fc = report["layers"][-1]
    assert fc["name"] == "fc" and fc["type"] == "Identity" and fc["replaced"] is True
    assert fc["params"] == 0 and fc["output_shapes"] == [[1, 512]]
    relus = {layer["name"]: layer["calls"] for layer in report["layers"] if layer["name"].endswith("relu")}
    assert relus["relu"] == 1 and relus["layer1.0.relu"] == 2


def test_a_replaced_container_appears_once_and_its_children_are_gone(capsys):
    code, report, _ = run_report(["tests.models:tiny_cnn", "--identity", "head", "--input-shape", "1,3,16,16"], capsys)
    assert code == 0
    names = [layer["name"] for layer in report["layers"]]
    assert names.count("head") == 1 and not any(n.startswith("head.") for n in names)
    head = next(layer for layer in report["layers"] if layer["name"] == "head")
    assert head["type"] == "Identity" and head["replaced"] is True and head["calls"] == 1
    assert report["output"]["shapes"] == [[1, 8]]
    assert [layer["replaced"] for layer in report["layers"]].count(True) == 1


def test_identity_is_repeatable(capsys):
    code, report, _ = run_report(
        ["tests.models:tiny_cnn", "--identity", "head.1", "--identity", "features.3", "--input-shape", "1,3,8,8"],
        capsys,
    )
    assert code == 0
    assert report["replaced"] == ["head.1", "features.3"]
    replaced = [layer["name"] for layer in report["layers"] if layer["replaced"]]
    assert replaced == ["features.3", "head.1"]  # layers are in model order


def test_forward_failure_exit_3_with_the_report(capsys, tmp_path):
    out = tmp_path / "report.json"
    code, _, err = run_report(["resnet18", "--identity", "layer2", "--json", str(out)], capsys)
    assert code == 3
    line = assert_one_line_error(err)
    assert "layer3.0.conv1" in line
    report = strict_json(out.read_text())
    _check_schema(report)
    assert report["ok"] is False
    assert report["error"]["module"] == "layer3.0.conv1" and report["error"]["type"] == "Conv2d"
    assert report["error"]["input_shapes"] == [[1, 64, 56, 56]]
    assert "channels" in report["error"]["message"]
    assert report["output"]["shapes"] == []
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers["layer1"]["stats"] is not None and layers["layer1"]["output_shapes"] == [[1, 64, 56, 56]]
    assert layers["layer2"]["type"] == "Identity" and layers["layer2"]["calls"] == 1
    for name in ("layer4", "avgpool", "fc"):
        assert layers[name]["calls"] == 0 and layers[name]["output_shapes"] == [] and layers[name]["stats"] is None
        assert layers[name]["time_ms"] is None


def test_json_path_writes_the_file_and_nothing_on_stdout(capsys, tmp_path):
    out = tmp_path / "r.json"
    code, report, err = run_report(["tests.models:tiny_mlp", "--json", str(out)], capsys)
    assert code == 0 and report is None and err == ""
    assert strict_json(out.read_text())["ok"] is True


def test_input_shape_dtype_fill_seed_echo_and_take_effect(capsys):
    argv = ["tests.models:tiny_mlp", "--input-shape", "5,4", "--dtype", "float32", "--fill", "rand", "--seed", "3"]
    code, report, _ = run_report(argv, capsys)
    assert code == 0
    assert _first_round(report["input"]) == {"shape": [5, 4], "dtype": "float32", "fill": "rand", "seed": 3}
    assert report["output"]["shapes"] == [[5, 3]]
    _, again, _ = run_report(argv, capsys)
    strip = lambda r: [(layer["name"], layer["stats"]) for layer in r["layers"]]  # noqa: E731
    assert strip(again) == strip(report), "the same seed gives the same numbers"
    _, other, _ = run_report(argv[:-1] + ["4"], capsys)
    assert strip(other) != strip(report)
    # rand fills [0, 1): the first layer sees it through torch's own Linear.
    from tests.models import tiny_mlp

    x = torch.rand(5, 4, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        fc1 = tiny_mlp().fc1(x)
    assert report["layers"][0]["stats"]["max"] == pytest.approx(float(fc1.max()))
    assert report["layers"][0]["stats"]["mean"] == pytest.approx(float(fc1.mean()), abs=1e-6)


def test_zeros_and_ones_fills(capsys):
    _, zeros, _ = run_report(["tests.models:tiny_mlp", "--fill", "zeros"], capsys)
    from tests.models import tiny_mlp

    bias = tiny_mlp().fc1.bias.detach()
    assert zeros["layers"][0]["stats"]["mean"] == pytest.approx(float(bias.mean()), abs=1e-7)
    _, ones, _ = run_report(["tests.models:tiny_mlp", "--fill", "ones"], capsys)
    assert ones["input"]["fill"] == "ones" and ones["layers"][0]["stats"] != zeros["layers"][0]["stats"]


def test_image_fill(capsys, tmp_path):
    path = tmp_path / "cat.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (50, 40, 3), dtype=np.uint8)).save(path)
    code, report, _ = run_report(
        ["tests.models:tiny_cnn", "--input-shape", "1,3,32,32", "--fill", f"image:{path}"], capsys
    )
    assert code == 0 and report["input"]["fill"] == f"image:{path}"
    assert report["output"]["shapes"] == [[1, 4]]


def test_integer_dtype_for_a_token_model(capsys):
    code, report, _ = run_report(["tests.models:Tied", "--input-shape", "2,5", "--dtype", "int64"], capsys)
    assert code == 0, report
    assert report["input"]["dtype"] == "int64"
    assert report["output"]["shapes"] == [[2, 5, 10]]
    embed = report["layers"][0]
    assert embed["name"] == "embed" and embed["output_shapes"] == [[2, 5, 6]]


def test_mode_train_runs_batchnorm_on_batch_statistics(capsys):
    argv = ["tests.models:tiny_cnn", "--input-shape", "4,3,16,16"]
    _, train, _ = run_report([*argv, "--mode", "train"], capsys)
    _, evaluated, _ = run_report(argv, capsys)
    assert train["mode"] == "train" and evaluated["mode"] == "eval"
    bn_train = next(layer for layer in train["layers"] if layer["name"] == "features.1")["stats"]
    bn_eval = next(layer for layer in evaluated["layers"] if layer["name"] == "features.1")["stats"]
    # Fresh BatchNorm (weight 1, bias 0) on batch statistics: mean 0, std 1.
    assert bn_train["mean"] == pytest.approx(0.0, abs=1e-5)
    assert bn_train["std"] == pytest.approx(1.0, abs=1e-3)
    assert bn_eval["std"] != pytest.approx(1.0, abs=1e-3)


def test_device_cpu(capsys):
    code, report, _ = run_report(["tests.models:tiny_mlp", "--device", "cpu"], capsys)
    assert code == 0 and report["device"] == "cpu"


def test_meta_gives_shapes_without_stats_or_times(capsys):
    code, report, _ = run_report(["resnet18", "--meta", "--identity", "fc"], capsys)
    assert code == 0
    _check_schema(report)
    assert report["output"]["shapes"] == [[1, 512]]
    for layer in report["layers"]:
        assert layer["stats"] is None and layer["time_ms"] is None
        assert layer["output_shapes"], layer["name"]
    assert report["model"]["params"] == 11689512


def test_state_dict_with_arch(capsys, tmp_path):
    path = tmp_path / "weights.pth"
    torch.save({"module." + k: v for k, v in torchvision.models.resnet18(num_classes=7).state_dict().items()}, path)
    code, report, _ = run_report([str(path), "--arch", "resnet18", "--input-shape", "1,3,64,64"], capsys)
    assert code == 0
    assert report["model"]["source"] == str(path)
    assert report["output"]["shapes"] == [[1, 7]]
    code, _, err = run_report([str(path), "--input-shape", "1,3,64,64"], capsys)
    assert code == 2 and "--arch" in assert_one_line_error(err)


def test_trust_opens_a_pickled_model(capsys, tmp_path):
    from tests.models import tiny_cnn

    path = tmp_path / "whole.pt"
    torch.save(tiny_cnn(), path)
    code, report, err = run_report([str(path), "--input-shape", "1,3,8,8"], capsys)
    assert code == 2 and report is None
    line = assert_one_line_error(err)
    assert "--trust" in line and "tests.models.TinyCNN" in line
    code, report, _ = run_report([str(path), "--input-shape", "1,3,8,8", "--trust"], capsys)
    assert code == 0 and report["model"]["class"] == "TinyCNN"


def test_torchscript_report(capsys, tmp_path):
    from tests.models import tiny_cnn

    path = tmp_path / "traced.pt"
    trace(tiny_cnn().eval(), torch.randn(1, 3, 8, 8)).save(str(path))
    code, report, _ = run_report([str(path), "--input-shape", "1,3,8,8"], capsys)
    assert code == 0
    _check_schema(report)
    assert report["output"]["shapes"] == [[1, 4]]
    assert report["layers"] and report["model"]["params"] == sum(p.numel() for p in tiny_cnn().parameters())
    # Per-layer records come from the graph (calls, shapes, statistics), as the eager model's; no per-layer time.
    from tests.helpers import ROOT

    _, eager_report, _ = run_report([f"{ROOT / 'tests' / 'models.py'}:tiny_cnn", "--input-shape", "1,3,8,8"], capsys)
    eager = {layer["name"]: layer for layer in eager_report["layers"]}
    for layer in report["layers"]:
        assert layer["calls"] == eager[layer["name"]]["calls"] and layer["time_ms"] is None
        assert layer["output_shapes"] == eager[layer["name"]]["output_shapes"]
    code, report, err = run_report([str(path), "--identity", "head"], capsys)
    assert code == 2 and "TorchScript" in assert_one_line_error(err)


def test_nan_and_inf_never_reach_the_json(capsys):
    code, report, _ = run_report(["tests.models:nan_inf", "--input-shape", "3,4"], capsys)
    assert code == 0
    stats = next(layer for layer in report["layers"] if layer["name"] == "poison")["stats"]
    assert stats["nan_count"] == 2 and stats["inf_count"] == 2 and stats["numel"] == 24
    assert all(isinstance(stats[k], float) for k in ("mean", "std", "min", "max"))
    code, report, _ = run_report(["tests.models:AllNan", "--input-shape", "2,3"], capsys)
    assert code == 0
    assert report["layers"] == []  # the root is not a layer
    code, report, _ = run_report(["tests.models:Poison", "--input-shape", "2,2"], capsys)
    assert code == 0 and report["output"]["shapes"] == [[2, 2]]


def test_models_returning_non_tensors(capsys):
    code, report, _ = run_report(["tests.models:structured", "--input-shape", "1,4"], capsys)
    assert code == 0
    assert report["output"]["shapes"] == [[1, 2], [1, 3], [1]]
    split = next(layer for layer in report["layers"] if layer["name"] == "split")
    assert split["output_shapes"] == [[1, 2], [1, 3]]
    argmax = next(layer for layer in report["layers"] if layer["name"] == "argmax")["stats"]
    assert argmax["numel"] == 1 and argmax["mean"] is None and argmax["min"] is None
    code, report, _ = run_report(["tests.models:no_tensor_out", "--input-shape", "1,4"], capsys)
    assert code == 0 and report["output"]["shapes"] == []


def test_a_model_that_raises_midway(capsys):
    code, report, err = run_report(["tests.models:raises_midway", "--input-shape", "3,4"], capsys)
    assert code == 3
    assert "block.1" in assert_one_line_error(err)
    assert report["error"] == {
        "module": "block.1",
        "type": "Boom",
        "message": "boom on a tensor of shape [3, 6]",
        "input_shapes": [[3, 6]],
    }
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers["fc"]["calls"] == 1 and layers["fc"]["stats"] is not None
    assert layers["after"]["calls"] == 0


def test_a_dtype_other_than_the_models_runs_the_model_in_it(capsys):
    # Issue #11: --dtype runs the model's floating weights in that dtype too (it used to fail at fc1).
    code, report, err = run_report(["tests.models:tiny_mlp", "--dtype", "float64"], capsys)
    assert code == 0, err
    assert report["input"]["dtype"] == "float64" and report["input"]["model_dtype"] == "float64"


def test_a_shared_module_called_twice(capsys):
    code, report, _ = run_report(["tests.models:SharedTwice"], capsys)
    assert code == 0
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert list(layers) == ["shared", "unused", "out"]  # named_modules() lists a shared module once
    assert layers["shared"]["calls"] == 2 and layers["shared"]["output_shapes"] == [[1, 4]]
    assert layers["unused"] == {
        "name": "unused", "type": "Linear", "depth": 1, "params": 20, "replaced": False,
        "calls": 0, "output_shapes": [], "stats": None, "time_ms": None,
    }


def test_an_allocation_failure_inside_the_run_is_a_message(capsys):
    code, report, err = run_report(["tests.models:Greedy"], capsys)
    assert code == 3
    line = assert_one_line_error(err)
    assert "hog" in line and "allocate" in line
    assert report["error"]["module"] == "hog" and report["error"]["input_shapes"] == [[1, 4]]
    assert report["layers"][0]["stats"] is not None


def test_trainable_params_leave_out_frozen_ones(capsys):
    from tests.models import frozen_backbone

    model = frozen_backbone()
    code, report, _ = run_report(["tests.models:frozen_backbone", "--input-shape", "1,3,8,8"], capsys)
    assert code == 0
    assert report["model"]["params"] == sum(p.numel() for p in model.parameters())
    assert report["model"]["trainable_params"] == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert report["model"]["trainable_params"] < report["model"]["params"]
    assert report["model"]["modules"] == len(list(model.named_modules()))


@pytest.mark.parametrize("typed", ["float64", "torch.float64", " float64 "])
def test_a_dtype_typed_with_the_torch_prefix_is_the_same_dtype(capsys, typed):
    code, report, err = run_report(
        ["tests.models:tiny_cnn", "--input-shape", "1,3,8,8", "--dtype", typed], capsys
    )
    assert code == 0, err
    assert report["input"]["dtype"] == "float64"
