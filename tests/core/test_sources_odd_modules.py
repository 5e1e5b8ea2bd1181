"""Models the probe must not break: a TorchScript submodule in an eager model, LazyModules, meta-device mistakes."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from inspector.core import probe
from inspector.core.inputs import InputSpec
from inspector.core.loading import LoadedModel
from inspector.core.session import Session
from inspector.core.stats import collect, measure
from tests.helpers import assert_unchanged, snapshot

X = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))


class Inner(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x))


class WithScript(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        with warnings.catch_warnings():  # torch.jit.script's deprecation: scripted modules are still what users have
            warnings.simplefilter("ignore", FutureWarning)
            self.scripted = torch.jit.script(Inner())
        self.b = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.scripted(self.a(x)))


def test_a_script_submodule_is_recorded_at_its_boundary():
    torch.manual_seed(0)
    model = WithScript().eval()
    before = snapshot(model)
    run = probe.run(model, (X,), keep_output=True)
    assert run.ok, run.error
    with torch.no_grad():
        middle = model.scripted(model.a(X))
        assert torch.equal(run.output, model(X))
    record = run.records["scripted"]
    assert len(record.calls) == 1 and record.first.output_shapes == [[2, 4]]
    (expected,) = collect([measure([middle])])
    assert record.first.stats is not None and abs(record.first.stats.mean - expected[0].mean) < 1e-6
    assert run.records["b"].first.input_shapes == [[2, 4]]
    assert run.records["scripted.fc"].calls == []  # nothing inside a ScriptModule runs Python hooks
    assert run.execution_order() == ["a", "scripted", "b"]
    assert_unchanged(model, before)  # global hooks removed too


def test_a_lazy_model_is_materialised_by_its_first_run_and_reported():
    torch.manual_seed(0)
    model = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(2))
    session = Session(LoadedModel(model, "lazy", "callable"))
    assert session.params == 0 and session.input_spec is None
    session.set_input(InputSpec((2, 4)))
    run = session.run()
    assert run.ok, run.error
    assert run.records["0"].first.output_shapes == [[2, 8]] and run.records["2"].first.output_shapes == [[2, 2]]
    assert session.params == 4 * 8 + 8 + 8 * 2 + 2 == session.tree().total_params
    assert any("materialised by the first run: 58 parameters" in note for note in session.loaded.notes)


class MakesCpuTensor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) + torch.arange(4)  # no device=: always on the CPU


def test_a_meta_failure_on_a_tensor_made_without_device_says_so_and_names_the_module():
    session = Session(LoadedModel(nn.Sequential(nn.Linear(4, 4), MakesCpuTensor()), "m", "callable"))
    session.set_input(InputSpec((2, 4)))
    run = session.run(meta=True)
    assert run.error is not None and run.error.module == "1"
    assert "without device=" in run.error.message and "'1' (MakesCpuTensor)" in run.error.message


def test_meta_builds_a_callable_without_allocating():
    from inspector.core.loading import load_model
    from tests.helpers import ROOT

    loaded = load_model(f"{ROOT / 'tests' / 'models.py'}:TinyCNN", meta=True)
    tensors = list(loaded.module.parameters()) + list(loaded.module.buffers())
    assert tensors and all(t.is_meta for t in tensors)
    session = Session(loaded)
    session.set_input(InputSpec((1, 3, 16, 16)))
    run = session.run(meta=True)
    assert run.ok and run.output_shapes == [[1, 4]]


def test_meta_memory_of_a_timm_model_stays_near_the_import_floor():
    import pytest

    pytest.importorskip("timm")
    from tests.helpers import run_subprocess

    # VmHWM (the peak) after the imports, then after building the 300M-parameter
    # model on meta: a real build would take 1.2 GB.
    code = (
        "import torch, timm\n"
        "from inspector.core.loading import load_model\n"
        "def peak():\n"
        "    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) * 1024\n"
        "load_model('timm:resnet18', meta=True)\n"  # timm's registry and lazy imports: part of the floor
        "floor = peak()\n"
        "model = load_model('timm:vit_large_patch16_224', meta=True).module\n"
        "assert all(p.is_meta for p in model.parameters())\n"
        "print(peak() - floor, sum(p.numel() for p in model.parameters()))\n"
    )
    done = run_subprocess(["-c", code], timeout=600)
    assert done.returncode == 0, done.stderr
    grown, params = (int(v) for v in done.stdout.split())
    assert params > 300_000_000
    assert grown < 50 * 2**20, f"the meta build grew the peak by {grown / 2**20:.0f} MiB"
