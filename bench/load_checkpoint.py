"""Target 3: loading a big state_dict onto its architecture.

Model Inspector builds on the meta device and assigns the memory-mapped
tensors (``load_state_dict(assign=True)``, ``mmap=True``); the peer is the
usual build-then-``load_state_dict``.
"""

from __future__ import annotations

import os
import tempfile

import torch
import torchvision

from bench.common import median_time, row
from inspector.core.loading import load_file

ARCH = "vit_l_16"


def main() -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"{ARCH}.pth")
        torch.save(torchvision.models.get_model(ARCH, weights=None).state_dict(), path)
        size_mb = os.path.getsize(path) / 2**20

        def ours() -> None:
            load_file(path, arch=ARCH)

        def usual() -> None:
            model = torchvision.models.get_model(ARCH, weights=None)
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))

        fast = median_time(ours, repeat=3)
        slow = median_time(usual, repeat=3, warmup=0)
    return [
        f"## Loading a {size_mb:.0f} MB state_dict of {ARCH} (target: ~50x faster than build-then-load)",
        "",
        row("method", "median s", "speed-up"),
        row("---", "---:", "---:"),
        row("build, then load_state_dict", f"{slow:.2f}", "1x"),
        row("Model Inspector (meta build + mmap + assign)", f"{fast:.3f}", f"{slow / fast:.0f}x"),
    ]


if __name__ == "__main__":
    print("\n".join(main()))
