"""The input a model declares, before any guess: timm's pretrained_cfg, a Hugging Face model's own description.

timm and transformers are optional extras (the ``[test]`` extra installs
them); these tests skip without them. Models are built from small configs,
with no weights and no download.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from inspector.core.loading import LoadedModel
from inspector.core.session import Session
from tests import declared_models
from tests.helpers import assert_unchanged, run_report, snapshot


def _session(model: torch.nn.Module, source: str) -> Session:
    return Session(LoadedModel(model.eval(), source, "callable"))


@pytest.mark.slow
@pytest.mark.parametrize("name", declared_models.TIMM)
def test_fifty_timm_architectures_run_on_the_input_they_declare(name):
    pytest.importorskip("timm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = declared_models.timm_model(name)
    session = _session(model, f"timm:{name}")
    spec = session.require_input()
    assert spec.shape == (1, *model.pretrained_cfg["input_size"])
    assert spec.source == "declared by timm (pretrained_cfg['input_size'])"
    run = session.run(meta=True)  # shapes on meta: fifty real runs would take minutes on two cores
    assert run.ok, run.error
    assert run.output_shapes == [[1, model.num_classes]]


def test_timm_declares_sizes_other_than_224():
    pytest.importorskip("timm")
    sizes = {}
    for name in ("tinynet_e", "resnet10t", "mobilevit_xxs", "efficientnet_b3", "vit_tiny_patch16_384"):
        model = declared_models.timm_model(name)
        sizes[name] = _session(model, name).require_input().shape[-1]
    assert sizes == {"tinynet_e": 106, "resnet10t": 176, "mobilevit_xxs": 256, "efficientnet_b3": 288,
                     "vit_tiny_patch16_384": 384}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tinynet_e", "mobilevit_xxs"])
def test_timm_models_really_run_with_no_input_flag(capsys, name):
    pytest.importorskip("timm")
    code, report, err = run_report([f"tests.declared_models:{name}"], capsys)
    assert code == 0, err
    assert report["input"]["source"] == "declared by timm (pretrained_cfg['input_size'])"
    assert report["output"]["shapes"] == [[1, 1000]]


HF_EXPECTED = {
    "bert": {"input_ids": [1, 16], "attention_mask": [1, 16], "token_type_ids": [1, 16]},
    "gpt2": {"input_ids": [1, 16], "attention_mask": [1, 16], "token_type_ids": [1, 16]},
    "llama": {"input_ids": [1, 16], "attention_mask": [1, 16]},
    "t5": {"input_ids": [1, 16], "attention_mask": [1, 16], "decoder_input_ids": [1, 4]},
    "whisper": {"input_features": [1, 16, 60], "decoder_input_ids": [1, 4]},
    "vit": {"pixel_values": [1, 3, 32, 32]},
    "clip_vision": {"pixel_values": [1, 3, 32, 32]},
    "wav2vec2": {"input_values": [1, 16000]},
}


@pytest.mark.parametrize("name", declared_models.HUGGING_FACE)
def test_hugging_face_models_run_with_no_input_flag(capsys, name):
    pytest.importorskip("transformers")
    code, report, err = run_report([f"tests.declared_models:{name}"], capsys)
    assert code == 0, err
    inputs = report["input"]["inputs"]
    assert {entry["name"]: entry["shape"] for entry in inputs} == HF_EXPECTED[name]
    assert all(entry["source"].startswith("declared by the Hugging Face model") for entry in inputs)
    fills = {entry["name"]: entry["fill"] for entry in inputs}
    for ids in ("input_ids", "decoder_input_ids"):
        if ids in fills:
            assert fills[ids] == "randint:0,99"  # the config's vocabulary
    assert fills.get("attention_mask", "ones") == "ones" and fills.get("token_type_ids", "zeros") == "zeros"


def test_a_hugging_face_run_has_the_shapes_of_a_plain_forward_and_changes_nothing():
    pytest.importorskip("transformers")
    from inspector.core.inputs import make_call
    from inspector.core.probe import shapes_of

    model = declared_models.t5().eval()
    session = _session(model, "hf:t5")
    before = snapshot(model)
    run = session.run()
    assert run.ok, run.error
    assert_unchanged(model, before)
    args, kwargs = make_call(session.require_inputs())
    with torch.no_grad():
        assert run.output_shapes == shapes_of(model(*args, **kwargs))


def test_a_hugging_face_model_in_half_precision_puts_its_weights_back():
    pytest.importorskip("transformers")
    model = declared_models.bert().eval()
    session = _session(model, "hf:bert")
    session.dtype = "bfloat16"
    before = snapshot(model)
    run = session.run(keep_output=True)
    assert run.ok, run.error
    assert run.output.last_hidden_state.dtype == torch.bfloat16
    assert_unchanged(model, before)


def test_a_models_own_dummy_inputs_where_its_main_input_is_not_one_the_tool_knows():
    from inspector.core.input_defaults import hugging_face_input

    class Config:
        vocab_size = 20

        def to_dict(self) -> dict:
            return {}

    class Tagger(torch.nn.Module):
        main_input_name = "tokens"
        config = Config()

        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(20, 4)

        @property
        def dummy_inputs(self) -> dict:
            return {"tokens": torch.zeros(2, 5, dtype=torch.long)}

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return self.embed(tokens)

    inputs = hugging_face_input(Tagger())
    (spec,) = inputs.specs()
    assert (spec.shape, spec.dtype, spec.fill) == ((2, 5), "int64", "randint:0,20")
    assert spec.source.endswith("dummy_inputs")
    session = _session(Tagger(), "tagger")
    assert session.run().output_shapes == [[2, 5, 4]]
