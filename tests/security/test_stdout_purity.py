"""Standard output carries only the JSON: what a model prints, at any level, goes to standard error.

Run in a fresh interpreter each, so that standard output is a real file
descriptor 1 (a pipe), as in `model-inspector report MODEL | jq`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from tests.helpers import run_subprocess, strict_json

PRINTING_MODEL = '''
import ctypes
import os
import sys

import torch
from torch import nn


@torch.jit.script
def scripted_print(x: torch.Tensor) -> torch.Tensor:
    print("TS-PRINT-IN-FORWARD")
    return x


class Chatty(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x):
        print("PY-PRINT-IN-FORWARD")
        sys.stdout.flush()
        os.write(1, b"FD-WRITE-IN-FORWARD\\n")
        ctypes.CDLL(None).printf(b"C-PRINTF-IN-FORWARD\\n")  # buffered by C's stdio until a flush
        x = scripted_print(x)
        return self.fc2(torch.relu(self.fc1(x)))


def make():
    print("PY-PRINT-IN-FACTORY")
    os.write(1, b"FD-WRITE-IN-FACTORY\\n")
    torch.manual_seed(0)
    return Chatty()
'''

PRINTED = ["PY-PRINT-IN-FORWARD", "FD-WRITE-IN-FORWARD", "C-PRINTF-IN-FORWARD", "TS-PRINT-IN-FORWARD",
           "PY-PRINT-IN-FACTORY", "FD-WRITE-IN-FACTORY"]


@pytest.fixture
def chatty(tmp_path: Path) -> str:
    (tmp_path / "chatty.py").write_text(PRINTING_MODEL)
    return f"{tmp_path / 'chatty.py'}:make"


def assert_only_json(stdout: str, stderr: str, printed: list[str]) -> dict:
    for text in printed:
        assert text not in stdout, f"{text} reached standard output"
        assert text in stderr, f"{text} was lost instead of going to standard error"
    return strict_json(stdout)


def test_report_stdout_is_only_the_json(chatty, tmp_path):
    result = run_subprocess(["-m", "inspector", "report", chatty, "--trust", "--input-shape", "1,4", "--json", "-"],
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = assert_only_json(result.stdout, result.stderr, PRINTED)
    assert report["ok"] is True and report["output"]["shapes"] == [[1, 2]]


def test_report_with_compare_and_export_stdout_is_only_the_json(chatty, tmp_path):
    result = run_subprocess(["-m", "inspector", "report", chatty, "--trust", "--input-shape", "1,4", "--compare",
                             "--identity", "fc1", "--export", str(tmp_path / "out")], cwd=tmp_path)
    assert result.returncode == 3, result.stderr  # fc1 -> Identity: fc2 gets 4 features, wants 8
    report = assert_only_json(result.stdout, result.stderr, PRINTED)
    assert report["error"]["module"] == "fc2"


def test_sweep_stdout_is_only_the_json(chatty, tmp_path):
    result = run_subprocess(["-m", "inspector", "sweep", chatty, "--trust", "--input-shape", "1,4"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    swept = assert_only_json(result.stdout, result.stderr, PRINTED)
    assert swept["schema"] == "model-inspector/sweep@1"
    assert [e["name"] for e in swept["entries"]] == ["fc1", "fc2"]


def test_a_torchscript_file_that_prints(tmp_path):
    class Printing(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            print("TS-FILE-PRINT")
            return self.fc(x)

    path = tmp_path / "printing.ts"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated; users still have such files
        torch.jit.script(Printing()).save(str(path))
    # (A TorchScript module cannot be swept; the sweep's TorchScript print is the scripted function above.)
    result = run_subprocess(["-m", "inspector", "report", str(path), "--input-shape", "1,4"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert assert_only_json(result.stdout, result.stderr, ["TS-FILE-PRINT"])["output"]["shapes"] == [[1, 2]]


def test_json_to_a_link_to_standard_output_still_reaches_standard_output(chatty, tmp_path):
    """`--json /dev/stdout` means standard output as the user gave it, not the model's diversion to stderr.

    A link under tmp_path to /proc/self/fd/1 (what /dev/stdout is) stands in for /dev/stdout.
    """
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    result = run_subprocess(["-m", "inspector", "report", chatty, "--trust", "--input-shape", "1,4",
                             "--json", str(link)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert assert_only_json(result.stdout, result.stderr, PRINTED)["ok"] is True
