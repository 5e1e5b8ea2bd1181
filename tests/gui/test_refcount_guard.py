"""The app survives many Qt calls even on a PySide build that drops references of None/True/False."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CALLS = 200_000


def test_many_emits_and_void_calls_do_not_abort_the_interpreter():
    # In a fresh interpreter: a PySide6 that loses one reference of None per
    # void call and one of True per emit() aborts long before 200,000 calls.
    script = textwrap.dedent(f"""
        import sys
        import inspector.gui  # installs the guard where the bug is
        from PySide6.QtCore import QObject, Signal

        class Emitter(QObject):
            sig_ticked = Signal(int, int)

        emitter = Emitter()
        emitter.sig_ticked.connect(lambda done, total: None)
        for i in range({CALLS}):
            emitter.sig_ticked.emit(i, {CALLS})
            emitter.setObjectName("tick")
        print("alive", sys.getrefcount(None) > 0)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "alive True" in result.stdout

