"""Target 1 on a GPU: a full probe against a plain forward on CUDA, and how often the host waits.

Runs only where CUDA is available (the development machines have none):
``bench/cuda_check.sh`` runs it with tests/core/test_cuda.py as one short
script, or ``python -m bench.cuda_probe`` alone. Times
are taken after ``torch.cuda.synchronize()``, so both sides include all of
their GPU work. "Host waits" counts the operations torch's sync debug mode
reports during one probed run: it must not grow with the number of layers.
"""

from __future__ import annotations

import warnings

import torch

from bench.common import ratio_spread, row, spreads
from inspector.core import probe
from inspector.core.loading import build_torchvision

CASES = (("resnet50", 8), ("vit_b_16", 1))


def host_waits(model: torch.nn.Module, x: torch.Tensor) -> int:
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            probe.run(model, (x,))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def measure(name: str, batch: int, repeat: int = 11) -> tuple[dict[str, tuple[float, float, float]], int, int]:
    model = build_torchvision(name).eval().cuda()
    x = torch.randn(batch, 3, 224, 224, device="cuda")

    def plain() -> None:
        with torch.no_grad():
            model(x)
        torch.cuda.synchronize()

    def probed() -> None:
        probe.run(model, (x,))
        torch.cuda.synchronize()

    times = spreads({"plain forward": plain, "Model Inspector probe": probed}, repeat=repeat)
    modules = sum(1 for _ in model.modules())
    return times, host_waits(model, x), modules


def main() -> list[str]:
    lines = ["## Probe overhead on CUDA (target: full probe <= 1.1x a plain forward, no wait per layer)", ""]
    if not torch.cuda.is_available():
        return lines + ["No CUDA device on this machine: not measured."]
    lines += [
        f"Device: {torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}.",
        "",
        row("model", "tool", "median s", "ratio to plain: median (min–max)", "host waits in one probed run",
            "modules"),
        row("---", "---", "---:", "---:", "---:", "---:"),
    ]
    for name, batch in CASES:
        times, waits, modules = measure(name, batch)
        plain = times["plain forward"]
        for tool, spread in times.items():
            probed = tool != "plain forward"
            lines.append(row(f"{name} batch {batch}", tool, f"{spread[1]:.4f}", ratio_spread(spread, plain),
                             waits if probed else "", modules if probed else ""))
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
