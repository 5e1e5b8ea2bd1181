"""The rebuild script calls the model with the whole input: positions, names, nesting, every fill."""

from __future__ import annotations

import ast
import runpy

import pytest
import torch

from inspector.core.export import EXPORT_FILE, SNIPPET_FILE, TORCHSCRIPT_FILE, export_session
from inspector.core.inputs import InputSpec, ModelInput
from inspector.core.loading import load_model
from inspector.core.session import Session
from tests.helpers import ROOT

MODELS = str(ROOT / "tests" / "input_models.py")


def _script_call(folder):
    """The script run as ``__main__``: its globals hold the args, kwargs and output it made."""
    namespace = runpy.run_path(str(folder / SNIPPET_FILE), run_name="__main__")
    return namespace["args"], namespace["kwargs"], namespace["output"]


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _export(session: Session, folder):
    export_session(session, str(folder))
    return _script_call(folder)


@pytest.mark.parametrize("name", ["siamese", "diffusion_step", "graph_layer", "keyword_only", "tokens_with_mask"])
def test_script_draws_the_inspectors_input_and_output(name, tmp_path, capsys):
    session = Session(load_model(f"{MODELS}:{name}"))
    args, kwargs = session.make_call()
    expected = session.model.eval()(*args, **kwargs)
    script_args, script_kwargs, output = _export(session, tmp_path)
    assert _same(list(args), list(script_args))
    assert _same(kwargs, script_kwargs)
    assert _same(expected, output)


def test_nested_dict_input_with_integer_fills_and_a_scalar(tmp_path, capsys):
    session = Session(load_model(f"{MODELS}:dict_input"))
    batch = {"image": InputSpec((2, 3, 16, 16), fill="rand"), "mask": InputSpec((2, 16, 16), fill="randint:0,2")}
    session.set_input(ModelInput([batch], {}, seed=7))
    args, kwargs = session.make_call()
    script_args, script_kwargs, output = _export(session, tmp_path)
    assert _same(list(args), list(script_args)) and script_kwargs == {}
    assert _same(session.model.eval()(*args), output)


def test_token_ids_keep_their_range_and_arange_positions(tmp_path, capsys):
    session = Session(load_model(f"{MODELS}:tokens_with_mask"))
    session.set_input(ModelInput([InputSpec((2, 9), "int64", "randint:0,50")],
                                 {"attention_mask": InputSpec((2, 9), "int64", "ones")}, seed=3))
    args, kwargs = session.make_call()
    script_args, script_kwargs, _ = _export(session, tmp_path)
    assert _same(list(args), list(script_args)) and _same(kwargs, script_kwargs)
    assert int(script_args[0].max()) < 50


def test_hostile_names_in_an_input_stay_data(tmp_path, monkeypatch, capsys):
    """A keyword's name is a literal in the data block, never code."""
    monkeypatch.chdir(tmp_path)
    session = Session(load_model(f"{MODELS}:keyword_only"))
    evil = "x'] ; __import__('os').system('touch PWNED') ; #\n"
    session.inputs = ModelInput([], {"features": InputSpec((1, 4)), evil: None}, seed=0)
    export_session(session, str(tmp_path))
    text = (tmp_path / SNIPPET_FILE).read_text()
    assert evil in [node.value for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Constant)]
    with pytest.raises(TypeError):  # the model refuses the unknown name; nothing else ran
        runpy.run_path(str(tmp_path / SNIPPET_FILE), run_name="__main__")
    assert not (tmp_path / "PWNED").exists() and not (ROOT / "PWNED").exists()


def test_a_model_run_in_bfloat16_is_rebuilt_and_compiled_in_bfloat16(tmp_path, capsys):
    """--dtype: the script, the TorchScript file and the program run as the inspector did; the weights file keeps float32."""
    session = Session(load_model(f"{MODELS}:siamese"))
    session.dtype = "bfloat16"
    run = session.run(keep_output=True)
    assert run.error is None and run.output.dtype == torch.bfloat16
    result = export_session(session, str(tmp_path), torchscript=True, exported_program=True)
    assert any("bfloat16" in note for note in result.notes)
    _, _, output = _script_call(tmp_path)
    assert output.dtype == torch.bfloat16 and torch.equal(output, run.output)
    state = torch.load(tmp_path / "model_state_dict.pt", weights_only=True)
    assert all(t.dtype == torch.float32 for t in state.values() if t.is_floating_point())
    traced = torch.jit.load(str(tmp_path / TORCHSCRIPT_FILE))
    assert torch.equal(traced(*session.make_inputs()), run.output)
    program = torch.export.load(str(tmp_path / EXPORT_FILE)).module()
    assert torch.equal(program(*session.make_inputs()), run.output)
