"""Every MODEL form of docs/cli.md, and every way a model file can be wrong."""

from __future__ import annotations

import os
import pickle
import zipfile

import pytest
import torch
import torchvision
from torch import nn

from inspector.core.errors import ArchitectureRequired, InspectorError, ModelLoadError, TrustRequired
from inspector.core.loading import classify_source, list_models, load_model, task_of
from tests.helpers import ROOT, trace
from tests.models import TinyCNN, tiny_cnn


def _resnet18_state(num_classes: int = 1000) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return torchvision.models.resnet18(num_classes=num_classes).state_dict()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Model files of every kind, written once for the module."""
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    state = _resnet18_state(num_classes=10)
    paths["state"] = folder / "weights.pth"
    torch.save(state, paths["state"])
    paths["dataparallel"] = folder / "dp.pt"
    torch.save({"module." + k: v for k, v in state.items()}, paths["dataparallel"])
    paths["checkpoint"] = folder / "checkpoint.ckpt"
    torch.save({"epoch": 3, "state_dict": state}, paths["checkpoint"])
    model = tiny_cnn().eval()
    paths["pickle"] = folder / "whole.pt"
    torch.save(model, paths["pickle"])
    paths["legacy_pickle"] = folder / "legacy.pt"
    torch.save(model, paths["legacy_pickle"], _use_new_zipfile_serialization=False)
    paths["plain_pickle"] = folder / "plain.pkl"
    with open(paths["plain_pickle"], "wb") as stream:
        pickle.dump(model, stream)
    paths["script"] = folder / "traced.ts"
    trace(model, torch.randn(1, 3, 16, 16)).save(str(paths["script"]))
    paths["empty"] = folder / "empty.pt"
    paths["empty"].write_bytes(b"")
    whole = paths["state"].read_bytes()
    paths["truncated"] = folder / "truncated.pt"
    paths["truncated"].write_bytes(whole[: len(whole) // 2])
    paths["random"] = folder / "random.pt"
    paths["random"].write_bytes(bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(3)).tolist()))
    paths["text"] = folder / "notes.pt"
    paths["text"].write_text("not a model\n")
    paths["tensor"] = folder / "tensor.pt"
    torch.save(torch.ones(3), paths["tensor"])
    return paths, model, state


# --------------------------------------------------------------------------- torchvision


def test_torchvision_name_and_prefix_give_the_same_model():
    plain = load_model("resnet18")
    prefixed = load_model("torchvision:resnet18")
    assert plain.source == prefixed.source == "torchvision:resnet18"
    assert plain.kind == "torchvision" and plain.arch == "resnet18" and plain.task == "classification"
    assert type(plain.module) is torchvision.models.ResNet
    reference = torchvision.models.resnet18()
    assert sum(p.numel() for p in plain.module.parameters()) == sum(p.numel() for p in reference.parameters())
    # Random weights are reproducible: two loads agree.
    for a, b in zip(plain.module.parameters(), prefixed.module.parameters(), strict=True):
        assert torch.equal(a, b)


def test_models_of_every_task_load_without_downloading():
    for name in ("fasterrcnn_mobilenet_v3_large_320_fpn", "lraspp_mobilenet_v3_large", "r3d_18", "raft_small"):
        loaded = load_model(name)
        assert isinstance(loaded.module, nn.Module)
        assert loaded.task == task_of(name)


def test_unknown_name_suggests_close_ones():
    with pytest.raises(ModelLoadError, match="resnet18"):
        load_model("resnet19")
    with pytest.raises(ModelLoadError, match="list-models"):
        load_model("qqqqqqqqqqqqqq")


def test_unknown_weights_name_lists_the_choices():
    with pytest.raises(ModelLoadError, match="IMAGENET1K_V1"):
        load_model("resnet18", weights="NOPE")


def test_default_weights_offline_is_a_clear_message_not_a_traceback():
    # Online (or with the file cached) this loads; offline it must say so in a sentence.
    try:
        loaded = load_model("resnet18", weights="DEFAULT")
    except ModelLoadError as error:
        assert "--weights" in str(error) and "offline" in str(error)
    else:
        assert isinstance(loaded.module, torchvision.models.ResNet)


def test_list_models_sorted_and_filtered():
    everything = list_models("all")
    assert everything == sorted(everything)
    assert {task for task, _ in everything} == {"classification", "detection", "segmentation", "video", "optical_flow"}
    assert ("classification", "resnet18") in everything
    assert all(task == "video" for task, _ in list_models("video"))
    assert len(list_models("classification")) == len(torchvision.models.list_models(module=torchvision.models))
    with pytest.raises(ModelLoadError):
        list_models("bogus")


# --------------------------------------------------------------------------- state_dict


def test_state_dict_needs_arch(files):
    paths, _, _ = files
    with pytest.raises(ArchitectureRequired, match="--arch"):
        load_model(str(paths["state"]))


@pytest.mark.parametrize("key", ["state", "dataparallel", "checkpoint"])
def test_state_dict_loads_into_arch_with_its_own_head_size(files, key):
    paths, _, state = files
    loaded = load_model(str(paths[key]), arch="resnet18")
    assert loaded.kind == "state_dict" and loaded.arch == "resnet18"
    assert loaded.module.fc.out_features == 10
    assert any("num_classes=10" in note for note in loaded.notes)
    if key == "dataparallel":
        assert any("module." in note for note in loaded.notes)
    got = loaded.module.state_dict()
    assert set(got) == set(state)
    for name, tensor in state.items():
        assert torch.equal(got[name], tensor), name
    assert not any(t.is_meta for t in loaded.module.state_dict().values())


def test_state_dict_for_another_architecture_names_the_keys(files):
    paths, _, _ = files
    with pytest.raises(ModelLoadError) as caught:
        load_model(str(paths["state"]), arch="resnet34")
    message = str(caught.value)
    assert "resnet34" in message and "layer1.2." in message and "--arch" in message
    with pytest.raises(ModelLoadError, match="features.0.weight|conv1.weight"):
        load_model(str(paths["state"]), arch="alexnet")


def test_state_dict_into_unknown_arch(files):
    paths, _, _ = files
    with pytest.raises(ModelLoadError, match="unknown model"):
        load_model(str(paths["state"]), arch="nonet")


def test_a_file_holding_a_bare_tensor_is_not_a_model(files):
    paths, _, _ = files
    with pytest.raises(ModelLoadError, match="Tensor"):
        load_model(str(paths["tensor"]))


# --------------------------------------------------------------------------- TorchScript


def test_torchscript_loads_read_only_without_trust(files):
    paths, model, _ = files
    loaded = load_model(str(paths["script"]))
    assert loaded.kind == "torchscript" and loaded.read_only
    x = torch.randn(1, 3, 16, 16)
    assert torch.equal(loaded.module(x), model(x))


# --------------------------------------------------------------------------- pickles


@pytest.mark.parametrize("key", ["pickle", "legacy_pickle", "plain_pickle"])
def test_pickled_module_refused_without_trust_naming_its_classes(files, key):
    paths, _, _ = files
    with pytest.raises(TrustRequired) as caught:
        load_model(str(paths[key]))
    assert "tests.models.TinyCNN" in caught.value.wanted
    assert "tests.models.TinyCNN" in str(caught.value)
    assert "--trust" in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


@pytest.mark.parametrize("key", ["pickle", "legacy_pickle", "plain_pickle"])
def test_pickled_module_accepted_with_trust(files, key):
    paths, model, _ = files
    loaded = load_model(str(paths[key]), trust=True)
    assert loaded.kind == "pickle" and type(loaded.module) is TinyCNN
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(loaded.module.eval()(x), model(x))


class _MakesMarker:
    """Unpickling this creates a folder: the side effect that proves code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump", "legacy"])
def test_crafted_pickle_never_runs_without_trust(tmp_path, writer):
    marker = tmp_path / "MARKER"
    payload = {"model": _MakesMarker(str(marker))}
    path = tmp_path / "evil.pt"
    if writer == "torch.save":
        torch.save(payload, path)
    elif writer == "legacy":
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:
        with open(path, "wb") as stream:
            pickle.dump(payload, stream)
    assert not marker.exists()
    with pytest.raises(TrustRequired) as caught:
        load_model(str(path))
    assert not marker.exists(), "the refused pickle ran its code"
    assert any(w.endswith("mkdir") for w in caught.value.wanted), caught.value.wanted
    assert "mkdir" in str(caught.value) and "--trust" in str(caught.value)
    # The same file with trust does run it: the marker is a real witness.
    with pytest.raises(ModelLoadError):
        load_model(str(path), trust=True)
    assert marker.exists()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from tests.models import TinyMLP

    torch.manual_seed(0)
    model = TinyMLP().eval()
    program = torch.export.export(model, (torch.randn(2, 4),))
    path = tmp_path_factory.mktemp("export") / "prog.pt2"
    torch.export.save(program, str(path))
    return path, model


@pytest.mark.slow
def test_export_program_needs_trust_then_runs(exported):
    path, model = exported
    with pytest.raises(TrustRequired, match="--trust"):
        load_model(str(path))
    loaded = load_model(str(path), trust=True)
    assert loaded.kind == "export"
    x = torch.randn(2, 4)
    assert torch.allclose(loaded.module(x), model(x))


# --------------------------------------------------------------------------- broken files


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("empty", "is empty"),
        ("truncated", "not a PyTorch model file"),
        ("random", "not a PyTorch model file"),
        ("text", "not a PyTorch model file"),
    ],
)
def test_broken_files_are_refused_in_one_line(files, key, expected):
    paths, _, _ = files
    for trust in (False, True):
        with pytest.raises(ModelLoadError) as caught:
            load_model(str(paths[key]), arch="resnet18", trust=trust)
        assert not isinstance(caught.value, TrustRequired), "garbage is not a pickle to trust"
        assert expected in str(caught.value)
        assert len(str(caught.value).splitlines()) == 1


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        load_model(str(tmp_path / "missing.pt"))
    with pytest.raises(ModelLoadError, match="folder"):
        load_model(str(tmp_path))


def test_a_zip_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "archive.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ModelLoadError, match="not a PyTorch model file"):
        load_model(str(path))


# --------------------------------------------------------------------------- callables


def test_package_callable():
    loaded = load_model("tests.models:tiny_cnn")
    assert loaded.kind == "callable" and loaded.source == "tests.models:tiny_cnn"
    assert type(loaded.module) is TinyCNN


def test_file_callable_and_class_as_callable():
    path = ROOT / "tests" / "models.py"
    loaded = load_model(f"{path}:tiny_mlp")
    assert type(loaded.module).__name__ == "TinyMLP"
    loaded = load_model(f"{path}:Nested")
    assert type(loaded.module).__name__ == "Nested"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("tests.models:not_a_module", "returned a str, not an nn.Module"),
        ("tests.models:raises_when_built", "raised RuntimeError: cannot build this model"),
        ("tests.models:no_such_factory", "has no attribute 'no_such_factory'"),
        ("tests.models:NOT_CALLABLE", "is not callable"),
        ("no_such_package.sub:make", "cannot import 'no_such_package.sub'"),
        ("missing_file.py:Net", "no such file: missing_file.py"),
    ],
)
def test_callable_errors(spec, expected):
    with pytest.raises(ModelLoadError) as caught:
        load_model(spec)
    assert expected in str(caught.value)


def test_a_file_callable_whose_import_raises(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("raise ImportError('missing dependency foo')\n")
    with pytest.raises(ModelLoadError, match="missing dependency foo"):
        load_model(f"{path}:Net")


@pytest.mark.parametrize(
    ("spec", "form"),
    [
        ("resnet18", "torchvision"),
        ("torchvision:vit_b_16", "torchvision"),
        ("pkg.module:make_model", "callable"),
        ("path/to/file.py:Net", "callable"),
        ("model.pt", "file"),
        ("net.pth", "file"),
        ("traced.ts", "file"),
        ("prog.pt2", "file"),
        ("some/dir/weights", "file"),
    ],
)
def test_classify_source(spec, form):
    assert classify_source(spec) == form


def test_empty_spec():
    with pytest.raises(InspectorError, match="no model given"):
        load_model("   ")
