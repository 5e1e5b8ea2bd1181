"""The dataflow graph against hand-written models whose nodes and edges are known, and resnet18 / vit_h_14."""

from __future__ import annotations

import torch
from torch import nn

from inspector.core import graph as graph_mod
from inspector.core.graph import capture, collapse


def edge_set(graph: graph_mod.DataflowGraph) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in graph.edges}


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.act(self.conv1(x))) + x


class ResidualNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = Residual()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.block(x)), 1)


class BranchConcat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.left = nn.Conv2d(3, 4, 1)
        self.right = nn.Conv2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.left(x), self.right(x)], dim=1)


class Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.fc(x))


class Loop(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class Masked(nn.Module):
    """A tensor passed by keyword: ``combine(x, mask=gate(x))``."""

    class Combine(nn.Module):
        def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
            return x * mask

    def __init__(self) -> None:
        super().__init__()
        self.gate = nn.Sigmoid()
        self.combine = Masked.Combine()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.combine(x, mask=self.gate(x))


def test_residual_block_input_feeds_its_first_conv_and_the_add():
    model = ResidualNet().eval()
    graph = capture(model, torch.randn(1, 4, 8, 8))
    assert graph.ok
    assert list(graph.nodes) == ["input", "block", "block.conv1", "block.act", "block.conv2", "block.add",
                                 "pool", "flatten", "output"]
    assert edge_set(graph) == {
        ("input", "block.conv1"), ("block.conv1", "block.act"), ("block.act", "block.conv2"),
        ("block.conv2", "block.add"), ("input", "block.add"), ("block.add", "pool"), ("pool", "flatten"),
        ("flatten", "output"),
    }
    assert graph.nodes["block.add"].kind == "op" and graph.nodes["block.add"].parent == "block"
    assert graph.nodes["block.add"].module == "block"
    assert graph.nodes["block"].container and graph.nodes["block.conv1"].depth == 2
    # The one input tensor is one tensor number on both edges, with its shape and dtype.
    from_input = [e for e in graph.edges if e.source == "input"]
    assert {e.tensor for e in from_input} == {from_input[0].tensor}
    assert all(e.shape == [1, 4, 8, 8] and e.dtype == "float32" for e in from_input)
    assert graph.nodes["flatten"].output_shapes == [[1, 4]]
    # Collapsed to the top level: the same graph with the block as one node.
    top = collapse(graph, 1)
    assert list(top.nodes) == ["input", "block", "pool", "flatten", "output"]
    assert edge_set(top) == {("input", "block"), ("block", "pool"), ("pool", "flatten"), ("flatten", "output")}
    assert top.nodes["block"].output_shapes == [[1, 4, 8, 8]]
    assert collapse(graph, expanded=["block"]).nodes.keys() == graph.nodes.keys() - {"block"}


def test_branch_and_concat():
    graph = capture(BranchConcat(), torch.randn(2, 3, 5, 5))
    assert list(graph.nodes) == ["input", "left", "right", "cat", "output"]
    assert edge_set(graph) == {("input", "left"), ("input", "right"), ("left", "cat"), ("right", "cat"),
                               ("cat", "output")}
    shapes = {(e.source, e.target): e.shape for e in graph.edges}
    assert shapes[("left", "cat")] == [2, 4, 5, 5] and shapes[("right", "cat")] == [2, 2, 5, 5]
    assert graph.nodes["cat"].output_shapes == [[2, 6, 5, 5]]


def test_a_shared_module_called_twice_is_two_call_nodes_of_one_module():
    graph = capture(Shared(), torch.randn(3, 4))
    assert list(graph.nodes) == ["input", "fc", "fc#1", "output"]
    assert edge_set(graph) == {("input", "fc"), ("fc", "fc#1"), ("fc#1", "output")}
    assert [(n.module, n.call) for n in (graph.nodes["fc"], graph.nodes["fc#1"])] == [("fc", 0), ("fc", 1)]


def test_a_loop_over_a_module_list():
    graph = capture(Loop(), torch.randn(3, 4))
    assert list(graph.nodes) == ["input", "layers.0", "layers.1", "layers.2", "output"]
    assert edge_set(graph) == {("input", "layers.0"), ("layers.0", "layers.1"), ("layers.1", "layers.2"),
                               ("layers.2", "output")}


def test_in_place_relu_after_batchnorm_is_its_own_step_with_the_tensor_version():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.Conv2d(4, 2, 1)).eval()
    graph = capture(model, torch.randn(1, 3, 6, 6))
    assert edge_set(graph) == {("input", "0"), ("0", "1"), ("1", "2"), ("2", "3"), ("3", "output")}
    into_relu = next(e for e in graph.edges if e.target == "2")
    out_of_relu = next(e for e in graph.edges if e.source == "2")
    assert (into_relu.version, out_of_relu.version) == (0, 1)
    assert into_relu.tensor != out_of_relu.tensor
    assert not graph.nodes["2"].passthrough


def test_identity_is_a_pass_through_whose_output_edge_is_its_input_tensor():
    model = nn.Sequential(nn.Linear(4, 6), nn.Identity(), nn.Linear(6, 2))
    graph = capture(model, torch.randn(1, 4), replaced=["1"])
    assert edge_set(graph) == {("input", "0"), ("0", "1"), ("1", "2"), ("2", "output")}
    node = graph.nodes["1"]
    assert node.passthrough and node.replaced and node.type_name == "Identity"
    into, out = (next(e for e in graph.edges if e.target == "1"), next(e for e in graph.edges if e.source == "1"))
    assert into.tensor == out.tensor and out.shape == [1, 6]


def test_tensors_passed_by_keyword_are_edges():
    graph = capture(Masked(), torch.randn(2, 3))
    assert edge_set(graph) == {("input", "gate"), ("input", "combine"), ("gate", "combine"), ("combine", "output")}


def test_hooks_and_the_function_mode_are_gone_and_the_model_unchanged(shared_resnet18):
    model = shared_resnet18
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    graph = capture(model, x, mode="train")
    assert graph.ok
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert not torch.overrides._get_current_function_mode_stack()
    assert not model.training
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    with torch.no_grad():
        assert torch.equal(model(x), before)


def test_resnet18_has_its_eight_residual_joins(shared_resnet18):
    graph = capture(shared_resnet18, torch.randn(1, 3, 64, 64))
    adds = [n for n in graph.nodes.values() if n.kind == "op" and n.type_name == "add"]
    assert sorted(n.parent for n in adds) == [f"layer{i}.{j}" for i in range(1, 5) for j in range(2)]
    # Each join takes the block's input (or its downsample) and its bn2.
    assert {e.source for e in graph.incoming("layer2.0.add")} == {"layer2.0.bn2", "layer2.0.downsample.1"}
    assert {e.source for e in graph.incoming("layer1.0.add")} == {"layer1.0.bn2", "maxpool"}
    # The shared in-place ReLU of each block: two calls, one module.
    assert graph.nodes["layer1.0.relu#1"].module == "layer1.0.relu"
    assert len(collapse(graph, 1).nodes) == 13  # input, 10 top-level calls, flatten, output


def test_failing_run_marks_the_module_and_the_edge_whose_tensor_went_into_it():
    from inspector.core.session import Session

    session = Session.open("resnet18")
    session.replace_with_identity("layer2")
    graph = graph_mod.capture_session(session)
    assert not graph.ok and graph.error is not None
    assert graph.error.module == "layer3.0.conv1" and graph.error.node == "layer3.0.conv1"
    node = graph.nodes["layer3.0.conv1"]
    assert node.failed and "128 channels" in (node.error or "")
    failed = [e for e in graph.edges if e.failed]
    assert [(e.source, e.target, e.shape) for e in failed] == [("layer2", "layer3.0.conv1", [1, 64, 56, 56])]
    assert graph.nodes["layer2"].passthrough and graph.nodes["layer2"].replaced
    # Collapsed, the container holding it is marked and keeps the edge.
    top = collapse(graph, 1)
    assert top.nodes["layer3"].failed and "layer4" not in top.nodes and "output" not in top.nodes
    assert [(e.source, e.target) for e in top.edges if e.failed] == [("layer2", "layer3")]


def test_a_failing_residual_add_is_the_marked_node():
    from inspector.core.inputs import InputSpec
    from inspector.core.session import Session

    session = Session.open("resnet18")
    session.set_input(InputSpec((1, 3, 64, 64)))
    session.replace_with_identity("layer2.0.downsample")
    graph = graph_mod.capture_session(session)
    assert graph.error is not None and graph.error.module == "layer2.0" and graph.error.node == "layer2.0.add"
    assert graph.nodes["layer2.0.add"].failed and graph.nodes["layer2.0"].failed
    shapes = sorted(e.shape for e in graph.edges if e.failed)
    assert shapes == [[1, 64, 16, 16], [1, 128, 8, 8]]


def test_vit_h_14_on_meta_gives_its_graph_with_no_weights():
    from inspector.core.session import Session

    session = Session.open("vit_h_14", meta=True)
    graph = graph_mod.capture_session(session)
    assert graph.ok and graph.device == "meta"
    assert all(p.is_meta for p in session.model.parameters())
    assert graph.nodes["output"].output_shapes == [[1, 1000]]
    assert sum(1 for n in graph.nodes.values() if n.kind == "module" and n.type_name == "EncoderBlock") == 32
    assert graph.nodes["cat"].output_shapes == [[1, 257, 1280]]
    depth = graph_mod.auto_depth(graph)
    assert 1 <= len(collapse(graph, depth).nodes) <= graph_mod.AUTO_NODE_LIMIT


def test_json_document_and_dot_name_every_node():
    graph = capture(ResidualNet(), torch.randn(1, 4, 8, 8))
    document = graph_mod.json_document(graph)
    assert document["schema"] == "model-inspector/graph@1"
    assert [n["id"] for n in document["nodes"]] == list(graph.nodes)
    assert {(e["source"], e["target"]) for e in document["edges"]} == edge_set(graph)
    dot = graph_mod.dot_text(graph)
    assert dot.startswith("digraph model {") and 'subgraph "cluster_block"' in dot
    assert '"input" -> "block.conv1" [label="[1, 4, 8, 8] float32"];' in dot
