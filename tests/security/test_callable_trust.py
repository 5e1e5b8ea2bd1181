"""Callables: naming one yourself is consent; one named by something else (a file, a list) asks first.

``report file.py:fn`` on the command line runs ``fn`` as ``python -c`` would:
the person typed it. ``report mod:fn`` imports ``mod`` from the Python
path, never from whatever folder the shell happens to be in. A callable
that reaches the loader from a session file or the recent list
(``named=False``) needs trust like a pickle. Each factory below makes a
marker folder when imported, which shows whether its code ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from torch import nn

from inspector.core.errors import TrustRequired
from inspector.core.loading import load_model

ROOT = Path(__file__).resolve().parents[2]


def factory(folder: Path, marker: Path, name: str = "evilmod.py") -> Path:
    path = folder / name
    path.write_text(
        "import pathlib\nimport torch\n"
        f"pathlib.Path({str(marker)!r}).mkdir(exist_ok=True)\n"
        "def make():\n    return torch.nn.Linear(4, 2)\n"
    )
    return path


def inspector_cli(args: list[str], cwd: Path, pythonpath: list[Path]) -> subprocess.CompletedProcess[str]:
    """``python -m inspector ARGS`` in ``cwd``, finding the project (and ``pythonpath``) and nothing else."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.run(
        [sys.executable, "-m", "inspector", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )


def test_a_module_in_the_current_folder_is_not_imported(tmp_path):
    marker = tmp_path / "ran"
    here = tmp_path / "downloads"
    here.mkdir()
    factory(here, marker)
    done = inspector_cli(["report", "evilmod:make", "--input-shape", "1,4"], here, [ROOT])
    assert not marker.exists()
    assert done.returncode == 2 and done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot import 'evilmod'" in lines[0], done.stderr


@pytest.mark.parametrize("spec", ["./evilmod.py:make", "evilmod.py:make"])
def test_a_file_named_on_the_command_line_is_consent(tmp_path, spec):
    marker = tmp_path / "ran"
    here = tmp_path / "work"
    here.mkdir()
    factory(here, marker)
    done = inspector_cli(["report", spec, "--input-shape", "1,4", "--json", str(tmp_path / "r.json")], here, [ROOT])
    assert done.returncode == 0, done.stderr
    assert marker.exists()


def test_a_folder_put_on_the_python_path_by_the_person_is_searched(tmp_path):
    marker = tmp_path / "ran"
    here = tmp_path / "work"
    here.mkdir()
    factory(here, marker)
    done = inspector_cli(["report", "evilmod:make", "--input-shape", "1,4", "--json", str(tmp_path / "r.json")],
                         here, [ROOT, here])
    assert done.returncode == 0, done.stderr
    assert marker.exists()


def test_a_callable_not_named_by_the_person_needs_trust(tmp_path):
    marker = tmp_path / "ran"
    spec = f"{factory(tmp_path, marker)}:make"
    with pytest.raises(TrustRequired) as caught:
        load_model(spec, named=False)
    assert not marker.exists()
    assert caught.value.wanted == [spec] and "--trust" in str(caught.value)
    loaded = load_model(spec, named=False, trust=True)
    assert marker.exists() and isinstance(loaded.module, nn.Linear)


def test_a_callable_named_through_the_core_api_runs(tmp_path):
    # Calling load_model with a callable in one's own program names it, as the command line does.
    marker = tmp_path / "ran"
    loaded = load_model(f"{factory(tmp_path, marker)}:make")
    assert marker.exists() and loaded.kind == "callable"


def test_the_cli_hands_gui_session_trust_to_the_app(tmp_path, monkeypatch):
    import inspector.gui.app as app
    from inspector.cli import main

    calls = []
    monkeypatch.setattr(app, "main", lambda model, **options: calls.append(options) or 0)
    path = str(tmp_path / "s.inspector.json")
    assert main(["gui", "--session", path]) == 0
    assert main(["gui", "--session", path, "--trust"]) == 0
    assert [c["trust"] for c in calls] == [False, True]
