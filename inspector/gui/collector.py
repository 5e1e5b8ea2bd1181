"""Python's cyclic garbage collection, moved to the GUI thread.

Python runs a collection in whichever thread happens to allocate past a
threshold. When that is a worker (a run allocates a lot) and the garbage
holds Qt objects that Python owns (a widget, a model, a pyqtgraph item in a
reference cycle), the worker deletes GUI objects from the wrong thread: a
segfault or a hang, seen here as an intermittent crash of the test suite and
reproduced on purpose by collecting parentless widgets in a ``QThread``.

:class:`GuiThreadCollector` turns automatic collection off and collects on a
timer in the GUI thread instead, generation by generation, with Python's own
thresholds: the same collections, only always in the thread that owns the
widgets.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 250


class GuiThreadCollector(QObject):
    """Collects cyclic garbage on the GUI thread every :data:`INTERVAL_MS`; automatic collection stays off."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("guiThreadCollector")
        self.threshold = gc.get_threshold()
        self._long_lived = 0
        """Objects in the oldest generation after the last full collection."""
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._timer.start()

    def _on_timer_timeout(self) -> None:
        self.collect_due()

    def collect_due(self) -> None:
        """Collect the generations whose allocation counts passed Python's thresholds (as gc would)."""
        young, middle, old = gc.get_count()
        if young <= self.threshold[0]:
            return
        gc.collect(0)
        if middle <= self.threshold[1]:
            return
        gc.collect(1)
        if old <= self.threshold[2]:
            return
        # As CPython does: a full collection only once a quarter more objects
        # have survived into the oldest generation since the last one, so a
        # loaded model's hundreds of thousands of objects are not scanned over
        # and over (that is a pause of 100-250 ms on the GUI thread each time).
        long_lived = len(gc.get_objects(generation=2))
        if long_lived - self._long_lived <= self._long_lived // 4:
            return
        gc.collect(2)
        self._long_lived = len(gc.get_objects(generation=2))


    def freeze_survivors(self) -> None:
        """After a model was opened: leave every object alive now out of later collections.

        The model's objects were made on the loading worker, where nothing is
        collected; left in the young generations, the next collections would
        scan hundreds of thousands of them, a pause of 100-250 ms in the middle
        of the first runs. ``gc.freeze`` is instant.
        """
        gc.freeze()
        self._long_lived = 0

    def collect_everything(self) -> None:
        """Before another model is opened: give the frozen objects back and collect them all once.

        The pause (a full collection) falls where the user asked for a new
        model and expects to wait, and what the previous models left in
        reference cycles is freed.
        """
        gc.unfreeze()
        gc.collect()
        self._long_lived = 0


def of(app: QObject | None) -> GuiThreadCollector | None:
    """The app's collector, when :func:`install` made one."""
    found = app.findChild(GuiThreadCollector, "guiThreadCollector") if app is not None else None
    return found if isinstance(found, GuiThreadCollector) else None


def install(app: QObject) -> GuiThreadCollector:
    """The app's collector (made once, a child of the app so it lives as long)."""
    return of(app) or GuiThreadCollector(app)
