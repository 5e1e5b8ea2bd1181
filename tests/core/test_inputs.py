"""The sample input: natural defaults per model family, first-layer guesses, fills, seeds, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from inspector.core.errors import InputError
from inspector.core.inputs import (
    InputSpec,
    check_fill,
    check_fits,
    guess_from_first_layer,
    load_image,
    make_inputs,
    natural_input,
    parse_dtype,
    parse_shape,
)
from inspector.core.loading import list_models, load_model
from inspector.core.session import Session
from tests.helpers import trace
from tests.models import Conv1dNet, Conv3dNet, GroupedConv2d, LinearFirst, TinyCNN, Unguessable


@pytest.mark.parametrize(
    ("name", "shape", "layout"),
    [
        ("resnet18", (1, 3, 224, 224), "tensor"),
        ("vit_b_16", (1, 3, 224, 224), "tensor"),
        ("inception_v3", (1, 3, 299, 299), "tensor"),
        ("r3d_18", (1, 3, 16, 112, 112), "tensor"),
        ("fasterrcnn_mobilenet_v3_large_320_fpn", (1, 3, 224, 224), "images"),
        ("raft_small", (1, 3, 224, 224), "pair"),
        ("lraspp_mobilenet_v3_large", (1, 3, 224, 224), "tensor"),
    ],
)
def test_natural_input_per_family(name, shape, layout):
    loaded = load_model(name, meta=True)
    spec = natural_input(loaded.module, loaded.arch, loaded.task)
    assert spec.shape == shape and spec.layout == layout


def test_detection_receives_a_list_of_images_and_optical_flow_two_images():
    spec = InputSpec((2, 3, 64, 48), layout="images")
    (images,) = make_inputs(spec)
    assert isinstance(images, list) and len(images) == 2
    assert all(tuple(i.shape) == (3, 64, 48) for i in images)
    (single,) = make_inputs(InputSpec((3, 64, 48), layout="images"))
    assert [tuple(i.shape) for i in single] == [(3, 64, 48)]
    first, second = make_inputs(InputSpec((1, 3, 32, 32), layout="pair"))
    assert first.shape == second.shape == (1, 3, 32, 32)
    assert not torch.equal(first, second), "two frames of noise, not one frame twice"


def test_every_video_model_accepts_its_natural_clip():
    """Shapes only (meta): each video model, as built, takes its default input."""
    for _, name in list_models("video"):
        session = Session.open(name, meta=True)
        run = session.run(meta=True)
        assert run.ok, f"{name}: {run.error}"
        assert session.input_spec.shape[:3] == (1, 3, 16)
        assert run.output_shapes == [[1, 400]], name


@pytest.mark.slow
def test_detection_and_optical_flow_run_on_their_natural_input():
    session = Session.open("fasterrcnn_mobilenet_v3_large_320_fpn")
    run = session.run()
    assert run.ok, run.error
    # torchvision's detection output: one dict per image (boxes [K, 4], labels [K], scores [K]).
    boxes, labels, scores = run.output_shapes
    assert boxes[1:] == [4] and labels == scores == [boxes[0]]
    session = Session.open("raft_small")
    session.set_input(InputSpec((1, 3, 128, 128), layout="pair"))  # RAFT needs 128 at least
    run = session.run()
    assert run.ok, run.error
    # RAFT returns one flow field per refinement iteration: [N, 2, H, W] each.
    assert run.output_shapes and all(s == [1, 2, 128, 128] for s in run.output_shapes)


@pytest.mark.parametrize(
    ("model", "shape"),
    [
        (TinyCNN(channels=5), (1, 5, 224, 224)),
        (Conv1dNet(), (1, 5, 128)),
        (Conv3dNet(), (1, 2, 16, 112, 112)),
        (GroupedConv2d(), (1, 6, 224, 224)),
        (LinearFirst(), (1, 7)),
    ],
)
def test_first_layer_guess(model, shape):
    spec = guess_from_first_layer(model)
    assert spec is not None and spec.shape == shape
    assert natural_input(model) == spec
    # The guess is an input the model accepts.
    with torch.no_grad():
        model.eval()(*make_inputs(spec))


def test_first_layer_guess_through_torchscript():
    torch.manual_seed(0)
    scripted = trace(LinearFirst(), torch.randn(1, 7))
    assert guess_from_first_layer(scripted).shape == (1, 7)


def test_nothing_guessable_asks_for_an_input_shape():
    assert guess_from_first_layer(Unguessable()) is None
    session = Session.open("tests.models:unguessable")
    with pytest.raises(InputError, match="--input-shape"):
        session.run()


def test_same_seed_same_values_other_seed_other_values():
    spec = InputSpec((2, 3, 8, 8), seed=7)
    (a,), (b,) = make_inputs(spec), make_inputs(spec)
    assert torch.equal(a, b)
    (c,) = make_inputs(spec.replace(seed=8))
    assert not torch.equal(a, c)
    # The user's own random state is neither used nor changed.
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_inputs(spec)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("fill", ["randn", "rand", "zeros", "ones"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int64", "uint8", "bool"])
def test_fills_and_dtypes(fill, dtype):
    (x,) = make_inputs(InputSpec((4, 5), dtype=dtype, fill=fill))
    assert x.dtype == parse_dtype(dtype) and x.shape == (4, 5)
    if fill == "zeros":
        assert not x.any()
    elif fill == "ones":
        assert bool((x == 1).all())
    elif fill == "rand" and x.is_floating_point():
        assert float(x.min()) >= 0 and float(x.max()) < 1
    elif fill == "randn" and dtype == "float32":
        assert float(x.min()) < 0 < float(x.max())


@pytest.mark.parametrize(
    ("text", "shape"),
    [("1,3,224,224", (1, 3, 224, 224)), ("[1, 4]", (1, 4)), ("2x3x5", (2, 3, 5)), (" 7 ", (7,))],
)
def test_parse_shape(text, shape):
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["", "a,b", "1,,x", "1.5,2", "0,3", "1,-2", "[]", "3e2"])
def test_bad_shapes(text):
    with pytest.raises(InputError) as caught:
        parse_shape(text)
    assert len(str(caught.value).splitlines()) == 1


def test_bad_dtype_and_fill():
    with pytest.raises(InputError, match="float32"):
        parse_dtype("complex64")
    with pytest.raises(InputError, match="image:PATH"):
        check_fill("gaussian")
    with pytest.raises(InputError):
        check_fill("image:")


def test_image_fill_matches_the_models_preprocessing(tmp_path):
    path = tmp_path / "red.png"
    pixels = np.zeros((40, 60, 3), dtype=np.uint8)
    pixels[..., 0] = 255
    pixels[:20, :, 2] = 128
    Image.fromarray(pixels).save(path)
    spec = InputSpec((2, 3, 20, 30), fill=f"image:{path}")
    (x,) = make_inputs(spec, arch="resnet18")
    assert x.shape == (2, 3, 20, 30)
    assert torch.equal(x[0], x[1]), "the image is repeated over the batch"
    # ImageNet normalisation of a red pixel, as torchvision's own transforms compute it.
    from torchvision.transforms import v2

    expected = v2.Compose(
        [v2.ToImage(), v2.Resize((20, 30)), v2.ToDtype(torch.float32, scale=True),
         v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])]
    )(Image.open(path).convert("RGB"))
    assert torch.allclose(x[0], expected, atol=1e-2)
    assert torch.allclose(x[0, :, 15, 5], torch.tensor([(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0 - 0.406) / 0.225]), atol=1e-4)


def test_image_fill_refusals(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(InputError, match="not an image"):
        load_image(str(text), (1, 3, 8, 8))
    with pytest.raises(InputError, match="no such image"):
        load_image(str(tmp_path / "missing.png"), (1, 3, 8, 8))
    with pytest.raises(InputError, match="1 or 3 channels"):
        load_image(str(text), (1, 4, 8, 8))
    with pytest.raises(InputError, match=r"\[N,C,H,W\]"):
        load_image(str(text), (8, 8))


def test_huge_input_refused_up_front():
    with pytest.raises(InputError, match="64, 3, 4096, 4096"):
        check_fits(InputSpec((64, 3, 4096, 4096)), "cpu")
    with pytest.raises(InputError, match="too large"):
        make_inputs(InputSpec((2**20, 2**20)))
    check_fits(InputSpec((1, 3, 224, 224)), "cpu")
    check_fits(InputSpec((64, 3, 4096, 4096)), "meta")  # nothing is allocated on meta
