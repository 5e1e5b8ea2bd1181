"""Installing for users: a wheel built from the checkout installs into a fresh venv and its console script works,
with the C kernel or, where no compiler is at hand, without it (then it says it uses stock torch)."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")]


def build_wheel(out: Path, env: dict[str, str]) -> Path:
    # From a clean copy: the checkout's own build/ folder or in-place kernel must not leak into the wheel.
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", "build", "*.so", "__pycache__", ".git", "*.egg-info", ".pytest_cache", ".hypothesis"))
    # The build needs setuptools only; --no-build-isolation uses this interpreter's (no download).
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(out), str(source)], check=True, env=env, cwd=out, capture_output=True, timeout=600)
    wheels = list(out.glob("model_inspector-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def install_into_fresh_venv(wheel: Path, venv: Path) -> Path:
    """A fresh venv with the wheel installed; torch and friends come from this environment's site-packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    # The dependencies are large (torch alone is GBs): reuse this environment's copies through a path
    # entry, which (unlike a site dir) does not run this checkout's editable-install hook.
    (purelib / "inspector_test_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "-q", str(wheel)], check=True, capture_output=True, timeout=600)
    return venv / "bin" / "model-inspector"


def run_installed(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=300, env=env, cwd="/")


def test_the_wheel_installs_and_its_console_script_reports_with_the_c_kernel(tmp_path):
    wheel = build_wheel(tmp_path, dict(os.environ))
    script = install_into_fresh_venv(wheel, tmp_path / "venv")
    version = run_installed(script, "--version")
    assert version.returncode == 0, version.stderr
    assert "statistics: one-pass C kernel" in version.stdout
    located = subprocess.run([str(tmp_path / "venv" / "bin" / "python"), "-c",
                              "import inspector; print(inspector.__file__)"], capture_output=True, text=True, cwd="/",
                             env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert str(tmp_path / "venv") in located.stdout  # the installed copy, not the checkout
    report = run_installed(script, "report", "resnet18", "--meta", "--format", "json")
    assert report.returncode == 0, report.stderr
    assert '"shapes": [\n      [\n        1,\n        1000' in report.stdout


def test_without_a_compiler_the_wheel_still_installs_and_says_it_uses_stock_torch(tmp_path):
    env = {**os.environ, "CC": "false", "LDSHARED": "false"}
    wheel = build_wheel(tmp_path, env)
    script = install_into_fresh_venv(wheel, tmp_path / "venv")
    version = run_installed(script, "--version")
    assert version.returncode == 0, version.stderr
    assert "statistics: stock torch reductions" in version.stdout


def test_install_desktop_puts_an_entry_that_starts_this_checkouts_app_and_its_icon(tmp_path):
    result = subprocess.run(["make", "-s", "install-desktop", f"XDG_DATA_HOME={tmp_path}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    entry = (tmp_path / "applications" / "model-inspector.desktop").read_text()
    fields = dict(line.split("=", 1) for line in entry.splitlines() if "=" in line)
    executable = fields["Exec"].split()[0]
    assert os.access(executable, os.X_OK) and fields["TryExec"] == executable
    assert fields["Type"] == "Application" and fields["Icon"] == "model-inspector"
    icon = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "model-inspector.svg"
    assert icon.read_bytes() == (ROOT / "inspector" / "resources" / "icon-app.svg").read_bytes()
    version = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=300)
    assert version.returncode == 0 and version.stdout.startswith("model-inspector ")
