"""Before/after comparison on resnet18: the numbers against torch's own, and the model left as it was."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from inspector.core.compare import capture_outputs, compare_runs, compare_session, distance_of
from inspector.core.inputs import InputSpec
from inspector.core.loading import build_torchvision
from inspector.core.session import Session
from tests.helpers import EditHistory, assert_unchanged, snapshot

SHAPE = (1, 3, 64, 64)


def sample_input() -> torch.Tensor:
    """The tensor the session draws for InputSpec(SHAPE) with seed 0."""
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))


def resnet18_session() -> Session:
    session = Session.open("resnet18")
    session.set_input(InputSpec(SHAPE))
    return session


def own_distance(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Relative L2 and cosine computed directly with torch, in float64."""
    a, b = a.double().flatten(), b.double().flatten()
    return float((a - b).norm() / a.norm()), float(F.cosine_similarity(a, b, dim=0))


def until_layer2(model: nn.Module, x: torch.Tensor, skip_layer1_0: bool) -> torch.Tensor:
    """resnet18's forward up to layer2, written out by hand (optionally without layer1[0])."""
    h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    if not skip_layer1_0:
        h = model.layer1[0](h)
    h = model.layer1[1](h)
    return model.layer2(h)


def test_fc_replaced_shapes_differ_so_output_distances_are_null():
    session = resnet18_session()
    session.replace_with_identity("fc")
    comparison = compare_session(session)
    assert comparison is not None
    assert comparison.baseline_output_shapes == [[1, 1000]]
    assert comparison.output_shapes == [[1, 512]]
    assert comparison.output_shape_changed
    assert comparison.output.relative_l2 is None and comparison.output.cosine is None
    fc = comparison.modules["fc"]
    assert fc.baseline_type == "Linear" and fc.current_type == "Identity"
    assert fc.shape_changed and fc.relative_l2 is None and fc.cosine is None
    # Everything before fc ran exactly as before: zero distance, no stat change.
    avgpool = comparison.modules["avgpool"]
    assert not avgpool.shape_changed
    assert avgpool.relative_l2 == 0.0 and avgpool.cosine == pytest.approx(1.0)
    assert avgpool.mean_delta == 0.0 and avgpool.max_delta == 0.0
    assert comparison.as_dict()["output_relative_l2"] is None


def test_layer1_0_replaced_distances_match_torch():
    session = resnet18_session()
    session.replace_with_identity("layer1.0")
    comparison = compare_session(session)
    assert comparison is not None
    assert comparison.output_shapes == comparison.baseline_output_shapes == [[1, 1000]]

    # The same computation done by hand on the same (seeded) weights and input.
    model = build_torchvision("resnet18").eval()
    x = sample_input()
    with torch.no_grad():
        before = model(x)
        before_layer2 = until_layer2(model, x, skip_layer1_0=False)
        after_layer2 = until_layer2(model, x, skip_layer1_0=True)
        model.layer1[0] = nn.Identity()
        after = model(x)
    relative, cosine = own_distance(before, after)
    assert relative > 0.01 and cosine < 0.9999
    assert comparison.output.relative_l2 == pytest.approx(relative, rel=1e-6)
    assert comparison.output.cosine == pytest.approx(cosine, rel=1e-9)

    # layer2's output ([1, 128, 8, 8], 8192 values) is captured whole: exact.
    layer2 = comparison.modules["layer2"]
    assert layer2.distance_exact
    relative2, cosine2 = own_distance(before_layer2, after_layer2)
    assert layer2.relative_l2 == pytest.approx(relative2, rel=1e-6)
    assert layer2.cosine == pytest.approx(cosine2, rel=1e-9)
    assert layer2.mean_delta == pytest.approx(float(after_layer2.double().mean() - before_layer2.double().mean()), abs=1e-5)
    assert layer2.max_delta == pytest.approx(float(after_layer2.max() - before_layer2.max()), abs=1e-5)
    # The modules inside the replaced block ran only in the baseline.
    assert "layer1.0.conv1" in comparison.baseline_only
    assert comparison.modules["layer1.0"].current_type == "Identity"
    # Modules before the edit did not move.
    assert comparison.modules["maxpool"].relative_l2 == 0.0


def test_compare_session_leaves_model_and_history_as_they_were():
    session = resnet18_session()
    history = EditHistory(session.editor)
    history.replace_with_identity("layer1.0")
    history.replace_with_identity("fc")
    history.undo()  # fc back; the redo stack holds it
    before = snapshot(session.model)
    compare_session(session)
    assert_unchanged(session.model, before)
    assert session.replaced == ["layer1.0"]
    history.redo()  # the Edit objects still fit the model: the same Identity goes back in
    assert session.replaced == ["layer1.0", "fc"]
    # The two runs it made are the session's baseline and last run.
    assert session.baseline_run is not None and session.baseline_run.records["layer1.0"].type_name == "BasicBlock"
    assert session.last_run is not None and session.last_run.records["layer1.0"].type_name == "Identity"


def test_sampled_distance_is_close_to_the_exact_one():
    session = resnet18_session()
    session.replace_with_identity("layer1.0")
    exact = compare_session(session)
    sampled = compare_session(session, sample_size=1000)
    assert exact is not None and sampled is not None
    # layer1's output has 16384 values: 1000 of them, every 17th, estimate the distance.
    assert exact.modules["layer1"].distance_exact and not sampled.modules["layer1"].distance_exact
    assert sampled.modules["layer1"].relative_l2 == pytest.approx(exact.modules["layer1"].relative_l2, rel=0.1)


def test_compare_runs_without_kept_outputs_has_stat_deltas_only():
    session = resnet18_session()
    baseline = session.run()
    session.replace_with_identity("layer1.0")
    current = session.run()
    comparison = compare_runs(baseline, current)
    assert comparison.output.relative_l2 is None
    layer2 = comparison.modules["layer2"]
    assert layer2.relative_l2 is None and layer2.mean_delta is not None and layer2.mean_delta != 0.0


def test_capture_outputs_copies_before_an_inplace_op_and_removes_its_hooks():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(inplace=True))
    x = torch.randn(2, 4, generator=torch.Generator().manual_seed(1))
    before = snapshot(model)
    with capture_outputs(model) as outputs, torch.no_grad():
        model(x)
        linear = model[0](x)
    # The in-place ReLU overwrote the Linear's output tensor; the copy has the values it returned.
    assert torch.equal(outputs.samples["0"], linear.flatten())
    assert outputs.samples["0"].min() < 0
    assert outputs.exact["0"] and outputs.shapes["0"] == [[2, 4]]
    assert_unchanged(model, before)


def test_distance_of_edge_cases():
    a = torch.tensor([3.0, 4.0])
    same = distance_of(a, a.clone())
    assert same.relative_l2 == 0.0 and same.cosine == pytest.approx(1.0)
    opposite = distance_of(a, -a)
    assert opposite.relative_l2 == pytest.approx(2.0) and opposite.cosine == pytest.approx(-1.0)
    assert distance_of(a, torch.zeros(3)).relative_l2 is None
    zeros = distance_of(torch.zeros(2), torch.zeros(2))
    assert zeros.relative_l2 == 0.0 and zeros.cosine is None
    assert distance_of(torch.zeros(2), a).relative_l2 is None
    assert distance_of(a, torch.tensor([float("nan"), 1.0])).relative_l2 is None
    assert distance_of([], []).relative_l2 is None
    # Structures: tensors joined in order, shapes must agree one by one.
    pair = distance_of((a, a), (a, -a))
    assert pair.relative_l2 == pytest.approx(float((2 * a).norm() / torch.cat([a, a]).norm()))
    assert distance_of((a, a), (a,)).cosine is None


def test_a_failing_edit_names_where_and_leaves_out_what_did_not_return():
    session = resnet18_session()
    session.replace_with_identity("layer2")
    comparison = compare_session(session)
    assert comparison is not None
    assert comparison.current_error is not None and comparison.current_error.startswith("layer3.0.conv1 (Conv2d)")
    assert comparison.baseline_error is None
    assert comparison.output_shapes == [] and comparison.output.relative_l2 is None
    # The failing conv and the modules around it never returned an output in the edited run.
    for name in ("", "layer3", "layer3.0", "layer3.0.conv1"):
        assert name not in comparison.modules and name in comparison.baseline_only
    assert comparison.modules["layer1"].relative_l2 == 0.0
    assert comparison.modules["layer2"].shape_changed  # Identity passes 64 channels on, not 128
