"""Cyclic garbage holding Qt objects is collected on the GUI thread, never by a busy worker."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import gc
    from PySide6.QtCore import QEventLoop, QThread, QTimer
    from PySide6.QtGui import QStandardItemModel
    from PySide6.QtWidgets import QLabel, QTreeView, QWidget
    from inspector.gui.app import application

    app = application()
    # Garbage only the cyclic collector can free: parentless widgets and models in reference cycles.
    for _ in range(200):
        widget = QWidget(); widget.me = widget; widget.label = QLabel("x", widget)
        model = QStandardItemModel(); model.me = model
        view = QTreeView(); view.setModel(model); view.me = view
    del widget, model, view

    class Busy(QThread):
        def run(self):
            # Allocates like a run does: enough to set off automatic collections on this thread.
            junk = [[[] for _ in range(10)] for _ in range(20000)]

    worker = Busy()
    worker.start()
    worker.wait()
    loop = QEventLoop()
    QTimer.singleShot(600, loop.quit)  # the GUI thread's collector runs meanwhile
    loop.exec()
    young, _, _ = gc.get_count()
    print("alive", young < gc.get_threshold()[0])
""")


def test_a_busy_worker_does_not_collect_the_gui_threads_widgets():
    # Without the collector this script dies with a segmentation fault in the worker's collection.
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    assert "alive True" in result.stdout
