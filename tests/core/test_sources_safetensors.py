"""``.safetensors`` state_dicts, loaded with ``--arch`` from every kind of source."""

from __future__ import annotations

import pytest
import torch
import torchvision

from inspector.core.errors import ArchitectureRequired, ModelLoadError
from inspector.core.loading import load_model
from tests.helpers import ROOT
from tests.models import TinyCNN

safetensors_torch = pytest.importorskip("safetensors.torch")


def _save(state: dict[str, torch.Tensor], path) -> str:
    safetensors_torch.save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return str(path)


def _assert_loaded(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    mine = module.state_dict()
    for key, tensor in state.items():
        assert torch.equal(mine[key], tensor), key


def test_torchvision_arch(tmp_path):
    torch.manual_seed(1)
    state = torchvision.models.resnet18(num_classes=10).state_dict()
    path = _save(state, tmp_path / "r18.safetensors")
    with pytest.raises(ArchitectureRequired, match="--arch"):
        load_model(path)
    loaded = load_model(path, arch="resnet18")
    assert loaded.kind == "state_dict" and loaded.module.fc.out_features == 10
    _assert_loaded(loaded.module, state)


def test_timm_arch_and_a_key_mismatch_message(tmp_path):
    timm = pytest.importorskip("timm")
    torch.manual_seed(1)
    state = timm.create_model("resnet18", pretrained=False).state_dict()
    path = _save(state, tmp_path / "timm.safetensors")
    loaded = load_model(path, arch="timm:resnet18")
    _assert_loaded(loaded.module, state)
    with pytest.raises(ModelLoadError, match=r"does not fit timm:resnet34: missing \d+ keys .*is --arch right"):
        load_model(path, arch="timm:resnet34")


def test_hf_arch_with_tied_weights_stored_once(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = {"n_layer": 2, "n_embd": 32, "n_head": 2}
    torch.manual_seed(1)
    model = transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.for_model("gpt2", **config))
    # safetensors stores a shared tensor once: lm_head.weight is left out, as save_pretrained does.
    state = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}
    path = _save(state, tmp_path / "gpt2.safetensors")
    loaded = load_model(path, arch="hf:gpt2", hf_class="AutoModelForCausalLM", config=config)
    _assert_loaded(loaded.module, state)
    assert loaded.module.lm_head.weight is loaded.module.transformer.wte.weight
    ids = torch.randint(0, 100, (1, 5))
    with torch.no_grad():
        assert torch.equal(loaded.module(ids).logits, model.eval()(ids).logits)


def test_callable_arch(tmp_path):
    torch.manual_seed(1)
    state = TinyCNN().state_dict()
    path = _save(state, tmp_path / "tiny.safetensors")
    loaded = load_model(path, arch=f"{ROOT / 'tests' / 'models.py'}:TinyCNN")
    _assert_loaded(loaded.module, state)
    assert not any(t.is_meta for t in loaded.module.state_dict().values())


def test_a_garbled_safetensors_file_is_one_clear_error(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\xff" * 64)
    with pytest.raises(ModelLoadError, match="not a readable safetensors file"):
        load_model(str(path), arch="resnet18")
