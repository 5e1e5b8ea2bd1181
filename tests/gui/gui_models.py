"""Small models the GUI tests open by path (``gui_models.py:NAME``): slow ones, and odd call patterns."""

from __future__ import annotations

import time

import torch
from torch import nn

SLEEP_S = 0.05
LAYERS = 60


class Sleep(nn.Module):
    """Adds one after a pause: a stand-in for a layer that takes a while."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(SLEEP_S)
        return x + 1


class SlowNet(nn.Module):
    """A Linear then 60 slow layers (about 3 s in all): long enough to cancel or close mid-run."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 8)
        self.body = nn.Sequential(*[Sleep() for _ in range(LAYERS)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.linear(x))


class TwiceAndUnused(nn.Module):
    """``shared`` runs twice per forward and ``unused`` never runs."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(4, 4)
        self.shared = nn.ReLU()
        self.unused = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shared(self.first(self.shared(x)))
