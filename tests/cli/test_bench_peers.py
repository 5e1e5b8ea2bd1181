"""``make bench`` runs whether or not the optional peer TorchLens is installed."""

from __future__ import annotations

import json

from tests.helpers import run_subprocess

WITHOUT_TORCHLENS = """
import json, sys
sys.modules["torchlens"] = None  # `import torchlens` fails, as where it is not installed
from bench import probe_overhead
print(json.dumps(probe_overhead.main(cases=(("resnet18", 1),), repeat=1)))
"""


def test_probe_bench_runs_without_torchlens() -> None:
    result = run_subprocess(["-c", WITHOUT_TORCHLENS], timeout=600)
    assert result.returncode == 0, result.stderr
    lines = json.loads(result.stdout.strip().splitlines()[-1])
    text = "\n".join(lines)
    assert "TorchLens is not installed here" in text
    assert "failed" not in text
    tools = [line.split("|")[2].strip() for line in lines if line.startswith("| resnet18 batch 1")]
    assert tools[0] == "plain forward" and "torchinfo summary (shapes only)" in tools
    assert any(tool.startswith("Model Inspector probe") for tool in tools)
    assert not any("TorchLens" in tool for tool in tools)


def test_a_partial_bench_run_replaces_only_its_own_sections() -> None:
    """``python -m bench.run_all probe_overhead`` must not drop the other sections of RESULTS.md."""
    from bench.run_all import splice

    old = "\n".join([
        "# Benchmark results", "- date: then", "",
        "<!-- bench/probe_overhead.py -->", "## Probe overhead", "old probe figures", "",
        "<!-- bench/cold_start.py -->", "## Cold start", "cold figures", "",
        "<!-- bench/big_model.py -->", "## Bigger than memory", "measured by hand", "",
    ])
    new_probe = ["<!-- bench/probe_overhead.py -->", "## Probe overhead", "new probe figures", ""]
    new_whole = ["<!-- bench/whole_process.py -->", "## Whole process", "whole figures", ""]
    lines = splice(old, {"probe_overhead": new_probe, "whole_process": new_whole})
    text = "\n".join(lines)
    assert lines[:2] == ["# Benchmark results", "- date: then"]
    assert "new probe figures" in text and "old probe figures" not in text
    assert text.index("new probe figures") < text.index("cold figures") < text.index("measured by hand")
    assert text.index("measured by hand") < text.index("whole figures")

    full = "\n".join(splice(old, {"probe_overhead": new_probe}, full_run=True))
    assert "- date: then" not in full and "measured by hand" in full
