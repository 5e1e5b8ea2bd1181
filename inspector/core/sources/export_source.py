"""``.pt2`` programs (``torch.export``): the module to run, with its module tree where torch can restore it."""

from __future__ import annotations

from typing import Any

from torch import nn

RUNS_AS_EXPORTED = "torch.export program: runs as it was exported (train/eval does not change its graph)"


def module_of(program: Any) -> tuple[nn.Module, list[str]]:
    """(module, notes): ``torch.export.unflatten`` gives back the original submodules, so each layer is probed.

    When unflattening fails, ``program.module()`` is one flat graph: it runs,
    but its layers have no records of their own. Torch makes that module's
    ``train()``/``eval()`` raise ("not supported yet"); the probe only sets
    the flag, which changes nothing in an exported graph, so torch's own
    methods are given back.
    """
    import torch.export

    try:
        module = torch.export.unflatten(program)
        return module, [RUNS_AS_EXPORTED]
    except Exception as error:  # noqa: BLE001 - unflatten is best effort; the flat module still runs
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        flat = program.module()
    for name in ("train", "eval"):
        if name in vars(flat):
            delattr(flat, name)
    return flat, [RUNS_AS_EXPORTED, f"module tree not restored ({reason}): one flat graph, no per-layer records"]
