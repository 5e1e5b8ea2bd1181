"""`--device auto`, `--max-memory` and `--offload-dir` on report and sweep: a checkpoint run from disk, as in memory."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import assert_one_line_error, run_main, run_report, run_subprocess, strict_json, write_checkpoint

pytest.importorskip("accelerate")
safetensors_torch = pytest.importorskip("safetensors.torch")

FACTORY = """
import torch
from torch import nn


def deep_mlp():
    torch.manual_seed(0)
    return nn.Sequential(*[nn.Sequential(nn.Linear(64, 64), nn.ReLU()) for _ in range(6)], nn.Linear(64, 10))
"""
INPUT = ["--input-shape", "2,64", "--seed", "5"]
BUDGET = ["--max-memory", "cpu=40KiB"]  # two of the 16.6 KiB layers stay in memory


@pytest.fixture
def checkpoint(tmp_path: Path) -> list[str]:
    """MODEL and --arch of a safetensors file of a deep MLP (about 100 KiB)."""
    path, arch, _ = write_checkpoint(tmp_path, FACTORY)
    return [path, "--arch", arch]


pytestmark = pytest.mark.usefixtures("own_temp")


def _offload_folders(folder: Path) -> list[str]:
    return [name for name in os.listdir(folder) if name.startswith("inspector-offload")]


def _layers(report: dict) -> dict:
    return {layer["name"]: (layer["output_shapes"], layer["stats"]) for layer in report["layers"]}


def test_report_from_disk_equals_the_report_in_memory(checkpoint: list[str], capsys, own_temp: Path) -> None:
    code, in_memory, err = run_report([*checkpoint, *INPUT, "--json", "-"], capsys)
    assert code == 0, err
    code, report, err = run_report([*checkpoint, *INPUT, "--device", "auto", *BUDGET, "--json", "-"], capsys)
    assert code == 0, err
    assert _layers(report) == _layers(in_memory)
    assert report["output"] == in_memory["output"]
    placements = {layer["name"]: layer["placement"] for layer in report["layers"]}
    assert placements["0"] == "cpu" and placements["5"] == "disk" and placements["5.0"] == "disk"
    assert "placement" not in in_memory["layers"][0] and "dispatch" not in in_memory
    summary = report["dispatch"]
    assert summary["main_device"] == "cpu" and summary["max_memory"] == {"cpu": 40 * 1024}
    assert summary["bytes"]["disk"] > 0 and summary["modules"]["disk"] >= 4
    assert summary["offload_dir"] is None and summary["offload_read_s"] >= 0
    assert report["device"] == "cpu"
    note = [line for line in err.splitlines() if "dispatched by accelerate" in line]
    assert len(note) == 1 and "on disk" in note[0] and "offload I/O" in note[0]
    assert not _offload_folders(own_temp)  # the temporary folder went with the command


def test_offload_dir_is_kept(checkpoint: list[str], capsys, tmp_path: Path) -> None:
    folder = tmp_path / "offload"
    code, report, err = run_report([*checkpoint, *INPUT, "--device", "auto", *BUDGET, "--offload-dir", str(folder),
                                    "--identity", "4", "--json", "-"], capsys)
    assert code == 0, err
    assert report["dispatch"]["offload_dir"] == str(folder)
    assert (folder / "index.json").exists()
    replaced = next(layer for layer in report["layers"] if layer["name"] == "4")
    assert report["replaced"] == ["4"] and replaced["type"] == "Identity" and replaced["replaced"]
    assert report["ok"] and report["output"]["shapes"] == [[2, 10]]


def test_sweep_from_disk_equals_the_sweep_in_memory(checkpoint: list[str], capsys, own_temp: Path) -> None:
    code, out, err = run_main(["sweep", *checkpoint, *INPUT, "--json", "-"], capsys)
    assert code == 0, err
    in_memory = strict_json(out)
    code, out, err = run_main(["sweep", *checkpoint, *INPUT, "--device", "auto", *BUDGET, "--json", "-"], capsys)
    assert code == 0, err
    from_disk = strict_json(out)
    assert from_disk["entries"] == in_memory["entries"]
    assert from_disk["baseline"] == in_memory["baseline"]
    assert from_disk["dispatch"]["bytes"]["disk"] > 0
    assert not _offload_folders(own_temp)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max-memory", "cpu=1GiB"], "--max-memory needs --device auto"),
        (["--offload-dir", "x"], "--offload-dir needs --device auto"),
        (["--device", "auto", "--max-memory", "cpu=lots"], "expected a number and a unit"),
        (["--device", "auto", "--max-memory", "tpu:3=1GiB"], "not a device of this machine"),
        (["--device", "auto", "--meta"], "--meta needs no weights"),
        (["--device", "auto", "--dtype", "float16"], "--dtype cannot be combined with --device auto"),
        (["--device", "auto", "--export", "out"], "export without --device auto"),
    ],
)
def test_usage_errors(checkpoint: list[str], capsys, tmp_path: Path, extra: list[str], message: str) -> None:
    target = tmp_path / "report.json"
    code, _, err = run_main(["report", *checkpoint, *INPUT, *extra, "--json", str(target)], capsys)
    assert code == 2
    assert message in assert_one_line_error(err)
    assert not target.exists()


def test_a_source_without_a_checkpoint_is_refused(capsys) -> None:
    code, _, err = run_main(["report", "resnet18", "--device", "auto"], capsys)
    assert code == 2 and "loads weights from a checkpoint" in assert_one_line_error(err)


def test_without_accelerate_exit_2_names_the_extra(checkpoint: list[str], capsys,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "accelerate", None)  # an interpreter without accelerate
    code, _, err = run_main(["report", *checkpoint, *INPUT, "--device", "auto"], capsys)
    assert code == 2
    assert "pip install 'model-inspector[big]'" in assert_one_line_error(err)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_split_between_the_gpu_and_the_cpu(checkpoint: list[str], capsys) -> None:
    code, in_memory, err = run_report([*checkpoint, *INPUT, "--json", "-"], capsys)
    assert code == 0, err
    code, report, err = run_report([*checkpoint, *INPUT, "--device", "auto", "--max-memory",
                                    "cuda:0=40KiB,cpu=40KiB", "--json", "-"], capsys)
    assert code == 0, err
    placements = {layer["placement"] for layer in report["layers"]}
    assert {"cuda:0", "cpu", "disk"} <= placements
    assert report["dispatch"]["main_device"] == "cuda:0"
    for (shapes, stats), (shapes_cpu, stats_cpu) in zip(_layers(report).values(), _layers(in_memory).values(), strict=True):
        assert shapes == shapes_cpu
        # Another device's kernels: close, not bit-identical.
        assert stats["mean"] == pytest.approx(stats_cpu["mean"], rel=1e-4, abs=1e-5)


SPINS = """
import time

import torch
from torch import nn


class Spin(nn.Module):
    def forward(self, x):
        while True:  # never enters another module: the timeout cannot stop it and ends the process
            time.sleep(0.005)


def deep_mlp():
    torch.manual_seed(0)
    return nn.Sequential(*[nn.Sequential(nn.Linear(64, 64), nn.ReLU()) for _ in range(6)], Spin())
"""


def test_a_timeout_removes_the_temporary_offload_folder(tmp_path: Path) -> None:
    """A forward that never returns outlives the timeout, which ends the process with os._exit: no
    finalizer runs there, and the temporary offload folder must go all the same."""
    path, arch, _ = write_checkpoint(tmp_path, SPINS)
    temp = tmp_path / "child-tmp"
    temp.mkdir()
    out = tmp_path / "report.json"
    result = run_subprocess(
        ["-m", "inspector", "report", path, "--arch", arch, *INPUT, "--device", "auto", *BUDGET,
         "--timeout", "20", "--json", str(out)],  # time to load, and to enter the loop
        env={"TMPDIR": str(temp)}, timeout=300,
    )
    assert result.returncode == 3, result.stderr
    assert strict_json(out.read_text())["timed_out"] is True
    assert "did not stop" in result.stderr  # abandoned, not stopped at a module
    assert not _offload_folders(temp)
