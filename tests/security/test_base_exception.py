"""``SystemExit`` and ``KeyboardInterrupt`` raised by a model's own code are the model's failures.

A factory that parses ``sys.argv`` exits; a forward calls ``sys.exit``; a
model raises ``KeyboardInterrupt`` itself. Before the fix these escaped:
the command line exited with the model's status and no report, and the
window's worker died without a word, leaving the window busy for good.
"""

from __future__ import annotations

import pytest

from tests.gui.conftest import ScriptedPrompts, _no_thread_left_running, open_window, prompts  # noqa: F401
from tests.helpers import assert_one_line_error, run_main, run_report
from tests.security.stop_models import model_argument as model

TIMEOUT_MS = 30_000


# ----------------------------------------------------------------------------- the command line


@pytest.mark.parametrize(("name", "said"), [("ExitsInBody", "sys.exit(7)"), ("InterruptsInBody", "KeyboardInterrupt")])
def test_a_forward_that_exits_or_interrupts_gets_its_report_naming_the_module(name, said, capsys):
    code, report, err = run_report([model(name)], capsys)
    assert code == 3, err  # never the model's 7, never 130
    assert report is not None and report["ok"] is False
    assert report["error"]["module"] == "body"
    assert said in report["error"]["message"]
    assert [layer["calls"] for layer in report["layers"]] == [1, 1]
    assert "body" in err and "Traceback" not in err


@pytest.mark.parametrize(("name", "said"), [("ExitsInBody", "sys.exit(7)"), ("InterruptsInBody", "KeyboardInterrupt")])
def test_a_sweep_whose_forward_exits_says_so_in_one_line_naming_the_module(name, said, capsys):
    code, out, err = run_main(["sweep", model(name)], capsys)
    assert code == 3
    line = assert_one_line_error(err)
    assert "body" in line and said in line


@pytest.mark.parametrize(("name", "said"), [("factory_that_exits", "sys.exit(5)"),
                                            ("factory_that_interrupts", "KeyboardInterrupt")])
@pytest.mark.parametrize("command", ["report", "sweep"])
def test_a_factory_that_exits_or_interrupts_is_one_line_and_exit_2(command, name, said, capsys):
    code, out, err = run_main([command, model(name)], capsys)
    assert code == 2 and out == ""
    line = assert_one_line_error(err)
    assert name in line and said in line


# ----------------------------------------------------------------------------- the window


@pytest.mark.parametrize(("name", "kind"), [("ExitsInBody", "SystemExit"), ("InterruptsInBody", "KeyboardInterrupt")])
def test_the_window_shows_a_forward_that_exits_as_the_module_failure(name, kind, open_window, prompts, qtbot):
    prompts.trust_answer = True
    window = open_window(model(name))
    assert window.session is not None
    with qtbot.waitSignal(window.sig_run_finished, timeout=TIMEOUT_MS) as finished:
        assert window.start_run()
    run = finished.args[0]
    assert run is not None and run.error is not None
    assert run.error.module == "body" and run.error.exception_type == kind
    assert "body" in window.banner.text()
    assert not window.busy
    with qtbot.waitSignal(window.sig_run_finished, timeout=TIMEOUT_MS):
        assert window.start_run()  # the window is alive and runs again


@pytest.mark.parametrize(("name", "said"), [("factory_that_exits", "sys.exit(5)"),
                                            ("factory_that_interrupts", "KeyboardInterrupt")])
def test_the_window_reports_a_factory_that_exits_and_stays_usable(name, said, open_window, prompts, qtbot):
    prompts.trust_answer = True
    window = open_window(None)
    with qtbot.waitSignal(window.controller.sig_problem, timeout=TIMEOUT_MS):
        assert window.open_model(model(name))  # on a worker
    assert not window.busy and window.session is None
    assert said in window.banner.text()
    with qtbot.waitSignal(window.sig_model_loaded, timeout=TIMEOUT_MS):
        assert window.open_model("tests.models:tiny_mlp")


def test_a_factory_that_exits_while_the_window_opens_it_is_a_message(open_window, prompts):
    prompts.trust_answer = True
    window = open_window(model("factory_that_exits"))  # opened on the GUI thread
    assert window.session is None
    assert "sys.exit(5)" in window.banner.text()


SWEEP_MODEL = '''
import sys
import torch
from torch import nn


class ExitsOnFour(nn.Module):
    def forward(self, x):
        if x.shape[-1] == 4:
            sys.exit(4)  # a check written like a command-line tool's
        return x


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.grow = nn.Linear(4, 8)
        self.check = ExitsOnFour()
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.check(self.grow(x)))
'''


def test_a_sweep_step_whose_forward_exits_is_that_entry_and_the_sweep_goes_on(tmp_path, capsys):
    source = tmp_path / "exits_on_four.py"
    source.write_text(SWEEP_MODEL)
    code, out, err = run_main(["sweep", f"{source}:Net", "--input-shape", "1,4", "--json", "-"], capsys)
    assert code == 0, err
    import json

    entries = {entry["name"]: entry for entry in json.loads(out)["entries"]}
    assert set(entries) == {"grow", "check", "head"}
    assert not entries["grow"]["ok"]
    assert entries["grow"]["error"]["module"] == "check"
    assert "sys.exit(4)" in entries["grow"]["error"]["message"]
    assert entries["check"]["ok"] and entries["head"]["ok"]
