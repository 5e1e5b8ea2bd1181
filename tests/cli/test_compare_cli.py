"""`report --compare`: every layer gains its baseline, the report gains the output distances."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from inspector.core.loading import build_torchvision
from tests.helpers import run_report

SMALL = ["--input-shape", "1,3,64,64"]


def test_fc_replaced_compare_is_null_and_baseline_shapes_differ(capsys):
    code, report, err = run_report(["resnet18", "--identity", "fc", "--compare", *SMALL], capsys)
    assert code == 0, err
    assert report["compare"] == {"output_relative_l2": None, "output_cosine": None,
                                 "baseline_reproducible": True, "noise_floor_relative_l2": 0.0}
    assert report["output"]["shapes"] == [[1, 512]]
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert all(list(layer["baseline"]) == ["output_shapes", "stats"] for layer in report["layers"])
    assert layers["fc"]["output_shapes"] == [[1, 512]]
    assert layers["fc"]["baseline"]["output_shapes"] == [[1, 1000]]
    # fc is the last layer: every layer before it is exactly as in the baseline.
    conv1 = layers["conv1"]
    assert conv1["baseline"] == {"output_shapes": conv1["output_shapes"], "stats": conv1["stats"]}


def test_layer1_0_replaced_distances_match_torch(capsys):
    code, report, err = run_report(["resnet18", "--identity", "layer1.0", "--compare", *SMALL], capsys)
    assert code == 0, err
    model = build_torchvision("resnet18").eval()  # the same seeded weights the command built
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(x).double().flatten()
        model.layer1[0] = nn.Identity()
        after = model(x).double().flatten()
    compare = report["compare"]
    assert compare["output_relative_l2"] == pytest.approx(float((before - after).norm() / before.norm()), rel=1e-6)
    assert compare["output_cosine"] == pytest.approx(float(F.cosine_similarity(before, after, dim=0)), rel=1e-9)
    assert compare["output_relative_l2"] > 0.01
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers["layer1.0"]["type"] == "Identity" and layers["layer1.0"]["replaced"]
    assert layers["layer1.0"]["baseline"]["output_shapes"] == [[1, 64, 16, 16]]
    assert layers["layer2"]["baseline"]["stats"]["mean"] != layers["layer2"]["stats"]["mean"]


def test_without_compare_the_report_is_unchanged(capsys):
    code, report, _ = run_report(["tests.models:tiny_mlp"], capsys)
    assert code == 0
    assert "compare" not in report and all("baseline" not in layer for layer in report["layers"])


def test_compare_with_meta_has_shapes_and_null_numbers(capsys):
    code, report, err = run_report(["resnet18", "--meta", "--identity", "fc", "--compare", *SMALL], capsys)
    assert code == 0, err
    assert report["compare"] == {"output_relative_l2": None, "output_cosine": None,
                                 "baseline_reproducible": None, "noise_floor_relative_l2": None}
    fc = next(layer for layer in report["layers"] if layer["name"] == "fc")
    assert fc["baseline"] == {"output_shapes": [[1, 1000]], "stats": None}
