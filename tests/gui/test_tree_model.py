"""The Qt item model over the core's tree: Qt's own model checks, narrow signals on edits, search."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt

from inspector.core.session import Session
from inspector.gui.tree_model import (
    COLUMNS,
    OUTPUT_SHAPE,
    PARAMS,
    QUALIFIED_NAME_ROLE,
    ModuleFilterProxy,
    ModuleTreeModel,
)
from tests.helpers import EditHistory


@pytest.fixture
def session() -> Session:
    return Session.open("resnet18")


@pytest.fixture
def tree_model(session: Session) -> ModuleTreeModel:
    model = ModuleTreeModel()
    model.set_tree(session.tree())
    return model


def apply(model: ModuleTreeModel, session: Session, edit) -> None:
    model.refresh_paths(session.tree(), [swap.path for swap in edit.swaps])


def test_the_model_passes_qtmodeltester(qtmodeltester, tree_model, session):
    qtmodeltester.check(tree_model, force_py=True)
    tree_model.set_run(session.run())
    qtmodeltester.check(tree_model, force_py=True)


def test_the_model_stays_consistent_through_edits(qtmodeltester, tree_model, session):
    qtmodeltester.check(tree_model, force_py=True)  # keeps watching the model's signals from here
    history = EditHistory(session.editor)
    apply(tree_model, session, history.replace_with_identity("layer2"))
    apply(tree_model, session, history.replace_with_identity("layer3.0"))
    apply(tree_model, session, history.undo())
    apply(tree_model, session, history.restore_all())
    apply(tree_model, session, history.undo())
    qtmodeltester.check(tree_model, force_py=True)
    assert tree_model.find("layer2").type_name == "Identity"
    assert tree_model.find("layer2").children == []


def test_the_search_proxy_passes_qtmodeltester(qtmodeltester, tree_model):
    proxy = ModuleFilterProxy()
    proxy.setSourceModel(tree_model)
    proxy.set_search("conv")
    qtmodeltester.check(proxy, force_py=True)


def test_the_tree_mirrors_named_modules(tree_model, session):
    names = [name for name, _ in session.model.named_modules()]
    seen = []

    def visit(index):
        seen.append(index.data(QUALIFIED_NAME_ROLE))
        for row in range(tree_model.rowCount(index)):
            visit(tree_model.index(row, 0, index))

    visit(tree_model.index(0, 0))
    assert seen == names
    assert tree_model.columnCount() == len(COLUMNS)
    assert tree_model.headerData(OUTPUT_SHAPE, Qt.Orientation.Horizontal) == "Output shape"


def test_an_edit_emits_narrow_signals_and_keeps_other_indexes(tree_model, session):
    resets, layouts, removed, inserted = [], [], [], []
    tree_model.modelReset.connect(lambda: resets.append(1))
    tree_model.layoutChanged.connect(lambda *a: layouts.append(1))
    tree_model.rowsRemoved.connect(lambda parent, first, last: removed.append((parent.data(QUALIFIED_NAME_ROLE),
                                                                             first, last)))
    tree_model.rowsInserted.connect(lambda parent, first, last: inserted.append((parent.data(QUALIFIED_NAME_ROLE),
                                                                               first, last)))
    kept = QPersistentModelIndex(tree_model.index_of("layer1.0.conv1"))
    edited = QPersistentModelIndex(tree_model.index_of("layer2"))
    inside = QPersistentModelIndex(tree_model.index_of("layer2.0.conv1"))

    edit = session.replace_with_identity("layer2")
    apply(tree_model, session, edit)

    assert resets == [] and layouts == []
    assert removed == [("layer2", 0, 1)]  # layer2's two blocks left the tree
    assert inserted == []  # an Identity has no children
    assert kept.isValid() and kept.data(QUALIFIED_NAME_ROLE) == "layer1.0.conv1"
    assert edited.isValid() and edited.sibling(edited.row(), 1).data() == "Identity"
    assert not inside.isValid()

    session.revert(edit)
    apply(tree_model, session, edit)
    assert inserted == [("layer2", 0, 1)]
    assert resets == [] and layouts == []
    assert kept.isValid()
    assert tree_model.index_of("layer2.0.conv1").isValid()


def test_ancestor_parameter_counts_follow_an_edit(tree_model, session):
    total = sum(p.numel() for p in session.model.parameters())
    layer4 = sum(p.numel() for p in session.model.layer4.parameters())
    block = sum(p.numel() for p in session.model.layer4[1].parameters())
    apply(tree_model, session, session.replace_with_identity("layer4.1"))
    params = lambda name: tree_model.index_of(name, PARAMS).data()  # noqa: E731
    assert params("layer4.1") == "0"
    assert params("layer4") == f"{layer4 - block:,}"
    assert params("") == f"{total - block:,}"


def test_stale_results_are_greyed_after_an_edit(tree_model, session):
    tree_model.set_run(session.run())
    conv1 = tree_model.index_of("conv1", OUTPUT_SHAPE)
    assert conv1.data(Qt.ItemDataRole.ForegroundRole) is None
    tree_model.set_stale(True)
    assert conv1.data(Qt.ItemDataRole.ForegroundRole) is not None
    assert "before the latest edit" in conv1.data(Qt.ItemDataRole.ToolTipRole)


def test_replaced_modules_are_italic_with_an_icon(tree_model, session):
    apply(tree_model, session, session.replace_with_identity("fc"))
    fc = tree_model.index_of("fc")
    assert fc.data(Qt.ItemDataRole.FontRole).italic()
    assert tree_model.index_of("conv1").data(Qt.ItemDataRole.FontRole) is None
    assert "Identity" in fc.data(Qt.ItemDataRole.ToolTipRole)


def test_search_matches_names_and_types_and_keeps_ancestors(tree_model):
    proxy = ModuleFilterProxy()
    proxy.setSourceModel(tree_model)
    proxy.set_search("layer3.1.bn2")
    path = []
    index = proxy.index(0, 0)
    while proxy.rowCount(index):
        assert proxy.rowCount(index) == 1
        index = proxy.index(0, 0, index)
        path.append(index.data(QUALIFIED_NAME_ROLE))
    assert path == ["layer3", "layer3.1", "layer3.1.bn2"]
    proxy.set_search("adaptiveavg")
    root = proxy.index(0, 0)
    assert [proxy.index(r, 0, root).data() for r in range(proxy.rowCount(root))] == ["avgpool"]
