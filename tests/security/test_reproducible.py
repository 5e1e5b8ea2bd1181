"""Compare and sweep on models that are random in eval mode, or that do not repeat themselves.

Every forward of a comparison or a sweep starts from the random state of the
input's seed, so a no-op edit measures exactly 0; a model that differs from
itself anyway is reported with its noise floor.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from inspector.cli import main
from inspector.core.compare import compare_session, fixed_random_state
from inspector.core.inputs import InputSpec
from inspector.core.session import Session
from inspector.core.sweep import sweep

MODELS = '''
import random

import numpy
import torch
from torch import nn
from torch.nn import functional as F


class AlwaysDropout(nn.Module):
    """MC dropout: on in eval mode too."""

    def forward(self, x):
        return F.dropout(x, 0.5, training=True)


class Sample(nn.Module):
    """A sampling layer: noise from torch, Python and NumPy in every forward."""

    def forward(self, x):
        noise = torch.randn_like(x) + random.random() + float(numpy.random.rand())
        return x + noise


def random_in_eval():
    return nn.Sequential(
        nn.Linear(16, 32), AlwaysDropout(), nn.ReLU(), nn.Identity(), nn.Linear(32, 32), Sample(),
        nn.Identity(), nn.Linear(32, 8), AlwaysDropout(),
    )


class Counter(nn.Module):
    """Not reproducible whatever the random state: it reads a counter it increments."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 8)
        self.keep = nn.Identity()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.keep(self.lin(x)) * self.calls


def counter():
    return Counter()
'''


@pytest.fixture
def models_file(tmp_path: Path) -> str:
    path = tmp_path / "random_models.py"
    path.write_text(MODELS)
    return str(path)


def _session(models_file: str, name: str) -> Session:
    session = Session.open(f"{models_file}:{name}")
    session.set_input(InputSpec((4, 16), seed=7))
    return session


def test_the_model_is_random_in_eval_mode(models_file):
    """The premise: two plain forwards differ, so only the fixed random state makes the numbers below 0."""
    session = _session(models_file, "random_in_eval")
    (x,) = session.make_inputs()
    model = session.model.eval()
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))
        with fixed_random_state(7):
            first = model(x)
        with fixed_random_state(7):
            second = model(x)
    assert torch.equal(first, second)


def test_compare_of_a_no_op_edit_is_exactly_0_on_the_cli(tmp_path, capsys, models_file):
    out = tmp_path / "report.json"
    # Replacing an Identity with Identity changes nothing the model computes.
    status = main(["report", f"{models_file}:random_in_eval", "--input-shape", "4,16", "--seed", "3",
                   "--identity", "3", "--compare", "--json", str(out)])
    assert status == 0, capsys.readouterr().err
    compare = json.loads(out.read_text())["compare"]
    assert compare["output_relative_l2"] == 0.0
    assert compare["output_cosine"] == 1.0
    assert compare["baseline_reproducible"] is True
    assert compare["noise_floor_relative_l2"] == 0.0


def test_compare_session_of_a_no_op_edit_is_exactly_0(models_file):
    """The GUI's Compare tab runs compare_session."""
    session = _session(models_file, "random_in_eval")
    session.replace_with_identity("6")
    comparison = compare_session(session)
    assert comparison is not None
    assert comparison.output.relative_l2 == 0.0 and comparison.output.cosine == 1.0
    assert comparison.noise_floor is not None and comparison.noise_floor.reproducible
    for row in comparison.modules.values():
        assert row.relative_l2 == 0.0, row.name
    assert comparison.as_dict()["baseline_reproducible"] is True


def test_knocking_out_an_identity_in_a_sweep_moves_nothing(models_file):
    session = _session(models_file, "random_in_eval")
    result = sweep(session, only_types=["Identity"])
    assert [e.name for e in result.entries] == ["3", "6"]
    assert result.replayed_calls > 0, "the prefix was replayed"
    for entry in result.entries:
        assert entry.ok and entry.relative_l2 == 0.0 and entry.cosine == 1.0, entry
    assert result.noise_floor is not None and result.noise_floor.reproducible
    assert result.as_dict()["baseline"]["noise_floor_relative_l2"] == 0.0


def test_a_replayed_prefix_and_a_full_run_agree(models_file):
    session = _session(models_file, "random_in_eval")
    fast = sweep(session)
    slow = sweep(session, reuse_prefix=False)
    assert fast.replayed_calls > 0 and slow.replayed_calls == 0
    assert [e.as_dict() for e in fast.entries] == [e.as_dict() for e in slow.entries]
    moved = [e for e in fast.entries if e.relative_l2]
    assert moved, "knocking out the Linear layers does move the output"


def test_a_model_that_is_not_reproducible_reports_its_noise_floor(tmp_path, capsys, models_file):
    out = tmp_path / "report.json"
    status = main(["report", f"{models_file}:counter", "--input-shape", "4,16", "--identity", "keep",
                   "--compare", "--json", str(out)])
    assert status == 0, capsys.readouterr().err
    compare = json.loads(out.read_text())["compare"]
    # Its first run multiplies by 1, the second by 2: they differ by 100 %.
    assert compare["baseline_reproducible"] is False
    assert compare["noise_floor_relative_l2"] == pytest.approx(1.0)

    session = _session(models_file, "counter")
    result = sweep(session)
    assert result.noise_floor is not None and result.noise_floor.reproducible is False
    assert result.noise_floor.relative_l2 == pytest.approx(1.0)
    baseline = result.as_dict()["baseline"]
    assert baseline["baseline_reproducible"] is False and baseline["noise_floor_relative_l2"] == pytest.approx(1.0)
    assert result.replayed_calls == 0, "no replay of values the model no longer computes"

    comparison = compare_session(_session(models_file, "counter"))
    assert comparison is not None and comparison.noise_floor is not None
    assert comparison.noise_floor.reproducible is False and comparison.noise_floor.relative_l2 == pytest.approx(1.0)


def test_sweep_no_replay_gives_the_same_numbers_as_replay_on_resnet18(tmp_path, capsys):
    common = ["sweep", "resnet18", "--input-shape", "1,3,32,32", "--only", "BasicBlock", "ReLU"]
    assert main([*common, "--json", str(tmp_path / "replay.json")]) == 0, capsys.readouterr().err
    assert main([*common, "--no-replay", "--json", str(tmp_path / "full.json")]) == 0, capsys.readouterr().err
    replay = json.loads((tmp_path / "replay.json").read_text())
    full = json.loads((tmp_path / "full.json").read_text())
    assert len(replay["entries"]) == 17  # the stem ReLU, 8 blocks and their 8 ReLUs
    assert replay == full
    assert replay["baseline"]["baseline_reproducible"] is True


def test_the_callers_random_state_is_left_as_it_was(models_file):
    session = _session(models_file, "random_in_eval")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    sweep(session, only_types=["Identity"])
    compare_session(session)
    assert torch.equal(torch.rand(3), expected)
