"""Target: a knockout sweep of resnet50's leaves (batch 1, 224×224) in under a minute on 2 CPU cores.

Prints the sweep's wall time with and without the prefix replay, and its cost
in plain forwards of the same model (a sweep of N candidates done naively is
N + 1 forwards).
"""

from __future__ import annotations

import time

import torch

from bench.common import median_time, row
from inspector.core.session import Session
from inspector.core.sweep import sweep

MODEL = "resnet50"


def main() -> list[str]:
    session = Session.open(MODEL)
    model = session.model.eval()
    (x,) = session.make_inputs()

    def plain() -> None:
        with torch.no_grad():
            model(x)

    forward_s = median_time(plain, repeat=3)
    lines = [
        f"## Knockout sweep ({MODEL} leaves, batch 1; target: under 60 s on 2 CPU cores)",
        "",
        f"plain forward: {forward_s:.3f} s (torch threads: {torch.get_num_threads()})",
        "",
        row("sweep", "candidates", "failed", "replayed calls", "wall s", "in plain forwards"),
        row("---", "---:", "---:", "---:", "---:", "---:"),
    ]
    for label, reuse in (("prefix replay (default)", True), ("full forward each step", False)):
        started = time.perf_counter()
        result = sweep(session, leaves=True, reuse_prefix=reuse)
        seconds = time.perf_counter() - started
        failed = sum(not e.ok for e in result.entries)
        lines.append(
            row(label, len(result.entries), failed, result.replayed_calls, f"{seconds:.1f}", f"{seconds / forward_s:.0f}")
        )
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
