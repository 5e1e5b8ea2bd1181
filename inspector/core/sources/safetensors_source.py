"""``.safetensors`` files: a state_dict stored without pickle (reading one runs no code)."""

from __future__ import annotations

import torch

from inspector.core.errors import ModelLoadError
from inspector.core.sources import require

SUFFIX = ".safetensors"


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """Every tensor of the file by name, on the CPU."""
    safetensors_torch = require("safetensors.torch", "hf", "a .safetensors file")
    try:
        state: dict[str, torch.Tensor] = safetensors_torch.load_file(path, device="cpu")
    except Exception as error:  # noqa: BLE001 - a garbled header raises anything (SafetensorError, ValueError, ...)
        text = str(error).strip().splitlines()
        raise ModelLoadError(f"{path} is not a readable safetensors file ({text[0] if text else type(error).__name__})") from None
    if not state:
        raise ModelLoadError(f"{path} holds no tensors")
    return state
