"""The devices torch can use on this machine, and checking a user's choice."""

from __future__ import annotations

import torch

from inspector.core.errors import DeviceError


def available_devices() -> list[str]:
    """Devices torch can run on here: ``cpu`` first, then each accelerator.

    Only devices that exist are listed; a CUDA build without a GPU gives
    ``["cpu"]``.
    """
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        devices += [f"xpu:{i}" for i in range(xpu.device_count())]
    return devices


def resolve_device(name: str) -> torch.device:
    """Turn a device name into a ``torch.device`` that exists here.

    ``cuda`` means ``cuda:0``. An unknown or absent device raises
    :class:`DeviceError` listing what is available.
    """
    text = (name or "").strip()
    available = available_devices()
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise DeviceError(
            f"unknown device {name!r}; available here: {', '.join(available)}"
        ) from None
    if device.type in ("cuda", "xpu") and device.index is None:
        device = torch.device(device.type, 0)
    if device.type == "cpu":
        return torch.device("cpu")
    if str(device) not in available:
        raise DeviceError(
            f"device {name!r} is not available on this machine; "
            f"available here: {', '.join(available)}"
        )
    return device


def synchronize(device: torch.device) -> None:
    """Wait for queued work on an accelerator (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
    elif device.type == "xpu":
        torch.xpu.synchronize(device)
