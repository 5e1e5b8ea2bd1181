"""Target 5: peak memory of a probed run against a plain forward (resnet50, batch 8).

Each is measured in its own fresh process; the run keeps statistics, not tensors.
"""

from __future__ import annotations

from bench.common import PEAK_MB, in_fresh_process, row

CODE = """
import json, torch
from inspector.core.loading import build_torchvision
from inspector.core import probe
model = build_torchvision("resnet50").eval()
x = torch.randn(8, 3, 224, 224)
before = peak_mb()
if {probe!r}:
    probe.run(model, (x,))
else:
    with torch.no_grad():
        model(x)
after = peak_mb()
print(json.dumps({{"before": before, "after": after}}))
"""


def main() -> list[str]:
    plain = in_fresh_process(PEAK_MB + CODE.format(probe=False))
    probed = in_fresh_process(PEAK_MB + CODE.format(probe=True))
    return [
        "## Peak memory, resnet50 batch 8 (target: probed run <= 1.2x a plain forward)",
        "",
        "Each run in its own fresh process; before: torch imported, model built, input made.",
        "",
        row("run", "peak RSS MB", "ratio", "peak above before MB", "ratio"),
        row("---", "---:", "---:", "---:", "---:"),
        row("plain forward", f"{plain['after']:.0f}", "1.00x", f"{plain['after'] - plain['before']:.0f}", "1.00x"),
        row(
            "probed run",
            f"{probed['after']:.0f}",
            f"{probed['after'] / plain['after']:.2f}x",
            f"{probed['after'] - probed['before']:.0f}",
            f"{(probed['after'] - probed['before']) / (plain['after'] - plain['before']):.2f}x",
        ),
    ]


if __name__ == "__main__":
    print("\n".join(main()))
