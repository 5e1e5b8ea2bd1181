"""Target 1: a full probe against a plain forward, torchinfo and (when installed) TorchLens.

Every figure is the median of interleaved repeats, as a ratio to a plain
``torch.no_grad()`` forward of the same model and input.
"""

from __future__ import annotations

import importlib.util

import torch

from bench.common import row, side_by_side
from inspector.core import probe
from inspector.core.loading import build_torchvision
from inspector.core.summary import summary_text

CASES = (("resnet50", 8), ("vit_b_16", 1))


def measure(name: str, batch: int, repeat: int = 11) -> dict[str, float]:
    model = build_torchvision(name).eval()
    x = torch.randn(batch, 3, 224, 224)

    def plain() -> None:
        with torch.no_grad():
            model(x)

    fns = {
        "plain forward": plain,
        "Model Inspector probe": lambda: probe.run(model, (x,)),
        "torchinfo summary": lambda: summary_text(model, (x,)),
    }
    if importlib.util.find_spec("torchlens") is not None:
        import torchlens

        fns["TorchLens log_forward_pass"] = lambda: torchlens.log_forward_pass(model, x, layers_to_save="all")
    return side_by_side(fns, repeat=repeat)


def main() -> list[str]:
    lines = [
        "## Probe overhead (target: full probe <= 1.3x a plain forward)",
        "",
        row("model", "tool", "median s", "ratio to plain"),
        row("---", "---", "---:", "---:"),
    ]
    for name, batch in CASES:
        times = measure(name, batch)
        plain = times["plain forward"]
        for tool, seconds in times.items():
            lines.append(row(f"{name} batch {batch}", tool, f"{seconds:.3f}", f"{seconds / plain:.2f}x"))
    if importlib.util.find_spec("torchlens") is None:
        lines += ["", "TorchLens is not installed here (optional peer: `pip install torchlens`)."]
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
