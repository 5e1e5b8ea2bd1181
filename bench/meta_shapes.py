"""Target 2: shapes only on the meta device: time and whole-process peak memory.

Each case runs in a fresh interpreter so its peak memory is its own; the
memory of importing torch and torchvision alone is shown beside it, since
that floor is the same for any tool.
"""

from __future__ import annotations

from bench.common import PEAK_MB, in_fresh_process, row

IMPORT_ONLY = """
import json, time, resource
t = time.perf_counter()
import torch, torchvision
print(json.dumps({"import_s": time.perf_counter() - t,
                  "rss_mb": peak_mb()}))
"""

ONE_MODEL = """
import json, time, resource
import torch, torchvision
from inspector.core.session import Session
t = time.perf_counter()
session = Session.open({name!r}, meta=True)
run = session.run(meta=True)
print(json.dumps({{"seconds": time.perf_counter() - t, "ok": run.ok, "params": session.params,
                  "rss_mb": peak_mb()}}))
"""

# torchvision is imported like in every other case: it is part of the floor
# above, and it brings torch._dynamo, which torch otherwise imports (~2 s
# here) the first time a meta kernel written in Python runs.
BILLION = """
import json, time, resource
import torch, torchvision
from torch import nn
from inspector.core.loading import empty_weights
from inspector.core.inputs import InputSpec
from inspector.core import shapes
t = time.perf_counter()
with torch.device("meta"):
    layer = nn.TransformerEncoderLayer(d_model=2048, nhead=16, dim_feedforward=8192, batch_first=True)
    model = nn.TransformerEncoder(layer, num_layers=20, enable_nested_tensor=False)
run = shapes.meta_run(model, InputSpec((1, 512, 2048)))
params = sum(p.numel() for p in model.parameters())
print(json.dumps({"seconds": time.perf_counter() - t, "ok": run.ok, "params": params,
                  "rss_mb": peak_mb()}))
"""

ALL_CLASSIFIERS = """
import json, time, resource
import torch, torchvision
from inspector.core.loading import list_models
from inspector.core.session import Session
names = [n for _, n in list_models("classification")]
t = time.perf_counter()
failed = []
for name in names:
    if not Session.open(name, meta=True).run(meta=True).ok:
        failed.append(name)
print(json.dumps({"seconds": time.perf_counter() - t, "count": len(names), "failed": failed,
                  "rss_mb": peak_mb()}))
"""


def main() -> list[str]:
    base = in_fresh_process(PEAK_MB + IMPORT_ONLY)
    lines = [
        "## Shapes only on the meta device (targets: vit_h_14 <= 1 s and <= 600 MB; 80 classifiers < 15 s)",
        "",
        f"Importing torch + torchvision alone: {base['import_s']:.2f} s, peak RSS {base['rss_mb']:.0f} MB "
        "(the floor of any process here; times below exclude the import).",
        "",
        row("case", "params", "seconds", "peak RSS MB", "RSS above import MB"),
        row("---", "---:", "---:", "---:", "---:"),
    ]
    for label, code in (
        ("vit_h_14 --meta", ONE_MODEL.format(name="vit_h_14")),
        ("1B-parameter transformer (20 x d2048)", BILLION),
    ):
        r = in_fresh_process(PEAK_MB + code)
        lines.append(row(label, f"{r['params'] / 1e6:.0f}M", f"{r['seconds']:.2f}", f"{r['rss_mb']:.0f}",
                         f"{r['rss_mb'] - base['rss_mb']:.0f}"))
    r = in_fresh_process(PEAK_MB + ALL_CLASSIFIERS)
    failed = ", ".join(r["failed"]) or "none"
    lines.append(row(f"all {r['count']} classifiers (failed: {failed})", "", f"{r['seconds']:.2f}",
                     f"{r['rss_mb']:.0f}", f"{r['rss_mb'] - base['rss_mb']:.0f}"))
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
