"""Export: weights loadable safely, a rebuild script that runs on its own, CSV, plot, compiled forms."""

from __future__ import annotations

import csv
import json
import runpy
import warnings

import pytest
import torch
from PIL import Image
from torch import nn

from inspector.core.export import (
    CSV_FILE,
    EXPORT_FILE,
    GRAPH_FILE,
    PLOT_FILE,
    REPORT_FILE,
    SNIPPET_FILE,
    STATE_FILE,
    TORCHSCRIPT_FILE,
    export_session,
    rebuild_snippet,
)
from inspector.core.inputs import InputSpec
from inspector.core.loading import LoadedModel
from inspector.core.report import build_report
from inspector.core.session import Session
from tests.helpers import ROOT, run_subprocess

SHAPE = (1, 3, 64, 64)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """resnet18 with fc replaced, run once on [1, 3, 64, 64] and exported."""
    session = Session.open("resnet18")
    session.set_input(InputSpec(SHAPE))
    session.replace_with_identity("fc")
    run = session.run(keep_output=True)
    folder = tmp_path_factory.mktemp("export")
    result = export_session(session, str(folder))
    return session, run, folder, result


def test_export_writes_every_file(exported):
    _, _, folder, result = exported
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([STATE_FILE, SNIPPET_FILE, REPORT_FILE, CSV_FILE, PLOT_FILE, GRAPH_FILE])
    assert sorted(p.split("/")[-1] for p in result.files) == names
    assert result.notes == []


@pytest.mark.slow
def test_snippet_run_on_its_own_reproduces_the_512_features(exported, tmp_path):
    _, _, folder, _ = exported
    # With the exported weights beside it, and alone in another folder (random weights).
    for where in (folder, tmp_path):
        if where == tmp_path:
            (tmp_path / SNIPPET_FILE).write_text((folder / SNIPPET_FILE).read_text())
        done = run_subprocess([str(where / SNIPPET_FILE)], cwd=where, timeout=180)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == [[1, 512]]


def test_snippet_reads_as_the_edit_made(exported):
    session, _, folder, _ = exported
    text = (folder / SNIPPET_FILE).read_text()
    assert "ARCH = 'resnet18'" in text and "WEIGHTS = None" in text and "REPLACED = ['fc']" in text
    assert "model = torchvision.models.get_model(ARCH, weights=WEIGHTS)" in text
    assert "model.set_submodule(_path, nn.Identity())" in text
    assert "import inspector" not in text and "from inspector" not in text
    assert text == rebuild_snippet(session)


def test_state_dict_loads_safely_and_rebuilds_the_same_outputs(exported):
    session, run, folder, _ = exported
    state = torch.load(folder / STATE_FILE, weights_only=True)
    assert set(state) == set(session.model.state_dict())
    assert "fc.weight" not in state and "layer4.1.bn2.running_var" in state
    # Import the snippet (not as __main__), load the weights, and compare with the inspector's output.
    namespace = runpy.run_path(str(folder / SNIPPET_FILE), run_name="rebuilt")
    model = namespace["model"]
    model.load_state_dict(state)
    model.eval()
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(x), run.output)


def test_csv_and_report_hold_the_run_statistics(exported):
    session, run, folder, _ = exported
    report = json.loads((folder / REPORT_FILE).read_text())
    assert report["replaced"] == ["fc"] and report["output"]["shapes"] == [[1, 512]]
    with open(folder / CSV_FILE, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [r["name"] for r in rows] == [layer["name"] for layer in report["layers"]]
    conv1 = next(r for r in rows if r["name"] == "conv1")
    stats = run.records["conv1"].first.stats
    assert json.loads(conv1["output_shapes"]) == [[1, 64, 32, 32]]
    assert float(conv1["mean"]) == stats.mean and float(conv1["max"]) == stats.max
    assert int(conv1["numel"]) == 64 * 32 * 32
    fc = next(r for r in rows if r["name"] == "fc")
    assert fc["type"] == "Identity" and fc["replaced"] == "True"


def test_plot_is_a_png(exported):
    _, _, folder, _ = exported
    with Image.open(folder / PLOT_FILE) as image:
        assert image.format == "PNG" and image.size[0] > 400


def test_torchscript_and_torch_export_are_checked_against_eager(tmp_path):
    session = Session.open("tests.models:TinyCNN")
    session.model.eval()  # compared below with a plain call, as the export ran it (eval mode)
    session.set_input(InputSpec((2, 3, 8, 8)))
    session.replace_with_identity("features.3")
    session.run()
    result = export_session(session, str(tmp_path), torchscript=True, exported_program=True)
    assert result.notes == []
    args = session.make_inputs()
    with torch.no_grad():
        eager = session.model(*args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated in torch 2.10+
            traced = torch.jit.load(str(tmp_path / TORCHSCRIPT_FILE))
        assert torch.allclose(traced(*args), eager, rtol=1e-5, atol=1e-6)
        program = torch.export.load(str(tmp_path / EXPORT_FILE))
        assert torch.allclose(program.module()(*args), eager, rtol=1e-5, atol=1e-6)
    # The callable source is rebuilt by importing it, with the edit at its index path.
    text = (tmp_path / SNIPPET_FILE).read_text()
    assert "FACTORY_MODULE = 'tests.models'" in text and "FACTORY = 'TinyCNN'" in text
    assert "REPLACED = ['features.3']" in text
    done = run_subprocess([str(tmp_path / SNIPPET_FILE)], cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[2, 4]]


def test_compiled_forms_that_do_not_match_eager_are_not_written(tmp_path):
    # Dropout in train mode draws a new mask on every call: the trace's output
    # differs from the eager one, so it must not be written.
    session = Session(LoadedModel(nn.Sequential(nn.Linear(4, 64), nn.Dropout(0.5)), "test", "callable"))
    session.set_input(InputSpec((2, 4)))
    session.mode = "train"
    result = export_session(session, str(tmp_path / "dropout"), torchscript=True)
    assert not (tmp_path / "dropout" / TORCHSCRIPT_FILE).exists()
    assert any(n.startswith("TorchScript not written: its output differs") for n in result.notes)
    # A model whose output is a string cannot be traced at all.
    session = Session.open("tests.models:NoTensorOut")
    session.set_input(InputSpec((1, 4)))
    result = export_session(session, str(tmp_path / "text"), torchscript=True)
    assert not (tmp_path / "text" / TORCHSCRIPT_FILE).exists()
    assert any(n.startswith("TorchScript not written: tracing raised") for n in result.notes)


def test_meta_model_exports_the_script_but_no_weights(tmp_path):
    session = Session.open("resnet18", meta=True)
    session.replace_with_identity("fc")
    run = session.run()
    result = export_session(session, str(tmp_path), run=run, report=build_report(session, run))
    written = {p.split("/")[-1] for p in result.files}
    assert STATE_FILE not in written and SNIPPET_FILE in written and CSV_FILE in written
    assert any("meta" in note for note in result.notes)
    assert "load_state_dict" not in (tmp_path / SNIPPET_FILE).read_text()
