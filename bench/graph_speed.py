"""The dataflow graph: the cost of a graph run against a plain forward, and the layout's time.

- *Graph run*: :func:`inspector.core.graph.capture` (the graph's hooks and
  torch function mode, one forward) against a plain ``torch.no_grad()``
  forward of resnet50 at batch 8, interleaved; the plain probe beside them
  shows its ratio is its own (the graph's mode is installed only by a graph
  run).
- *Layout*: grandalf's layered layout (:func:`inspector.core.graph_layout.layout`,
  what the Graph tab runs on its worker) of resnet50 at block level (depth
  2), vit_b_16 at layer level (depth 3) and at the tab's default depth (at
  most ~150 nodes), and a 1,000-node graph (250 residual blocks).
- *Scene*: in a fresh offscreen Qt process, the time the GUI thread spends
  turning a laid-out graph into the Graph tab's scene items (the part that
  could stall the window; the capture and layout run on the worker).
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from bench.common import in_fresh_process, ratio_spread, row, spreads
from inspector.core import graph as graph_mod
from inspector.core import probe
from inspector.core.graph_layout import layout
from inspector.core.loading import build_torchvision

LAYOUT_REPEATS = 3


class ResidualChain(nn.Module):
    """``blocks`` residual blocks of (linear, relu, linear, add): four graph nodes each."""

    def __init__(self, blocks: int = 250, width: int = 8) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.ModuleDict({"fc1": nn.Linear(width, width), "act": nn.ReLU(), "fc2": nn.Linear(width, width)})
            for _ in range(blocks)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block["fc2"](block["act"](block["fc1"](x))) + x
        return x


def thousand_node_graph() -> graph_mod.DataflowGraph:
    return graph_mod.capture(ResidualChain(), torch.randn(1, 8))


def graph_run_cost(repeat: int = 9) -> list[str]:
    model = build_torchvision("resnet50").eval()
    x = torch.randn(8, 3, 224, 224)

    def plain() -> None:
        with torch.no_grad():
            model(x)

    times = spreads({
        "plain forward": plain,
        "graph run (capture)": lambda: graph_mod.capture(model, x),
        "probe (no graph)": lambda: probe.run(model, (x,)),
    }, repeat=repeat)
    base = times["plain forward"]
    return [row("resnet50 batch 8", tool, f"{spread[1]:.3f}", ratio_spread(spread, base))
            for tool, spread in times.items()]


def layout_seconds(graph: graph_mod.DataflowGraph) -> float:
    times = []
    for _ in range(LAYOUT_REPEATS):
        started = time.perf_counter()
        layout(graph)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def layout_rows() -> list[str]:
    cases = []
    resnet50 = graph_mod.capture(build_torchvision("resnet50").eval(), torch.randn(1, 3, 224, 224))
    cases.append(("resnet50, block level (depth 2)", graph_mod.collapse(resnet50, 2)))
    cases.append(("resnet50, every call (depth 3)", graph_mod.collapse(resnet50, 3)))
    from inspector.core.session import Session

    vit = graph_mod.capture_session(Session.open("vit_b_16", meta=True))
    cases.append(("vit_b_16, layer level (depth 3)", graph_mod.collapse(vit, 3)))
    cases.append(("vit_b_16, tab default depth", graph_mod.collapse(vit, graph_mod.auto_depth(vit))))
    cases.append(("250 residual blocks, every call", thousand_node_graph()))
    return [row(name, len(g.nodes), len(g.edges), f"{layout_seconds(g):.3f}") for name, g in cases]


SCENE = """
import json, os, statistics, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication
app = QApplication([])
import torch
from bench.graph_speed import thousand_node_graph
from inspector.core import graph as graph_mod
from inspector.core.loading import build_torchvision
from inspector.gui.panels.graph import GraphPanel, view_of
panel = GraphPanel()
panel.resize(1000, 800)
panel.show()
turns = []
add_items = panel._add_items

def timed_add_items(*args):
    started = time.perf_counter()
    add_items(*args)
    turns.append(time.perf_counter() - started)

panel._add_items = timed_add_items
results = {}
cases = {
    "resnet50, tab default": graph_mod.capture(build_torchvision("resnet50").eval(), torch.randn(1, 3, 224, 224)),
    "250 residual blocks (1,000 nodes)": thousand_node_graph(),
}
for name, graph in cases.items():
    shown = view_of(graph, None if "resnet50" in name else {n.id for n in graph.nodes.values() if n.container})
    totals, longest = [], []
    for _ in range(3):
        loop = QEventLoop()
        panel.sig_graph_shown.connect(loop.quit)
        turns.clear()
        started = time.perf_counter()
        panel._show(shown, fresh=True)
        first = time.perf_counter() - started - (turns[0] if turns else 0.0)
        if len(panel._items) < len(shown.visible.nodes):
            loop.exec()
        app.processEvents()
        totals.append(time.perf_counter() - started)
        longest.append(max([first + (turns[0] if turns else 0.0)] + turns[1:]))
        panel.sig_graph_shown.disconnect(loop.quit)
    results[name] = [len(shown.visible.nodes), statistics.median(totals), statistics.median(longest)]
print(json.dumps(results))
"""


def main() -> list[str]:
    lines = [
        "## Dataflow graph (targets: a graph run <= 1.5x a plain forward; layout <= 1 s at block/layer level, "
        "<= 3 s for 1,000 nodes, on a worker)",
        "",
        row("model", "run", "median s", "ratio to plain"),
        row("---", "---", "---:", "---:"),
        *graph_run_cost(),
        "",
        "Layout (grandalf, on the Graph tab's worker): median of 3.",
        "",
        row("graph", "nodes", "edges", "layout s"),
        row("---", "---:", "---:", "---:"),
        *layout_rows(),
    ]
    try:
        scene = in_fresh_process(SCENE)
        lines += ["", "Building the scene on the GUI thread (offscreen Qt), in slices of ~40 ms: median of 3.", "",
                  row("graph", "nodes", "until drawn s", "longest event-loop turn s"), row("---", "---:", "---:", "---:")]
        lines += [row(name, nodes, f"{total:.3f}", f"{turn:.3f}") for name, (nodes, total, turn) in scene.items()]
    except RuntimeError as error:
        lines += ["", f"scene build not measured: {error}"]
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
