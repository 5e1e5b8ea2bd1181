"""A whole ``report`` against a script that builds the model and runs one plain forward.

Target (issue 15): ``report`` minus the build <= 1.10x the script minus the
build, on resnet50 batch 8 and vit_b_16 batch 1 (CPU). Both are fresh
processes from start to exit, interleaved so the machine's load hits them
alike: the script imports torch and torchvision, builds the model, makes the
same random input and runs it under ``torch.no_grad()``; the report does what
a user's ``model-inspector report NAME --input-shape ... --json PATH`` does
(import, build, probe with every statistic, histogram and time, write the
JSON). The build is what the script's own clock says it took; it is the same
torchvision constructor in both.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile

from bench.common import row, timed_process

CASES = (("resnet50", 8), ("vit_b_16", 1))
TARGET = 1.10

PLAIN = """
import json, time
import torch, torchvision
start = time.perf_counter()
model = torchvision.models.get_model({name!r}, weights=None).eval()
built = time.perf_counter()
x = torch.randn({batch}, 3, 224, 224)
with torch.no_grad():
    model(x)
print(json.dumps({{"build": built - start, "forward": time.perf_counter() - built}}))
"""


def measure(name: str, batch: int, repeat: int = 5) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        report = [sys.executable, "-m", "inspector", "report", name, "--input-shape", f"{batch},3,224,224",
                  "--json", os.path.join(folder, "report.json")]
        plain = [sys.executable, "-c", PLAIN.format(name=name, batch=batch)]
        timed_process(plain)  # warm the file cache
        times: dict[str, list[float]] = {"script": [], "report": [], "build": [], "forward": []}
        for _ in range(repeat):
            wall, _, out = timed_process(plain)
            inside = json.loads(out.strip().splitlines()[-1])
            times["script"].append(wall)
            times["build"].append(inside["build"])
            times["forward"].append(inside["forward"])
            times["report"].append(timed_process(report)[0])
    return times


def main(cases: tuple[tuple[str, int], ...] = CASES, repeat: int = 5) -> list[str]:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [
        f"## A whole report against a plain script (target: report minus the build <= {TARGET:.2f}x)",
        "",
        (f"`python -m bench.whole_process`: fresh processes, interleaved, median (min–max) of {repeat}; "
         f"load average at the start {load} on {os.cpu_count()} CPU cores. The script builds the model and runs "
         "one `torch.no_grad()` forward; `report` imports, builds, probes every statistic and writes the JSON."),
        "",
        row("model", "script s", "report s", "build s", "script forward s", "ratio", "ratio minus the build"),
        row("---", "---:", "---:", "---:", "---:", "---:", "---:"),
    ]
    for name, batch in cases:
        times = measure(name, batch, repeat)
        script, report, build = (statistics.median(times[key]) for key in ("script", "report", "build"))
        lines.append(row(
            f"{name} batch {batch}",
            f"{script:.2f} ({min(times['script']):.2f}–{max(times['script']):.2f})",
            f"{report:.2f} ({min(times['report']):.2f}–{max(times['report']):.2f})",
            f"{build:.2f}",
            f"{statistics.median(times['forward']):.2f}",
            f"{report / script:.2f}x",
            f"{(report - build) / (script - build):.2f}x",
        ))
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
