"""Identity that fits the call: removing a block equals deleting it from its ModuleList, to the last bit."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
import torch
from torch import nn

from inspector.core import probe
from inspector.core.edits import ModelEditor
from inspector.core.passthrough import PassThroughIdentity
from inspector.core.tree import build_tree
from tests.helpers import assert_unchanged, snapshot

IDS = torch.randint(0, 100, (2, 7), generator=torch.Generator().manual_seed(0))


def _main_tensor(output: Any) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    return output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]


def _assert_removal_equals_deletion(model: nn.Module, container: str, k: int, args: tuple[Any, ...]) -> None:
    """Replacing ``container.k`` with Identity gives the output of the model with block k deleted."""

    def call(m: nn.Module) -> Any:
        return m(*args)

    model.eval()
    deleted = copy.deepcopy(model)
    del deleted.get_submodule(container)[k]
    before = snapshot(model)
    with torch.no_grad():
        expected = call(deleted)
        full = call(model)
    original = model.get_submodule(f"{container}.{k}")
    editor = ModelEditor(model)
    edit = editor.replace_with_identity(f"{container}.{k}")
    stand_in = model.get_submodule(f"{container}.{k}")
    assert isinstance(stand_in, nn.Identity) and isinstance(stand_in, PassThroughIdentity)
    with torch.no_grad():
        removed = call(model)
    assert type(removed) is type(expected)
    assert torch.equal(_main_tensor(removed), _main_tensor(expected))
    assert not torch.equal(_main_tensor(removed), _main_tensor(full))  # the block did something
    # The probe runs it too, with a record for the Identity.
    run = probe.run(model, args)
    assert run.ok, run.error
    assert run.records[f"{container}.{k}"].type_name == "Identity"
    assert run.records[f"{container}.{k}"].calls
    # Undo puts the very same object back, weights untouched.
    editor.revert(edit)
    assert model.get_submodule(f"{container}.{k}") is original
    assert_unchanged(model, before)
    with torch.no_grad():
        assert torch.equal(_main_tensor(call(model)), _main_tensor(full))


def _hf(model_type: str, **config: Any) -> nn.Module:
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    return transformers.AutoModel.from_config(transformers.AutoConfig.for_model(model_type, **config))


@pytest.mark.parametrize("k", [0, 1])
def test_bert_layer_removed_equals_deleted(k):
    model = _hf("bert", num_hidden_layers=3, hidden_size=32, num_attention_heads=2, intermediate_size=64)
    _assert_removal_equals_deletion(model, "encoder.layer", k, (IDS,))


def test_gpt2_block_removed_equals_deleted():
    model = _hf("gpt2", n_layer=3, n_embd=32, n_head=2)
    _assert_removal_equals_deletion(model, "h", 1, (IDS,))


def test_llama_layer_removed_equals_deleted():
    model = _hf("llama", num_hidden_layers=3, hidden_size=32, num_attention_heads=2, num_key_value_heads=2,
                intermediate_size=64)
    _assert_removal_equals_deletion(model, "layers", 2, (IDS,))


def test_vit_layer_removed_equals_deleted():
    model = _hf("vit", num_hidden_layers=3, hidden_size=32, num_attention_heads=2, intermediate_size=64,
                image_size=32, patch_size=8)
    container = "layers" if hasattr(model, "layers") else "encoder.layer"
    images = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    _assert_removal_equals_deletion(model, container, 1, (images,))


def test_t5_block_hands_the_position_bias_on():
    # A T5 block returns (hidden, position_bias, ...): the stand-in hands the bias it was given on.
    model = _hf("t5", num_layers=3, d_model=32, num_heads=2, d_ff=64, d_kv=16)

    def call(m: nn.Module) -> Any:
        return m(input_ids=IDS, decoder_input_ids=IDS)

    deleted = copy.deepcopy(model).eval()
    del deleted.encoder.block[1]
    model.eval()
    ModelEditor(model).replace_with_identity("encoder.block.1")
    with torch.no_grad():
        assert torch.equal(call(model).last_hidden_state, call(deleted).last_hidden_state)
    assert "argument" in model.encoder.block[1].note


@pytest.mark.parametrize("k", [0, 2])
def test_transformer_encoder_layer_removed_equals_deleted(k):
    torch.manual_seed(0)
    model = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 2, 64, batch_first=True), 3, enable_nested_tensor=False)
    x = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(2))
    _assert_removal_equals_deletion(model, "layers", k, (x,))


def test_transformer_encoder_reads_the_first_layer_through_the_identity():
    # TransformerEncoder reads layers[0].self_attn before running any layer
    # (its fast path); with a padding mask the nested-tensor path runs too.
    torch.manual_seed(0)
    model = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 2, 64, batch_first=True), 3).eval()
    x = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(2))
    mask = torch.tensor([[False] * 5, [False, False, False, True, True]])
    deleted = copy.deepcopy(model)
    del deleted.layers[0]
    ModelEditor(model).replace_with_identity("layers.0")
    with torch.no_grad():
        assert torch.equal(model(x, src_key_padding_mask=mask), deleted(x, src_key_padding_mask=mask))
        assert torch.equal(model(x), deleted(x))


class _Recurrent(nn.Module):
    def __init__(self, hx: bool) -> None:
        super().__init__()
        self.rnn = nn.LSTM(8, 8, batch_first=True)
        self.head = nn.Linear(8, 3)
        self.hx = hx

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.hx:
            state = (torch.full((1, x.shape[0], 8), 0.5), torch.full((1, x.shape[0], 8), -0.5))
            out, (h, c) = self.rnn(x, state)
        else:
            out, (h, c) = self.rnn(x)
        return self.head(out[:, -1] + h[-1] + c[-1])


def test_lstm_removed_gives_its_input_and_the_initial_state():
    model = _Recurrent(hx=False).eval()
    ModelEditor(model).replace_with_identity("rnn")
    x = torch.randn(2, 4, 8)
    out, (h, c) = model.rnn(x)
    assert out is x and h.shape == c.shape == (1, 2, 8) and not h.any() and not c.any()
    with torch.no_grad():
        assert torch.equal(model(x), model.head(x[:, -1]))
    assert "(input, state)" in model.rnn.note


def test_lstm_removed_hands_the_given_state_on():
    model = _Recurrent(hx=True).eval()
    ModelEditor(model).replace_with_identity("rnn")
    x = torch.randn(2, 4, 8)
    with torch.no_grad():
        assert torch.equal(model(x), model.head(x[:, -1] + 0.5 - 0.5))


def test_a_shape_changing_block_still_fails_at_its_first_consumer():
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(10, 5)

        def forward(self, x: torch.Tensor, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
            y = self.fc(x) * scale
            return y, y.sum()

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block = Block()
            self.head = nn.Linear(5, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y, _ = self.block(x, scale=2.0)
            return self.head(y)

    model = Model().eval()
    ModelEditor(model).replace_with_identity("block")
    run = probe.run(model, (torch.randn(3, 10),))
    assert run.error is not None and run.error.module == "head"


def test_tree_and_repr_say_identity_with_a_note():
    model = _Recurrent(hx=False).eval()
    ModelEditor(model).replace_with_identity("rnn")
    model(torch.randn(1, 2, 8))
    node = build_tree(model, ["rnn"]).find("rnn")
    assert node is not None and node.type_name == "Identity" and node.replaced
    assert "pass-through" in node.extra_repr
    assert repr(model.rnn).startswith("Identity(pass-through")
    assert model.rnn.state_dict() == {}  # the removed weights are not the model's


def test_a_model_with_a_stand_in_pickles_without_the_original():
    model = _Recurrent(hx=False).eval()
    ModelEditor(model).replace_with_identity("rnn")
    x = torch.randn(2, 4, 8)
    expected = model(x)
    copy_ = pickle.loads(pickle.dumps(model))  # noqa: S301 - the bytes were pickled on the line itself
    assert copy_.rnn.stands_in_for is None
    assert torch.equal(copy_(x), expected)  # the learned structure travelled with it


def test_torch_leaf_layers_get_a_plain_identity(resnet18):
    editor = ModelEditor(resnet18)
    editor.replace_with_identity("fc")
    editor.replace_with_identity("layer4")
    assert type(resnet18.fc) is nn.Identity
    assert isinstance(resnet18.layer4, PassThroughIdentity) and not resnet18.layer4.needs_pass_through
    out = resnet18(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 256)


def test_meta_run_of_a_real_model_with_a_removed_block():
    from inspector.core.inputs import InputSpec
    from inspector.core.shapes import meta_run

    model = _hf("gpt2", n_layer=3, n_embd=32, n_head=2).eval()
    ModelEditor(model).replace_with_identity("h.1")
    run = meta_run(model, InputSpec(shape=(2, 7), dtype="int64", fill="zeros"))
    assert run.ok, run.error
    assert run.records["h.1"].calls[0].output_shapes == [[2, 7, 32]]


def test_rebuild_script_makes_the_same_block_removal(tmp_path):
    pytest.importorskip("transformers")
    from inspector.core.export import export_session
    from inspector.core.inputs import InputSpec
    from inspector.core.session import Session
    from tests.helpers import run_subprocess

    session = Session.open("hf:gpt2", config={"n_layer": 3, "n_embd": 32, "n_head": 2})
    session.set_input(InputSpec((1, 8), dtype="int64", fill="zeros"))
    session.replace_with_identity("h.1")
    run = session.run()
    assert run.ok, run.error
    result = export_session(session, str(tmp_path / "out"), run=run)
    script = tmp_path / "out" / "rebuild_model.py"
    text = script.read_text()
    assert "PASS_THROUGH = ['h.1']" in text and "PassThroughIdentity(model.get_submodule(_path))" in text
    done = run_subprocess([str(script)], timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[[1, 8, 32]]"
    assert result.files


def test_the_cache_is_as_deletion_leaves_it():
    # Learning the call runs the block on a copy of the cache: the model's own cache
    # gets nothing for the removed layer, as when the layer is deleted.
    model = _hf("gpt2", n_layer=3, n_embd=32, n_head=2).eval()
    deleted = copy.deepcopy(model)
    del deleted.h[1]
    ModelEditor(model).replace_with_identity("h.1")
    with torch.no_grad():
        mine = model(IDS, use_cache=True).past_key_values
        theirs = deleted(IDS, use_cache=True).past_key_values
    assert len(mine.layers) == len(theirs.layers) == 3
    for layer, (a, b) in enumerate(zip(mine.layers, theirs.layers, strict=True)):
        keys_a, keys_b = getattr(a, "keys", None), getattr(b, "keys", None)
        assert (keys_a is None) == (keys_b is None), layer
        if keys_a is not None:
            assert torch.equal(keys_a, keys_b) and torch.equal(a.values, b.values), layer


def test_learning_the_call_draws_no_random_numbers():
    # In train mode dropout draws from the generator: the learning run must not,
    # or everything after the Identity would differ from the deleted model.
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.drop = nn.Dropout(0.5)

        def forward(self, x: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
            y = self.drop(self.fc(x)) * scale
            return y, y.mean()

    stand_in = PassThroughIdentity(Block().train())
    torch.manual_seed(0)
    x = torch.randn(2, 4)
    out, extra = stand_in(x, 2.0)
    assert out is x and extra is None and stand_in._learn_error is None
    after_learning = torch.rand(3)
    torch.manual_seed(0)
    torch.randn(2, 4)
    assert torch.equal(after_learning, torch.rand(3))


class _Scaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        return self.lin(x) * scale


class _SharedBlock(nn.Module):
    """One block registered twice and called at both places, with a keyword at the first."""

    def __init__(self) -> None:
        super().__init__()
        self.a = _Scaled()
        self.b = self.a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x, scale=2.0))


def test_learning_the_call_is_not_a_call_of_a_block_still_registered_elsewhere():
    """Cut at ``a``, the block still runs at ``b`` once: the fake learning call is seen by no hook."""
    model = _SharedBlock().eval()
    seen: list[str] = []
    model.b.register_forward_hook(lambda *_: seen.append("user hook"))
    ModelEditor(model).replace_with_identity("a")
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    run = probe.run(model, (x,))
    assert run.error is None
    assert len(run.records["b"].calls) == len(run.records["b.lin"].calls) == 1
    assert seen == ["user hook"]  # the model's own hook saw the real call only
    with torch.no_grad():
        expected = model.b(x)
    assert torch.equal(probe.run(model, (x,), keep_output=True).output, expected)
