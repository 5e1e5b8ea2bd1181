"""The core and the command line's report path run without Qt (STYLE.md rule 1), and make lint's import contracts say so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import PYTHON, ROOT, run_subprocess

_PROBE = r"""
import importlib, json, pkgutil, sys
import inspector.core
for info in pkgutil.iter_modules(inspector.core.__path__):
    importlib.import_module(f"inspector.core.{info.name}")
import inspector.cli
from inspector.cli import main
code = main(["report", "tests.models:tiny_mlp", "--json", sys.argv[1]])
main(["list-models", "--task", "video"])
qt = sorted(m for m in sys.modules if m.split(".")[0].lower() in ("pyside6", "pyqtgraph", "shiboken6", "pyqt5", "pyqt6"))
print(json.dumps({"code": code, "qt": qt, "core": sorted(m for m in sys.modules if m.startswith("inspector.core."))}))
"""


def test_core_and_report_path_load_no_qt_module(tmp_path):
    result = run_subprocess(["-c", _PROBE, str(tmp_path / "report.json")])
    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["code"] == 0
    assert last["qt"] == []
    # The check is only worth something if the whole core was imported.
    for name in ("loading", "tree", "edits", "inputs", "probe", "stats", "shapes", "summary", "session", "report"):
        assert f"inspector.core.{name}" in last["core"]
    assert json.loads((tmp_path / "report.json").read_text())["ok"] is True


# --------------------------------------------------------------------------- the import contracts (make lint)

_LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the tree under ``root`` (its own pyproject.toml, its own inspector package)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PYTHONPATH"] = str(root)
    return subprocess.run(
        [PYTHON, "-c", _LINT_IMPORTS, "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def _copy_of_the_tree(tmp_path: Path) -> Path:
    """The package's Python files and pyproject.toml, copied under ``tmp_path``."""
    root = tmp_path / "tree"
    for source in (ROOT / "inspector").rglob("*.py"):
        target = root / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    shutil.copyfile(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_import_contracts_hold_on_this_tree():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The core never imports Qt, the window or the command line KEPT" in result.stdout
    assert " broken" not in result.stdout.replace("0 broken", "")


@pytest.mark.parametrize(
    ("module", "offending", "contract", "chain"),
    [
        ("core/shapes.py", "import PySide6.QtCore", "The core never imports Qt", "inspector.core.shapes -> PySide6"),
        ("core/sources/arch.py", "from inspector.gui import icons", "The core never imports Qt", "inspector.core.sources.arch -> inspector.gui.icons"),
        ("gui/icons.py", "from inspector import terminal", "The window never imports the command line", "inspector.gui.icons -> inspector.terminal"),
    ],
)
def test_an_offending_import_breaks_its_contract(tmp_path, module, offending, contract, chain):
    root = _copy_of_the_tree(tmp_path)
    path = root / "inspector" / module
    # After the module's own imports, as a careless edit would put it; never run, only read.
    path.write_text(path.read_text() + f"\n{offending}\n")
    result = _lint_imports(root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout
    assert chain in result.stdout
