"""``hf:...``: a model type's default config, a local folder, --hf-class, --config, the memory guard, meta."""

from __future__ import annotations

import json

import pytest
import torch

from inspector.core.errors import ModelLoadError
from inspector.core.inputs import InputSpec
from inspector.core.loading import load_model
from inspector.core.session import Session
from tests.helpers import assert_one_line_error, run_main, run_subprocess

transformers = pytest.importorskip("transformers")

SMALL_BERT = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64}
IDS = torch.randint(0, 100, (1, 7), generator=torch.Generator().manual_seed(0))


def test_model_type_builds_from_its_default_config_with_overrides():
    loaded = load_model("hf:bert", config=SMALL_BERT)
    assert loaded.kind == "hf" and loaded.source == "hf:bert"
    model = loaded.module
    assert type(model).__name__ == "BertModel" and not model.training
    assert model.config.num_hidden_layers == 2 and len(model.encoder.layer) == 2
    torch.manual_seed(0)
    reference = transformers.AutoModel.from_config(transformers.AutoConfig.for_model("bert", **SMALL_BERT)).eval()
    for (name, mine), (_, theirs) in zip(model.state_dict().items(), reference.state_dict().items(), strict=True):
        assert torch.equal(mine, theirs), name
    with torch.no_grad():
        assert torch.equal(model(IDS).last_hidden_state, reference(IDS).last_hidden_state)


def test_hf_class_picks_the_head():
    loaded = load_model("hf:gpt2", hf_class="AutoModelForCausalLM", config={"n_layer": 2, "n_embd": 32, "n_head": 2})
    assert type(loaded.module).__name__ == "GPT2LMHeadModel"
    with pytest.raises(ModelLoadError, match="--hf-class 'os' is not a transformers model class"):
        load_model("hf:gpt2", hf_class="os")


def test_local_folder_with_config_and_safetensors_weights(tmp_path):
    torch.manual_seed(3)
    model = transformers.AutoModel.from_config(transformers.AutoConfig.for_model("bert", **SMALL_BERT)).eval()
    model.save_pretrained(tmp_path / "mine")
    assert list((tmp_path / "mine").glob("*.safetensors"))
    loaded = load_model(f"hf:{tmp_path / 'mine'}")
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[name], tensor), name
    # A folder with only config.json: random weights.
    config_only = tmp_path / "config_only"
    config_only.mkdir()
    (config_only / "config.json").write_text((tmp_path / "mine" / "config.json").read_text())
    random = load_model(f"hf:{config_only}")
    assert not torch.equal(random.module.embeddings.word_embeddings.weight, model.embeddings.word_embeddings.weight)
    assert any("random weights" in note for note in random.notes)


def test_hub_id_from_the_local_cache(tmp_path, monkeypatch):
    # The cache layout huggingface_hub writes: models--org--name/snapshots/<rev>/.
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    snapshot = tmp_path / "models--someorg--tiny-bert" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "bert", **SMALL_BERT}))
    loaded = load_model("hf:someorg/tiny-bert")
    assert loaded.source == "hf:someorg/tiny-bert" and len(loaded.module.encoder.layer) == 2
    with pytest.raises(ModelLoadError, match="not in the local Hugging Face cache"):
        load_model("hf:someorg/absent")


def test_unknown_model_type_suggests():
    with pytest.raises(ModelLoadError, match="did you mean.*bert"):
        load_model("hf:bertt")


def test_a_default_config_too_big_is_refused_before_building_and_builds_on_meta():
    with pytest.raises(ModelLoadError, match=r"hf:llama would take .* GiB .*--meta.*num_hidden_layers"):
        load_model("hf:llama")
    loaded = load_model("hf:llama", meta=True)
    tensors = list(loaded.module.parameters()) + list(loaded.module.buffers())
    assert all(t.is_meta for t in tensors)
    assert sum(p.numel() for p in loaded.module.parameters()) > 6e9


@pytest.mark.parametrize("model_type", ["llama", "mistral", "qwen2"])
def test_decoders_with_their_attention_mask_run_on_meta_with_the_shapes_of_a_real_run(model_type):
    """The natural input has an all-ones attention_mask, whose values Hugging Face reads; --meta still runs."""
    config = {"num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
              "num_key_value_heads": 1, "vocab_size": 100}
    session = Session(load_model(f"hf:{model_type}", config=config))
    assert "attention_mask" in session.require_inputs().kwargs
    meta = session.run(meta=True)
    real = session.run()
    assert meta.ok, meta.error
    assert real.ok, real.error
    assert {name: r.first.output_shapes for name, r in meta.records.items() if r.calls} == {
        name: r.first.output_shapes for name, r in real.records.items() if r.calls
    }


@pytest.mark.parametrize("meta_build", [True, False])
def test_tied_weights_run_on_meta(meta_build):
    # GPT-2's lm_head is wte: built on meta, or real weights run through meta stand-ins.
    loaded = load_model("hf:gpt2", meta=meta_build, hf_class="AutoModelForCausalLM",
                        config={"n_layer": 2, "n_embd": 32, "n_head": 2})
    assert loaded.module.lm_head.weight is loaded.module.transformer.wte.weight
    session = Session(loaded)
    session.set_input(InputSpec((1, 7), dtype="int64", fill="zeros"))
    run = session.run(meta=True)
    assert run.ok, run.error
    assert run.output_shapes == [[1, 7, 50257]]
    assert run.records["transformer.h.1"].first.output_shapes == [[1, 7, 32]]


def test_t5_tied_weights_build_on_meta():
    loaded = load_model("hf:t5", meta=True, hf_class="AutoModelForSeq2SeqLM")
    model = loaded.module
    assert model.shared.weight.is_meta and model.encoder.embed_tokens.weight is model.shared.weight


def test_report_of_an_hf_model_from_the_command_line(capsys):
    code, out, err = run_main(["report", "hf:gpt2", "--config", "n_layer=2", "--config", "n_embd=32",
                               "--config", "n_head=2", "--input-shape", "1,7", "--dtype", "int64", "--fill", "zeros"],
                              capsys)
    assert code == 0, err
    report = json.loads(out)
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers["h.0"]["output_shapes"] == [[1, 7, 32]] and layers["h.0"]["stats"] is not None


def test_bad_config_pair_is_one_line(capsys):
    code, _, err = run_main(["report", "hf:gpt2", "--config", "n_layer"], capsys)
    assert code == 2
    assert "KEY=VALUE" in assert_one_line_error(err)


@pytest.mark.parametrize(("package", "model", "extra"), [("timm", "timm:resnet18", "timm"), ("transformers", "hf:bert", "hf")])
def test_a_missing_extra_exits_2_naming_it(package, model, extra):
    # A fresh interpreter where the package cannot be imported, as on a machine without the extra.
    code = (
        f"import sys; sys.modules[{package!r}] = None\n"
        "from inspector.cli import main\n"
        f"sys.exit(main(['report', {model!r}, '--meta']))\n"
    )
    result = run_subprocess(["-c", code])
    assert result.returncode == 2, result.stderr
    line = assert_one_line_error(result.stderr)
    assert f"pip install 'model-inspector[{extra}]'" in line
