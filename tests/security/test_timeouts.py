"""Work that does not stop by itself: ``--timeout``, Ctrl-C, and a stuck run in the window.

The models (``stop_models.py``) loop forever inside the submodule ``body``:
either without entering another module (only abandoning the run ends it),
or calling a child again and again (the stop asked between modules ends it),
or inside TorchScript, where Python's own Ctrl-C never arrives. Before the
fix, the command line ran such a model until killed, and the window could
neither cancel it nor close.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from typing import Any

import pytest

from inspector.supervisor import INTERRUPT_GRACE_S, TIMEOUT_GRACE_S
from tests.helpers import PYTHON, ROOT, run_main, strict_json
from tests.security.stop_models import model_argument as model

SLACK_S = 10.0
"""Seconds a loaded test machine may add to the promised times (start-up of the child's threads, scheduling)."""


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([PYTHON, "-m", "inspector", *args], cwd=ROOT, env=environment(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_the_loop(process: subprocess.Popen[str]) -> float:
    """Read the child's stderr until its model says it entered the endless loop; the time it did."""
    assert process.stderr is not None
    for line in process.stderr:
        if "entering the loop" in line:
            return time.monotonic()
    raise AssertionError(f"the model never started its loop (exit {process.wait()})")


def finish(process: subprocess.Popen[str], within: float) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=within + 60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError("the process did not end") from None
    return process.returncode, out, err


# ----------------------------------------------------------------------------- --timeout


@pytest.mark.parametrize("command", ["report", "sweep"])
def test_timeout_abandons_a_forward_that_never_returns_and_writes_the_json(command, tmp_path):
    out = tmp_path / "out.json"
    process = start([command, model("SpinsInBody"), "--timeout", "1", "--json", str(out)])
    entered = wait_for_the_loop(process)
    code, _, err = finish(process, 1 + TIMEOUT_GRACE_S)
    ended = time.monotonic()
    assert code == 3, err
    assert ended - entered <= 1 + TIMEOUT_GRACE_S + SLACK_S
    document = strict_json(out.read_text())
    assert document["timed_out"] is True
    assert document["error"]["module"] == "body"
    assert "timed out after 1 s" in document["error"]["message"]
    if command == "report":
        assert document["schema"] == "model-inspector/report@1"
        assert document["ok"] is False
        assert [layer["name"] for layer in document["layers"]] == ["linear", "body"]
    else:
        assert document["schema"] == "model-inspector/sweep@1"
    assert "timed out" in err and "Traceback" not in err


def test_timeout_stops_a_loop_of_modules_at_the_next_module_and_keeps_the_records(tmp_path):
    out = tmp_path / "report.json"
    process = start(["report", model("StepsForeverInBody"), "--timeout", "1", "--json", str(out)])
    code, _, err = finish(process, 1 + TIMEOUT_GRACE_S)
    assert code == 3, err
    report = strict_json(out.read_text())
    assert report["ok"] is False and report["timed_out"] is True
    assert report["error"]["module"] in ("body", "body.step")
    calls = {layer["name"]: layer["calls"] for layer in report["layers"]}
    assert calls["linear"] == 1 and calls["body.step"] > 1  # the records made before the stop are kept
    assert "the model's code did not stop" not in err  # it stopped: nothing was abandoned


def test_a_run_within_its_timeout_is_an_ordinary_report(capsys):
    from tests.helpers import _global_hook_counts

    hooks = _global_hook_counts()
    code, out, err = run_main(["report", "tests.models:tiny_mlp", "--timeout", "600"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] is True and report["timed_out"] is False
    assert _global_hook_counts() == hooks  # the watch of the running module took its hooks away


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_a_timeout_that_is_not_a_positive_number_is_a_usage_error(value, capsys):
    code, out, err = run_main(["report", "tests.models:tiny_mlp", "--timeout", value], capsys)
    assert code == 2 and out == ""
    assert "--timeout" in err and len(err.strip().splitlines()) == 1


def test_the_watch_names_the_module_running_on_its_thread_only():
    import threading

    import torch
    from torch import nn

    from inspector.core.watch import ModuleWatch

    seen: dict[str, Any] = {}
    watch = ModuleWatch()

    class Probe(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.setdefault("inside", watch.current)
            return x

    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), Probe()))
    other = nn.Sequential(Probe())
    with watch:
        model(torch.zeros(1, 2))
        assert seen.pop("inside") == ("1.1", "Probe")
        model[1][0] = Probe()  # put in after the first forward, as a sweep's Identity is
        model(torch.zeros(1, 2))
        assert seen.pop("inside") == ("1.0", "Probe")
        thread = threading.Thread(target=lambda: other(torch.zeros(1)))
        thread.start()
        thread.join()
        assert seen.pop("inside") is None  # the other thread's calls were not watched
    assert not watch.installed


# ----------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_ends_a_torchscript_loop():
    process = start(["report", model("TorchScriptLoopInBody")])
    wait_for_the_loop(process)
    time.sleep(0.2)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    code, out, err = finish(process, INTERRUPT_GRACE_S)
    assert code == 130, err
    assert time.monotonic() - sent <= INTERRUPT_GRACE_S + SLACK_S
    assert "interrupted" in err and "Traceback" not in err
    assert out == ""  # no half report on standard output


def test_a_second_ctrl_c_ends_the_process_at_once():
    process = start(["report", model("TorchScriptLoopInBody")])
    wait_for_the_loop(process)
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    for line in process.stderr:  # the first is answered: the work is given its grace to stop
        if "interrupted" in line:
            break
    process.send_signal(signal.SIGINT)
    code, _, err = finish(process, INTERRUPT_GRACE_S)
    assert code == 130
    assert "interrupted" in err  # the second one answered by itself, before the grace ran out


# ----------------------------------------------------------------------------- the window

from tests.gui.conftest import ScriptedPrompts, _no_thread_left_running, open_window, prompts  # noqa: E402,F401

GRACE_S = 0.3
"""The window's grace before it calls a run stuck, made short for the tests."""


def stuck_window(open_window: Any) -> tuple[Any, Any]:
    """A window on a StuckUntilReleased model (built here, so the test can release its forward)."""
    from inspector.core.loading import LoadedModel
    from inspector.core.session import Session
    from tests.security import stop_models

    window = open_window(None)
    stuck = stop_models.StuckUntilReleased()
    window.controller.set_session(Session(LoadedModel(stuck, model("StuckUntilReleased"), "callable")))
    window.controller.stuck_after_s = GRACE_S
    return window, stuck


def test_the_window_says_where_a_run_is_stuck_and_abandons_it(open_window, prompts, qtbot):
    from PySide6.QtCore import Qt

    prompts.trust_answer = True
    window, stuck = stuck_window(open_window)
    try:
        with qtbot.waitSignal(window.controller.sig_task_stuck, timeout=30_000) as blocker:
            assert window.start_run()
        assert blocker.args[:2] == ["body", "WaitUntilReleased"]
        assert "stuck in body" in window.banner.text()
        assert window.banner.action_button.isVisibleTo(window) and window.banner.action_button.text() == "Abandon run"
        window.cancel_run()  # the forward enters no module: Cancel cannot stop it
        assert window.busy
        with qtbot.waitSignal(window.sig_model_loaded, timeout=60_000):
            qtbot.mouseClick(window.banner.action_button, Qt.MouseButton.LeftButton)
        assert window.session is not None and window.session.model is not stuck  # opened again, fresh
        assert not window.busy
        with qtbot.waitSignal(window.controller.sig_task_stuck, timeout=30_000):
            assert window.start_run()  # the new model runs (and is stuck the same way)
        window.session.model.release.set()
        with qtbot.waitSignal(window.sig_run_finished, timeout=30_000) as finished:
            pass
        assert finished.args[0] is not None and finished.args[0].ok
    finally:
        stuck.release.set()


def test_closing_the_window_while_a_run_is_stuck_does_not_block(open_window, qtbot):
    from inspector.gui.run_worker import abandoned_running

    window, stuck = stuck_window(open_window)
    window.controller.close_wait_ms = 200
    try:
        with qtbot.waitSignal(window.controller.sig_task_stuck, timeout=30_000):
            assert window.start_run()
        workers = window.controller.workers
        started = time.monotonic()
        assert window.close()
        assert time.monotonic() - started < 5
        assert workers and all(worker in abandoned_running() for worker in workers)
    finally:
        stuck.release.set()
    for worker in workers:
        assert worker.wait(10_000)
    assert not abandoned_running()


def test_the_app_ends_even_when_a_run_never_returns(tmp_path):
    """The whole app in a child: a run stuck for good, the window closed, and the process still exits."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from PySide6.QtCore import QTimer
        from inspector.gui.app import application, build_window, finish
        from inspector.core.loading import LoadedModel
        from inspector.core.session import Session
        from tests.security.stop_models import SpinsInBody

        app = application()
        window = build_window(None)
        window.controller.close_wait_ms = 200
        window.controller.set_session(Session(LoadedModel(SpinsInBody(), "spin", "callable")))
        window.controller.stuck_after_s = 0.2
        window.controller.sig_task_stuck.connect(lambda *where: window.close())
        window.show()
        QTimer.singleShot(0, window.start_run)
        sys.exit(finish(app.exec()))
    """))
    result = subprocess.run([PYTHON, str(script)], cwd=ROOT, env=environment(), capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
