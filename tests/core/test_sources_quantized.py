"""torch.ao quantized models (dynamic and eager static quantization): they open, as code or a pickle, and run with per-layer records."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.ao.quantization as tq
from torch import nn

from inspector.core.inputs import InputSpec
from inspector.core.loading import LoadedModel, load_model
from inspector.core.session import Session

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def dynamic_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
    return tq.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def static_model() -> nn.Module:
    """Eager-mode static quantization: quantized Conv2d and Linear between a QuantStub and a DeQuantStub."""
    torch.manual_seed(0)
    model = nn.Sequential(
        tq.QuantStub(), nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5), tq.DeQuantStub()
    ).eval()
    model.qconfig = tq.get_default_qconfig("fbgemm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tq.prepare(model, inplace=True)
        model(torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(2)))  # calibration
        tq.convert(model, inplace=True)
    return model


def _float64(values: torch.Tensor) -> dict[str, float]:
    values = (values.dequantize() if values.is_quantized else values).double()
    return {"mean": float(values.mean()), "std": float(values.std(correction=0)),
            "min": float(values.min()), "max": float(values.max())}


def _outputs(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every layer's output in a plain forward, through torch's own hooks (the oracle)."""
    seen: dict[str, torch.Tensor] = {}
    handles = [
        m.register_forward_hook(lambda _m, _a, out, n=n: seen.setdefault(n, out.clone()))
        for n, m in model.named_modules() if n
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def _check_layers(session: Session, shape: tuple[int, ...], expected_types: dict[str, str]) -> None:
    session.set_input(InputSpec(shape))
    x = session.make_inputs()[0]
    oracle = _outputs(session.model, x)
    run = session.run(keep_output=True)
    assert run.ok, run.error
    with torch.no_grad():
        assert torch.equal(run.output, session.model(x))
    for name, type_name in expected_types.items():
        record = run.records[name]
        assert record.type_name == type_name
        call = record.first
        assert call is not None and call.output_shapes == [list(oracle[name].shape)], name
        assert call.stats is not None
        for key, value in _float64(oracle[name]).items():
            assert getattr(call.stats, key) == pytest.approx(value, rel=1e-5, abs=1e-6), (name, key)


def test_a_dynamically_quantized_model_runs_with_per_layer_records():
    session = Session(LoadedModel(dynamic_model(), "dynamic", "callable"))
    assert session.input_spec is not None and session.input_spec.shape == (1, 8)  # guessed from the quantized Linear
    _check_layers(session, (2, 8), {"0": "Linear", "1": "ReLU", "2": "Linear"})


def test_a_statically_quantized_model_runs_with_dequantized_statistics():
    session = Session(LoadedModel(static_model(), "static", "callable"))
    assert session.input_spec is not None and session.input_spec.shape[:2] == (1, 3)  # from the quantized Conv2d
    _check_layers(
        session, (1, 3, 8, 8), {"0": "Quantize", "1": "Conv2d", "2": "ReLU", "4": "Linear", "5": "DeQuantize"}
    )


@pytest.mark.parametrize("make", [dynamic_model, static_model], ids=["dynamic", "static"])
def test_a_pickled_quantized_model_opens_with_trust_and_runs(tmp_path, make):
    path = tmp_path / "quantized.pt"
    torch.save(make(), path)
    loaded = load_model(str(path), trust=True)  # a static quantized Conv2d: torch alone cannot unpickle it
    assert loaded.kind == "pickle"
    session = Session(loaded)
    if make is dynamic_model:
        _check_layers(session, (2, 8), {"0": "Linear", "2": "Linear"})
    else:
        _check_layers(session, (1, 3, 8, 8), {"1": "Conv2d", "4": "Linear"})


def test_unpickling_a_quantized_conv_leaves_torch_as_it_was(tmp_path):
    from torch.ao.nn.quantized.modules import conv

    before = conv._ConvNd.__setstate__
    path = tmp_path / "quantized.pt"
    torch.save(static_model(), path)
    load_model(str(path), trust=True)
    assert conv._ConvNd.__setstate__ is before


@pytest.mark.parametrize("make", [dynamic_model, static_model], ids=["dynamic", "static"])
def test_packed_weights_count_as_the_float_models_parameters(make):
    """A quantized layer keeps its weight and bias packed; the tree, the session and the report count them."""
    quantized = make()
    floating = {name: m for name, m in quantized.named_modules() if hasattr(m, "weight") and callable(m.weight)}
    expected = {name: m.weight().numel() + (m.bias().numel() if m.bias() is not None else 0) for name, m in floating.items()}
    assert expected and all(count > 0 for count in expected.values())
    session = Session(LoadedModel(quantized, "quantized", "callable"))
    root = session.tree()
    for name, count in expected.items():
        node = root.find(name)
        assert node is not None and node.own_params == node.total_params == count, name
    assert session.params == root.total_params == sum(expected.values())
    run = session.run()
    from inspector.core.report import build_report

    layers = {layer["name"]: layer for layer in build_report(session, run)["layers"]}
    assert all(layers[name]["params"] == count for name, count in expected.items())
