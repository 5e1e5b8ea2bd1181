"""The probed run: per-call shapes, statistics against torch's own reductions, errors, progress, cancel."""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest
import torch
from torch import nn

from inspector.core import probe
from inspector.core.edits import ModelEditor
from inspector.core.stats import HISTOGRAM_BINS, LayerStats
from tests.models import (
    AllNan,
    ArgMax,
    BoolOut,
    IdentityThenInplace,
    InplaceThenIdentity,
    NanInf,
    NoTensorOut,
    RaisesMidway,
    SharedTwice,
    Structured,
)

IMAGE = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
SMALL = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))


class FirstOutputs:
    """Our own hooks: a clone of every module's first output, taken when the module returns."""

    def __init__(self, model: nn.Module) -> None:
        self.outputs: dict[str, list[torch.Tensor]] = {}
        self.handles = [
            module.register_forward_hook(self._hook(name)) for name, module in model.named_modules()
        ]

    def _hook(self, name: str):
        def hook(module, args, output):
            if name not in self.outputs:
                self.outputs[name] = [t.detach().clone() for t in probe.tensors_in(output)]

        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def probe_with_witness(model: nn.Module, *args, **options) -> tuple[probe.ProbeRun, dict[str, list[torch.Tensor]]]:
    witness = FirstOutputs(model)
    try:
        run = probe.run(model, args, **options)
    finally:
        witness.remove()
    return run, witness.outputs


def assert_stats_match(stats: LayerStats, tensors: list[torch.Tensor], where: str = "") -> None:
    """``stats`` against torch's own float64 reductions over the same elements."""
    floats = [t for t in tensors if t.is_floating_point()]
    assert floats, where
    flat = torch.cat([t.reshape(-1).double() for t in floats])
    finite = flat[torch.isfinite(flat)]
    assert stats.numel == flat.numel(), where
    assert stats.nan_count == int(torch.isnan(flat).sum()), where
    assert stats.inf_count == int(torch.isinf(flat).sum()), where
    assert stats.zero_fraction == pytest.approx(float((flat == 0).sum()) / flat.numel(), abs=1e-12), where
    if finite.numel() == 0:
        assert stats.mean is stats.std is stats.min is stats.max is None, where
        return
    # min and max are values of the tensor: exact.
    assert stats.min == float(finite.min()), where
    assert stats.max == float(finite.max()), where
    std = float(finite.std(correction=0))
    scale = max(std, 1e-12)
    assert stats.mean == pytest.approx(float(finite.mean()), rel=1e-5, abs=1e-5 * scale), where
    assert stats.std == pytest.approx(std, rel=1e-4, abs=1e-12), where


# --------------------------------------------------------------------------- statistics


def test_every_resnet18_record_matches_torch(shared_resnet18):
    run, outputs = probe_with_witness(shared_resnet18, IMAGE)
    assert run.ok
    names = [n for n, _ in shared_resnet18.named_modules()]
    assert list(run.records) == names
    for name in names:
        record = run.records[name]
        # A BasicBlock calls its one ReLU twice (after bn1 and after the sum).
        in_block = name.startswith("layer") and name.endswith(".relu")
        assert len(record.calls) == (2 if in_block else 1), name
        call = record.first
        assert call.output_shapes == [list(t.shape) for t in outputs[name]], name
        assert_stats_match(call.stats, outputs[name], name or "(root)")
        assert call.time_ms is not None and call.time_ms >= 0
    assert run.records["conv1"].first.input_shapes == [[1, 3, 224, 224]]
    assert run.records["conv1"].first.output_shapes == [[1, 64, 112, 112]]
    assert run.records["fc"].first.output_shapes == [[1, 1000]]
    assert run.output_shapes == [[1, 1000]]


def test_bn1_keeps_its_negative_values_although_an_inplace_relu_follows(shared_resnet18):
    run = probe.run(shared_resnet18, IMAGE)
    bn1, relu = run.records["bn1"].first.stats, run.records["relu"].first.stats
    with torch.no_grad():
        expected = shared_resnet18.bn1(shared_resnet18.conv1(IMAGE))
    assert bn1.min < 0 and bn1.min == float(expected.min())
    assert relu.min == 0.0 and relu.zero_fraction > 0.3
    assert bn1.zero_fraction == 0.0


def test_identity_before_an_inplace_op_keeps_the_values_it_returned():
    torch.manual_seed(0)
    model = IdentityThenInplace().eval()
    x = torch.randn(1, 3, 8, 8)
    run, outputs = probe_with_witness(model, x)
    keep = run.records["keep"].first.stats
    assert keep.min < 0, "the Identity's record was overwritten by the ReLU that ran after it"
    assert keep == run.records["conv"].first.stats
    assert_stats_match(keep, outputs["keep"])
    assert run.records["relu"].first.stats.min == 0.0


def test_identity_after_an_inplace_op_sees_the_changed_values():
    torch.manual_seed(0)
    model = InplaceThenIdentity().eval()
    run, outputs = probe_with_witness(model, torch.randn(1, 3, 8, 8))
    assert run.records["conv"].first.stats.min < 0, "conv's record is taken when conv returns"
    assert run.records["keep"].first.stats.min == 0.0
    assert_stats_match(run.records["keep"].first.stats, outputs["keep"])


def test_replacing_bn1_with_identity_aliases_conv1s_output(resnet18):
    ModelEditor(resnet18).replace_with_identity("bn1")
    run, outputs = probe_with_witness(resnet18, IMAGE)
    conv1, bn1 = run.records["conv1"].first.stats, run.records["bn1"].first.stats
    assert bn1.min < 0 and bn1 == conv1
    assert run.records["bn1"].type_name == "Identity"
    assert_stats_match(bn1, outputs["conv1"])


def test_nan_and_inf_are_counted_and_left_out():
    torch.manual_seed(0)
    model = NanInf().eval()
    run, outputs = probe_with_witness(model, torch.randn(3, 4))
    stats = run.records["poison"].first.stats
    assert stats.numel == 24 and stats.nan_count == 2 and stats.inf_count == 2
    assert_stats_match(stats, outputs["poison"])
    assert math.isfinite(stats.mean) and math.isfinite(stats.std)
    hist = run.records["poison"].first.histogram
    assert int(hist.counts.sum()) == 20


def test_an_output_with_no_finite_value():
    run = probe.run(AllNan(), torch.randn(2, 3))
    stats = run.records[""].first.stats
    assert stats.numel == 6 and stats.nan_count == 6
    assert stats.mean is None and stats.std is None and stats.min is None and stats.max is None
    assert run.records[""].first.histogram is None


@pytest.mark.parametrize("module", [ArgMax(), BoolOut()])
def test_integer_and_bool_outputs_give_counts_only(module):
    x = torch.tensor([[0.5, -1.0, 2.0], [3.0, 0.0, -2.0], [-1.0, -3.0, -0.5]])
    run = probe.run(module, x)
    stats = run.records[""].first.stats
    out = module(x)
    assert stats.numel == out.numel()
    assert stats.zero_fraction == float((out == 0).sum()) / out.numel()
    assert stats.mean is None and stats.std is None and stats.min is None and stats.max is None
    assert stats.nan_count == 0 and stats.inf_count == 0


def test_structured_outputs_are_flattened_in_order():
    torch.manual_seed(0)
    model = Structured().eval()
    run, outputs = probe_with_witness(model, torch.randn(3, 4), keep_output=True)
    assert run.ok
    # dict order: pair (tuple order), label (str, skipped), nothing, classes, count.
    assert run.output_shapes == [[3, 2], [3, 3], [3]]
    split = run.records["split"].first
    assert split.output_shapes == [[3, 2], [3, 3]]
    assert_stats_match(split.stats, outputs["split"])
    assert run.records["argmax"].first.stats.mean is None
    # The root mixes float and integer tensors: its statistics are over the floats.
    assert_stats_match(run.records[""].first.stats, outputs[""])
    assert run.output["label"] == "text" and run.output["count"] == 3


def test_an_output_with_no_tensor():
    torch.manual_seed(0)
    run = probe.run(NoTensorOut().eval(), torch.randn(1, 4))
    assert run.ok and run.output_shapes == []
    root = run.records[""].first
    assert root.output_shapes == [] and root.stats is None
    assert run.records["fc"].first.stats is not None


def test_histogram_counts_agree_with_numpy():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 50)).eval()
    run, outputs = probe_with_witness(model, torch.randn(10, 4))
    call = run.records["0"].first
    values = outputs["0"][0].numpy().astype(np.float64).ravel()
    assert not call.histogram.sampled and call.histogram.sample_size == values.size
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(values.min(), values.max()))
    assert np.array_equal(call.histogram.counts, counts)
    assert np.allclose(call.histogram.edges, edges)


def test_large_outputs_histogram_from_a_sample_and_say_so(shared_resnet18):
    run = probe.run(shared_resnet18, IMAGE)
    hist = run.records["conv1"].first.histogram
    assert hist.sampled and 0 < hist.sample_size < 64 * 112 * 112
    assert len(hist.counts) == HISTOGRAM_BINS and len(hist.edges) == HISTOGRAM_BINS + 1
    stats = run.records["conv1"].first.stats
    assert hist.edges[0] == stats.min and hist.edges[-1] == pytest.approx(stats.max)


# --------------------------------------------------------------------------- calls


def test_a_module_called_twice_has_two_calls_and_one_never_called_has_none():
    torch.manual_seed(0)
    model = SharedTwice().eval()
    run, outputs = probe_with_witness(model, torch.randn(2, 4))
    shared = run.records["shared"]
    assert len(shared.calls) == 2
    assert shared.calls[0].index < shared.calls[1].index
    assert_stats_match(shared.calls[0].stats, outputs["shared"])
    assert shared.calls[1].stats != shared.calls[0].stats
    unused = run.records["unused"]
    assert unused.calls == []
    assert run.execution_order() == ["shared", "out"]


def test_a_raising_model_names_the_innermost_module_and_keeps_earlier_records(resnet18):
    ModelEditor(resnet18).replace_with_identity("layer2")
    run = probe.run(resnet18, IMAGE)
    assert not run.ok and not run.cancelled
    error = run.error
    assert error.module == "layer3.0.conv1" and error.type_name == "Conv2d"
    assert error.exception_type == "RuntimeError"
    # layer2 is gone, so layer3 receives layer1's 64 channels.
    assert error.input_shapes == run.records["layer1"].first.output_shapes == [[1, 64, 56, 56]]
    assert "\n" not in error.message and "channels" in error.message
    for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer1.1.bn2", "layer2"):
        assert run.records[name].first.stats is not None, name
    for name in ("layer3.0.bn1", "layer4", "avgpool", "fc"):
        assert run.records[name].calls == [], name
    assert run.output_shapes == []


def test_a_raise_in_our_own_model():
    torch.manual_seed(0)
    model = RaisesMidway().eval()
    run = probe.run(model, torch.randn(3, 4))
    assert run.error.module == "block.1" and run.error.type_name == "Boom"
    assert run.error.exception_type == "ValueError"
    assert run.error.message == "boom on a tensor of shape [3, 6]"
    assert run.error.input_shapes == [[3, 6]]
    assert run.records["bn"].first.stats is not None and run.records["after"].calls == []
    assert str(run.error).startswith("block.1 (Boom) raised ValueError")


def test_progress_reaches_the_total(shared_resnet18):
    seen: list[tuple[int, int]] = []
    probe.run(shared_resnet18, SMALL, on_progress=lambda done, total: seen.append((done, total)))
    total = len(list(shared_resnet18.named_modules()))
    assert seen[-1] == (total, total)
    dones = [d for d, _ in seen]
    assert dones == sorted(dones)


def test_cancel_stops_between_modules(shared_resnet18):
    asked = 0

    def should_stop() -> bool:
        nonlocal asked
        asked += 1
        return asked >= 10

    run = probe.run(shared_resnet18, SMALL, should_stop=should_stop)
    assert run.cancelled and not run.ok and run.error is None
    started = sum(len(r.calls) for r in run.records.values())
    assert started == 9, "the tenth module was never entered"
    assert asked == 10, "nothing ran after the stop was asked for"
    assert run.output_shapes == []
    order = [n for n, _ in shared_resnet18.named_modules()]
    assert run.execution_order() == [n for n in order if run.records[n].calls and n]


def test_keep_output_gives_the_models_own_output(shared_resnet18):
    run = probe.run(shared_resnet18, SMALL, keep_output=True)
    with torch.no_grad():
        assert torch.equal(run.output, shared_resnet18(SMALL))
    assert probe.run(shared_resnet18, SMALL).output is None


def test_tensors_in_and_shapes_of_follow_the_spec_order():
    a, b, c, d = torch.zeros(1), torch.zeros(2), torch.zeros(3), torch.zeros(4)
    value = {"x": (a, [b, {"y": c}]), "z": None, "w": d, "s": "text"}
    assert probe.shapes_of(value) == [[1], [2], [3], [4]]
    assert probe.tensors_in(value)[0] is a


# --------------------------------------------------------------------------- the GPU's kernels, on the CPU


@pytest.mark.parametrize(
    "values",
    [
        torch.randn(1000, generator=torch.Generator().manual_seed(0)) * 3 + 1,
        torch.tensor([0.0, 0.0, 2.0, -1.0]),
        torch.tensor([1.0, float("nan"), float("inf"), -2.0, float("-inf"), 0.0]),
        torch.tensor([float("nan"), float("nan")]),
        torch.full((10,), 1e4) + torch.arange(10) * 1e-3,
    ],
)
def test_the_masked_statistics_a_gpu_run_uses_agree_with_torch(values):
    """A CUDA run always takes stats._masked_vector (no host sync); no GPU here, so check it on the CPU."""
    from inspector.core import stats as stats_mod

    pending = stats_mod.PendingStats(stats_mod._masked_vector(values), None, floating=True)
    (result,) = stats_mod.collect([pending])
    assert_stats_match(result[0], [values])


def test_a_probed_run_keeps_no_layer_output_alive_even_without_the_garbage_collector():
    """A run keeps statistics, not tensors: each output is freed by reference counting alone.

    (The GUI's worker thread never collects cyclic garbage, so a reference
    cycle holding outputs would keep a whole forward's activations alive.)
    """
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 4), nn.Tanh()), nn.Identity())
    outputs: list[weakref.ref] = []
    handles = [m.register_forward_hook(lambda m, a, o: outputs.append(weakref.ref(o))) for m in model.modules()]
    gc.collect()
    gc.disable()
    try:
        run = probe.run(model, (torch.randn(2, 8),))
        alive = [ref for ref in outputs if ref() is not None]
    finally:
        gc.enable()
        for handle in handles:
            handle.remove()
    assert run.ok and len(outputs) == 7
    assert alive == []


def test_output_structures_are_walked_in_order_and_a_self_containing_one_ends():
    a, b, c = torch.zeros(1), torch.zeros(2), torch.zeros(3)
    pair = (a, b)
    found = probe.tensors_in([pair, {"x": c, "y": pair}, None, 3])
    assert [id(t) for t in found] == [id(a), id(b), id(c), id(a), id(b)]
    loop: list = [a]
    loop.append(loop)
    assert [id(t) for t in probe.tensors_in((loop, b))] == [id(a), id(b)]
