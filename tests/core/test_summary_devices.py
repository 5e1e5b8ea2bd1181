"""The torchinfo summary of the live model, and the devices torch can use here."""

from __future__ import annotations

import pytest
import torch

from inspector.core.devices import available_devices, resolve_device, synchronize
from inspector.core.errors import DeviceError
from inspector.core.session import Session
from inspector.core.summary import summary_text
from tests.helpers import assert_unchanged, snapshot


def test_summary_lists_the_layers_and_torchs_parameter_count(shared_resnet18):
    before = snapshot(shared_resnet18)
    text = summary_text(shared_resnet18, (torch.randn(1, 3, 224, 224),), depth=3)
    for name in ("conv1", "bn1", "layer1", "layer4", "fc", "Conv2d", "BatchNorm2d", "Linear"):
        assert name in text
    total = sum(p.numel() for p in shared_resnet18.parameters())
    assert f"Total params: {total:,}" in text
    assert "[1, 1000]" in text
    assert_unchanged(shared_resnet18, before)


def test_session_summary_shows_the_edited_model():
    session = Session.open("resnet18")
    session.replace_with_identity("fc")
    text = session.summary(depth=1)
    assert "Identity" in text and "[1, 512]" in text


def test_cpu_is_listed_first_and_only_real_devices_are_listed():
    devices = available_devices()
    assert devices[0] == "cpu"
    assert len(devices) == len(set(devices))
    cuda = [d for d in devices if d.startswith("cuda")]
    assert len(cuda) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" cpu ") == torch.device("cpu")
    if torch.cuda.is_available():
        assert resolve_device("cuda") == torch.device("cuda", 0)
    else:
        with pytest.raises(DeviceError, match="available here: cpu"):
            resolve_device("cuda")
    with pytest.raises(DeviceError, match="available here"):
        resolve_device("cuda:99")
    with pytest.raises(DeviceError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    with pytest.raises(DeviceError):
        resolve_device("meta")
    synchronize(torch.device("cpu"))
