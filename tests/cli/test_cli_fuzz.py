"""Fuzzing the argument parser and the MODEL parser: random input gets an answer, never a traceback.

Everything runs on a tiny callable model, so no example builds anything big;
random text never contains digits where it could become a huge shape.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from inspector.core.errors import InspectorError
from inspector.core.inputs import DTYPES, FILLS
from inspector.core.loading import LoadedModel, classify_source, list_models, load_model
from tests.helpers import ROOT, run_main, strict_json

MODEL = "tests.models:tiny_mlp"
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# No digits: random text must not turn into a shape of a billion elements.
no_digits = st.text(alphabet=st.characters(blacklist_categories=("Nd", "Cs")), max_size=12)
small_shapes = st.lists(st.integers(-2, 9), min_size=0, max_size=4).map(lambda sizes: ",".join(map(str, sizes)))


def _check(code: int, out: str, err: str) -> None:
    assert "Traceback" not in err
    if code == 0:
        assert strict_json(out)["ok"] is True
    elif code == 3:
        report = strict_json(out)
        assert report["ok"] is False and report["error"]["message"]
    else:
        assert code == 2, (code, err)
        assert out == ""
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("model-inspector: error: "), err


@FUZZ
@given(
    shape=st.one_of(st.none(), small_shapes, no_digits),
    dtype=st.one_of(st.none(), st.sampled_from([*DTYPES, "torch.float32", "float8", "complex64"]), no_digits),
    fill=st.one_of(st.none(), st.sampled_from([*FILLS, "image:", "image:/no/such.png"]), no_digits),
    device=st.one_of(st.none(), st.sampled_from(["cpu", "cuda", "cuda:1", "mps", "meta", "xpu", "cpu:0"]), no_digits),
    seed=st.one_of(st.none(), st.integers(-5, 2**31), no_digits),
    mode=st.one_of(st.none(), st.sampled_from(["eval", "train"]), no_digits),
    meta=st.booleans(),
    identity=st.lists(st.one_of(st.sampled_from(["fc1", "act", "fc2", "", "fc1.weight", "fc3"]), no_digits), max_size=3),
)
def test_report_options_fuzz(capsys, shape, dtype, fill, device, seed, mode, meta, identity):
    argv = ["report", MODEL]
    for option, value in (("--input-shape", shape), ("--dtype", dtype), ("--fill", fill), ("--device", device),
                          ("--seed", seed), ("--mode", mode)):
        if value is not None:
            argv.append(f"{option}={value}")
    argv += [f"--identity={name}" for name in identity]
    if meta:
        argv.append("--meta")
    code, out, err = run_main(argv, capsys)
    _check(code, out, err)


_OPTIONS = ["--identity", "--input-shape", "--dtype", "--fill", "--seed", "--device", "--mode", "--meta",
            "--arch", "--trust", "--task", "report", "list-models", "-", "--", "=", ","]


def _safe_token(token: str) -> bool:
    # --json (and any abbreviation of it) would write files; --weights would try the network.
    return not token.startswith(("--j", "--w"))


@FUZZ
@given(
    command=st.sampled_from(["report", "list-models"]),
    tokens=st.lists(st.one_of(st.sampled_from(_OPTIONS), no_digits, small_shapes).filter(_safe_token), max_size=6),
)
def test_argument_parser_fuzz(capsys, command, tokens):
    argv = [command, MODEL, *tokens] if command == "report" else [command, *tokens]
    try:
        code, out, err = run_main(argv, capsys)
    except SystemExit as exit_:  # argparse's own --help
        assert exit_.code == 0 and any(t == "-h" or t.startswith("--h") for t in tokens)
        return
    if command == "list-models":
        assert code in (0, 2) and "Traceback" not in err
        return
    _check(code, out, err)


@FUZZ
@given(spec=st.text(max_size=40))
def test_classify_source_never_raises(spec):
    assert classify_source(spec) in ("torchvision", "file", "callable", "timm", "hf")


@pytest.mark.parametrize(
    "spec, kind",
    [("timm:", "timm"), (" timm:resnet18", "timm"), ("hf:gpt2", "hf"), ("torchvision:resnet18", "torchvision"),
     ("resnet18", "torchvision"), ("model.pt", "file"), ("tests.models:tiny_mlp", "callable")],
)
def test_classify_source_names_each_form(spec, kind):
    """timm and Hugging Face sources are forms of their own (the fuzz above once met ``timm:`` by chance)."""
    assert classify_source(spec) == kind


_NAMES = {name for _, name in list_models("all")}
_identifier = st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=12)


@FUZZ
@given(
    spec=st.one_of(
        no_digits.filter(lambda s: ":" not in s),
        no_digits.map(lambda s: f"torchvision:{s}"),
        no_digits.map(lambda s: f"{s}.pt"),
        _identifier.map(lambda s: f"tests.models:{s}"),
        _identifier.map(lambda s: f"{ROOT}/tests/models.py:{s}"),
        _identifier.map(lambda s: f"tests.no_such_module_{s}:make"),
    )
)
def test_load_model_answers_or_refuses(spec):
    # Building a real torchvision model is not the point here (some take gigabytes).
    assume(spec.strip().removeprefix("torchvision:") not in _NAMES)
    try:
        loaded = load_model(spec)
    except InspectorError as error:
        assert str(error)
        if "\n" not in spec:  # a message is one line unless it echoes a line break of the user's
            assert "\n" not in str(error)
    else:
        assert isinstance(loaded, LoadedModel)
