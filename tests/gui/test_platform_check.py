"""Where Qt cannot open a window, the app exits 2 with one line instead of Qt's abort (exit 134)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from inspector.gui.platform_check import XCB_PACKAGES, platform_problem

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb route is Linux's")


def start_app(env: dict[str, str], cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inspector"], capture_output=True, text=True,
                          timeout=120, env=env, cwd=cwd)


def plain_env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "QT_QPA_PLATFORM_PLUGIN_PATH")}
    env.update(changes)
    return env


def test_no_display_exits_2_with_one_line_naming_the_headless_ways(tmp_path):
    result = start_app(plain_env(), tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("model-inspector: error: the desktop app cannot start")
    assert "model-inspector report MODEL" in lines[0] and "QT_QPA_PLATFORM=offscreen" in lines[0]


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler to make a plugin with a missing library")
def test_a_plugin_whose_library_is_missing_names_it_and_the_packages(tmp_path):
    # A stand-in platform plugin linked against a library that is then removed:
    # the dynamic loader fails on it exactly as on a fresh machine's libqxcb.so.
    (tmp_path / "stub.c").write_text("int inspector_stub(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text("int inspector_stub(void);\nint use(void) { return inspector_stub(); }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", "libinspectorgone.so.7", "stub.c",
                    "-Wl,-soname,libinspectorgone.so.7"], cwd=tmp_path, check=True)
    plugins = tmp_path / "platforms"
    plugins.mkdir()
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(plugins / "libqxcb.so"), "plugin.c",
                    str(tmp_path / "libinspectorgone.so.7")], cwd=tmp_path, check=True)
    (tmp_path / "libinspectorgone.so.7").unlink()

    env = plain_env(DISPLAY=":0", QT_QPA_PLATFORM_PLUGIN_PATH=str(plugins))
    problem = platform_problem(env)
    assert problem is not None and "libinspectorgone.so.7" in problem and XCB_PACKAGES in problem

    result = start_app(env, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1 and "libinspectorgone.so.7" in result.stderr


def test_headless_platforms_are_left_to_qt():
    assert platform_problem(plain_env(QT_QPA_PLATFORM="offscreen")) is None
    assert platform_problem(plain_env(QT_QPA_PLATFORM="minimal")) is None
