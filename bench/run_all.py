"""``make bench``: run every benchmark and write bench/RESULTS.md with the machine, versions and date."""

from __future__ import annotations

import datetime
import importlib
import os
import platform
import sys

import torch
import torchvision

SCRIPTS = ("probe_overhead", "whole_process", "cold_start", "cuda_probe", "meta_shapes", "load_checkpoint", "memory", "gui_speed", "sweep_speed",
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


MARK = "<!-- bench/{}.py -->"


def _sections(text: str) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """(the lines before the first section, each bench's section by name, the order of the names)."""
    head: list[str] = []
    found: dict[str, list[str]] = {}
    order: list[str] = []
    current: list[str] = head
    for line in text.splitlines():
        if line.startswith("<!-- bench/") and line.endswith(".py -->"):
            name = line.removeprefix("<!-- bench/").removesuffix(".py -->")
            current = found.setdefault(name, [])
            order.append(name)
        current.append(line)
    return head, found, order


def splice(text: str, sections: dict[str, list[str]], *, full_run: bool = False) -> list[str]:
    """RESULTS.md's lines with ``sections`` in place of the same benches' sections; the rest kept as is.

    A bench with no section there yet goes at the end; sections of benches not in this run (one run by
    hand, such as bench/big_model.py) stay. The head (the date and machine) is new after a full run and
    kept after a partial one: each section says when it was measured.
    """
    head, found, order = _sections(text)
    for name, section in sections.items():
        if name not in found:
            order.append(name)
        found[name] = section
    lines = header() if full_run or not head else head
    for name in order:
        lines += found[name]
    return lines


def _run(name: str) -> list[str]:
    print(f"running bench/{name}.py ...", flush=True)
    try:
        module = importlib.import_module(f"bench.{name}")
        section = module.main()
    except Exception as error:  # noqa: BLE001 - one failing bench must not hide the others
        section = [f"## {name}", "", f"failed: {type(error).__name__}: {error}"]
    print("\n".join(section), flush=True)
    return [MARK.format(name), *section, ""]


def main() -> int:
    """Every bench, or only those named (``python -m bench.run_all probe_overhead``): then their
    sections replace the same sections of RESULTS.md and the others are kept as they were."""
    path = os.path.join(os.path.dirname(__file__), "RESULTS.md")
    only = [name for name in sys.argv[1:] if name in SCRIPTS]
    unknown = sorted(set(sys.argv[1:]) - set(SCRIPTS))
    if unknown:
        print(f"no such bench: {', '.join(unknown)} (known: {', '.join(SCRIPTS)})", file=sys.stderr)
        return 2
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        text = ""
    lines = splice(text, {name: _run(name) for name in only or SCRIPTS}, full_run=not only)
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("\n".join(lines).rstrip("\n") + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
