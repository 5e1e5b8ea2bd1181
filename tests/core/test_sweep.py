"""The knockout sweep on resnet18 and on small models: what runs, what fails where, and nothing left changed."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from inspector.core.errors import EditError
from inspector.core.inputs import InputSpec
from inspector.core.loading import LoadedModel, build_torchvision
from inspector.core.session import Session
from inspector.core.sweep import BaselineFailed, candidates_of, sweep
from tests.helpers import assert_unchanged, snapshot
from tests.models import IdentityThenInplace, InplaceThenIdentity, SharedTwice, Tied, TinyCNN

SHAPE = (1, 3, 64, 64)


def resnet18_session() -> Session:
    session = Session.open("resnet18")
    session.set_input(InputSpec(SHAPE))
    return session


def own_session(model: nn.Module, shape: tuple[int, ...], dtype: str = "float32") -> Session:
    session = Session(LoadedModel(model.eval(), "test", "callable"))
    session.set_input(InputSpec(shape, dtype=dtype))
    return session


@pytest.fixture(scope="module")
def resnet18_sweep():
    """One full sweep of resnet18 on [1, 3, 64, 64], with the snapshot taken before it."""
    session = resnet18_session()
    before = snapshot(session.model)
    return session, before, sweep(session)


def test_resnet18_sweep_every_module_in_order(resnet18_sweep):
    session, _, result = resnet18_sweep
    names = [name for name, _ in session.model.named_modules() if name]
    assert [e.name for e in result.entries] == names
    assert result.complete and not result.cancelled
    assert result.baseline_output_shapes == [[1, 1000]]
    types = {name: type(m).__name__ for name, m in session.model.named_modules()}
    assert all(e.type_name == types[e.name] for e in result.entries)


def test_resnet18_layer2_fails_in_layer3_0_conv1(resnet18_sweep):
    _, _, result = resnet18_sweep
    layer2 = next(e for e in result.entries if e.name == "layer2")
    assert not layer2.ok
    assert layer2.error is not None and layer2.error.module == "layer3.0.conv1"
    assert "channels" in layer2.error.message
    assert layer2.output_shapes == [] and layer2.relative_l2 is None and layer2.cosine is None
    assert layer2.as_dict()["error"] == {"module": "layer3.0.conv1", "message": layer2.error.message}


def test_resnet18_every_batchnorm_and_relu_runs(resnet18_sweep):
    _, _, result = resnet18_sweep
    kept_shape = [e for e in result.entries if e.type_name in ("BatchNorm2d", "ReLU")]
    assert len(kept_shape) == 20 + 9  # 20 BatchNorm2d, one ReLU per block and the stem's
    for entry in kept_shape:
        assert entry.ok, entry
        assert entry.output_shapes == [[1, 1000]]
        assert entry.relative_l2 is not None and entry.cosine is not None


def test_resnet18_fc_entry_gives_features_and_null_distances(resnet18_sweep):
    _, _, result = resnet18_sweep
    fc = next(e for e in result.entries if e.name == "fc")
    assert fc.ok and fc.output_shapes == [[1, 512]]
    assert fc.relative_l2 is None and fc.cosine is None


def test_resnet18_layer1_0_distance_matches_torch(resnet18_sweep):
    _, _, result = resnet18_sweep
    entry = next(e for e in result.entries if e.name == "layer1.0")
    model = build_torchvision("resnet18").eval()  # the same seeded weights as the session's
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(x).double().flatten()
        model.layer1[0] = nn.Identity()
        after = model(x).double().flatten()
    assert entry.relative_l2 == pytest.approx(float((before - after).norm() / before.norm()), rel=1e-6)
    assert entry.cosine == pytest.approx(float(F.cosine_similarity(before, after, dim=0)), rel=1e-9)
    assert entry.relative_l2 > 0.01


def test_resnet18_sweep_leaves_the_model_exactly_as_it_was(resnet18_sweep):
    session, before, _ = resnet18_sweep
    assert_unchanged(session.model, before)
    assert session.replaced == []


def test_prefix_replay_gives_the_same_numbers_as_full_forwards():
    session = resnet18_session()
    fast = sweep(session, under="layer3")
    slow = sweep(session, under="layer3", reuse_prefix=False)
    assert fast.replayed_calls > 0 and slow.replayed_calls == 0
    assert [e.as_dict() for e in fast.entries] == [e.as_dict() for e in slow.entries]


@pytest.mark.parametrize(
    ("factory", "shape", "dtype"),
    [
        (TinyCNN, (2, 3, 8, 8), "float32"),
        (SharedTwice, (2, 4), "float32"),
        (Tied, (2, 5), "int64"),
        (IdentityThenInplace, (1, 3, 6, 6), "float32"),
        (InplaceThenIdentity, (1, 3, 6, 6), "float32"),
    ],
)
def test_prefix_replay_on_shared_tied_and_inplace_models(factory, shape, dtype):
    torch.manual_seed(0)
    session = own_session(factory(), shape, dtype)
    before = snapshot(session.model)
    fast = sweep(session)
    slow = sweep(session, reuse_prefix=False)
    assert [e.as_dict() for e in fast.entries] == [e.as_dict() for e in slow.entries]
    assert_unchanged(session.model, before)


def test_candidate_filters():
    model = build_torchvision("resnet18")
    assert candidates_of(model, only_types=["ReLU"]) == ["relu"] + [
        f"layer{i}.{j}.relu" for i in range(1, 5) for j in range(2)
    ]
    assert candidates_of(model, under="layer4.1") == [
        "layer4.1.conv1", "layer4.1.bn1", "layer4.1.relu", "layer4.1.conv2", "layer4.1.bn2",
    ]
    leaves = candidates_of(model, leaves=True)
    assert "layer1" not in leaves and "layer1.0.conv1" in leaves and "fc" in leaves
    assert candidates_of(model, under="layer2.0", only_types=["Conv2d"], leaves=True) == [
        "layer2.0.conv1", "layer2.0.conv2", "layer2.0.downsample.0",
    ]
    assert "layer1.0.conv1" not in candidates_of(model, skip=["layer1.0"])
    with pytest.raises(EditError, match="no module of type 'Conv3d'.*Conv2d"):
        candidates_of(model, only_types=["Conv3d"])
    with pytest.raises(EditError, match="did you mean 'layer4'"):
        candidates_of(model, under="layer44")


def test_sweep_keeps_existing_edits_and_skips_them():
    session = resnet18_session()
    session.replace_with_identity("fc")
    before = snapshot(session.model)
    result = sweep(session, under="layer4.1")
    assert result.baseline_output_shapes == [[1, 512]]
    assert all(e.ok and e.output_shapes == [[1, 512]] for e in result.entries)
    assert sweep(session, only_types=["Identity"]).candidates == []  # fc is already an Identity
    assert session.replaced == ["fc"] and type(session.model.fc).__name__ == "Identity"
    assert_unchanged(session.model, before)


def test_cancel_between_steps_and_inside_a_forward_restores_the_model():
    session = resnet18_session()
    before = snapshot(session.model)
    done: list[str] = []
    result = sweep(session, on_entry=lambda e: done.append(e.name), should_stop=lambda: len(done) >= 3)
    assert result.cancelled and not result.complete
    assert [e.name for e in result.entries] == done == ["conv1", "bn1", "relu"]
    assert_unchanged(session.model, before)

    asked = 0

    def stop_midway() -> bool:
        # True once the sweep is well into a later step's forward.
        nonlocal asked
        asked += 1
        return asked > 200

    result = sweep(session, should_stop=stop_midway)
    assert result.cancelled and 0 < len(result.entries) < len(result.candidates)
    assert_unchanged(session.model, before)
    assert session.replaced == []


def test_train_mode_sweep_leaves_batchnorm_statistics_alone():
    torch.manual_seed(0)
    session = own_session(TinyCNN(), (2, 3, 8, 8))
    session.mode = "train"
    before = snapshot(session.model)
    result = sweep(session)
    assert result.replayed_calls == 0  # replay is off in train mode
    assert any(e.ok for e in result.entries)
    assert_unchanged(session.model, before)
    # Two sweeps agree: each step started from the same buffers and random state.
    assert [e.as_dict() for e in sweep(session).entries] == [e.as_dict() for e in result.entries]


class Attention(nn.Module):
    """Self-attention: a module called with three arguments that returns a pair."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 1, batch_first=True)
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.attn(x, x, x)
        return self.out(h)


def test_a_module_called_with_several_arguments_is_knocked_out_as_deleting_it_would():
    # The Identity takes the three arguments and returns (query, None): the
    # model runs on as if `h = x`, and the distance is measured.
    torch.manual_seed(0)
    session = own_session(Attention(), (1, 3, 4))
    result = sweep(session, only_types=["MultiheadAttention"])
    (entry,) = result.entries
    assert entry.ok and entry.error is None, entry.error
    assert entry.output_shapes == [[1, 3, 2]] and entry.relative_l2 is not None and entry.relative_l2 > 0


def test_a_module_read_but_never_called_is_not_replayed_past():
    # MultiheadAttention uses out_proj.weight without calling out_proj: with
    # an Identity there its forward fails, and the replay must not hide that.
    torch.manual_seed(0)
    session = own_session(Attention(), (1, 3, 4))
    fast, slow = sweep(session), sweep(session, reuse_prefix=False)
    assert [e.as_dict() for e in fast.entries] == [e.as_dict() for e in slow.entries]
    out_proj = next(e for e in fast.entries if e.name == "attn.out_proj")
    assert not out_proj.ok and out_proj.error is not None and out_proj.error.module == "attn"
    assert "weight" in out_proj.error.message


def test_a_model_that_fails_on_its_input_has_no_baseline():
    session = resnet18_session()
    session.set_input(InputSpec((1, 4, 64, 64)))
    before = snapshot(session.model)
    with pytest.raises(BaselineFailed, match="conv1"):
        sweep(session)
    assert_unchanged(session.model, before)


def test_progress_reports_every_step():
    session = resnet18_session()
    seen: list[tuple[int, int]] = []
    result = sweep(session, under="layer4.0", on_progress=lambda done, total: seen.append((done, total)))
    total = len(result.candidates)
    assert seen == [(i, total) for i in range(1, total + 1)]


def test_a_sweep_in_bfloat16_runs_every_step_in_bfloat16_and_leaves_float32_weights():
    """--dtype: the weights run in the inputs' dtype at every step, and come back bit for bit."""
    session = Session(LoadedModel(TinyCNN(), "tiny", "callable"))
    session.set_input(InputSpec((2, 3, 16, 16)))
    session.dtype = "bfloat16"
    before = snapshot(session.model)
    result = sweep(session)
    assert_unchanged(session.model, before)
    x = session.make_inputs()[0]
    assert x.dtype == torch.bfloat16
    reference = copy.deepcopy(session.model).eval().to(torch.bfloat16)
    with torch.no_grad():
        full = reference(x).double().flatten()
        reference.features[3] = nn.Identity()
        cut = reference(x).double().flatten()
    entry = next(e for e in result.entries if e.name == "features.3")
    assert entry.ok and result.baseline_output_shapes == [[2, 4]]
    assert entry.relative_l2 == pytest.approx(float((full - cut).norm() / full.norm()), rel=1e-6)
    assert entry.relative_l2 > 0.01
