"""The plain module tree: names, types, parameter counts, shared modules."""

from __future__ import annotations

import torchvision

from inspector.core.tree import build_tree, count_params
from tests.models import Nested, SharedTwice, Tied


def test_tree_mirrors_named_modules_of_resnet18(shared_resnet18):
    root = build_tree(shared_resnet18)
    modules = dict(shared_resnet18.named_modules())
    assert [n.qualified_name for n in root.walk()] == list(modules)
    for node in root.walk():
        module = modules[node.qualified_name]
        assert node.type_name == type(module).__name__
        assert node.total_params == sum(p.numel() for p in module.parameters())
        assert node.own_params == sum(p.numel() for p in module.parameters(recurse=False))
        assert node.extra_repr == module.extra_repr()
        assert node.depth == (0 if not node.qualified_name else node.qualified_name.count(".") + 1)
        if node.parent is not None:
            assert node.parent.children[node.row] is node
            assert node.name == node.qualified_name.rpartition(".")[2]
    assert root.total_params == 11689512
    assert root.find("layer3.1.bn2").type_name == "BatchNorm2d"
    assert root.find("layer3.1.bn2").extra_repr == shared_resnet18.layer3[1].bn2.extra_repr()
    assert root.find("conv1").extra_repr.startswith("3, 64, kernel_size=(7, 7)")
    assert root.find("layer9") is None


def test_tied_parameters_count_once():
    model = Tied(vocab=10, dim=6)
    unique = {id(p): p.numel() for p in model.parameters()}
    assert count_params(model) == sum(unique.values())
    # A naive sum over every registration would count the shared weight twice.
    naive = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    assert naive == count_params(model) + 10 * 6
    root = build_tree(model)
    assert root.total_params == sum(unique.values())
    assert root.find("decode").own_params == 60


def test_shared_module_is_shown_once_and_marked():
    model = SharedTwice()
    root = build_tree(model)
    # As named_modules() lists it: once, under its first name; the second name is an alias.
    assert [n.qualified_name for n in root.walk()] == [n for n, _ in model.named_modules()]
    shared = root.find("shared")
    assert shared is not None and root.find("again") is None
    assert shared.aliases == ["again"] and not shared.contains_itself
    assert root.find("out").aliases == []
    # Parameters of the shared Linear count once for the whole model.
    assert root.total_params == sum(p.numel() for p in model.parameters())


def test_replaced_paths_are_marked():
    model = Nested()
    root = build_tree(model, replaced=["blocks.0"])
    assert root.find("blocks.0").replaced
    assert not root.find("blocks.1").replaced


def test_every_torchvision_family_gives_a_consistent_tree():
    for name in ("vit_b_16", "googlenet"):
        model = torchvision.models.get_model(name, weights=None, **({"init_weights": False} if name == "googlenet" else {}))
        root = build_tree(model)
        assert [n.qualified_name for n in root.walk()] == [n for n, _ in model.named_modules()]
        assert root.total_params == sum(p.numel() for p in model.parameters())
