"""``--input``, ``--inputs``, ``--dtype`` and ``--grad`` on the command line, and the report's input section."""

from __future__ import annotations

import json

import pytest
import torch

from inspector.core.inputs import InputSpec, ModelInput, make_call
from inspector.core.probe import shapes_of
from tests import input_models as im
from tests.helpers import assert_one_line_error, run_report

# Each corpus model with explicit --input flags, and the same input written for the API.
FLAGS = {
    "siamese": (["x1=2,8", "x2=2,8"], ModelInput([], {"x1": InputSpec((2, 8)), "x2": InputSpec((2, 8))})),
    "diffusion_step": (
        ["0=2,3,16,16", "1=2:int64:randint:0,100"],
        ModelInput([InputSpec((2, 3, 16, 16)), InputSpec((2,), "int64", "randint:0,100")]),
    ),
    "graph_layer": (["x=5,6", "adj=5,5::rand"], ModelInput([], {"x": InputSpec((5, 6)), "adj": InputSpec((5, 5))})),
    "keyword_only": (["features=3,4"], ModelInput([], {"features": InputSpec((3, 4))})),
    "tokens_with_mask": (
        ["input_ids=2,7:int64", "attention_mask=2,7:int64"],
        ModelInput([], {"input_ids": InputSpec((2, 7), "int64", "randint:0,50"),
                        "attention_mask": InputSpec((2, 7), "int64", "ones")}),
    ),
    "lstm_first": (["x=2,5,6"], ModelInput([InputSpec((2, 5, 6))])),
    "attention_first": (["0=5,2,8"], ModelInput([InputSpec((5, 2, 8))])),
    "transformer_first": (["x=2,5,8"], ModelInput([InputSpec((2, 5, 8))])),
    "waveform": (["x=2,1,8000"], ModelInput([InputSpec((2, 1, 8000))])),
    "subclass_stem": (["x=1,2,32,32"], ModelInput([InputSpec((1, 2, 32, 32))])),
    "head_first": (["x=1,3,32,32"], ModelInput([InputSpec((1, 3, 32, 32))])),
}


def _plain_shapes(name: str, inputs: ModelInput) -> list[list[int]]:
    args, kwargs = make_call(inputs)
    with torch.no_grad():
        return shapes_of(getattr(im, name)().eval()(*args, **kwargs))


@pytest.mark.parametrize("name", sorted(FLAGS))
def test_every_corpus_model_runs_with_explicit_input_flags(capsys, name):
    flags, inputs = FLAGS[name]
    argv = [f"tests.input_models:{name}"] + [f"--input={flag}" for flag in flags]
    code, report, err = run_report(argv, capsys)
    assert code == 0, err
    assert report["output"]["shapes"] == _plain_shapes(name, inputs)
    assert [entry["shape"] for entry in report["input"]["inputs"]] == [list(s.shape) for s in inputs.specs()]
    assert all(entry["source"] == "given" for entry in report["input"]["inputs"])


@pytest.mark.parametrize("name", ["siamese", "diffusion_step", "tokens_with_mask", "waveform", "head_first"])
def test_corpus_models_run_with_no_input_flag(capsys, name):
    code, report, err = run_report([f"tests.input_models:{name}", "--meta"], capsys)
    assert code == 0, err
    assert report["input"]["source"].startswith("guessed from")


def test_a_dict_input_from_a_json_file(capsys, tmp_path):
    path = tmp_path / "batch.json"
    path.write_text(json.dumps({"batch": {"image": "2,3,8,8", "mask": "2,8,8::ones"}}))
    code, report, err = run_report(["tests.input_models:dict_input", "--inputs", str(path), "--seed", "3"], capsys)
    assert code == 0, err
    inputs = ModelInput([], {"batch": {"image": InputSpec((2, 3, 8, 8)), "mask": InputSpec((2, 8, 8), fill="ones")}})
    assert report["output"]["shapes"] == _plain_shapes("dict_input", inputs) == [[2, 4, 8, 8], [2, 4]]
    entries = {entry["name"]: entry for entry in report["input"]["inputs"]}
    assert entries["batch.mask"]["fill"] == "ones" and entries["batch.mask"]["range"] == [1, 1]
    assert entries["batch.image"]["source"] == "read from batch.json"
    assert report["input"]["seed"] == 3


def test_the_input_section_lists_every_input_and_keeps_the_first_rounds_fields(capsys):
    code, report, err = run_report(
        ["tests.input_models:tokens_with_mask", "--input", "input_ids=1,9:int64",
         "--input", "attention_mask=1,9:int64:ones", "--seed", "2"], capsys
    )
    assert code == 0, err
    section = report["input"]
    assert {k: section[k] for k in ("shape", "dtype", "fill", "seed")} == {
        "shape": [1, 9], "dtype": "int64", "fill": "randint:0,50", "seed": 2,
    }
    assert section["inputs"] == [
        {"name": "input_ids", "shape": [1, 9], "dtype": "int64", "fill": "randint:0,50", "range": [0, 49],
         "source": "given"},
        {"name": "attention_mask", "shape": [1, 9], "dtype": "int64", "fill": "ones", "range": [1, 1],
         "source": "given"},
    ]
    assert section["model_dtype"] is None and section["grad"] is False


def test_positional_inputs_are_named_after_the_forwards_parameters(capsys):
    code, report, err = run_report(["tests.input_models:siamese", "--input", "0=1,8", "--input", "1=1,8"], capsys)
    assert code == 0, err
    assert [(e["name"], e["position"]) for e in report["input"]["inputs"]] == [("x1", 0), ("x2", 1)]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["tests.input_models:tokens_with_mask", "--input", "input_ids=1,16:int64:rand"], "randint"),
        (["tests.input_models:siamese", "--input", "x3=1,8"], "no parameter 'x3'"),
        (["tests.input_models:siamese", "--input", "1=1,8"], "positions start at 0"),
        (["tests.input_models:siamese", "--input", "x1"], "NAME=SHAPE"),
        (["tests.input_models:siamese", "--inputs", "/no/such/inputs.json"], "no such inputs file"),
        (["tests.models:Tied", "--input-shape", "1,4", "--dtype", "int64", "--fill", "randn"], "randint"),
    ],
)
def test_input_mistakes_are_one_line_errors(capsys, argv, words):
    code, report, err = run_report(argv, capsys)
    assert code == 2 and report is None
    assert words in assert_one_line_error(err)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_resnet18_in_half_precision_on_the_cpu_leaves_its_weights_bit_identical(capsys, dtype):
    code, report, err = run_report(
        ["tests.input_models:held_resnet18", "--dtype", dtype, "--input-shape", "1,3,64,64"], capsys
    )
    model = im.HELD.pop("resnet18")
    assert code == 0, err
    assert report["input"]["dtype"] == dtype and report["input"]["model_dtype"] == dtype
    assert report["output"]["shapes"] == [[1, 1000]]
    import torchvision

    torch.manual_seed(0)
    fresh = torchvision.models.resnet18()
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b), name


def test_grad_lets_a_differentiating_forward_run(capsys):
    code, report, _ = run_report(["tests.input_models:energy_gradient", "--input", "x=4,3"], capsys)
    assert code == 3
    code, report, err = run_report(["tests.input_models:energy_gradient", "--input", "x=4,3", "--grad"], capsys)
    assert code == 0, err
    assert report["input"]["grad"] is True and report["output"]["shapes"] == [[4, 3]]


def test_what_the_model_prints_while_its_input_is_guessed_stays_off_stdout(capsys):
    # The guess runs the model on meta when the session opens, before any report is written.
    from inspector.core.session import Session

    capsys.readouterr()
    session = Session.open("tests.input_models:chatty")
    out, err = capsys.readouterr()
    assert out == "" and "forward on (1, 8)" in err
    assert session.require_input().source == "guessed from stem (Conv2d)"


def test_input_shape_resizes_every_natural_input_of_the_first_inputs_shape(capsys):
    code, report, err = run_report(["tests.input_models:siamese", "--input-shape", "3,8"], capsys)
    assert code == 0, err
    assert [e["shape"] for e in report["input"]["inputs"]] == [[3, 8], [3, 8]]
    assert report["output"]["shapes"] == [[3]]
    code, report, err = run_report(["tests.input_models:tokens_with_mask", "--input-shape", "2,5"], capsys)
    assert code == 0, err
    first = report["input"]["inputs"][0]
    assert (first["shape"], first["dtype"], first["fill"]) == ([2, 5], "int64", "randint:0,50")
