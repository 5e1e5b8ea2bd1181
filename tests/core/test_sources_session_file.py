"""Session files of hf: models keep --hf-class and --config; what a session file may ask of transformers is checked."""

from __future__ import annotations

import json

import pytest
import torch

from inspector.core.loading import load_model
from inspector.core.session import Session
from inspector.core.session_file import SessionFileError, open_session, save_session

transformers = pytest.importorskip("transformers")

SMALL_GPT2 = {"n_layer": 2, "n_embd": 32, "n_head": 2}


def _saved(tmp_path, session: Session) -> tuple[str, dict]:
    path = str(tmp_path / "s.inspector.json")
    save_session(session, path)
    with open(path, encoding="utf-8") as stream:
        return path, json.load(stream)


def test_an_hf_session_reopens_with_its_class_and_config(tmp_path):
    session = Session(load_model("hf:gpt2", hf_class="AutoModelForCausalLM", config=SMALL_GPT2))
    path, data = _saved(tmp_path, session)
    assert data["model"]["hf_class"] == "AutoModelForCausalLM" and data["model"]["config"] == SMALL_GPT2
    reopened, problems = open_session(path)
    assert problems == []
    model = reopened.model
    assert type(model).__name__ == "GPT2LMHeadModel" and model.config.n_layer == 2 and model.config.n_embd == 32
    for (name, mine), (_, theirs) in zip(model.state_dict().items(), session.model.state_dict().items(), strict=True):
        assert torch.equal(mine, theirs), name  # random weights from the same seed: the same model


def test_a_state_dict_session_into_an_hf_architecture_keeps_its_config(tmp_path):
    from safetensors.torch import save_file

    source = load_model("hf:gpt2", hf_class="AutoModelForCausalLM", config=SMALL_GPT2).module
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items() if k != "lm_head.weight"}, str(weights))
    session = Session(load_model(str(weights), arch="hf:gpt2", hf_class="AutoModelForCausalLM", config=SMALL_GPT2))
    path, data = _saved(tmp_path, session)
    assert data["model"]["config"] == SMALL_GPT2
    reopened, problems = open_session(path)
    assert problems == [] and reopened.loaded.kind == "state_dict"
    assert torch.equal(reopened.model.transformer.wte.weight, source.transformer.wte.weight)


def _rewrite(path: str, **model_fields: object) -> None:
    with open(path, encoding="utf-8") as stream:
        data = json.load(stream)
    data["model"].update(model_fields)
    with open(path, "w", encoding="utf-8") as stream:
        json.dump(data, stream)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"config": {"trust_remote_code": True}}, "configuration fields only, not 'trust_remote_code'"),
        ({"config": {"_name_or_path": "x"}}, "configuration fields only"),
        ({"config": {"revision": "main"}}, "configuration fields only"),
        ({"config": ["n_layer"]}, "model.config is a list"),
        ({"hf_class": "os.system"}, "is not a class name"),
        ({"hf_class": 3}, "model.hf_class is a number"),
    ],
)
def test_a_session_file_may_not_ask_transformers_for_code_or_other_files(tmp_path, fields, says):
    session = Session(load_model("hf:gpt2", config=SMALL_GPT2))
    path, _ = _saved(tmp_path, session)
    _rewrite(path, **fields)
    with pytest.raises(SessionFileError, match="refused|not a valid") as error:
        open_session(path)
    assert says in str(error.value)
