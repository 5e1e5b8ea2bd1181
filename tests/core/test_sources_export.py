"""``.pt2`` programs: the report runs, with the module tree restored so every layer has its record."""

from __future__ import annotations

import json

import pytest
import torch

from inspector.core.inputs import InputSpec
from inspector.core.loading import load_model
from inspector.core.session import Session
from tests.helpers import run_main
from tests.models import TinyCNN

X = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def program_file(tmp_path_factory):
    torch.manual_seed(0)
    model = TinyCNN().eval()
    path = tmp_path_factory.mktemp("pt2") / "tiny.pt2"
    torch.export.save(torch.export.export(model, (X,)), str(path))
    return path, model


def test_pt2_report_has_per_layer_records(program_file, capsys):
    path, model = program_file
    code, out, err = run_main(["report", str(path), "--trust", "--input-shape", "1,3,16,16"], capsys)
    assert code == 0, err
    report = json.loads(out)
    layers = {layer["name"]: layer for layer in report["layers"]}
    # The tree of the eager model, each layer with its shapes and statistics.
    expected = dict(model.named_modules())
    assert set(expected) - {""} <= set(layers)
    with torch.no_grad():
        features = model.features(X)
    assert layers["features"]["output_shapes"] == [list(features.shape)]
    assert layers["head.0"]["output_shapes"] == [[1, 16]] and layers["head.0"]["calls"] == 1
    assert layers["features.0"]["stats"] is not None and layers["features.0"]["time_ms"] is not None
    assert report["output"]["shapes"] == [[1, 4]]


def test_pt2_runs_as_the_eager_model_and_in_train_mode(program_file):
    path, model = program_file
    session = Session(load_model(str(path), trust=True))
    with torch.no_grad():
        assert torch.allclose(session.model(X), model(X))
    session.mode = "train"
    session.set_input(InputSpec((1, 3, 16, 16)))
    run = session.run()
    assert run.ok, run.error
    assert any("runs as it was exported" in note for note in session.loaded.notes)
