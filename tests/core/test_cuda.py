"""The CUDA path, where a GPU exists: statistics computed on the device, moves, invariants.

Skipped on machines without CUDA (the development machines); the statistics
kernels that a GPU run uses are also checked on the CPU in test_probe.py.
"""

from __future__ import annotations

import pytest
import torch

from inspector.core import probe
from inspector.core.session import Session
from tests.helpers import assert_unchanged, run_report, snapshot

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def test_cuda_run_matches_the_cpu_run():
    session = Session.open("resnet18")
    session.set_input(session.input_spec.replace(shape=(2, 3, 64, 64)))
    cpu = session.run()
    session.move_to("cuda")
    assert session.device == torch.device("cuda", 0)
    gpu = session.run()
    assert gpu.ok and gpu.device == "cuda:0"
    for name, record in cpu.records.items():
        a, b = record.first, gpu.records[name].first
        assert a.output_shapes == b.output_shapes, name
        assert b.stats.numel == a.stats.numel and b.stats.nan_count == 0
        scale = max(abs(a.stats.min), abs(a.stats.max), 1.0)
        assert b.stats.mean == pytest.approx(a.stats.mean, abs=1e-3 * scale), name
        assert b.stats.std == pytest.approx(a.stats.std, rel=1e-2, abs=1e-3 * scale), name
        assert b.time_ms is not None and b.time_ms >= 0


def test_stashed_originals_follow_to_cuda_and_back():
    session = Session.open("resnet18")
    edit = session.replace_with_identity("layer4")
    session.move_to("cuda")
    assert session.editor.original("layer4").conv1.weight.is_cuda
    session.revert(edit)
    assert session.model.layer4.conv1.weight.is_cuda
    assert session.run().ok
    session.replace_with_identity("fc")
    session.move_to("cpu")
    assert not session.editor.original("fc").weight.is_cuda


def test_looking_changes_nothing_on_cuda():
    session = Session.open("resnet18")
    session.move_to("cuda")
    before = snapshot(session.model)
    args = session.make_inputs()
    probe.run(session.model, args, mode="train")
    probe.run(session.model, args, should_stop=lambda: True)
    session.summary(depth=1)
    assert_unchanged(session.model, before)


def test_nan_and_inf_counted_on_the_device():
    from tests.models import NanInf

    torch.manual_seed(0)
    model = NanInf().eval().cuda()
    run = probe.run(model, torch.randn(3, 4, device="cuda"))
    stats = run.records["poison"].first.stats
    assert stats.nan_count == 2 and stats.inf_count == 2 and stats.numel == 24


def test_report_on_cuda(capsys):
    code, report, _ = run_report(["resnet18", "--device", "cuda", "--identity", "fc", "--input-shape", "1,3,64,64"], capsys)
    assert code == 0 and report["device"] == "cuda:0"
    assert report["output"]["shapes"] == [[1, 512]]


def _synchronising_calls(model: torch.nn.Module, x: torch.Tensor) -> int:
    """How many operations of a probed run made the host wait for the GPU (torch's sync debug mode)."""
    import warnings

    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = probe.run(model, x)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert run.ok
    return sum("synchroniz" in str(w.message) for w in caught)


def test_a_cuda_probe_does_not_wait_for_the_gpu_once_per_layer():
    """The statistics stay on the device until the end of the run: 40 layers wait as often as 2."""
    x = torch.randn(8, 64, device="cuda")
    short = torch.nn.Sequential(*[torch.nn.Linear(64, 64) for _ in range(2)]).cuda().eval()
    deep = torch.nn.Sequential(*[torch.nn.Linear(64, 64) for _ in range(40)]).cuda().eval()
    _synchronising_calls(short, x)  # first use: lazy CUDA initialisation
    assert _synchronising_calls(deep, x) == _synchronising_calls(short, x)
