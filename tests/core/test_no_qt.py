"""The core and the command line's report path run without Qt (STYLE.md rule 1)."""

from __future__ import annotations

import json

from tests.helpers import run_subprocess

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
