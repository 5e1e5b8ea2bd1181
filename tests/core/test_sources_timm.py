"""``timm:NAME``: built by name with random weights, on meta without allocating, listed by list-models."""

from __future__ import annotations

import pytest
import torch

from inspector.core.errors import ModelLoadError
from inspector.core.loading import classify_source, load_model
from inspector.core.session import Session
from tests.helpers import run_main

timm = pytest.importorskip("timm")


def test_timm_name_builds_the_model_timm_builds():
    loaded = load_model("timm:resnet18")
    assert loaded.kind == "timm" and loaded.source == "timm:resnet18"
    torch.manual_seed(0)
    reference = timm.create_model("resnet18", pretrained=False)
    # The same architecture, weights drawn from seed 0 as timm draws them.
    assert [n for n, _ in loaded.module.named_modules()] == [n for n, _ in reference.named_modules()]
    for (name, mine), (_, theirs) in zip(loaded.module.state_dict().items(), reference.state_dict().items(), strict=True):
        assert torch.equal(mine, theirs), name
    # Two loads agree, and the caller's random state is untouched.
    state = torch.random.get_rng_state()
    again = load_model("timm:resnet18")
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(again.module.fc.weight, loaded.module.fc.weight)


def test_timm_prefix_is_not_a_module_callable():
    assert classify_source("timm:resnet50") == "timm"
    assert classify_source("hf:bert") == "hf"


def test_timm_report_has_every_layer(capsys):
    session = Session.open("timm:resnet18")
    run = session.run()
    assert run.ok and run.output_shapes == [[1, 1000]]
    with torch.no_grad():
        x = session.make_inputs()[0]
        assert run.records["layer1"].first.output_shapes == [list(session.model.layer1(session.model.maxpool(session.model.act1(session.model.bn1(session.model.conv1(x))))).shape)]


def test_unknown_timm_name_suggests_close_ones():
    with pytest.raises(ModelLoadError, match=r"unknown timm model 'resnet5'.*did you mean .*resnet50"):
        load_model("timm:resnet5")


def test_timm_meta_allocates_nothing():
    loaded = load_model("timm:vit_base_patch16_224", meta=True)
    tensors = list(loaded.module.parameters()) + list(loaded.module.buffers())
    assert tensors and all(t.is_meta for t in tensors)
    session = Session(loaded)
    run = session.run(meta=True)
    assert run.ok and run.output_shapes == [[1, 1000]]


def test_list_models_source_timm(capsys):
    code, out, err = run_main(["list-models", "--source", "timm"], capsys)
    assert code == 0, err
    names = out.split()
    assert "timm:resnet50" in names and names == sorted(names) and len(names) == len(timm.list_models())
