"""Cold start of the command line: ``report file.py:fn --meta`` start to exit, against ``import torch``.

Target: at most the floor (a fresh ``python -c "import torch"``) + 0.5 s.
Each command runs in a fresh process, interleaved with the others so the
machine's load hits all of them alike; the table gives the median (min–max)
of the wall times and the median CPU time (user + system) of the process,
which other work on a shared machine lengthens less.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile

from bench.common import row, timed_process

MODEL = """
from torch import nn


def fn():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 4))
"""

TARGET_S = 0.5

# What any run on the meta device pays before the model's first layer: nearly
# every one of torch 2.14's meta kernels (add, relu, conv, pooling, matmul,
# softmax, cat, ...) imports sympy on its first call, for its dtype-promotion
# and shape checks (`elementwise_dtypes`, `torch._check` ->
# torch.fx.experimental.symbolic_shapes); only views, flatten and in-place
# relu do not.
META_FLOOR = "import torch; torch.relu(torch.empty(2, 8, device='meta'))"


def measure(repeat: int = 5) -> dict[str, tuple[list[float], list[float]]]:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "small.py")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(MODEL)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            'python -c "import torch" (the floor)': [sys.executable, "-c", "import torch"],
            "import torch + one relu on meta, as torch runs it": [sys.executable, "-c", META_FLOOR],
            "report small.py:fn --meta": [sys.executable, "-m", "inspector", "report", f"{path}:fn", "--meta",
                                          "--trust", "--input-shape", "2,8", "--format", "json"],
            "report small.py:fn (CPU run)": [sys.executable, "-m", "inspector", "report", f"{path}:fn",
                                             "--trust", "--input-shape", "2,8", "--format", "json"],
            "model-inspector --help": [sys.executable, "-m", "inspector", "--help"],
        }
        timed_process(commands['python -c "import torch" (the floor)'])  # warm the file cache
        times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in commands}
        for _ in range(repeat):
            for name, argv in commands.items():
                wall, cpu, _ = timed_process(argv)
                times[name][0].append(wall)
                times[name][1].append(cpu)
    return times


def main() -> list[str]:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    times = measure()
    floor_wall = statistics.median(times['python -c "import torch" (the floor)'][0])
    floor_cpu = statistics.median(times['python -c "import torch" (the floor)'][1])
    lines = [
        f"## Cold start of the command line (target: `report file.py:fn --meta` <= `import torch` + {TARGET_S} s)",
        "",
        (f"Fresh processes, interleaved, median (min–max) of 5; load average at the start {load} "
         f"on {os.cpu_count()} CPU cores."),
        "",
        row("command", "wall s", "above the floor s", "CPU s (user+sys)", "CPU above the floor s"),
        row("---", "---:", "---:", "---:", "---:"),
    ]
    for name, (walls, cpus) in times.items():
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        lines.append(row(name, f"{wall:.2f} ({min(walls):.2f}–{max(walls):.2f})", f"{wall - floor_wall:+.2f}",
                         f"{cpu:.2f}", f"{cpu - floor_cpu:+.2f}"))
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
