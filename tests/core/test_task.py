"""The task state of model work: progress, a stop request, partial results, and the jobs made of them."""

from __future__ import annotations

import threading

from inspector.core.inputs import InputSpec
from inspector.core.session import Session
from inspector.core.task import TaskState, run_job, sweep_job
from tests.helpers import assert_unchanged, snapshot


def test_progress_and_partial_results_reach_the_listeners_and_stay_readable():
    state = TaskState("counting")
    heard: list[object] = []
    state.on_progress = lambda done, total: heard.append((done, total))
    state.on_partial = heard.append

    def job() -> None:
        for i in range(100):
            state.add_partial(i)
            state.set_progress(i + 1, 100)

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    assert state.progress == (100, 100)
    assert state.partial_results == list(range(100))
    assert heard[:2] == [0, (1, 100)] and len(heard) == 200
    assert not state.should_stop() and not state.stop_requested
    state.request_stop()
    assert state.should_stop() and state.stop_requested


def test_a_run_job_asked_to_stop_before_it_starts_stops_at_the_first_module():
    session = Session.open("tests.models:tiny_mlp")
    assert session.inputs is not None
    state = TaskState("run")
    state.request_stop()
    run = run_job(session, "cpu")(state)
    assert run.cancelled
    assert sum(1 for record in run.records.values() if record.calls) <= 1
    done = run_job(session, "cpu")(TaskState("run"))
    assert done.ok and not done.cancelled and all(record.calls for record in done.records.values())


def test_a_sweep_job_hands_each_entry_as_a_partial_result():
    session = Session.open("resnet18")
    session.set_input(InputSpec((1, 3, 64, 64)))
    before = snapshot(session.model)
    state = TaskState("sweep")
    result = sweep_job(session, only_types=["BasicBlock"], under=None, leaves=False)(state)
    assert [e.name for e in state.partial_results] == [e.name for e in result.entries]
    assert state.progress[0] == state.progress[1] == len(result.candidates)
    assert_unchanged(session.model, before)
