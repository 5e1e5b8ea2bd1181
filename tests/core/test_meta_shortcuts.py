"""The meta-device shortcuts give what torch's own meta kernels give, and step aside for anything else."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from inspector.core import meta_shortcuts
from inspector.core.inputs import InputSpec
from inspector.core.loading import build_torchvision
from inspector.core.meta_shortcuts import ShapeShortcuts, SkipMetaInit
from inspector.core.shapes import meta_run


def _meta(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype, device="meta")


def _channels_last(*shape: int) -> torch.Tensor:
    return _meta(*shape).to(memory_format=torch.channels_last)


CALLS = {
    "batch_norm eval": (F.batch_norm, lambda: (_meta(2, 8, 5, 5), _meta(8), _meta(8), _meta(8), _meta(8))),
    "batch_norm train, channels_last": (
        F.batch_norm,
        lambda: (_channels_last(2, 8, 5, 5), _meta(8), _meta(8), _meta(8), _meta(8), True),
    ),
    "batch_norm without affine or stats": (F.batch_norm, lambda: (_meta(4, 3), None, None, None, None, True)),
    "layer_norm": (F.layer_norm, lambda: (_meta(2, 7, 16), (16,), _meta(16), _meta(16))),
    "layer_norm of a transposed input": (F.layer_norm, lambda: (_meta(2, 16, 7).transpose(1, 2), [16])),
    "layer_norm over two dims": (F.layer_norm, lambda: (_meta(3, 4, 5), (4, 5), _meta(4, 5), None)),
    "linear": (F.linear, lambda: (_meta(2, 7, 16), _meta(32, 16), _meta(32))),
    "linear of a vector, no bias": (F.linear, lambda: (_meta(16), _meta(32, 16))),
    "linear of a transposed input": (F.linear, lambda: (_meta(16, 7).t(), _meta(32, 16), _meta(32))),
    "linear, mixed dtypes (left to torch)": (F.linear, lambda: (_meta(2, 16), _meta(32, 16, dtype=torch.float64))),
    "gelu": (F.gelu, lambda: (_channels_last(2, 3, 4, 5),)),
    "gelu tanh, half": (lambda x: F.gelu(x, approximate="tanh"), lambda: (_meta(3, 4, dtype=torch.float16),)),
    "relu": (F.relu, lambda: (_meta(2, 3, 4, 5),)),
    "relu, channels_last": (torch.relu, lambda: (_channels_last(2, 3, 4, 5),)),
    "relu of a transposed input": (lambda x: x.relu(), lambda: (_meta(4, 7).t(),)),
    "silu, half": (F.silu, lambda: (_meta(3, 4, dtype=torch.float16),)),
    "hardswish": (F.hardswish, lambda: (_channels_last(2, 3, 4, 5),)),
    "sigmoid": (torch.sigmoid, lambda: (_meta(5, 6, dtype=torch.float64),)),
    "tanh": (lambda x: x.tanh(), lambda: (_meta(5, 6).t(),)),
    "gelu of a strided slice (left to torch)": (F.gelu, lambda: (_meta(4, 8)[:, ::2],)),
    "relu of a broadcast (left to torch)": (F.relu, lambda: (_meta(4, 1).expand(4, 6),)),
    "relu of integers (left to torch)": (torch.relu, lambda: (_meta(3, 4, dtype=torch.int64),)),
}


@pytest.mark.parametrize("func", [torch.sigmoid, torch.tanh])
def test_an_out_argument_is_left_to_torch(func):
    """``out=`` is not a shortcut's to handle: torch writes into it and gives it back, as without them."""
    x, out = _meta(3, 4), _meta(3, 4)
    with ShapeShortcuts():
        assert func(x, out=out) is out


@pytest.mark.parametrize("func", [F.relu, F.silu, F.hardswish])
def test_an_activation_in_place_gives_its_input_back(func):
    """As torch does: ``inplace=True`` returns the very tensor it was given."""
    x = _meta(2, 3)
    with ShapeShortcuts():
        assert func(x, inplace=True) is x


def test_a_small_mlp_on_meta_does_not_import_sympy():
    """Linear, ReLU and GELU on meta: none of torch's Python references run, so sympy stays out (~0.5 s)."""
    from tests.helpers import run_subprocess

    code = (
        "import sys, torch\n"
        "from torch import nn\n"
        "from inspector.core.inputs import InputSpec\n"
        "from inspector.core.shapes import meta_run\n"
        "model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4), nn.GELU(), nn.SiLU(), nn.Sigmoid())\n"
        "run = meta_run(model.to('meta'), InputSpec((2, 8)))\n"
        "assert run.ok, run.error\n"
        "print('sympy' in sys.modules)\n"
    )
    result = run_subprocess(["-c", code], timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize("name", list(CALLS))
def test_a_shortcut_output_is_torchs_meta_output(name):
    func, make_args = CALLS[name]
    expected = func(*make_args())
    with ShapeShortcuts():
        got = func(*make_args())
    assert got.is_meta
    assert (got.shape, got.stride(), got.dtype) == (expected.shape, expected.stride(), expected.dtype)


FAILING = {
    "batch_norm, wrong channel count": (F.batch_norm, lambda: (_meta(2, 8, 5, 5), _meta(4), _meta(4))),
    "batch_norm train on one value per channel": (
        F.batch_norm,
        lambda: (_meta(1, 8, 1, 1), _meta(8), _meta(8), None, None, True),
    ),
    "layer_norm, wrong last dim": (F.layer_norm, lambda: (_meta(2, 7, 16), (12,))),
    "linear, wrong in-features": (F.linear, lambda: (_meta(2, 7, 16), _meta(32, 12))),
}


@pytest.mark.parametrize("name", list(FAILING))
def test_what_torch_refuses_is_refused_with_torchs_message(name):
    func, make_args = FAILING[name]
    with pytest.raises(Exception) as plain:
        func(*make_args())
    with pytest.raises(type(plain.value)) as shortcut, ShapeShortcuts():
        func(*make_args())
    assert str(shortcut.value) == str(plain.value)


def _shapes(run) -> dict[str, list]:
    return {name: [(c.input_shapes, c.output_shapes) for c in r.calls] for name, r in run.records.items()}


@pytest.mark.parametrize(
    "name, size",
    [("resnet18", 64), ("convnext_tiny", 64), ("swin_t", 64), ("vit_b_16", 224), ("efficientnet_b0", 64)],
)
def test_every_modules_shapes_match_a_run_without_shortcuts(name, size, monkeypatch):
    model = build_torchvision(name, meta=True)
    spec = InputSpec((2, 3, size, size))
    fast = meta_run(model, spec)
    monkeypatch.setattr(meta_shortcuts, "_SHORTCUTS", {})
    plain = meta_run(model, spec)
    assert fast.ok and plain.ok
    assert _shapes(fast) == _shapes(plain)


def test_an_edit_that_breaks_the_model_fails_at_the_same_module_with_the_same_message(monkeypatch):
    model = build_torchvision("resnet18", meta=True)
    model.layer2[0].conv1 = nn.Conv2d(64, 96, 3, 2, 1, bias=False, device="meta")  # its bn1 expects 128
    spec = InputSpec((1, 3, 64, 64))
    fast = meta_run(model, spec)
    monkeypatch.setattr(meta_shortcuts, "_SHORTCUTS", {})
    plain = meta_run(model, spec)
    assert fast.error is not None and plain.error is not None
    assert (fast.error.module, fast.error.message) == (plain.error.module, plain.error.message)
    assert fast.error.module == "layer2.0.bn1"


def test_initialisers_skip_meta_tensors_only():
    real = torch.empty(3)
    meta = torch.empty(3, device="meta")
    with SkipMetaInit():
        nn.init.constant_(real, 2.0)
        assert nn.init.kaiming_normal_(meta.view(1, 3)).is_meta
        assert meta.normal_() is meta
    assert torch.equal(real, torch.full((3,), 2.0))


def test_a_meta_build_has_the_real_builds_parameters():
    real = dict(build_torchvision("efficientnet_b0").named_parameters())
    meta = dict(build_torchvision("efficientnet_b0", meta=True).named_parameters())
    assert {n: (p.shape, p.dtype, p.requires_grad) for n, p in meta.items()} == {
        n: (p.shape, p.dtype, p.requires_grad) for n, p in real.items()
    }
    assert all(p.is_meta for p in meta.values())
