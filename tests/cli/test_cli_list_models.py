"""`list-models`: TASK<TAB>NAME, sorted by task then name, classification by default."""

from __future__ import annotations

import pytest
import torchvision.models as tvm

from tests.helpers import run_main

TASK_MODULES = {
    "classification": tvm,
    "detection": tvm.detection,
    "segmentation": tvm.segmentation,
    "video": tvm.video,
    "optical_flow": tvm.optical_flow,
}


def _lines(argv, capsys) -> list[tuple[str, str]]:
    code, out, err = run_main(["list-models", *argv], capsys)
    assert code == 0 and err == ""
    assert out.endswith("\n")
    rows = [tuple(line.split("\t")) for line in out.splitlines()]
    assert all(len(row) == 2 and all(row) for row in rows), "every line is TASK<TAB>NAME"
    return rows


def test_default_is_classification(capsys):
    rows = _lines([], capsys)
    assert {task for task, _ in rows} == {"classification"}
    assert [name for _, name in rows] == sorted(tvm.list_models(module=tvm))
    assert ("classification", "resnet18") in rows and len(rows) == 80


@pytest.mark.parametrize("task", list(TASK_MODULES))
def test_each_task_lists_torchvisions_models(task, capsys):
    rows = _lines(["--task", task], capsys)
    assert rows == [(task, name) for name in sorted(tvm.list_models(module=TASK_MODULES[task]))]


def test_all_is_sorted_by_task_then_name(capsys):
    rows = _lines(["--task", "all"], capsys)
    assert rows == sorted(rows)
    assert [task for task, _ in rows] == sorted(task for task, _ in rows)
    assert {task for task, _ in rows} == set(TASK_MODULES)
    assert len(rows) == sum(len(tvm.list_models(module=m)) for m in TASK_MODULES.values())
