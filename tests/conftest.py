"""Settings for the whole suite: Qt runs headless, whoever starts pytest."""

from __future__ import annotations

import os

# Before any test imports PySide6: no display is needed, and none is touched.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from hypothesis import settings

# CI draws the same examples on every run (a fixed derivation, no example
# database), so its verdict does not depend on luck; a developer's run keeps
# exploring new examples and is where the fuzz tests find new bugs.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def own_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary files and folders (offload folders among them) go under this test's folder, where they can be counted."""
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder
