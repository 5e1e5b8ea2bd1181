"""Odd but real models, seeds and files: one line and exit 2, or the model simply works.

Each case goes through the command line in-process (``inspector.cli.main``)
where it can; the models are written as Python files under tmp_path.
"""

from __future__ import annotations

import io
import json
import resource
import zipfile
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from inspector.cli import main
from inspector.core.errors import InspectorError, ModelLoadError
from inspector.core.session import Session
from inspector.core.tree import build_tree

MODELS = '''
import torch
from torch import nn


def deep():
    model = nn.Linear(4, 4)
    for _ in range(1000):
        model = nn.Sequential(model)
    return model


class Itself(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.add_module("me", self)

    def forward(self, x):
        return self.lin(x)


def itself():
    return Itself()


class Diamond(nn.Module):
    """Registers the same inner module twice: 30 of these nested are 2**30 paths to the Linear."""

    def __init__(self, inner):
        super().__init__()
        self.left = inner
        self.right = inner

    def forward(self, x):
        return self.left(x)


def diamond():
    model = nn.Linear(4, 4)
    for _ in range(30):
        model = Diamond(model)
    return model


def flat():
    return nn.Flatten()
'''


@pytest.fixture
def models_file(tmp_path: Path) -> Path:
    path = tmp_path / "odd_models.py"
    path.write_text(MODELS)
    return path


def _fails_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], *expected: str) -> str:
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("seed", [str(2**64), str(2**70), "-1", str(-(2**63) - 1)])
def test_a_seed_outside_0_to_2_64_is_one_line(tmp_path, capsys, seed):
    out = tmp_path / "report.json"
    _fails_with_one_line(capsys, ["report", "resnet18", "--input-shape", "1,3,32,32", f"--seed={seed}",
                                  "--json", str(out)], "seed", "2**64 - 1")
    assert not out.exists()


def test_the_largest_seed_works_and_sweep_refuses_the_same(tmp_path, capsys):
    out = tmp_path / "report.json"
    assert main(["report", "resnet18", "--input-shape", "1,3,32,32", f"--seed={2**64 - 1}", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["input"]["seed"] == 2**64 - 1
    _fails_with_one_line(capsys, ["sweep", "resnet18", "--input-shape", "1,3,32,32", f"--seed={2**64}",
                                  "--only", "Linear", "--json", str(tmp_path / "sweep.json")], "seed")


# --------------------------------------------------------------------------- memory


def test_an_input_that_cannot_be_allocated_is_one_line(tmp_path, capsys, models_file):
    gib = 2**30
    available = None
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    if available is None or available < 6 * gib:
        pytest.skip("needs 6 GiB free so that the up-front size check lets a 1 GiB input through")
    main(["report", f"{models_file}:flat", "--input-shape", "1,4", "--json", str(tmp_path / "warm.json")])
    capsys.readouterr()
    with open("/proc/self/status", encoding="ascii") as status:
        used = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    # The process may grow by 256 MiB: torch's allocator then fails the 1 GiB input
    # with a RuntimeError ("DefaultCPUAllocator: can't allocate memory"), not a MemoryError.
    resource.setrlimit(resource.RLIMIT_AS, (used + 256 * 2**20, hard))
    try:
        status_code = main(["report", f"{models_file}:flat", "--input-shape", f"1,{gib // 4}",
                            "--json", str(tmp_path / "report.json")])
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    err = capsys.readouterr().err
    assert status_code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "not enough memory" in err and "smaller shape" in err


# --------------------------------------------------------------------------- files


def test_a_state_dict_of_meta_tensors_is_one_line(tmp_path, capsys):
    with torch.device("meta"):
        model = torchvision.models.resnet18()
    path = tmp_path / "meta_weights.pt"
    torch.save(model.state_dict(), path)
    _fails_with_one_line(capsys, ["report", str(path), "--arch", "resnet18", "--json", str(tmp_path / "r.json")],
                         "meta_weights.pt holds no weight values", "meta device")


def _zip_checkpoint_with_pickle(path: Path, body: bytes) -> None:
    """A torch.save zip archive whose data.pkl is ``body`` (a pickle written by hand)."""
    template = io.BytesIO()
    torch.save({"x": torch.zeros(1)}, template)
    template.seek(0)
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, body if item.filename.endswith("data.pkl") else data)


def test_a_checkpoint_of_deeply_nested_dicts_is_one_line(tmp_path, capsys):
    depth = 100_000
    key = b"X" + len(b"state_dict").to_bytes(4, "little") + b"state_dict"
    # {"state_dict": {"state_dict": ... {} ...}}: EMPTY_DICT, key, ..., EMPTY_DICT, SETITEM x depth.
    body = b"\x80\x02" + (b"}" + key) * depth + b"}" + b"s" * depth + b"."
    path = tmp_path / "nested.pt"
    _zip_checkpoint_with_pickle(path, body)
    _fails_with_one_line(capsys, ["report", str(path), "--arch", "resnet18", "--json", str(tmp_path / "r.json")],
                         "nested.pt holds a dict, not a model or a state_dict")


def test_a_checkpoint_wrapped_a_few_times_still_loads(tmp_path, capsys):
    state = torchvision.models.resnet18().state_dict()
    path = tmp_path / "wrapped.pt"
    torch.save({"epoch": 3, "state_dict": {"model": {"module": state}}}, path)
    out = tmp_path / "r.json"
    assert main(["report", str(path), "--arch", "resnet18", "--input-shape", "1,3,32,32", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["model"]["params"] == 11689512


# --------------------------------------------------------------------------- structure


def test_a_model_nested_1000_deep_simply_runs(tmp_path, capsys, models_file):
    out = tmp_path / "deep.json"
    status = main(["report", f"{models_file}:deep", "--input-shape", "2,4", "--json", str(out)])
    assert status == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    assert report["ok"] and report["output"]["shapes"] == [[2, 4]]
    layers = report["layers"]
    assert len(layers) == 1000  # 999 Sequentials and the Linear; the root is not a layer
    assert layers[-1]["type"] == "Linear" and layers[-1]["depth"] == 1000
    assert all(layer["params"] == 20 and layer["calls"] == 1 for layer in layers)


def test_the_tree_of_a_model_nested_1000_deep(models_file):
    session = Session.open(f"{models_file}:deep")
    root = session.tree()
    nodes = list(root.walk())
    assert len(nodes) == 1001 and nodes[-1].type_name == "Linear" and nodes[-1].depth == 1000
    assert [n.qualified_name for n in nodes] == [name for name, _ in session.model.named_modules()]


def test_a_module_registered_inside_itself_is_one_line(tmp_path, capsys, models_file):
    _fails_with_one_line(capsys, ["report", f"{models_file}:itself", "--input-shape", "1,4",
                                  "--json", str(tmp_path / "r.json")], "inside itself", "'me'")
    _fails_with_one_line(capsys, ["sweep", f"{models_file}:itself", "--input-shape", "1,4",
                                  "--json", str(tmp_path / "s.json")], "inside itself")


def test_a_module_registered_inside_itself_is_a_clear_error_in_the_gui_loader(models_file):
    from inspector.core.task import TaskState
    from inspector.gui.run_worker import load_job

    # The GUI shows an InspectorError's message as it is, without a traceback.
    with pytest.raises(ModelLoadError, match="inside itself"):
        load_job(f"{models_file}:itself")(TaskState())


def test_the_tree_of_a_module_registered_inside_itself_ends(models_file):
    import importlib.util

    spec = importlib.util.spec_from_file_location("odd_models_for_tree", models_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.itself()
    root = build_tree(model)
    assert len(list(root.walk())) == len(list(model.named_modules())) == 2
    assert root.aliases == ["me"] and root.contains_itself
    assert [c.name for c in root.children] == ["lin"]


def test_a_shared_module_at_every_level_opens_with_one_node_per_module(models_file):
    session = Session.open(f"{models_file}:diamond")
    root = session.tree()
    nodes = list(root.walk())
    distinct = {id(m) for m in session.model.modules()}
    assert len(nodes) == len(distinct) == 31
    assert [n.qualified_name for n in nodes] == [name for name, _ in session.model.named_modules()]
    # Each inner module is shown under "left" and marked as also being at "right".
    inner = root.find("left")
    assert inner.aliases == ["right"] and inner.find("left").aliases == ["left.right"]
    assert root.find("right") is None
    assert nodes[-1].type_name == "Linear" and nodes[-1].depth == 30
    assert all(node.total_params == 20 for node in nodes)


def test_an_edit_deep_in_a_shared_module_at_every_level_is_made_and_undone_at_once(models_file):
    session = Session.open(f"{models_file}:diamond")
    deep = ".".join(["left"] * 29)
    original = session.model.get_submodule(deep)
    edit = session.replace_with_identity(deep)  # looked up along its path, not among its 2**30 paths
    # (booleans only: a failing assertion would print the module, whose repr has 2**30 lines)
    replaced = isinstance(session.model.get_submodule(deep), nn.Identity)
    assert replaced
    session.revert(edit)
    restored = session.model.get_submodule(deep) is original
    assert restored
    with pytest.raises(InspectorError, match="no submodule"):
        session.replace_with_identity(deep + ".up")


def test_a_block_cut_from_a_module_shared_at_every_level_runs(models_file):
    """The pass-through Identity learns its call once per tensor, not once per each of 2**29 names."""
    session = Session.open(f"{models_file}:diamond")
    session.replace_with_identity("left.left")
    run = session.run(keep_output=True)
    assert run.error is None
    x = session.make_inputs()[0]
    assert torch.equal(run.output, session.model(x))


def test_the_gui_tree_marks_shared_modules(qtmodeltester, models_file):
    from PySide6.QtCore import Qt

    from inspector.gui.tree_model import TYPE, ModuleTreeModel

    session = Session.open(f"{models_file}:diamond")
    model = ModuleTreeModel()
    model.set_tree(session.tree())
    qtmodeltester.check(model, force_py=True)
    inner = model.index_of("left", TYPE)
    assert inner.data() == "Diamond (shared)"
    assert "also registered as right" in inner.data(Qt.ItemDataRole.ToolTipRole)
    assert model.index_of("", TYPE).data() == "Diamond"
    assert model.rowCount(model.index_of("left")) == 1


def test_shared_modules_count_once_in_the_report_as_in_the_tree(tmp_path):
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
            self.again = self.block
            self.head = nn.Linear(4, 4)
            self.head.weight = self.block[0].weight

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.again(self.block(x)))

    from inspector.core.loading import LoadedModel
    from inspector.core.report import build_report

    session = Session(LoadedModel(Tied(), "test:tied", "callable"))
    run = session.run()
    report = build_report(session, run)
    names = [layer["name"] for layer in report["layers"]]
    assert names == [name for name, _ in session.model.named_modules() if name]
    tree = {node.qualified_name: node for node in session.tree().walk()}
    for layer in report["layers"]:
        module = session.model.get_submodule(layer["name"])
        assert layer["params"] == tree[layer["name"]].total_params == sum(p.numel() for p in module.parameters())
    assert tree[""].total_params == sum(p.numel() for p in session.model.parameters())
