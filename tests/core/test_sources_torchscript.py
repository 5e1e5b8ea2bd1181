"""TorchScript files: per-layer calls, shapes and statistics read from the graph, equal to the eager model's."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from inspector.core import probe
from inspector.core.inputs import InputSpec
from inspector.core.loading import build_torchvision, load_model
from inspector.core.report import build_report
from inspector.core.session import Session

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

X = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def _saved(tmp_path, model: nn.Module, how: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(model) if how == "script" else torch.jit.trace(model, X)
    path = str(tmp_path / f"{how}.pt")
    scripted.save(path)
    return path


@pytest.mark.parametrize("how", ["trace", "script"])
def test_a_torchscript_resnet_has_the_eager_models_per_layer_records(tmp_path, how):
    eager_model = build_torchvision("resnet18").eval()
    eager = probe.run(eager_model, (X,), keep_output=True)
    loaded = load_model(_saved(tmp_path, eager_model, how))
    assert loaded.kind == "torchscript"
    graph_before = str(loaded.module.graph)
    run = probe.run(loaded.module, (X,), keep_output=True)
    assert run.ok, run.error
    assert torch.allclose(run.output, eager.output, rtol=1e-4, atol=1e-5)
    for name, want in eager.records.items():
        if not name:
            continue
        got = run.records[name]
        assert len(got.calls) == len(want.calls), name  # the ReLU of a BasicBlock: called twice, twice here
        for mine, theirs in zip(got.calls, want.calls, strict=True):
            assert mine.output_shapes == theirs.output_shapes, name
            assert mine.input_shapes == theirs.input_shapes, name
            assert mine.time_ms is None  # the graph runs as one call: no per-layer time
            for key in ("mean", "std", "min", "max", "zero_fraction"):
                assert getattr(mine.stats, key) == pytest.approx(getattr(theirs.stats, key), rel=1e-4, abs=1e-5), (name, key)
    # bn1's output is overwritten by the in-place ReLU after it: its record still has the negative values.
    assert run.records["bn1"].first.stats.min < 0
    assert run.execution_order() == eager.execution_order()
    assert str(loaded.module.graph) == graph_before  # the model's own graph is untouched


class Branches(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(4, 4)
        self.maybe = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        if bool(x.sum() > -1000):
            x = self.maybe(x)
        return x


def test_a_layer_inside_scripted_control_flow_has_no_record_and_the_rest_have_theirs(tmp_path):
    torch.manual_seed(0)
    model = Branches().eval()
    path = str(tmp_path / "branches.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.script(model).save(path)
    x = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
    run = probe.run(load_model(path).module, (x,), keep_output=True)
    assert run.ok and torch.allclose(run.output, model(x))
    assert run.records["stem"].first.output_shapes == [[2, 4]]
    assert run.records["maybe"].calls == []  # called inside an `if` of the scripted code


def test_a_torchscript_report_fills_its_layers(tmp_path):
    eager_model = build_torchvision("resnet18").eval()
    session = Session(load_model(_saved(tmp_path, eager_model, "trace")))
    session.set_input(InputSpec((1, 3, 64, 64)))
    report = build_report(session, session.run())
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers["layer1.0.conv1"]["calls"] == 1 and layers["layer1.0.conv1"]["output_shapes"] == [[1, 64, 16, 16]]
    assert layers["fc"]["stats"] is not None and layers["fc"]["time_ms"] is None
