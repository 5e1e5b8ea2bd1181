"""At a terminal a person gets a table and a progress bar; a pipe gets the JSON of today, byte for byte."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys

import pytest

from tests.helpers import PYTHON, ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

MODEL = ["tests.models:tiny_cnn", "--input-shape", "1,3,16,16"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # tests.models is named as a module, not a path
COLOUR = re.compile(r"\x1b\[(?:\d+;)*(?:3[0-8]|9[0-7]|4[0-8])(?:;\d+)*m")


def _read_all(fd: int, process: subprocess.Popen) -> str:
    """Everything written to the master side of a pty until the child exits and the pty drains."""
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the child closed its side
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    return b"".join(chunks).decode("utf-8", "replace")


def run_cli(args: list[str], *, stdout_tty: bool = False, stderr_tty: bool = False,
            env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the CLI with standard output and/or standard error on a pseudo-terminal; returns (status, out, err)."""
    environment = {**os.environ, "COLUMNS": "160", "TERM": "xterm", "PYTHONPATH": str(ROOT)}
    environment.pop("NO_COLOR", None)
    environment.update(env or {})
    ptys = {}
    streams = {}
    for name, wanted in (("stdout", stdout_tty), ("stderr", stderr_tty)):
        if wanted:
            master, slave = os.openpty()
            ptys[name] = (master, slave)
            streams[name] = slave
        else:
            streams[name] = subprocess.PIPE
    process = subprocess.Popen([PYTHON, "-m", "inspector", *args], cwd=ROOT, env=environment,
                               stdin=subprocess.DEVNULL, **streams)
    for _, slave in ptys.values():
        os.close(slave)
    out = err = ""
    try:
        if "stdout" in ptys:
            out = _read_all(ptys["stdout"][0], process)
        if "stderr" in ptys:
            err = _read_all(ptys["stderr"][0], process)
        piped_out, piped_err = process.communicate(timeout=300)
    finally:
        for master, _ in ptys.values():
            os.close(master)
    out = out or (piped_out or b"").decode()
    err = err or (piped_err or b"").decode()
    return process.returncode, out.replace("\r\n", "\n"), err.replace("\r\n", "\n")


def test_a_terminal_gets_a_table_of_the_tree_with_shapes_statistics_and_the_replaced_module():
    status, out, _ = run_cli(["report", *MODEL, "--identity", "head.1"], stdout_tty=True, env={"NO_COLOR": "1"})
    assert status == 0
    assert not COLOUR.search(out)  # NO_COLOR is honoured (bold may stay)
    out = ANSI.sub("", out)
    assert not out.lstrip().startswith("{")
    lines = out.splitlines()
    header = next(line for line in lines if "Output shape" in line)
    assert all(word in header for word in ("Module", "Type", "Params", "Mean", "Std", "Min", "Max", "Zero %"))
    replaced = next(line for line in lines if "(replaced)" in line)
    assert "Identity" in replaced and "[1, 16]" in replaced
    assert "replaced with Identity: head.1" in out
    assert lines[-1].startswith("tests.models:tiny_cnn: output [1, 4] · 1,036 parameters as loaded")


def test_a_failing_module_is_named_in_the_table_and_the_exit_status_stays_3():
    status, out, err = run_cli(["report", *MODEL, "--identity", "features"], stdout_tty=True,
                               env={"NO_COLOR": "1"})
    assert status == 3
    out = ANSI.sub("", out)
    failing = next(line for line in out.splitlines() if "raised" in line)
    assert failing.split()[0] == "0" and "Linear" in failing  # head.0, indented under head
    assert "FAILED in head.0" in out.splitlines()[-1]
    assert "the forward failed: head.0" in err


def test_a_pipe_gets_json_byte_identical_to_format_json(tmp_path):
    auto = subprocess.run([PYTHON, "-m", "inspector", "report", *MODEL], cwd=ROOT, capture_output=True, env=ENV)
    forced = subprocess.run([PYTHON, "-m", "inspector", "report", *MODEL, "--format", "json"], cwd=ROOT,
                            capture_output=True, env=ENV)
    assert auto.returncode == forced.returncode == 0
    strip = re.compile(rb'"time_ms": [0-9.e-]+')  # wall times differ from run to run
    assert strip.sub(b"", auto.stdout) == strip.sub(b"", forced.stdout)
    assert json.loads(auto.stdout)["schema"] == "model-inspector/report@1"


def test_format_json_at_a_terminal_prints_json():
    status, out, _ = run_cli(["report", *MODEL, "--format", "json"], stdout_tty=True)
    assert status == 0
    assert "\x1b[" not in out
    assert json.loads(out)["output"]["shapes"] == [[1, 4]]


def test_progress_goes_to_a_terminals_stderr_only_and_never_to_stdout():
    status, out, err = run_cli(["sweep", *MODEL], stderr_tty=True)
    assert status == 0
    assert json.loads(out)["schema"] == "model-inspector/sweep@1"  # stdout is a pipe: pure JSON
    assert "Sweep" in ANSI.sub("", err)

    status, out, err = run_cli(["sweep", *MODEL, "--quiet"], stderr_tty=True)
    assert status == 0 and ANSI.sub("", err).strip() == ""

    piped = subprocess.run([PYTHON, "-m", "inspector", "sweep", *MODEL], cwd=ROOT, capture_output=True, text=True,
                           env=ENV)
    assert piped.returncode == 0 and piped.stderr == ""


def test_a_sweep_at_a_terminal_is_a_table():
    status, out, _ = run_cli(["sweep", *MODEL], stdout_tty=True, env={"NO_COLOR": "1"})
    assert status == 0
    out = ANSI.sub("", out)
    assert "Module replaced" in out and "Relative L2" in out
    assert re.search(r"can be replaced and the model still runs", out)


def test_format_table_with_json_on_stdout_is_a_usage_error():
    result = subprocess.run([PYTHON, "-m", "inspector", "report", *MODEL, "--format", "table", "--json", "-"],
                            cwd=ROOT, capture_output=True, text=True, env=ENV)
    assert result.returncode == 2 and result.stdout == ""
    assert "give --json a file path" in result.stderr


ODD_NAMES = '''
from torch import nn


def llama():
    model = nn.Sequential()
    model.add_module("[bold]stem", nn.Linear(4, 4))
    model.add_module("head", nn.Linear(4, 4))
    return model
'''


def test_names_are_printed_as_they_are_and_compare_says_how_far_the_output_moved(tmp_path):
    """``[bold]`` in a module's name is no markup, ``:llama:`` in a source no emoji; --compare has its line."""
    (tmp_path / "hf.py").write_text(ODD_NAMES)
    document = tmp_path / "report.json"
    status, out, _ = run_cli(["report", f"{tmp_path / 'hf.py'}:llama", "--format", "table", "--identity", "head",
                              "--compare", "--input-shape", "2,4", "--json", str(document)], stdout_tty=True)
    text = ANSI.sub("", out)
    assert status == 0, text
    assert "[bold]stem" in text and "\N{LLAMA}" not in text and "hf.py:llama: output [2, 4]" in text
    line = next(row for row in text.splitlines() if row.startswith("against the unedited model"))
    distance = float(re.search(r"moved by ([0-9.e+-]+) relative L2", line).group(1))
    assert distance > 0.1  # removing the head moves the output: the number is the report's, not a placeholder
    assert float(f"{json.loads(document.read_text())['compare']['output_relative_l2']:.4g}") == distance
