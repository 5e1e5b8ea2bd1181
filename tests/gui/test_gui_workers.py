"""Work off the GUI thread: cancel, editing or running while a run goes, closing mid-run, opening files.

The slow model (``gui_models.py:SlowNet``, about 3 s) gives a run long
enough to act on while it is in progress.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

MODELS = Path(__file__).resolve().parent / "gui_models.py"
TIMEOUT_MS = 60_000


def model_spec(name: str) -> str:
    return f"{MODELS}:{name}"


def start_slow_run(open_window: Any, qtbot: Any) -> Any:
    """A window on SlowNet with a run in progress (at least one progress report seen)."""
    window = open_window(model_spec("SlowNet"))
    with qtbot.waitSignal(window.controller.sig_run_progressed, timeout=TIMEOUT_MS):
        assert window.start_run()
    assert window.running
    return window


def hooks_left(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_cancel_stops_the_run_between_modules(open_window, qtbot):
    window = start_slow_run(open_window, qtbot)
    total = window.session.module_count
    assert window.actions["actionCancel"].isEnabled()
    with qtbot.waitSignal(window.sig_run_finished, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(window.input_panel.cancel_button, Qt.MouseButton.LeftButton)
    run = blocker.args[0]
    assert run.cancelled
    ran = sum(1 for record in run.records.values() if record.calls)
    assert 0 < ran < total  # it stopped part-way rather than running on
    assert hooks_left(window.session.model) == 0
    assert "cancelled" in window.input_panel.progress.format()
    assert window.actions["actionRun"].isEnabled() and not window.actions["actionCancel"].isEnabled()
    assert window.session.last_run is None  # a cancelled run is not taken for a result


def test_edits_and_a_second_run_wait_for_the_run(open_window, qtbot):
    window = start_slow_run(open_window, qtbot)
    assert window.select_module("linear")
    for name in ("actionReplaceIdentity", "actionRestoreAll", "actionUndo", "actionRun", "actionOpenModel"):
        assert not window.actions[name].isEnabled(), name
    assert window.replace_current_with_identity() is False  # even when called directly
    assert window.start_run() is False  # pressing Run twice starts nothing
    assert window.open_model("resnet18") is False
    assert not window.input_panel.shape_edit.isEnabled()
    assert window.session.replaced == []
    with qtbot.waitSignal(window.sig_run_finished, timeout=TIMEOUT_MS):
        window.cancel_run()
    assert window.actions["actionReplaceIdentity"].isEnabled()


def test_closing_mid_run_cancels_and_waits(open_window, qtbot):
    window = start_slow_run(open_window, qtbot)
    session = window.session
    workers = window.controller.workers
    assert workers
    assert window.close()
    assert all(not worker.isRunning() for worker in workers)
    assert hooks_left(session.model) == 0


def test_closing_with_unsaved_edits_asks_first(window, prompts):
    assert window.select_module("fc")
    window.actions["actionReplaceIdentity"].trigger()
    prompts.confirm_answer = False
    assert window.close() is False
    assert prompts.titles("confirm") == ["Discard edits?"]
    assert "fc" in prompts.asked[-1][2]
    assert window.session.replaced == ["fc"]
    prompts.confirm_answer = True
    assert window.close() is True


def test_closing_after_undoing_everything_does_not_ask(window, prompts):
    assert window.select_module("fc")
    window.actions["actionReplaceIdentity"].trigger()
    window.actions["actionUndo"].trigger()
    assert window.close() is True
    assert prompts.titles("confirm") == []


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_dropping_a_file_opens_it_off_the_gui_thread(open_window, qtbot, tmp_path):
    window = open_window(None)
    assert window.session is None
    path = tmp_path / "scripted.ts"
    torch.jit.script(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())).save(str(path))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.sig_model_loaded, timeout=TIMEOUT_MS) as blocker:
        window.dropEvent(event)
        assert window.busy  # the load runs on a worker
    assert blocker.args[0] == str(path)
    assert window.session.read_only
    assert not window.actions["actionReplaceIdentity"].isEnabled()
    assert window.input_panel.shape_edit.text() == "1,3"  # guessed from the first Linear


def test_a_state_dict_asks_for_its_architecture(open_window, prompts, tmp_path):
    import torchvision

    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "weights.pth"
    torch.save(reference.state_dict(), path)
    prompts.architecture = "resnet18"
    window = open_window(str(path))
    assert [q[0] for q in prompts.asked] == ["architecture"]
    assert window.session.loaded.kind == "state_dict"
    assert torch.equal(window.session.model.fc.weight, reference.fc.weight)


def test_a_pickled_module_asks_for_trust_and_is_refused_without_it(open_window, prompts, tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 2)), path)
    prompts.trust_answer = False
    window = open_window(str(path))
    assert window.session is None
    trust_questions = [q for q in prompts.asked if q[0] == "trust"]
    assert len(trust_questions) == 1 and "Sequential" in trust_questions[0][3]  # what it wants to unpickle
    assert window.banner.isVisibleTo(window) and "trust" in window.banner.text()

    prompts.trust_answer = True
    assert window.open_model(str(path), wait=True)
    assert window.session.loaded.kind == "pickle"


def test_an_unknown_model_is_a_message(open_window):
    window = open_window("resnet_does_not_exist")
    assert window.session is None
    assert window.banner.isVisibleTo(window)
    assert "unknown model" in window.banner.text()
    assert "Traceback" not in window.log_panel.text()


def test_opening_another_model_with_edits_asks_first(window, prompts, qtbot):
    assert window.select_module("fc")
    window.actions["actionReplaceIdentity"].trigger()
    prompts.confirm_answer = False
    assert window.open_model("resnet18") is False
    assert window.session.replaced == ["fc"]
    prompts.confirm_answer = True
    with qtbot.waitSignal(window.sig_model_loaded, timeout=TIMEOUT_MS):
        assert window.open_model("alexnet")
    assert window.session.source == "torchvision:alexnet"
    assert window.undo_stack.count() == 0


def test_recent_models_are_remembered(open_window):
    first = open_window("resnet18")
    assert first.session is not None
    second = open_window(None)
    entries = [action.text() for action in second.recent_menu.actions()]
    assert entries and entries[0] == "torchvision:resnet18"


def test_a_job_that_ends_before_start_returns_still_reports(open_window, qtbot, monkeypatch):
    """A tiny model's run can end before the thread that started it runs its next line.

    The worker's signals must be connected before it starts, or such a run
    (and such a load) would finish into no connection and the window would
    wait forever. The fastest worker possible runs its job inside start().
    """
    from inspector.gui.run_worker import Worker

    window = open_window(None)
    monkeypatch.setattr(Worker, "start", lambda self, *args: self.run())
    with qtbot.waitSignal(window.sig_model_loaded, timeout=10_000):
        window.open_model("tests.models:tiny_mlp")
    with qtbot.waitSignal(window.sig_run_finished, timeout=10_000) as finished:
        window.actions["actionRun"].trigger()
    assert finished.args[0] is not None and finished.args[0].ok


def test_model_work_goes_through_one_queue_and_busy_is_said_once(open_window, qtbot):
    from inspector.core.task import TaskState
    from inspector.gui.controller import TaskRequest

    window = start_slow_run(open_window, qtbot)
    controller = window.controller
    order: list[str] = []
    busy: list[bool] = []
    controller.sig_busy_changed.connect(busy.append)

    def request(name: str) -> TaskRequest:
        return TaskRequest("compare", lambda state: name, TaskState(name), order.append,
                           lambda error, trace: order.append(f"failed: {error}"))

    assert controller.submit(request("refused")) is False  # the model is busy: refused, not queued
    assert controller.submit(request("queued"), wait_turn=True)
    window.cancel_run()
    qtbot.waitUntil(lambda: order == ["queued"] and not controller.busy, timeout=TIMEOUT_MS)
    assert busy[-1] is False and busy.count(False) == 1  # idle once, after the queued task too


def test_no_panel_makes_its_own_worker():
    panels = Path(__file__).resolve().parents[2] / "inspector" / "gui" / "panels"
    for path in panels.glob("*.py"):
        text = path.read_text()
        assert "run_worker" not in text and "QThread" not in text, path.name
