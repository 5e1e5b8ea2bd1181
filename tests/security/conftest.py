"""Fixtures of the security tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.models:NAME` callables must import however pytest was started
    sys.path.insert(0, str(ROOT))


MARKED_MODEL = '''
import pathlib
import torch
from torch import nn

HERE = pathlib.Path(__file__).parent


class Marked(nn.Module):
    """A tiny MLP whose building and forward leave marker files: they prove what ran."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x):
        (HERE / "FORWARD_RAN").write_text("x")
        return self.fc2(torch.relu(self.fc1(x)))


def make():
    (HERE / "BUILT").write_text("x")
    torch.manual_seed(0)
    return Marked()
'''
"""A model file (``marked.py:make``) for output-path and export tests: a tiny MLP whose building and forward leave marker files."""


@pytest.fixture
def marked(tmp_path: Path) -> tuple[str, Path]:
    """(the MODEL argument of a model that marks its building and forward, its folder)."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "marked.py").write_text(MARKED_MODEL)
    return f"{folder / 'marked.py'}:make", folder
