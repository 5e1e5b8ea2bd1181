"""Starting the app: the window exists before torch is imported, and main() opens the model behind it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def run_python(script: str, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    # -X faulthandler: should the child crash, its stderr (shown by the assertion) says where.
    return subprocess.run([sys.executable, "-X", "faulthandler", "-c", textwrap.dedent(script)],
                          capture_output=True, text=True, timeout=timeout, env=ENV)


def test_the_window_is_built_without_importing_torch():
    result = run_python("""
        import sys
        from PySide6.QtCore import QStandardPaths
        QStandardPaths.setTestModeEnabled(True)
        from inspector.gui.app import application
        from inspector.gui.main_window import MainWindow
        app = application()
        window = MainWindow()
        window.show()
        app.processEvents()
        print("torch" in sys.modules, "pyqtgraph" in sys.modules)
        window.close()
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "False"]  # torch and pyqtgraph come later, behind the window


@pytest.mark.slow
def test_main_shows_the_window_then_opens_the_model_on_a_worker():
    result = run_python("""
        import sys, threading
        from PySide6.QtCore import QStandardPaths, QTimer
        QStandardPaths.setTestModeEnabled(True)
        from PySide6.QtWidgets import QApplication
        import inspector.gui.app as app_module

        seen = {}

        def watch():
            windows = [w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow"]
            if not windows:
                QTimer.singleShot(10, watch)
                return
            window = windows[0]
            seen["visible_before_torch"] = window.isVisible() and "torch" not in sys.modules

            def loaded(source):
                seen["source"] = source
                seen["gui_thread"] = threading.current_thread() is threading.main_thread()
                QTimer.singleShot(0, window.close)

            window.sig_model_loaded.connect(loaded)

        QTimer.singleShot(0, watch)
        code = app_module.main("resnet18")
        print(code, seen.get("visible_before_torch"), seen.get("source"), seen.get("gui_thread"))
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["0", "True", "torchvision:resnet18", "True"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the preload is Linux only")
def test_torch_libraries_preloaded_without_the_gil_then_torch_imports_as_usual():
    result = run_python("""
        import sys
        from inspector.gui.run_worker import preload_torch_libraries
        loaded = preload_torch_libraries()
        mapped = any("libtorch_cpu.so" in line for line in open("/proc/self/maps"))
        before = "torch" in sys.modules
        import torch
        print(loaded, mapped, before, float(torch.arange(4.0).sum()), preload_torch_libraries())
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "True", "False", "6.0", "False"]
