"""Identity edits: replace, restore, undo, redo, restore all; refusals; lossless by property."""

from __future__ import annotations

import functools

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from torch import nn

from inspector.core.edits import ModelEditor
from inspector.core.errors import DeviceError, EditError
from inspector.core.loading import LoadedModel, build_torchvision
from inspector.core.session import Session
from tests.helpers import EditHistory, assert_unchanged, snapshot, trace
from tests.models import Nested, TinyCNN

X = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def test_replace_fc_gives_the_512_feature_vector(resnet18):
    fc = resnet18.fc
    editor = ModelEditor(resnet18)
    edit = editor.replace_with_identity("fc")
    assert edit.text == "Replace fc with Identity"
    assert type(resnet18.fc) is nn.Identity
    assert editor.replaced == ["fc"] and editor.original("fc") is fc
    with torch.no_grad():
        features = resnet18(X)
    assert features.shape == (1, 512)
    # The features are what resnet18 computes before its head: check against torch itself.
    with torch.no_grad():
        fc_out = fc(features)
        editor.restore("fc")
        assert torch.equal(resnet18(X), fc_out)


def test_restore_puts_back_the_very_same_object_and_output(resnet18):
    before = snapshot(resnet18)
    with torch.no_grad():
        expected = resnet18(X)
    layer = resnet18.layer3
    editor = ModelEditor(resnet18)
    editor.replace_with_identity("layer3")
    assert resnet18.layer3 is not layer
    editor.restore("layer3")
    assert resnet18.layer3 is layer
    with torch.no_grad():
        assert torch.equal(resnet18(X), expected)
    assert_unchanged(resnet18, before)


def test_undo_redo_history(resnet18):
    editor = EditHistory(ModelEditor(resnet18))
    assert not editor.can_undo and not editor.can_redo and editor.undo_text is None
    original = resnet18.layer4
    editor.replace_with_identity("layer4")
    identity = resnet18.layer4
    editor.replace_with_identity("avgpool")
    assert editor.undo_text == "Replace avgpool with Identity"
    editor.undo()
    assert editor.redo_text == "Replace avgpool with Identity" and editor.replaced == ["layer4"]
    editor.undo()
    assert resnet18.layer4 is original and editor.replaced == []
    assert not editor.can_undo and editor.can_redo
    editor.redo()
    assert resnet18.layer4 is identity, "redo puts back the same Identity object"
    # A new edit after an undo drops the redo history.
    editor.replace_with_identity("fc")
    assert not editor.can_redo
    assert editor.history == ["Replace layer4 with Identity", "Replace fc with Identity"]
    with pytest.raises(EditError, match="nothing to redo"):
        editor.redo()


def test_restore_all_and_its_undo(resnet18):
    before = snapshot(resnet18)
    editor = EditHistory(ModelEditor(resnet18))
    for path in ("layer1.0", "layer1", "layer2.1.conv2", "fc"):
        editor.replace_with_identity(path)
    identities = {p: resnet18.get_submodule(p) for p in ("layer1", "layer2.1.conv2", "fc")}
    edit = editor.restore_all()
    assert edit.text == "Restore all (4 layers)"
    assert editor.replaced == []
    assert_unchanged(resnet18, before)
    editor.undo()
    assert set(editor.replaced) == {"layer1.0", "layer1", "layer2.1.conv2", "fc"}
    for path, identity in identities.items():
        assert resnet18.get_submodule(path) is identity
    while editor.can_undo:
        editor.undo()
    assert_unchanged(resnet18, before)


def test_identity_takes_the_train_flag_of_what_it_replaces(resnet18):
    resnet18.layer2.train()
    editor = ModelEditor(resnet18)
    editor.replace_with_identity("layer2")
    editor.replace_with_identity("layer3")
    assert resnet18.layer2.training and not resnet18.layer3.training


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "root module cannot be replaced"),
        ("fc.weight", "'fc.weight' is a parameter, not a module; replace 'fc' instead"),
        ("bn1.running_mean", "is a buffer"),
        ("layer5", "no submodule 'layer5'"),
        ("layer1.9", "did you mean"),
        ("conv1.extra", "no submodule"),
        ("fc.", "no submodule"),
        (".fc", "no submodule"),
    ],
)
def test_refusals_add_nothing(resnet18, path, message):
    before = snapshot(resnet18)
    editor = ModelEditor(resnet18)
    with pytest.raises(EditError, match=message):
        editor.replace_with_identity(path)
    with pytest.raises(EditError):
        editor.restore(path)
    assert editor.replaced == []
    assert_unchanged(resnet18, before)


def test_edits_inside_a_replaced_module_are_refused(resnet18):
    editor = ModelEditor(resnet18)
    editor.replace_with_identity("layer1.0")
    editor.replace_with_identity("layer1")
    with pytest.raises(EditError, match="inside 'layer1'"):
        editor.replace_with_identity("layer1.1")
    with pytest.raises(EditError, match="restore 'layer1' first"):
        editor.restore("layer1.0")
    with pytest.raises(EditError, match="already replaced"):
        editor.replace_with_identity("layer1")
    with pytest.raises(EditError, match="not replaced"):
        editor.restore("layer2")


def test_torchscript_cannot_be_edited():
    torch.manual_seed(0)
    scripted = trace(TinyCNN().eval(), torch.randn(1, 3, 8, 8))
    names = [n for n, _ in scripted.named_modules()]
    editor = ModelEditor(scripted)
    assert editor.read_only
    with pytest.raises(EditError, match="TorchScript"):
        editor.replace_with_identity("features")
    with pytest.raises(EditError, match="TorchScript"):
        editor.restore_all()
    assert [n for n, _ in scripted.named_modules()] == names


def test_stashed_originals_follow_a_dtype_move(resnet18):
    editor = ModelEditor(resnet18)
    editor.replace_with_identity("layer4")
    editor.replace_with_identity("fc")
    resnet18.to(torch.float64)
    editor.move_stash(dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in editor.original("layer4").parameters())
    editor.restore_all()
    with torch.no_grad():
        out = resnet18(X.double())
    assert out.dtype == torch.float64 and out.shape == (1, 1000)


def test_a_restored_module_follows_the_model_even_without_move_stash():
    torch.manual_seed(0)
    model = Nested()
    editor = EditHistory(ModelEditor(model))
    editor.replace_with_identity("head")
    model.double()
    editor.undo()
    assert model.head.weight.dtype == torch.float64
    assert model(torch.randn(2, 4, dtype=torch.float64)).dtype == torch.float64


def test_session_move_to_moves_the_stash_and_refuses_absent_devices():
    session = Session(LoadedModel(build_torchvision("resnet18"), "torchvision:resnet18", "torchvision", "resnet18", "classification"))
    session.replace_with_identity("fc")
    stashed = session.editor.original("fc")
    session.move_to("cpu")
    assert stashed.weight.device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="available here: cpu"):
            session.move_to("cuda")
    assert session.device == torch.device("cpu")


# --------------------------------------------------------------------------- property: edits are lossless


@functools.cache
def _model(name: str) -> nn.Module:
    torch.manual_seed(0)
    if name == "resnet18":
        return build_torchvision("resnet18").eval()
    return {"nested": Nested, "tiny_cnn": TinyCNN}[name]().eval()


_INPUTS = {
    "resnet18": torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)),
    "nested": torch.randn(2, 4, generator=torch.Generator().manual_seed(1)),
    "tiny_cnn": torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(1)),
}
_BAD_PATHS = ["", "fc.weight", "nope", "head.bias", "blocks.0.9", "layer1.0.conv1.weight", "features.1.running_var"]


def _paths(name: str) -> list[str]:
    return [n for n, _ in _model(name).named_modules() if n] + _BAD_PATHS


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("replace"), st.integers(0, 10_000)),
        st.tuples(st.just("replace_parent"), st.integers(0, 10_000)),
        st.tuples(st.just("restore"), st.integers(0, 10_000)),
        st.tuples(st.just("restore_any"), st.integers(0, 10_000)),
        st.tuples(st.just("undo"), st.just(0)),
        st.tuples(st.just("redo"), st.just(0)),
        st.tuples(st.just("restore_all"), st.just(0)),
    ),
    max_size=14,
)


def _check_only_identities_were_added(model: nn.Module, editor: EditHistory, original: dict[str, nn.Module], attrs: dict[str, list[str]]) -> None:
    for name, module in model.named_modules(remove_duplicate=False):
        assert name in original, f"an edit added the module {name!r}"
        if module is not original[name]:
            assert isinstance(module, nn.Identity) and name in editor.replaced, name
        assert sorted(vars(original[name])) == attrs[name], f"{name} gained or lost an attribute"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["nested", "tiny_cnn"]), ops=_ops)
@example(name="nested", ops=[("replace", 2), ("replace_parent", 0), ("restore", 0)])
@example(name="nested", ops=[("replace", 2), ("replace_parent", 0), ("undo", 0), ("restore_all", 0), ("undo", 0), ("redo", 0)])
def test_any_edit_sequence_undoes_to_the_identical_small_model(name, ops):
    _check_sequence(name, ops)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops)
@example(ops=[("replace", 4), ("replace_parent", 0), ("restore", 0), ("restore_all", 0), ("undo", 0)])
def test_any_edit_sequence_undoes_to_the_identical_resnet18(ops):
    _check_sequence("resnet18", ops)


def _check_sequence(name: str, ops: list[tuple[str, int]]) -> None:
    model = _model(name)
    paths = _paths(name)
    original = dict(model.named_modules(remove_duplicate=False))
    attrs = {n: sorted(vars(m)) for n, m in original.items()}
    before = snapshot(model)
    with torch.no_grad():
        expected = model(_INPUTS[name])
    editor = EditHistory(ModelEditor(model))
    for op, index in ops:
        try:
            replaced = editor.replaced
            if op == "replace":
                editor.replace_with_identity(paths[index % len(paths)])
            elif op == "replace_parent" and replaced:
                # Nesting (a parent replaced over a replaced child) is where edits get subtle.
                parent = replaced[index % len(replaced)].rpartition(".")[0]
                editor.replace_with_identity(parent or paths[index % len(paths)])
            elif op == "restore" and replaced:
                editor.restore(replaced[index % len(replaced)])
            elif op in ("restore", "restore_any", "replace_parent"):
                editor.restore(paths[index % len(paths)])
            else:
                getattr(editor, op)()
        except EditError:
            pass  # a refusal; it must have changed nothing, which the checks below see
        _check_only_identities_were_added(model, editor, original, attrs)
        for path in editor.replaced:
            outer = [p for p in editor.replaced if path.startswith(p + ".")]
            if not outer:
                assert isinstance(model.get_submodule(path), nn.Identity)
    if editor.replaced:
        editor.restore_all()
        assert dict(model.named_modules(remove_duplicate=False)) == original
        editor.undo()
    while editor.can_undo:
        editor.undo()
    assert editor.replaced == []
    assert_unchanged(model, before)
    with torch.no_grad():
        assert torch.equal(model(_INPUTS[name]), expected)


def test_an_edit_reverted_out_of_order_is_refused_and_changes_nothing(resnet18):
    before = snapshot(resnet18)
    editor = ModelEditor(resnet18)
    replaced = editor.replace_with_identity("fc")
    restored = editor.restore("fc")
    with pytest.raises(EditError, match="undo and redo the later edits first"):
        editor.revert(replaced)  # the restore is still in place
    assert editor.replaced == [] and isinstance(resnet18.fc, nn.Linear)
    editor.revert(restored)
    editor.revert(replaced)
    assert_unchanged(resnet18, before)
