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
