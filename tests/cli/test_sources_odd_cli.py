"""`report` on odd models from the command line: compiled, quantized, created-in-forward, sparse outputs."""

from __future__ import annotations

import textwrap

import pytest
import torch
from torch import nn

from tests.helpers import run_report

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning", "ignore::FutureWarning")

MODELS = textwrap.dedent(
    """
    import torch
    from torch import nn


    def compiled():
        torch.manual_seed(0)
        return torch.compile(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))


    class Makes(nn.Module):
        def forward(self, x):
            return nn.Linear(4, 3)(x).to_sparse()


    def makes():
        return nn.Sequential(Makes(), nn.Identity())
    """
)


@pytest.fixture
def models_file(tmp_path):
    path = tmp_path / "odd_models.py"
    path.write_text(MODELS)
    return path


def test_report_of_a_compiled_model_shows_the_original_layers(models_file, capsys):
    code, report, err = run_report([f"{models_file}:compiled", "--input-shape", "2,4"], capsys)
    assert code == 0, err
    assert [layer["name"] for layer in report["layers"]] == ["0", "1", "2"]
    assert all(layer["calls"] == 1 and layer["stats"] is not None for layer in report["layers"])
    assert report["output"]["shapes"] == [[2, 2]]


def test_report_lists_a_module_created_in_the_forward_and_a_sparse_outputs_statistics(models_file, capsys):
    code, report, err = run_report([f"{models_file}:makes", "--input-shape", "2,4"], capsys)
    assert code == 0, err
    (created,) = report["created_in_forward"]
    assert created["name"] == "0.<Linear #1>" and created["type"] == "Linear" and created["output_shapes"] == [[2, 3]]
    sparse = report["layers"][0]
    assert sparse["output_shapes"] == [[2, 3]] and sparse["stats"]["numel"] == 6
    assert sparse["stats"]["mean"] == pytest.approx(created["stats"]["mean"], rel=1e-6)  # the dense values


def test_report_of_a_pickled_quantized_model(tmp_path, capsys):
    import torch.ao.quantization as tq

    torch.manual_seed(0)
    model = tq.quantize_dynamic(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval(), {nn.Linear})
    path = tmp_path / "quantized.pt"
    torch.save(model, path)
    code, report, err = run_report([str(path), "--trust"], capsys)  # the input guessed from the quantized Linear
    assert code == 0, err
    assert report["input"]["shape"] == [1, 8]
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers["0"]["type"] == "Linear" and layers["0"]["output_shapes"] == [[1, 16]]
    assert layers["2"]["stats"] is not None and layers["2"]["output_shapes"] == [[1, 4]]


def test_the_terminal_table_marks_a_layer_the_forward_created():
    import io

    from rich.console import Console

    from inspector.core.inputs import InputSpec
    from inspector.core.loading import LoadedModel
    from inspector.core.report import build_report
    from inspector.core.session import Session
    from inspector.terminal import report_table
    from tests.core.test_sources_odd_modules import MakesALayer

    session = Session(LoadedModel(nn.Sequential(MakesALayer(keep=True)), "m", "callable"))
    session.set_input(InputSpec((2, 4)))
    report = build_report(session, session.run())
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(report_table(report))
    line = next(line for line in out.getvalue().splitlines() if line.strip().startswith("extra "))
    assert "created in forward" in line and "not run" not in line
