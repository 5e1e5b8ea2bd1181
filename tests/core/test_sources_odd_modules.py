"""Models the probe must not break: a TorchScript submodule in an eager model, LazyModules, meta-device mistakes."""

from __future__ import annotations

import warnings

import pytest
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


# --------------------------------------------------------------------------- torch.compile


def _small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()


def _frames_compiled() -> int:
    from torch._dynamo.utils import counters

    return sum(counters["frames"].values())


def _same_records(run: probe.ProbeRun, eager: probe.ProbeRun, prefix: str = "") -> None:
    for name, record in eager.records.items():
        got = run.records[prefix + name if name else prefix.rstrip(".")] if prefix else run.records[name]
        assert len(got.calls) == len(record.calls), name
        for a, b in zip(got.calls, record.calls, strict=True):
            assert a.output_shapes == b.output_shapes and a.input_shapes == b.input_shapes, name
            assert (a.stats is None) == (b.stats is None)
            if a.stats is not None:
                assert a.stats.as_dict() == b.stats.as_dict(), name


def test_a_compiled_model_is_probed_through_its_original_without_compiling():
    model = _small_cnn()
    compiled = torch.compile(model)
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    eager = probe.run(model, (x,), keep_output=True)
    before = snapshot(compiled)
    frames = _frames_compiled()
    run = probe.run(compiled, (x,), keep_output=True)
    assert run.ok, run.error
    assert _frames_compiled() == frames  # Dynamo never ran: nothing compiled, nothing recompiled
    assert list(run.records) == list(eager.records) == ["", "0", "1", "2", "3"]
    _same_records(run, eager)
    assert torch.equal(run.output, eager.output)
    assert_unchanged(compiled, before)


def test_a_session_shows_a_compiled_models_original_tree():
    from inspector.core.report import build_report

    model = _small_cnn()
    session = Session(LoadedModel(torch.compile(model), "compiled", "callable"))
    assert session.model is model
    assert [n.qualified_name for n in session.tree().walk()] == [n for n, _ in model.named_modules()]
    assert any("torch.compile" in note and "_orig_mod" in note for note in session.loaded.notes)
    session.set_input(InputSpec((1, 3, 8, 8)))
    frames = _frames_compiled()
    report = build_report(session, session.run())
    assert _frames_compiled() == frames
    assert [layer["name"] for layer in report["layers"]] == ["0", "1", "2", "3"]
    assert all(layer["calls"] == 1 and layer["stats"] is not None for layer in report["layers"])


def test_a_compiled_submodule_runs_eagerly_in_the_probe_and_is_put_back_as_it_was():
    torch.manual_seed(0)
    block = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    outer = nn.Sequential(nn.Linear(4, 4), torch.compile(block)).eval()
    compiled_forward = outer[1].__dict__["forward"]
    eager = probe.run(nn.Sequential(outer[0], block), (X,))
    frames = _frames_compiled()
    run = probe.run(outer, (X,))
    assert run.ok, run.error
    assert _frames_compiled() == frames
    assert outer[1].__dict__["forward"] is compiled_forward  # still the compiled module it was
    for name in ("0", "1._orig_mod.0", "1._orig_mod.1"):
        got, want = run.records[name].first, eager.records[name.replace("._orig_mod", "")].first
        assert got.output_shapes == want.output_shapes and got.stats.as_dict() == want.stats.as_dict()
    session = Session(LoadedModel(outer, "outer", "callable"))
    assert session.model[1] is block  # the session's tree: the original, no _orig_mod level
    assert "1._orig_mod" not in dict(session.model.named_modules())


# --------------------------------------------------------------------------- modules created in the forward


class MakesALayer(nn.Module):
    """Creates a Linear in every forward and calls it; optionally keeps it as an attribute."""

    def __init__(self, keep: bool = False) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.keep = keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        extra = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
        if self.keep:
            self.extra = extra
        return extra(self.fc(x))


def test_a_module_created_in_the_forward_is_recorded_as_created_there():
    from inspector.core.report import build_report

    torch.manual_seed(0)
    session = Session(LoadedModel(nn.Sequential(MakesALayer(), nn.ReLU()), "m", "callable"))
    session.set_input(InputSpec((2, 4)))
    run = session.run(keep_output=True)
    assert run.ok, run.error
    assert list(run.records) == [n for n, _ in session.model.named_modules()]
    names = [r.name for r in run.created]
    assert names == ["0.<Sequential #1>", "0.<Sequential #1>.0", "0.<Sequential #1>.1"]
    linear = run.created[1].first
    assert linear.output_shapes == [[2, 3]] and linear.input_shapes == [[2, 4]]
    tanh = run.created[2].first
    # The model's output is relu(tanh): its positive values are the Tanh's.
    assert tanh.stats is not None and tanh.stats.numel == 6
    assert tanh.stats.min >= -1 and tanh.stats.max == pytest.approx(float(run.output.max()))
    assert all(r.created_in_forward for r in run.created)
    report = build_report(session, run)
    assert [c["name"] for c in report["created_in_forward"]] == names
    assert report["created_in_forward"][1]["output_shapes"] == [[2, 3]]


def test_a_module_the_forward_attaches_is_recorded_in_its_place_not_as_never_run():
    from inspector.core.report import build_report

    torch.manual_seed(0)
    session = Session(LoadedModel(nn.Sequential(MakesALayer(keep=True)), "m", "callable"))
    session.set_input(InputSpec((2, 4)))
    run = session.run()
    assert run.ok, run.error
    assert list(run.records) == [n for n, _ in session.model.named_modules()]
    assert run.created == []
    record = run.records["0.extra.0"]
    assert record.created_in_forward and record.first.output_shapes == [[2, 3]]
    layers = {layer["name"]: layer for layer in build_report(session, run)["layers"]}
    assert layers["0.extra"]["calls"] == 1 and layers["0.extra"]["created_in_forward"] is True
    assert layers["0.extra.1"]["stats"] is not None
    assert "created_in_forward" not in layers["0.fc"]


class FailsInACreatedLayer(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.Linear(5, 2)(x)  # wrong width: raises inside the created module


def test_a_failure_inside_a_created_module_names_it():
    run = probe.run(nn.Sequential(FailsInACreatedLayer()), (X,))
    assert run.error is not None
    assert run.error.module == "0.<Linear #1>" and run.error.type_name == "Linear"
    assert run.error.input_shapes == [[2, 4]]


# --------------------------------------------------------------------------- the pass-through Identity's learning


class SlowBlock(nn.Module):
    """A block called with an extra argument (so the Identity learns its call); its forward sleeps."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, scale: float = 1.0) -> tuple[torch.Tensor, None]:
        import time

        time.sleep(0.4)
        return self.inner(x) * scale, None


class CallsBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = SlowBlock()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x, scale=2.0)[0]


def test_the_pass_through_identitys_learning_run_is_neither_recorded_nor_timed_as_the_layers():
    session = Session(LoadedModel(CallsBlock(), "m", "callable"))
    session.set_input(InputSpec((2, 4)))
    session.replace_with_identity("block")
    run = session.run()
    assert run.ok, run.error
    assert run.created == []  # the removed block's modules ran on fake tensors, not in the model
    time_ms = run.records["block"].first.time_ms
    assert time_ms is not None and time_ms < 400  # the learning run slept 0.4 s: not the Identity's time
    assert run.total_ms is not None and run.total_ms < 400


# --------------------------------------------------------------------------- sweeps and edits around a TorchScript submodule


def test_a_sweep_over_a_model_with_a_script_submodule_runs_and_matches_deleting_each_candidate():
    from inspector.core.compare import distance_of
    from inspector.core.sweep import sweep

    torch.manual_seed(0)
    session = Session(LoadedModel(WithScript().eval(), "w", "callable"))
    session.set_input(InputSpec((2, 4)))
    before = snapshot(session.model)
    result = sweep(session)
    assert [e.name for e in result.entries] == ["a", "scripted", "b"]  # nothing inside the ScriptModule
    (x,) = session.make_inputs()
    model = session.model
    with torch.no_grad():
        baseline = model(x)
        expected = {"a": model.b(model.scripted(x)), "scripted": model.b(model.a(x))}
    for entry in result.entries[:2]:
        assert entry.ok, entry.error
        want = distance_of(baseline, expected[entry.name])
        assert entry.relative_l2 == pytest.approx(want.relative_l2, rel=1e-6)
    assert_unchanged(model, before)


def test_a_module_inside_a_script_submodule_cannot_be_replaced_and_says_what_can():
    from inspector.core.errors import EditError

    session = Session(LoadedModel(WithScript().eval(), "w", "callable"))
    with pytest.raises(EditError, match=r"'scripted.fc' is inside the TorchScript module 'scripted'.*replace 'scripted' itself"):
        session.replace_with_identity("scripted.fc")
    assert session.replaced == []


def test_a_saved_run_keeps_which_layers_the_forward_created():
    import json

    from inspector.core.session_file import run_from_dict, run_to_dict

    torch.manual_seed(0)
    run = probe.run(nn.Sequential(MakesALayer(keep=True)), (X,))
    assert run.records["0.extra"].created_in_forward
    back = run_from_dict(json.loads(json.dumps(run_to_dict(run))))
    assert [n for n, r in back.records.items() if r.created_in_forward] == ["0.extra", "0.extra.0", "0.extra.1"]
    data = run_to_dict(run)
    data["records"][0]["created_in_forward"] = "yes"
    with pytest.raises(ValueError, match="created_in_forward is a string"):
        run_from_dict(data)


class CallsOnAnotherThread(nn.Module):
    """While it runs, another thread calls a module of its own (the app's window, another tool)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import threading

        elsewhere = threading.Thread(target=lambda: nn.ReLU()(torch.zeros(1)))
        elsewhere.start()
        elsewhere.join()
        return x * 2


def test_modules_called_on_another_thread_are_not_the_runs():
    run = probe.run(nn.Sequential(CallsOnAnotherThread()), (X,))
    assert run.ok and run.created == []
