"""The shared room (inspector.core.common): every train-mode user puts the model back, re-bound buffers too."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from inspector.core.common import RunError, install_hooks, preserved_state
from inspector.core.export import export_session
from inspector.core.graph import capture
from inspector.core.inputs import InputSpec
from inspector.core.loading import LoadedModel
from inspector.core.session import Session
from inspector.core.summary import summary_text
from inspector.core.sweep import sweep
from tests.helpers import assert_unchanged, snapshot


class Ema(nn.Module):
    """BatchNorm-like state in train mode: a running mean in a buffer it re-binds (``self.ema = new``), and a step count."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.norm = nn.BatchNorm1d(4)
        self.register_buffer("ema", torch.arange(4, dtype=torch.float32))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.linear(x))
        if self.training:
            self.ema = 0.9 * self.ema + 0.1 * y.mean(dim=0)
            self.steps = self.steps + 1
        return y - self.ema


def _train_session(model: nn.Module) -> Session:
    session = Session(LoadedModel(model.eval(), "test", "callable"))
    session.set_input(InputSpec((3, 4)))
    session.mode = "train"
    return session


def _summary(model: nn.Module, tmp_path) -> None:
    summary_text(model, (torch.randn(3, 4),), mode="train")


def _graph(model: nn.Module, tmp_path) -> None:
    assert capture(model, torch.randn(3, 4), mode="train").error is None


def _sweep(model: nn.Module, tmp_path) -> None:
    result = sweep(_train_session(model))
    assert result.complete


def _export(model: nn.Module, tmp_path) -> None:
    # The TorchScript form traces the model: a train-mode forward of its own.
    export_session(_train_session(model), str(tmp_path / "out"), torchscript=True)


@pytest.mark.parametrize("work", [_summary, _graph, _sweep, _export], ids=["summary", "graph", "sweep", "export"])
def test_train_mode_work_leaves_the_model_as_it_was_rebound_buffers_too(work, tmp_path):
    model = Ema().eval()
    before = snapshot(model)
    ema, values, running = model.ema, model.ema.clone(), model.norm.running_mean.clone()
    work(model, tmp_path)
    assert model.ema is ema, "the module holds another tensor than before"
    assert torch.equal(model.ema, values)
    assert int(model.steps) == 0
    assert torch.equal(model.norm.running_mean, running)
    assert not model.training
    assert_unchanged(model, before)


def test_preserved_state_puts_flags_and_buffers_back_after_an_exception():
    model = Ema().eval()
    before = snapshot(model)
    with pytest.raises(RuntimeError, match="boom"), preserved_state(model, buffers=True):
        model.train()
        model(torch.randn(3, 4))
        raise RuntimeError("boom")
    assert_unchanged(model, before)
    assert int(model.steps) == 0


def test_install_hooks_leaves_no_hook_behind_when_a_module_refuses_them():
    plain = nn.Linear(2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated; users still have such modules
        scripted = torch.jit.script(nn.Linear(2, 2))
    calls: list[str] = []
    with pytest.raises(Exception):  # noqa: B017 - torch's own refusal, whose type varies between versions
        install_hooks([plain, scripted], lambda module, args: calls.append("pre"), None)
    plain(torch.randn(1, 2))
    assert calls == []
    assert not plain._forward_pre_hooks


def test_one_error_record_two_spellings():
    error = RunError("layer3.0.conv1", "Conv2d", "boom", "RuntimeError", [[1, 64, 8, 8]])
    assert error.as_dict() == {"module": "layer3.0.conv1", "type": "Conv2d", "message": "boom", "input_shapes": [[1, 64, 8, 8]]}
    assert str(error) == "layer3.0.conv1 (Conv2d) raised RuntimeError: boom"
    assert error.brief() == "layer3.0.conv1: RuntimeError: boom"
    assert RunError("", None, "boom", "ValueError", []).brief() == "the root: ValueError: boom"
    assert RunError(None, None, "boom", "ValueError", []).brief() == "the model: ValueError: boom"
