"""Fixtures of the core tests: real torchvision models, built once where tests only look at them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.models` must import however pytest was started
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def shared_resnet18():
    """A resnet18 (random weights) for tests that only look: they must leave it unchanged."""
    from inspector.core.loading import build_torchvision

    return build_torchvision("resnet18").eval()


@pytest.fixture
def resnet18():
    """A fresh resnet18 for tests that edit it."""
    from inspector.core.loading import build_torchvision

    return build_torchvision("resnet18").eval()
