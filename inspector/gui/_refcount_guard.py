"""A guard against a reference-counting bug of PySide6 6.12.0 on Python 3.10 and 3.11.

PySide6/shiboken6 6.12.0 hand ``None``, ``True`` and ``False`` back to Python
without taking a reference: every void method (``setText``, ``setEnabled``,
``processEvents``…), every ``Signal.emit()`` (it returns ``True``) and every
``data()`` that has nothing drops one reference the caller never got. From
Python 3.12 on these three objects are immortal and nothing happens; on 3.11
their counts run down, and the interpreter aborts ("deallocating None") after
some tens of thousands of calls: a few hundred runs, or half a minute of
panning a plot. PySide6 6.11.3 does not have the bug.

:func:`install` checks for the bug with a few calls and, only when it is
there, gives the three objects a count so large that it can never reach
zero, which is what Python 3.12 does for them. Pinning PySide6 to a fixed
version is the real cure; this keeps the app alive where that has not
happened.
"""

from __future__ import annotations

import ctypes
import sys

_PROBE_CALLS = 64
_BALLAST = 1 << 40
"""References added to each of None, True and False (they are never freed anyway)."""

installed = False
"""True once the guard found the bug and made the three objects unkillable."""


def _leaks() -> bool:
    """Do PySide's calls drop references of None or True? (Measured, not guessed from versions.)"""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        sig_probed = Signal()

    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(_PROBE_CALLS):
        probe.setObjectName("probe")  # a void method: returns None
        probe.sig_probed.emit()  # returns True
    lost_none = none_before - sys.getrefcount(None)
    lost_true = true_before - sys.getrefcount(True)
    # Other threads may take or drop a few references meanwhile; a leak loses one per call.
    return lost_none >= _PROBE_CALLS // 2 or lost_true >= _PROBE_CALLS // 2


def install() -> bool:
    """Guard None, True and False when this PySide build leaks their references; True when it did."""
    global installed
    if installed:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False  # immortal there: the bug is harmless
    if not _leaks():
        return False
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BALLAST
    installed = True
    return True
