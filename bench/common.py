"""Shared helpers of the benchmarks: medians, peak memory, running a script in a fresh process."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def side_by_side(fns: dict[str, Callable[[], object]], repeat: int = 5) -> dict[str, float]:
    """Median times of several functions, interleaved so machine load hits all alike."""
    return {name: spread[1] for name, spread in spreads(fns, repeat).items()}


def spreads(fns: dict[str, Callable[[], object]], repeat: int = 5) -> dict[str, tuple[float, float, float]]:
    """(min, median, max) times of several functions, interleaved so machine load hits all alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: (min(values), statistics.median(values), max(values)) for name, values in times.items()}


def ratio_spread(spread: tuple[float, float, float], plain: tuple[float, float, float]) -> str:
    """``median (min–max)`` of a tool's times as ratios to the plain forward's median."""
    low, mid, high = (value / plain[1] for value in spread)
    return f"{mid:.2f}x ({low:.2f}–{high:.2f})"


PEAK_MB = """
def peak_mb():
    # VmHWM: this process's own peak. ru_maxrss would not do in a fresh
    # process: Linux carries it over from the parent across fork and exec,
    # so a child of a big benchmark process reports the parent's peak.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""
"""Source of ``peak_mb()`` for the scripts run by :func:`in_fresh_process`."""


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_fresh_process(code: str, timeout: float = 600) -> dict:
    """Run Python ``code`` in a new interpreter; it prints one JSON object as its last line."""
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


def timed_process(argv: list[str]) -> tuple[float, float, str]:
    """(wall s, CPU s of user + system, standard output) of one fresh process run from this folder."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:3])} failed: {result.stderr.strip().splitlines()[-1:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), result.stdout


def row(*cells: object) -> str:
    """A Markdown table row."""
    return "| " + " | ".join(str(c) for c in cells) + " |"
