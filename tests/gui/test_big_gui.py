"""Device auto in the window: the checkpoint is opened dispatched by accelerate, and the tree's Device column says where each module lives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.gui.test_main_window import cell, run
from tests.helpers import write_checkpoint

pytest.importorskip("accelerate")
pytest.importorskip("safetensors.torch")

FACTORY = """
import torch
from torch import nn


def deep_mlp():
    torch.manual_seed(0)
    return nn.Sequential(*[nn.Sequential(nn.Linear(64, 64), nn.ReLU()) for _ in range(6)], nn.Linear(64, 10))
"""


@pytest.mark.usefixtures("own_temp")
def test_device_auto_opens_the_checkpoint_dispatched(open_window: Any, qtbot: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from inspector.core import dispatch

    path, arch, _ = write_checkpoint(tmp_path, FACTORY)
    # The GUI has no budget box: accelerate's default is what is free; a small one here makes it offload.
    original = dispatch.load_dispatched
    monkeypatch.setattr(dispatch, "load_dispatched",
                        lambda *a, **k: original(*a, **{**k, "max_memory": {"cpu": 40 * 1024}}))

    window = open_window(arch)
    assert "auto" in [window.input_panel.device_combo.itemText(i) for i in range(window.input_panel.device_combo.count())]
    assert cell(window, "0", "Device") == ""  # a model in one place: nothing to say
    window.input_panel.set_device("auto")
    assert window.open_model(path, arch=arch, wait=True)
    assert window.session.dispatch is not None and window.input_panel.device() == "auto"
    assert cell(window, "0", "Device") == "cpu" and cell(window, "5", "Device") == "disk"
    finished = run(window, qtbot)
    assert finished.ok and finished.device == "cpu"
    from inspector.gui.panels.plot_items import PLACEMENT_SLOTS

    # The Shapes plot colours each module by where its weights live, with a key of the places.
    plots = window._drawn_plots()
    assert plots is not None and plots.run is finished
    assert "weights on" in plots.points_key and "cpu" in plots.points_key and "disk" in plots.points_key
    on_disk = [name for name in finished.execution_order() if name and window.session.dispatch.placement_of(name) == "disk"]
    places = ["cpu", "disk"]  # no accelerator here: cpu first, then disk
    disk_points = plots.depth_points[PLACEMENT_SLOTS[places.index("disk")]]
    assert on_disk and len(disk_points.xData) == len(on_disk)
