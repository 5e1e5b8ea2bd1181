"""A full probe against a plain forward, torchinfo and (when installed) TorchLens.

Every figure is a ratio to a plain ``torch.no_grad()`` forward of the same
model and input: the median of interleaved repeats, with the min–max spread
so a reader sees the noise. The probe is measured on both statistics routes:
the one-pass C kernel and stock torch reductions (what an install without a
compiler gets).

TorchLens 2.x wraps torch's functions on its first ``trace()`` and leaves them
wrapped, which would slow every later forward in the same process; it is
therefore measured in a fresh process against its own plain forward.
"""

from __future__ import annotations

import importlib.util
import json

import torch

from bench.common import in_fresh_process, ratio_spread, row, spreads
from inspector.core import probe, stats
from inspector.core.loading import build_torchvision
from inspector.core.summary import summary_text

CASES = (("resnet50", 8), ("vit_b_16", 1))


def _stock_probe(model: torch.nn.Module, x: torch.Tensor) -> None:
    """A probe on the stock-torch statistics route (as where the C kernel is not built)."""
    kernel, stats._fused = stats._fused, None
    try:
        probe.run(model, (x,))
    finally:
        stats._fused = kernel


def _read_once(model: torch.nn.Module, x: torch.Tensor) -> None:
    """A plain forward whose every module output is read once by torch's ``sum``: the floor of any
    statistic that looks at every value (nothing recorded, no hook bookkeeping)."""
    def read(module: torch.nn.Module, args: object, output: object) -> None:
        if isinstance(output, torch.Tensor):
            output.sum()

    handles = [module.register_forward_hook(read) for module in model.modules()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()


def measure(name: str, batch: int, repeat: int = 11) -> dict[str, tuple[float, float, float]]:
    model = build_torchvision(name).eval()
    x = torch.randn(batch, 3, 224, 224)

    def plain() -> None:
        with torch.no_grad():
            model(x)

    fns = {
        "plain forward": plain,
        "torchinfo summary (shapes only)": lambda: summary_text(model, (x,)),
        "plain forward + torch.sum of each output (reading every value once)": lambda: _read_once(model, x),
        "Model Inspector probe (C kernel)": lambda: probe.run(model, (x,)),
    }
    if stats._fused is not None:
        fns["Model Inspector probe (stock torch)"] = lambda: _stock_probe(model, x)
    else:
        del fns["Model Inspector probe (C kernel)"]
        fns["Model Inspector probe (stock torch)"] = lambda: probe.run(model, (x,))
    return spreads(fns, repeat=repeat)


TORCHLENS = """
import json, statistics, time, torch, torchlens
from inspector.core.loading import build_torchvision
model = build_torchvision({name!r}).eval()
x = torch.randn({batch}, 3, 224, 224)
def plain():
    with torch.no_grad():
        model(x)
def traced():
    torchlens.trace(model, x)
plain(); traced()
times = {{"plain": [], "trace": []}}
for _ in range({repeat}):
    for key, fn in (("plain", plain), ("trace", traced)):
        start = time.perf_counter(); fn(); times[key].append(time.perf_counter() - start)
print(json.dumps({{k: [min(v), statistics.median(v), max(v)] for k, v in times.items()}}))
"""


def measure_torchlens(name: str, batch: int, repeat: int = 5) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(plain, trace) spreads from a fresh process: TorchLens's wrapping must not touch the other figures."""
    result = in_fresh_process(TORCHLENS.format(name=name, batch=batch, repeat=repeat))
    return tuple(result["plain"]), tuple(result["trace"])


def main(cases: tuple[tuple[str, int], ...] = CASES, repeat: int = 11) -> list[str]:
    lines = [
        "## Probe overhead (targets: full probe <= 1.3x a plain forward; within torchinfo's ratio + 0.02)",
        "",
        "Ratio to the plain forward's median: median (min–max) of interleaved repeats.",
        "",
        row("model", "tool", "median s", "ratio to plain"),
        row("---", "---", "---:", "---:"),
    ]
    have_torchlens = importlib.util.find_spec("torchlens") is not None
    for name, batch in cases:
        times = measure(name, batch, repeat)
        plain = times["plain forward"]
        for tool, spread in times.items():
            lines.append(row(f"{name} batch {batch}", tool, f"{spread[1]:.3f}", ratio_spread(spread, plain)))
        if have_torchlens:
            try:
                own_plain, traced = measure_torchlens(name, batch, max(1, repeat // 2))
                lines.append(row(f"{name} batch {batch}", "TorchLens trace (own process)", f"{traced[1]:.3f}",
                                 ratio_spread(traced, own_plain)))
            except RuntimeError as error:
                lines.append(row(f"{name} batch {batch}", "TorchLens trace", "failed", json.dumps(str(error))))
    if not have_torchlens:
        lines += ["", "TorchLens is not installed here (optional peer: `pip install torchlens`)."]
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
