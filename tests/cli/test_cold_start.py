"""The command line's cold start: a route loads only what it needs.

``report file.py:fn --meta`` (a callable in a file, shapes only) is the
route measured against ``python -c "import torch"`` in bench/cold_start.py.
Importing torchvision (which pulls in ``torch._dynamo``), timm, transformers,
or torch's compiler for torch's own meta kernels costs seconds there, so
each is checked to stay out of sys.modules, in a fresh interpreter.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.helpers import run_subprocess

HEAVY = ("torchvision", "timm", "transformers", "torch._dynamo", "rich")

MODEL = """
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 16)
        self.norm = nn.LayerNorm(16)

    def forward(self, x):
        return torch.tanh(self.norm(self.linear(x)) + x) * 2


def fn():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), Block(), nn.GELU(), nn.Linear(16, 4))
"""

RUN = """
import json, sys
from inspector.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as stream:
    json.dump({"code": code, "loaded": [name for name in %r if name in sys.modules]}, stream)
"""


def _run_report(tmp_path: Path, *argv: str) -> tuple[dict[str, object], dict[str, object]]:
    model = tmp_path / "small.py"
    model.write_text(textwrap.dedent(MODEL))
    seen = tmp_path / "seen.json"
    result = run_subprocess(["-c", RUN % (HEAVY,), str(seen), "report", f"{model}:fn", *argv], timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(seen.read_text()), json.loads(result.stdout)


def test_meta_report_of_a_callable_loads_no_model_zoo_and_no_compiler(tmp_path: Path) -> None:
    seen, report = _run_report(tmp_path, "--meta", "--trust", "--input-shape", "2,8", "--format", "json")
    assert seen == {"code": 0, "loaded": []}
    assert report["output"]["shapes"] == [[2, 4]]  # type: ignore[index]
    layers = {layer["name"]: layer for layer in report["layers"]}  # type: ignore[union-attr]
    assert layers["2"]["output_shapes"] == [[2, 16]]


def test_plain_report_of_a_callable_loads_no_model_zoo(tmp_path: Path) -> None:
    seen, report = _run_report(tmp_path, "--trust", "--input-shape", "2,8", "--format", "json")
    assert seen["code"] == 0
    assert [name for name in seen["loaded"] if name != "torch._dynamo"] == []  # type: ignore[union-attr]
    assert report["output"]["shapes"] == [[2, 4]]  # type: ignore[index]


SHORTCUTS = """
import json, sys, torch
from inspector.core import meta_shortcuts
x = torch.empty(2, 8, device="meta")
with meta_shortcuts.ShapeShortcuts():
    y = torch.tanh(x + 1).relu() * 2
during = "torch._dynamo" in sys.modules
left = [f.__qualname__ for f in meta_shortcuts._dynamo_wrapped() if hasattr(f, "__dynamo_disable")]
import torch._dynamo
z = torch.tanh(x + 1).relu() * 2  # torch's own route, with dynamo imported
own = [f for f in meta_shortcuts._dynamo_wrapped() if hasattr(f, "__dynamo_disable")]
print(json.dumps({"shape": list(y.shape), "during": during, "left": left, "after": list(z.shape),
                  "own": len(own), "identity": sum(getattr(f, "__dynamo_disable") is f for f in own)}))
"""


def test_meta_kernels_run_without_dynamo_and_torch_is_left_as_it_was() -> None:
    result = run_subprocess(["-c", SHORTCUTS], timeout=300)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["shape"] == [2, 8] and seen["after"] == [2, 8]
    assert seen["during"] is False
    assert seen["left"] == []
    assert seen["own"] > 0 and seen["identity"] == 0  # torch's own disabled functions, not ours
