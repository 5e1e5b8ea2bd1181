"""Models whose code never returns, exits, or interrupts: the hostile forwards of the stop tests.

Opened by path (``stop_models.py:NAME``) by the command line tests, and built
directly by the GUI tests (whose forwards loop until the test releases them,
so that no thread outlives its test).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import torch
from torch import nn


def model_argument(name: str) -> str:
    """The MODEL argument (``.../stop_models.py:NAME``) that opens ``name`` from this file."""
    return f"{Path(__file__).resolve()}:{name}"


class Spin(nn.Module):
    """Never returns and never enters another module: only abandoning the run ends it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        print("entering the loop", file=sys.stderr, flush=True)
        while True:
            time.sleep(0.005)


class SpinsInBody(nn.Module):
    """A Linear, then ``body``, whose forward never returns (a Python loop calling no module)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.body = Spin()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.linear(x))


class Step(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(0.005)
        return x + 1


class LoopOfSteps(nn.Module):
    """Calls its child ``step`` forever: a stop asked between modules ends it."""

    def __init__(self) -> None:
        super().__init__()
        self.step = Step()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        while True:
            x = self.step(x)


class StepsForeverInBody(nn.Module):
    """A Linear, then ``body``, which calls its child ``body.step`` forever."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.body = LoopOfSteps()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.linear(x))


def _loop_forever(x: torch.Tensor) -> torch.Tensor:
    while x.numel() > 0:
        x = x + 1.0
    return x


class ScriptedLoop(nn.Module):
    """Runs a TorchScript function that loops forever: C++ that Python's Ctrl-C never reaches."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            scripted = torch.jit.script(_loop_forever)
        print("entering the loop", file=sys.stderr, flush=True)
        return scripted(x)


class TorchScriptLoopInBody(nn.Module):
    """``body`` runs a TorchScript loop that never ends."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.body = ScriptedLoop()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.linear(x))


class WaitUntilReleased(nn.Module):
    """Returns only once ``release`` is set, without entering any module meanwhile."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        while not self.release.wait(0.01):
            pass
        return x


class StuckUntilReleased(nn.Module):
    """A Linear, then ``body``, stuck until the test sets ``release`` (the GUI tests)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.linear = nn.Linear(4, 4)
        self.body = WaitUntilReleased(self.release)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.linear(x))


class Exits(nn.Module):
    """Calls ``sys.exit(7)`` in its forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sys.exit(7)


class Interrupts(nn.Module):
    """Raises KeyboardInterrupt in its forward, as a model's own code may."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise KeyboardInterrupt


class ExitsInBody(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.body = Exits()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.linear(x))


class InterruptsInBody(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.body = Interrupts()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.linear(x))


def factory_that_exits() -> nn.Module:
    """A factory that parses argv as a script would, and exits (status 5, none of ours)."""
    sys.exit(5)


def factory_that_interrupts() -> nn.Module:
    raise KeyboardInterrupt
