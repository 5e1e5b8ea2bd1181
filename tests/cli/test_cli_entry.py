"""The entry points behave the same: `python main.py`, `python -m inspector` and `model-inspector`."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.helpers import PYTHON, ROOT, run_subprocess, strict_json

ARGS = ["report", "tests.models:tiny_cnn", "--identity", "head.1", "--input-shape", "2,3,16,16", "--seed", "5"]


def _without_times(report: dict) -> dict:
    for layer in report["layers"]:
        layer["time_ms"] = None
    return report


def test_main_py_and_python_m_inspector_give_the_same_report_and_the_same_errors(tmp_path):
    by_main = run_subprocess(["main.py", *ARGS])
    by_module = run_subprocess(["-m", "inspector", *ARGS])
    assert by_main.returncode == by_module.returncode == 0, by_main.stderr + by_module.stderr
    assert by_main.stderr == by_module.stderr == ""
    first, second = strict_json(by_main.stdout), strict_json(by_module.stdout)
    assert _without_times(first) == _without_times(second)
    assert first["output"]["shapes"] == [[2, 4]]
    assert first["replaced"] == ["head.1"] and first["input"]["seed"] == 5


def test_a_usage_error_in_a_real_process_has_no_traceback(tmp_path):
    out = tmp_path / "r.json"
    result = run_subprocess(["main.py", "report", "resnet18", "--identity", "layer9", "--json", str(out)])
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "no submodule 'layer9'" in result.stderr
    assert not out.exists()


def test_the_console_script_is_the_same_main():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"model-inspector": "inspector.cli:main"}
    main_py = (ROOT / "main.py").read_text()
    assert "from inspector.cli import main" in main_py
    assert "from inspector.cli import main" in (ROOT / "inspector" / "__main__.py").read_text()
    installed = Path(PYTHON).with_name("model-inspector")
    if installed.exists():  # installed with `pip install -e .`: it calls the same function
        assert "from inspector.cli import main" in installed.read_text()


def test_version_names_the_versions_the_statistics_route_and_the_devices():
    import torch

    from inspector import __version__
    from inspector.core import stats
    from inspector.core.devices import available_devices

    result = run_subprocess(["-m", "inspector", "--version"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"model-inspector {__version__}"
    assert f"torch {torch.__version__.split('+')[0]}" in [line.split("+")[0] for line in lines]
    assert any(line.startswith("torchvision ") for line in lines)
    route = next(line for line in lines if line.startswith("statistics: "))
    if stats._fused is not None:
        assert "C kernel" in route
    else:
        assert "stock torch" in route
    assert f"devices: {', '.join(available_devices())}" in lines
