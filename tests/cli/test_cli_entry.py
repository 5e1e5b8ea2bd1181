"""The three entry points behave the same: `python main.py`, `python -m inspector`, `model-inspector`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.helpers import PYTHON, ROOT, run_subprocess, strict_json

ARGS = ["report", "tests.models:tiny_cnn", "--identity", "head.1", "--input-shape", "2,3,16,16", "--seed", "5"]


def _without_times(report: dict) -> dict:
    for layer in report["layers"]:
        layer["time_ms"] = None
    return report


def test_main_py_and_python_m_inspector_give_the_same_report():
    by_main = run_subprocess(["main.py", *ARGS])
    by_module = run_subprocess(["-m", "inspector", *ARGS])
    assert by_main.returncode == by_module.returncode == 0, by_main.stderr + by_module.stderr
    assert by_main.stderr == by_module.stderr == ""
    first, second = strict_json(by_main.stdout), strict_json(by_module.stdout)
    assert _without_times(first) == _without_times(second)
    assert first["output"]["shapes"] == [[2, 4]]
    assert first["replaced"] == ["head.1"] and first["input"]["seed"] == 5


def test_console_script_usage_error_has_no_traceback(tmp_path):
    script = Path(PYTHON).with_name("model-inspector")
    command = [str(script)] if script.exists() else [shutil.which("model-inspector") or ""]
    out = tmp_path / "r.json"
    if command[0]:
        import subprocess

        result = subprocess.run([*command, "report", "resnet18", "--identity", "layer9", "--json", str(out)],
                                cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    else:  # not installed as a script here: the module entry point is the same main()
        result = run_subprocess(["-m", "inspector", "report", "resnet18", "--identity", "layer9", "--json", str(out)])
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "no submodule 'layer9'" in result.stderr
    assert not out.exists()


def test_python_m_inspector_exit_3_writes_the_report():
    result = run_subprocess(["-m", "inspector", "report", "tests.models:raises_midway", "--input-shape", "3,4"])
    assert result.returncode == 3
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["error"]["module"] == "block.1"
