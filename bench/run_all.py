"""``make bench``: run every benchmark and write bench/RESULTS.md with the machine, versions and date."""

from __future__ import annotations

import datetime
import importlib
import os
import platform
import sys

import torch
import torchvision

SCRIPTS = ("probe_overhead", "cold_start", "cuda_probe", "meta_shapes", "load_checkpoint", "memory", "gui_speed", "sweep_speed",
           "graph_speed")


def header() -> list[str]:
    return [
        "# Benchmark results",
        "",
        f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
        f"- python {platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"torch threads {torch.get_num_threads()}",
        "",
        f"- load average at start: {', '.join(f'{v:.2f}' for v in os.getloadavg())}",
        "",
        "Ratios are medians of interleaved repeats on a shared machine: read them as ratios, not absolute times.",
        "",
    ]


def main() -> int:
    lines = header()
    only = set(sys.argv[1:])
    for name in SCRIPTS:
        if only and name not in only:
            continue
        print(f"running bench/{name}.py ...", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            section = module.main()
        except Exception as error:  # noqa: BLE001 - one failing bench must not hide the others
            section = [f"## {name}", "", f"failed: {type(error).__name__}: {error}"]
        print("\n".join(section), flush=True)
        lines += section + [""]
    path = os.path.join(os.path.dirname(__file__), "RESULTS.md")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("\n".join(lines))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
