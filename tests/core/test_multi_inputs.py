"""Several inputs, keyword inputs, integer fills, input files, the first-layer guess and --dtype, in the core.

Every run is checked against a plain ``torch.no_grad()`` forward of the same
inputs (shapes, and values where they can be compared), and the model's
weights against a snapshot taken before.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from inspector.core.errors import InputError
from inspector.core.input_defaults import guess_input, natural_inputs
from inspector.core.input_files import load_inputs_file
from inspector.core.inputs import (
    InputSpec,
    ModelInput,
    as_positional,
    check_call,
    check_fill,
    make_call,
    make_inputs,
    parse_input_option,
)
from inspector.core.loading import LoadedModel
from inspector.core.probe import shapes_of
from inspector.core.session import Session
from tests import input_models as im
from tests.helpers import assert_unchanged, snapshot


def _session(model: nn.Module) -> Session:
    return Session(LoadedModel(model.eval(), f"tests.input_models:{type(model).__name__}", "callable"))


def _plain_shapes(model: nn.Module, inputs: ModelInput) -> list[list[int]]:
    args, kwargs = make_call(inputs)
    with torch.no_grad():
        return shapes_of(model.eval()(*args, **kwargs))


# Each corpus model with the input a person would give it, written the way the API takes it.
CORPUS = {
    "siamese": ModelInput([InputSpec((2, 8)), InputSpec((2, 8))]),
    "diffusion_step": ModelInput([InputSpec((2, 3, 16, 16)), InputSpec((2,), "int64", "randint:0,100")]),
    "graph_layer": ModelInput([InputSpec((5, 6)), InputSpec((5, 5), fill="rand")]),
    "keyword_only": ModelInput([], {"features": InputSpec((3, 4))}),
    "dict_input": ModelInput(
        [{"image": InputSpec((2, 3, 8, 8)), "mask": InputSpec((2, 8, 8), fill="ones")}]
    ),
    "tokens_with_mask": ModelInput(
        [], {"input_ids": InputSpec((2, 7), "int64", "randint:0,50"),
             "attention_mask": InputSpec((2, 7), "int64", "ones")}
    ),
    "lstm_first": ModelInput([InputSpec((2, 5, 6))]),
    "attention_first": ModelInput([InputSpec((5, 2, 8))]),
    "transformer_first": ModelInput([InputSpec((2, 5, 8))]),
    "waveform": ModelInput([InputSpec((2, 1, 8000))]),
    "subclass_stem": ModelInput([InputSpec((1, 2, 32, 32))]),
    "head_first": ModelInput([InputSpec((1, 3, 32, 32))]),
    "lazy_net": ModelInput([InputSpec((2, 9))]),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_corpus_model_runs_on_its_input_with_the_shapes_of_a_plain_forward(name):
    inputs = CORPUS[name]
    expected = _plain_shapes(getattr(im, name)(), inputs)
    model = getattr(im, name)()
    session = _session(model) if name != "lazy_net" else None
    if session is None:
        # A lazy model cannot be counted before it runs; the probe itself takes it as any model.
        from inspector.core import probe

        args, kwargs = make_call(inputs)
        run = probe.run(model.eval(), args, kwargs=kwargs)
    else:
        before = snapshot(model)
        session.set_input(inputs)
        run = session.run()
        assert_unchanged(model, before)
    assert run.ok, run.error
    assert run.output_shapes == expected


GUESSED = {
    "siamese": ([[1, 8], [1, 8]], "guessed from encoder.0 (Linear)"),
    "diffusion_step": ([[1, 3, 224, 224], [1]], "guessed from conv_in (Conv2d)"),
    "graph_layer": ([[1, 6], [1, 1]], "guessed from lin (Linear)"),
    "keyword_only": ([[1, 4]], "guessed from fc (Linear)"),
    "tokens_with_mask": ([[1, 16]], "guessed from embed (Embedding)"),
    "lstm_first": ([[1, 8, 6]], "guessed from lstm (LSTM)"),
    "attention_first": ([[8, 1, 8]], "guessed from attention (MultiheadAttention)"),
    "transformer_first": ([[1, 8, 8]], "guessed from encoder (TransformerEncoderLayer)"),
    "waveform": ([[1, 1, 16000]], "guessed from frontend (Conv1d)"),
    "subclass_stem": ([[1, 2, 224, 224]], "guessed from stem (StdConv2d)"),
    "head_first": ([[1, 3, 224, 224]], "guessed from stem (Conv2d)"),
}


@pytest.mark.parametrize("name", sorted(GUESSED))
def test_the_guess_feeds_every_corpus_model_with_no_input_given(name):
    shapes, source = GUESSED[name]
    session = _session(getattr(im, name)())
    inputs = session.require_inputs()
    assert [d["shape"] for d in inputs.describe()] == shapes
    assert inputs.describe()[0]["source"] == source
    run = session.run()
    assert run.ok, run.error
    assert run.output_shapes == _plain_shapes(getattr(im, name)(), inputs)


def test_token_ids_come_from_the_embeddings_vocabulary_and_a_timestep_from_its_table():
    ids = guess_input(im.tokens_with_mask()).first_spec()
    assert ids.dtype == "int64" and ids.fill == "randint:0,50"
    (tensor,) = make_inputs(ids)
    assert int(tensor.min()) >= 0 and int(tensor.max()) < 50
    step = natural_inputs(im.diffusion_step()).args[1]
    assert step.fill == "randint:0,100" and step.shape == (1,)


def test_a_lazy_first_layer_asks_for_the_input_shape():
    with pytest.raises(InputError, match="lazy.*--input-shape"):
        natural_inputs(im.lazy_net())


def test_a_parametrized_conv_is_a_conv2d():
    from torch.nn.utils import parametrize

    class Positive(nn.Module):
        def forward(self, weight: torch.Tensor) -> torch.Tensor:
            return weight.abs()

    model = nn.Sequential(nn.Conv2d(4, 2, 3), nn.Flatten())
    parametrize.register_parametrization(model[0], "weight", Positive())
    assert type(model[0]).__name__ == "ParametrizedConv2d"
    assert guess_input(model).first_spec().shape == (1, 4, 224, 224)


def test_a_forward_that_differentiates_runs_with_grad_and_its_statistics_are_the_plain_ones():
    model = im.energy_gradient()
    inputs = ModelInput([InputSpec((4, 3))])
    session = _session(model)
    session.set_input(inputs)
    before = snapshot(model)
    without = session.run()
    assert not without.ok and "grad" in without.error.message
    session.grad = True
    run = session.run()
    assert run.ok, run.error
    assert_unchanged(model, before)
    assert all(p.grad is None for p in model.parameters()), "a probed run leaves no gradients behind"
    (x,), _ = make_call(inputs)
    expected = model(x)
    stats = run.records[""].first.stats
    assert stats.mean == pytest.approx(float(expected.mean()), abs=1e-6)
    assert stats.std == pytest.approx(float(expected.std(unbiased=False)), abs=1e-6)


# --------------------------------------------------------------------------- making the call


def test_the_first_tensor_of_a_list_has_the_values_of_the_one_tensor_input():
    (alone,) = make_inputs(InputSpec((2, 3), seed=4))
    (first, second), kwargs = make_call(ModelInput([InputSpec((2, 3)), InputSpec((2, 3))], seed=4))
    assert torch.equal(alone, first) and not torch.equal(first, second) and kwargs == {}
    again, _ = make_call(ModelInput([InputSpec((2, 3)), InputSpec((2, 3))], seed=4))
    assert torch.equal(again[1], second)


@pytest.mark.parametrize(
    ("fill", "low", "high"), [("randint:5,9", 5, 8), ("randint:3", 0, 2), ("ones", 1, 1), ("zeros", 0, 0)]
)
def test_integer_fills(fill, low, high):
    (x,) = make_inputs(InputSpec((64,), "int64", fill))
    assert x.dtype == torch.int64 and int(x.min()) == low and int(x.max()) == high
    assert InputSpec((64,), "int64", fill).value_range() == [low, high]


def test_arange_counts_along_the_last_dimension():
    (x,) = make_inputs(InputSpec((2, 5), "int64", "arange"))
    assert x.tolist() == [[0, 1, 2, 3, 4]] * 2


@pytest.mark.parametrize("fill", ["rand", "randn"])
def test_a_floating_fill_on_an_integer_input_says_what_to_use(fill):
    with pytest.raises(InputError, match="randint"):
        check_fill(fill, "int64")
    with pytest.raises(InputError, match="randint"):
        parse_input_option(f"input_ids=1,16:int64:{fill}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("input_ids=1,16:int64", ("input_ids", (1, 16), "int64", None)),
        ("attention_mask=1,16:int64:ones", ("attention_mask", (1, 16), "int64", "ones")),
        ("0=2,3", ("0", (2, 3), None, None)),
        ("x=1,3,8,8::image:/tmp/a:b.png", ("x", (1, 3, 8, 8), None, "image:/tmp/a:b.png")),
        ("t=4:int64:randint:0,1000", ("t", (4,), "int64", "randint:0,1000")),
    ],
)
def test_parse_input_option(text, expected):
    assert parse_input_option(text) == expected


@pytest.mark.parametrize("text", ["1,3", "=1,3", "x-y=1,3", "x=", "x=1,0", "x=1:float8", "x=1:int64:randint:9,2"])
def test_bad_input_options_are_one_line_errors(text):
    with pytest.raises(InputError) as caught:
        parse_input_option(text)
    assert len(str(caught.value).splitlines()) == 1


def test_check_call_names_what_forward_takes():
    with pytest.raises(InputError, match="no parameter 'y'.*x1, x2"):
        check_call(im.siamese(), ModelInput([], {"y": InputSpec((1, 8))}))
    with pytest.raises(InputError, match="2 positional"):
        check_call(im.siamese(), ModelInput([InputSpec((1, 8))] * 3))
    with pytest.raises(InputError, match="given twice"):
        check_call(im.siamese(), ModelInput([InputSpec((1, 8))], {"x1": InputSpec((1, 8))}))
    check_call(im.siamese(), ModelInput([InputSpec((1, 8))], {"x2": InputSpec((1, 8))}))


def test_keyword_inputs_move_to_their_positions_for_tools_that_call_by_position():
    model = im.tokens_with_mask()
    ids, mask = torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 3)
    assert as_positional(model, (), {"attention_mask": mask, "input_ids": ids}) == (ids, mask)
    with pytest.raises(InputError, match="keyword only"):
        as_positional(im.keyword_only(), (), {"features": mask})


# --------------------------------------------------------------------------- files


def test_a_json_file_describes_nested_inputs_scalars_and_none(tmp_path):
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps({
        "0": {"image": "2,3,8,8", "mask": {"shape": [2, 8, 8], "fill": "ones"}},
        "seed": 7,
    }))
    inputs = load_inputs_file(str(path))
    assert inputs.seed == 7
    model = im.dict_input()
    session = _session(model)
    session.set_input(inputs)
    run = session.run()
    assert run.ok, run.error
    assert run.output_shapes == [[2, 4, 8, 8], [2, 4]] == _plain_shapes(im.dict_input(), inputs)
    described = {d["name"]: d for d in inputs.describe()}
    assert described["0.mask"]["fill"] == "ones" and described["0.mask"]["range"] == [1, 1]
    other = tmp_path / "other.json"
    other.write_text(json.dumps([[None, 0.5, True, "3:int64"]]))
    (nested,), _ = make_call(load_inputs_file(str(other)))
    assert nested[:3] == [None, 0.5, True] and nested[3].dtype == torch.int64


def test_tensors_from_pt_and_safetensors_files_are_used_as_they_are(tmp_path):
    save_file = pytest.importorskip("safetensors.torch").save_file

    x1, x2 = torch.randn(3, 8), torch.randn(3, 8)
    torch.save({"x1": x1, "x2": x2}, tmp_path / "pair.pt")
    save_file({"x1": x1, "x2": x2}, str(tmp_path / "pair.safetensors"))
    model = im.siamese()
    with torch.no_grad():
        expected = model(x1, x2)
    for name in ("pair.pt", "pair.safetensors"):
        inputs = load_inputs_file(str(tmp_path / name))
        session = _session(model)
        session.set_input(inputs)
        run = session.run(keep_output=True)
        assert run.ok and torch.equal(run.output, expected)
        assert inputs.describe()[0]["source"] == f"read from {name}"
        assert inputs.describe()[0]["range"] == [float(x1.min()), float(x1.max())]


def test_a_pickle_in_a_pt_inputs_file_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    path = tmp_path / "evil.pt"
    torch.save({"x": Payload()}, path)
    with pytest.raises(InputError, match="weights-only"):
        load_inputs_file(str(path))


@pytest.mark.parametrize(
    ("content", "match"),
    [("[", "not JSON"), ('{"x": {"shape": [1], "colour": 1}}', "unknown keys"), ('{"2": "1,2"}', "positions start"),
     ('{"x": "1,2:int64:randn"}', "randint"), ('"1,2"', "list")],
)
def test_bad_json_inputs_are_one_line_errors(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=match) as caught:
        load_inputs_file(str(path))
    assert len(str(caught.value).splitlines()) == 1


# --------------------------------------------------------------------------- torch.export


def test_an_export_programs_example_inputs_are_its_natural_input():
    model = im.siamese()
    program = torch.export.export(model, (torch.randn(3, 8), torch.randn(3, 8)))
    module = program.module()
    inputs = natural_inputs(module)
    assert [s.shape for s in inputs.specs()] == [(3, 8), (3, 8)]
    assert inputs.specs()[0].source == "example input of the torch.export program"


# --------------------------------------------------------------------------- dtype


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_resnet18_runs_in_half_precision_on_the_cpu_and_its_weights_are_bit_identical_after(resnet18, dtype):
    session = Session(LoadedModel(resnet18, "torchvision:resnet18", "torchvision", arch="resnet18",
                                  task="classification"))
    session.set_input(InputSpec((1, 3, 64, 64)))
    session.dtype = dtype
    before = snapshot(resnet18)
    for mode in ("eval", "train"):
        session.mode = mode
        run = session.run(keep_output=True)
        assert run.ok, run.error
        assert run.output.dtype == getattr(torch, dtype) and run.output_shapes == [[1, 1000]]
        assert_unchanged(resnet18, before)  # same objects, same dtype, the same bits
    assert run.records["conv1"].first.stats is not None


def test_integer_inputs_keep_their_dtype_when_the_model_runs_in_another():
    model = im.tokens_with_mask()
    session = _session(model)
    session.dtype = "float64"
    run = session.run(keep_output=True)
    assert run.ok, run.error
    assert run.output.dtype == torch.float64
    args, kwargs = session.make_call()
    assert args[0].dtype == torch.int64
    assert model.embed.weight.dtype == torch.float32


@pytest.mark.parametrize("name", ["keyword_only", "tokens_with_mask", "dict_input", "siamese"])
def test_meta_runs_take_keyword_and_nested_inputs_too(name):
    inputs = CORPUS[name]
    session = _session(getattr(im, name)())
    session.set_input(inputs)
    run = session.run(meta=True)
    assert run.ok, run.error
    assert run.output_shapes == _plain_shapes(getattr(im, name)(), inputs)
    session.dtype = "float16"
    run = session.run(meta=True)
    assert run.ok, run.error
    assert run.output_shapes == _plain_shapes(getattr(im, name)(), inputs)


# --------------------------------------------------------------------------- session files


def test_a_session_file_keeps_every_input_and_an_old_one_still_opens(tmp_path):
    from inspector.core.session_file import open_session, save_session

    session = Session.open("tests.input_models:tokens_with_mask")
    inputs = ModelInput([], {"input_ids": InputSpec((2, 5), "int64", "randint:0,50", name="input_ids"),
                             "attention_mask": InputSpec((2, 5), "int64", "zeros", name="attention_mask")}, seed=9)
    session.set_input(inputs)
    path = tmp_path / "tokens.inspector.json"
    save_session(session, str(path))
    data = json.loads(path.read_text())
    assert data["input"] == {"shape": [2, 5], "dtype": "int64", "fill": "randint:0,50", "seed": 9, "layout": "tensor"}
    opened, problems = open_session(str(path), trust=True)  # the model is a callable: trust is the test's
    assert problems == []
    assert opened.inputs == session.inputs
    # A session file of the first round has only "input": it opens as the one tensor it describes.
    del data["inputs"]
    data["input"] = {"shape": [3, 4], "dtype": "int64", "fill": "ones", "seed": 2, "layout": "tensor"}
    path.write_text(json.dumps(data))
    opened, problems = open_session(str(path), trust=True)  # the model is a callable: trust is the test's
    assert problems == [] and opened.inputs == ModelInput([InputSpec((3, 4), "int64", "ones", 2)], {}, 2)


@pytest.mark.parametrize(
    "inputs",
    [{"args": "x"}, {"args": [{"shape": [0]}]}, {"kwargs": {"1": {"shape": [1]}}}, {"args": [{"shape": [1], "fill": "x"}]},
     {"args": [], "seed": "s"}, {"args": [{"list": [{"nope": 1}]}]}],
)
def test_malformed_saved_inputs_are_a_problem_not_a_crash(tmp_path, inputs):
    from inspector.core.session_file import open_session, save_session

    session = Session.open("tests.input_models:siamese")
    path = tmp_path / "s.inspector.json"
    save_session(session, str(path))
    data = json.loads(path.read_text())
    data["inputs"] = inputs
    path.write_text(json.dumps(data))
    opened, problems = open_session(str(path), trust=True)  # the model is a callable: trust is the test's
    assert any("saved inputs could not be used" in p for p in problems)
    assert opened.inputs == session.inputs


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_keyword_inputs_and_half_precision_on_cuda():
    model = im.tokens_with_mask()
    session = _session(model)
    session.set_input(CORPUS["tokens_with_mask"])
    session.move_to("cuda")
    before = snapshot(model)
    session.dtype = "float16"
    run = session.run(keep_output=True)
    assert run.ok, run.error
    assert run.output.device.type == "cuda" and run.output.dtype == torch.float16
    assert_unchanged(model, before)
