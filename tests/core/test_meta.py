"""Shapes on the meta device: no weights allocated, the same shapes as a real run."""

from __future__ import annotations

import pytest
import torch

from inspector.core.errors import MetaUnsupported
from inspector.core.inputs import InputSpec
from inspector.core.loading import list_models
from inspector.core.session import Session
from inspector.core.shapes import check_meta_supported, meta_run

CLASSIFIERS = [name for _, name in list_models("classification")]


def test_there_are_80_classifiers():
    assert len(CLASSIFIERS) == 80


@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_classifier_runs_on_meta(name):
    session = Session.open(name, meta=True)
    assert session.on_meta
    assert all(t.is_meta for t in list(session.model.parameters()) + list(session.model.buffers())), (
        "a weight was allocated"
    )
    run = session.run(meta=True)
    assert run.ok, f"{name}: {run.error}"
    assert run.output_shapes == [[1, 1000]]
    assert run.total_ms is None and not run.timed
    for record in run.records.values():
        for call in record.calls:
            assert call.stats is None and call.histogram is None


def test_vit_h_14_allocates_nothing():
    session = Session.open("vit_h_14", meta=True)
    tensors = list(session.model.parameters()) + list(session.model.buffers())
    assert sum(t.numel() for t in tensors) > 600_000_000  # the real model's 2.5 GB of float32
    assert all(t.is_meta for t in tensors)
    run = session.run(meta=True)
    assert run.ok and run.output_shapes == [[1, 1000]]
    assert run.records["encoder.layers.encoder_layer_0"].first.output_shapes == [[1, 257, 1280]]


def test_meta_shapes_equal_a_real_runs_shapes(resnet18):
    from inspector.core.loading import LoadedModel

    session = Session(LoadedModel(resnet18, "torchvision:resnet18", "torchvision", "resnet18", "classification"))
    session.replace_with_identity("layer3.1")
    session.set_input(InputSpec((2, 3, 96, 96)))
    real = session.run()
    meta = session.run(meta=True)
    assert meta.ok and real.ok
    assert {n: [c.output_shapes for c in r.calls] for n, r in meta.records.items()} == {
        n: [c.output_shapes for c in r.calls] for n, r in real.records.items()
    }
    # The live model was not moved to meta for the shapes pass.
    assert not any(p.is_meta for p in resnet18.parameters())


def test_detection_refused_on_meta_with_advice():
    with pytest.raises(MetaUnsupported, match="run without --meta"):
        check_meta_supported("detection")
    session = Session.open("fasterrcnn_mobilenet_v3_large_320_fpn", meta=True)
    with pytest.raises(MetaUnsupported, match="detection models cannot run on the meta device"):
        session.run(meta=True)


def test_torchscript_refused_on_meta():
    with pytest.raises(MetaUnsupported, match="TorchScript"):
        check_meta_supported(None, read_only=True)


def test_a_model_that_reads_values_says_meta_cannot():
    session = Session.open("tests.models:calls_item")
    session.set_input(InputSpec((2, 4)))
    run = session.run(meta=True)
    assert not run.ok
    assert "run without --meta" in run.error.message
    assert run.error.module == ""
    # A real run of the same model works.
    assert session.run().ok


def test_meta_run_of_a_failing_edit_points_at_the_module(resnet18):
    from inspector.core.edits import ModelEditor

    ModelEditor(resnet18).replace_with_identity("layer2")
    run = meta_run(resnet18, InputSpec((1, 3, 224, 224)))
    assert run.error.module == "layer3.0.conv1"
    assert run.error.input_shapes == [[1, 64, 56, 56]]
    assert torch.is_tensor(resnet18.fc.weight) and not resnet18.fc.weight.is_meta


def test_a_meta_run_leaves_a_module_registered_twice_with_its_own_weights():
    from inspector.core.inputs import InputSpec
    from inspector.core.shapes import meta_run
    from tests.models import SharedTwice

    torch.manual_seed(0)
    model = SharedTwice().eval()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    run = meta_run(model, InputSpec((2, 4)))
    assert run.error is None and run.output_shapes == [[2, 2]]
    after = model.state_dict()
    assert all(not tensor.is_meta for tensor in after.values())
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert model.shared is model.again
