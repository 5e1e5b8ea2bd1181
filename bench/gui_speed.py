"""Target 4: the GUI: start to a painted window, a 10,000-module tree, the event loop during a run.

Every figure comes from a fresh interpreter on Qt's offscreen platform
(widgets paint into an offscreen buffer, nothing appears on screen), so each
start is a cold one and this process never loads Qt. The children run the
functions ``*_child`` below and print one JSON object; they keep QSettings
in a temporary folder, so a user's saved window state is neither read nor
written.

- *Start*: ``inspector.cli.main(["gui", MODEL])``, the entry of
  ``python -m inspector gui``; an application event filter notes when the
  main window is shown and first painted, and the window's
  ``sig_model_loaded`` when the model is open. Times count from just before
  the parent starts the child interpreter.
- *Tree*: ``build_tree`` of a model with 10,000 modules, then the tree set
  into the GUI's model and view and painted, alone and in the real window.
- *Stalls*: a 10 ms timer on the GUI thread notes its ticks while the real
  window's Run action probes a model on its worker; a gap between ticks is
  time the event loop could not answer the user.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from bench.common import in_fresh_process, row

START_MODEL = "resnet18"
"""What ``python -m inspector`` opens when given no model."""
START_REPEATS = 3
TREE_SIZE = 10_000
TREE_REPEATS = 5
STALL_MODEL, STALL_BATCH, STALL_RUNS = "resnet50", 8, 2
TICK_MS = 10
"""The stall timer's interval: a gap much longer than this is the event loop held up."""
SETTLE_MS = 300
"""How long the stall timer keeps ticking after a run is shown (the repaint of its results)."""
START_STEPS = (
    ("qt_imported", "interpreter up, PySide6 imported"),
    ("app_imported", "the app's modules imported (no torch)"),
    ("shown", "main window shown"),
    ("first_paint", "first paint event of the window"),
    ("painted", "window painted (event loop idle again after the first paint)"),
    ("torch_imported", "torch's import finished on the loading worker (as the GUI thread's timer saw it)"),
    ("loaded", f"{START_MODEL} open in the window (torch imported, model built, tree shown)"),
)


# ------------------------------------------------------------------- helpers


def _offscreen_qt() -> None:
    """Qt on the offscreen platform, with settings in a throwaway folder (before any QApplication)."""
    import os
    import tempfile

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="inspector-bench-")
    from PySide6.QtCore import QStandardPaths

    QStandardPaths.setTestModeEnabled(True)


def torch_imported() -> bool:
    """Whether ``import torch`` has finished in this process (not merely begun on another thread)."""
    import sys

    module = sys.modules.get("torch")
    # importlib marks a module's spec while its code runs: a thread that is
    # still importing torch has put it in sys.modules already.
    return module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False)


def gap_stats(ticks: list[float]) -> dict[str, float]:
    """Longest and 99th-percentile gap between successive ``ticks`` (seconds in, milliseconds out)."""
    gaps = sorted(b - a for a, b in zip(ticks, ticks[1:], strict=False))
    if not gaps:
        return {"max_ms": float("nan"), "p99_ms": float("nan"), "ticks": len(ticks)}
    p99 = gaps[min(len(gaps) - 1, int(0.99 * len(gaps)))]
    return {"max_ms": gaps[-1] * 1000, "p99_ms": p99 * 1000, "ticks": len(ticks)}


def _tick_timer(ticks: list[float]) -> Any:
    """A precise timer every :data:`TICK_MS` that appends ``perf_counter()`` to ``ticks``."""
    from PySide6.QtCore import Qt, QTimer

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    return timer


def _wait(ms: int) -> None:
    """Run the event loop for ``ms`` milliseconds."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


# ------------------------------------------------------------------- children


def startup_child(model: str) -> dict[str, Any]:
    """Start the app through its command line entry; wall-clock marks of each step, until ``model`` is open."""
    marks: dict[str, float] = {}
    _offscreen_qt()
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QWidget

    marks["qt_imported"] = time.time()
    torch_at_import = torch_imported()
    from inspector.cli import main
    from inspector.gui.app import application
    from inspector.gui.main_window import MainWindow

    marks["app_imported"] = time.time()
    torch_at_import = torch_at_import or torch_imported()
    app = application()  # main() reuses this one; it is created here to watch its events
    ticks: list[float] = []
    timer = _tick_timer(ticks)
    found: dict[str, Any] = {}

    def on_tick() -> None:
        if "torch_imported" not in marks and torch_imported():
            marks["torch_imported"] = time.time()
            found["torch_tick"] = ticks[-1]

    timer.timeout.connect(on_tick)  # after the tick is noted (connection order)

    def on_loaded(_source: str) -> None:
        marks["loaded"] = time.time()
        ticks.append(time.perf_counter())
        timer.stop()
        QTimer.singleShot(0, found["window"].close)  # the last window closed ends main()

    def on_painted() -> None:
        marks["painted"] = time.time()
        app.removeEventFilter(watcher)
        if "loaded" not in marks:
            ticks.append(time.perf_counter())
            timer.start()

    class Watcher(QObject):
        """Notes the main window's Show and first Paint events."""

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            kind = event.type()
            if kind == QEvent.Type.Show and isinstance(watched, MainWindow) and "shown" not in marks:
                marks["shown"] = time.time()
                found["window"] = watched
                watched.sig_model_loaded.connect(on_loaded)
            elif (kind == QEvent.Type.Paint and "first_paint" not in marks and isinstance(watched, QWidget)
                  and isinstance(watched.window(), MainWindow)):
                marks["first_paint"] = time.time()
                found["torch_before_paint"] = torch_imported()
                QTimer.singleShot(0, on_painted)
            return False

    watcher = Watcher()
    app.installEventFilter(watcher)
    status = main(["gui", model])
    split = found.get("torch_tick", ticks[-1] if ticks else 0.0)
    return {
        "marks": marks,
        "status": status,
        "torch_at_import": torch_at_import,
        "torch_before_paint": found.get("torch_before_paint"),
        "loading_gaps": gap_stats(ticks),
        "import_gaps": gap_stats([t for t in ticks if t <= split]),
        "build_gaps": gap_stats([t for t in ticks if t >= split]),
    }


def _models() -> dict[str, Any]:
    """Two models of 10,000 ``Linear(2, 2)`` layers: one flat, one in 100 blocks (10,001 and 10,101 modules)."""
    from torch import nn

    per_block = TREE_SIZE // 100
    return {
        "flat nn.Sequential": nn.Sequential(*(nn.Linear(2, 2) for _ in range(TREE_SIZE))),
        "100 blocks of 100": nn.Sequential(
            *(nn.Sequential(*(nn.Linear(2, 2) for _ in range(per_block))) for _ in range(TREE_SIZE // per_block))
        ),
    }


def tree_child(repeats: int) -> dict[str, dict[str, float]]:
    """Median seconds of each step that puts a 10,000-module tree on screen."""
    _offscreen_qt()
    from PySide6.QtWidgets import QApplication, QTreeView

    from inspector.core.loading import LoadedModel
    from inspector.core.session import Session
    from inspector.core.tree import build_tree
    from inspector.gui.app import application
    from inspector.gui.main_window import MainWindow
    from inspector.gui.tree_model import ModuleFilterProxy, ModuleTreeModel

    application()
    results: dict[str, dict[str, float]] = {}
    for label, model in _models().items():
        # The tree model and view as the window sets them up, on their own.
        tree_model = ModuleTreeModel()
        proxy = ModuleFilterProxy()
        proxy.setSourceModel(tree_model)
        view = QTreeView()
        view.setModel(proxy)
        view.setUniformRowHeights(True)
        view.resize(660, 860)
        view.show()
        window = MainWindow()
        window.show()
        # A widget paints only once its window is exposed, which takes a turn of the event loop.
        QApplication.processEvents()
        session = Session(LoadedModel(module=model, source=f"bench:{label}", kind="callable"))
        times: dict[str, list[float]] = {"build_tree": [], "view": [], "expand_all": [], "window": []}
        for attempt in range(repeats + 1):  # the first is a warm-up
            start = time.perf_counter()
            tree = build_tree(model, ())
            built = time.perf_counter()
            tree_model.set_tree(tree)
            view.expand(proxy.index(0, 0))
            view.viewport().repaint()
            QApplication.processEvents()  # what the paint left for later (scroll bars, geometry)
            painted = time.perf_counter()
            view.expandAll()
            view.viewport().repaint()
            QApplication.processEvents()
            expanded = time.perf_counter()
            view.collapseAll()
            QApplication.processEvents()
            window_tree = session.tree()
            shown_start = time.perf_counter()
            window.controller.set_session(session, window_tree)
            window.repaint()
            QApplication.processEvents()
            shown = time.perf_counter()  # (the warm-up also created the plots panel: not counted)
            if attempt:
                times["build_tree"].append(built - start)
                times["view"].append(painted - built)
                times["expand_all"].append(expanded - painted)
                times["window"].append(shown - shown_start)
        results[label] = {name: statistics.median(values) for name, values in times.items()}
        results[label]["modules"] = float(sum(1 for _ in model.modules()))
        window.close()
        view.close()
    return results


def stall_child(model: str, batch: int, runs: int) -> dict[str, Any]:
    """Ticks of a 10 ms timer while the real window's Run action probes ``model`` at ``batch``."""
    _offscreen_qt()
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    from inspector.core.inputs import InputSpec
    from inspector.gui.app import build_window

    window = build_window(model)
    window.show()
    _wait(500)  # the window's deferred start-up work (the plots panel) is done before the first run
    session = window.session
    assert session is not None and session.input_spec is not None
    natural = session.input_spec
    window.input_panel.set_spec(InputSpec((batch, *natural.shape[1:]), dtype=natural.dtype, fill=natural.fill,
                                          seed=natural.seed, layout=natural.layout))
    results = []
    for _ in range(runs):
        ticks: list[float] = []
        marks: dict[str, float] = {}
        timer = _tick_timer(ticks)
        loop = QEventLoop()

        def on_worker_done(_result: object, marks: dict[str, float] = marks) -> None:
            marks["worker_done"] = time.perf_counter()  # on the worker's thread: one assignment

        def on_finished(run: object, marks: dict[str, float] = marks, loop: QEventLoop = loop) -> None:
            marks["shown"] = time.perf_counter()
            marks["ok"] = float(run is not None and getattr(run, "ok", False))
            QTimer.singleShot(SETTLE_MS, loop.quit)

        window.sig_run_finished.connect(on_finished)
        ticks.append(time.perf_counter())
        timer.start()
        marks["start"] = time.perf_counter()
        window.actions["actionRun"].trigger()
        for worker in window.controller.workers:
            worker.sig_succeeded.connect(on_worker_done, Qt.ConnectionType.DirectConnection)
        loop.exec()
        timer.stop()
        window.sig_run_finished.disconnect(on_finished)
        done = marks.get("worker_done", marks["shown"])
        running = [t for t in ticks if t <= done]
        after = [t for t in ticks if t >= running[-1]]
        results.append({
            "wall_s": marks["shown"] - marks["start"],
            "ok": bool(marks.get("ok")),
            "all": gap_stats(ticks),
            "running": gap_stats(running),
            "showing": gap_stats(after),
        })
    # The GUI-thread parts of showing a run, again on the last run, to say where a long gap comes from.
    parts: dict[str, list[float]] = {"tree_columns": [], "plots": []}
    run = session.last_run
    for _ in range(3):
        start = time.perf_counter()
        window.tree_model.set_run(run)
        window.tree.viewport().repaint()
        tree_done = time.perf_counter()
        if window.plots is not None:
            window.plots.set_runs(run, None)
            window.plots.repaint()
        parts["tree_columns"].append(tree_done - start)
        parts["plots"].append(time.perf_counter() - tree_done)
    window.close()
    return {"runs": results, "parts_ms": {name: statistics.median(v) * 1000 for name, v in parts.items()}}


def _child(call: str, timeout: float = 600) -> dict[str, Any]:
    """Run ``bench.gui_speed.<call>`` in a fresh interpreter and return what it printed."""
    code = f"import json\nimport bench.gui_speed as bench\nprint(json.dumps(bench.{call}))"
    return in_fresh_process(code, timeout=timeout)


# ------------------------------------------------------------------- report


def _start_lines() -> list[str]:
    bare = []
    torch_alone = []
    for _ in range(START_REPEATS):
        spawned = time.time()
        in_fresh_process("print('{}')")
        bare.append(time.time() - spawned)
        spawned = time.time()
        in_fresh_process("import torch\nprint('{}')")
        torch_alone.append(time.time() - spawned)
    runs = []
    for _ in range(START_REPEATS):
        spawned = time.time()
        result = _child(f"startup_child({START_MODEL!r})")
        result["since_spawn"] = {step: mark - spawned for step, mark in result["marks"].items()}
        runs.append(result)
    lines = [
        f"### Start to a painted window (`python -m inspector gui {START_MODEL}`; offscreen; "
        f"median of {START_REPEATS} fresh processes)",
        "",
        row("step", "s after process start (median)", "each run"),
        row("---", "---:", "---"),
    ]
    for step, label in START_STEPS:
        values = [r["since_spawn"][step] for r in runs if step in r["since_spawn"]]
        if values:
            lines.append(row(label, f"{statistics.median(values):.2f}", ", ".join(f"{v:.2f}" for v in values)))
        else:
            lines.append(row(label, "not reached", ""))
    before = sum(1 for r in runs if r["torch_before_paint"])
    at_import = sum(1 for r in runs if r["torch_at_import"])
    def gap(kind: str, stat: str) -> str:
        return f"{statistics.median(r[kind][stat] for r in runs):.0f}"

    lines += [
        "",
        f"For reference, in fresh processes: a bare interpreter {statistics.median(bare):.2f} s, "
        f"`import torch` alone {statistics.median(torch_alone):.2f} s (process start to exit).",
        f"torch was fully imported at the window's first paint in {before} of {len(runs)} runs "
        f"(by the app's own imports, before any window existed, in {at_import}).",
        "",
        "Event loop behind the painted window (10 ms timer, from the paint until the model is shown; medians over "
        "the runs):",
        "",
        row("while the worker", "longest gap ms", "99th pct ms"),
        row("---", "---:", "---:"),
        row("imports torch", gap("import_gaps", "max_ms"), gap("import_gaps", "p99_ms")),
        row(f"builds {START_MODEL}, its tree, imports the plots, and the window shows it", gap("build_gaps", "max_ms"),
            gap("build_gaps", "p99_ms")),
        row("whole load", gap("loading_gaps", "max_ms"), gap("loading_gaps", "p99_ms")),
    ]
    return lines


def _tree_lines() -> list[str]:
    results = _child(f"tree_child({TREE_REPEATS})")
    lines = [
        f"### A {TREE_SIZE:,}-module tree (target: on screen <= 0.3 s after the model is built; "
        f"median of {TREE_REPEATS})",
        "",
        row("model", "modules", "core build_tree s", "tree model + view, root expanded, painted s",
            "build + view s", "expand all + paint s", "main window: set_session + paint s", "build + window s"),
        row("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"),
    ]
    for label, r in results.items():
        lines.append(row(
            label, f"{int(r['modules']):,}", f"{r['build_tree']:.3f}", f"{r['view']:.3f}",
            f"{r['build_tree'] + r['view']:.3f}", f"{r['expand_all']:.3f}", f"{r['window']:.3f}",
            f"{r['build_tree'] + r['window']:.3f}",
        ))
    lines += [
        "",
        "The view is a QTreeView over the window's filter proxy, 660 x 860 pixels, uniform row heights, as the "
        "window sets it up; \"painted\" is a synchronous repaint and the events it left pending. \"main window\" is "
        "everything the window does with a newly opened model (tree with its root expanded, input panel, labels, "
        "log, recent list) to the same point. In the app `build_tree` runs on the loading worker, the rest on the "
        "GUI thread, where a long step is also an event-loop stall.",
    ]
    return lines


def _stall_lines() -> list[str]:
    result = _child(f"stall_child({STALL_MODEL!r}, {STALL_BATCH}, {STALL_RUNS})")
    lines = [
        f"### Event loop during a run ({STALL_MODEL} batch {STALL_BATCH} through the window's Run action; "
        f"target: no gap > 100 ms)",
        "",
        row("run", "ok", "wall s", "ticks", "longest gap ms", "99th pct ms", "longest while the worker ran ms",
            "longest while showing the result ms"),
        row("---", "---", "---:", "---:", "---:", "---:", "---:", "---:"),
    ]
    for number, r in enumerate(result["runs"], start=1):
        lines.append(row(
            number, "yes" if r["ok"] else "no", f"{r['wall_s']:.2f}", r["all"]["ticks"], f"{r['all']['max_ms']:.0f}",
            f"{r['all']['p99_ms']:.0f}", f"{r['running']['max_ms']:.0f}", f"{r['showing']['max_ms']:.0f}",
        ))
    lines += [
        "",
        f"A {TICK_MS} ms timer on the GUI thread, from the Run action until {SETTLE_MS} ms after the window showed "
        "the run; \"showing the result\" starts at the last tick before the worker returned (tree columns, plots, "
        "details). The window is shown on the offscreen platform, so progress and plots are really painted.",
        f"Of showing the result, measured again on the last run (median of 3): tree columns set and repainted "
        f"{result['parts_ms']['tree_columns']:.0f} ms, plots panel set_runs and repainted "
        f"{result['parts_ms']['plots']:.0f} ms.",
    ]
    return lines


def main() -> list[str]:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [
        "## GUI (targets: window painted <= 1.5 s after start, torch imported behind it; "
        f"{TREE_SIZE:,}-module tree <= 0.3 s; no event-loop stall > 100 ms during a run)",
        "",
        f"Load average when this section started: {load} (1, 5, 15 min) on {os.cpu_count()} CPU cores; "
        "these are absolute times, so other work on the machine lengthens them all.",
        "",
    ]
    for section in (_start_lines, _tree_lines, _stall_lines):
        try:
            lines += section()
        except Exception as error:  # noqa: BLE001 - one failing part must not hide the others
            lines.append(f"{section.__name__.strip('_')}: failed: {type(error).__name__}: {error}")
        lines.append("")
    return lines[:-1]


if __name__ == "__main__":
    print("\n".join(main()))
