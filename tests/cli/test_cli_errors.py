"""Exit status 2: one line on stderr, no traceback, nothing on stdout, nothing written to --json PATH."""

from __future__ import annotations

import os

import pytest
import torch

from inspector.core.inputs import InputSpec, available_memory
from tests.helpers import assert_one_line_error, run_main


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "empty.pt").write_bytes(b"")
    (folder / "random.pt").write_bytes(bytes(range(256)) * 8)
    (folder / "notes.png").write_text("this is text, not a PNG")
    torch.save(torch.nn.Linear(4, 3).state_dict(), folder / "linear_state.pt")
    good = folder / "weights.pth"
    import torchvision

    state = torchvision.models.resnet18().state_dict()
    torch.save(state, good)
    (folder / "truncated.pt").write_bytes(good.read_bytes()[:100_000])
    return folder


CASES = {
    "unknown model": (["report", "resnet19"], "did you mean resnet18"),
    "missing path": (["report", "{bad}/missing.pt"], "no such file"),
    "empty file": (["report", "{bad}/empty.pt"], "is empty"),
    "random bytes": (["report", "{bad}/random.pt"], "not a PyTorch model file"),
    "truncated": (["report", "{bad}/truncated.pt", "--arch", "resnet18"], "not a PyTorch model file"),
    "state_dict without arch": (["report", "{bad}/linear_state.pt"], "--arch"),
    "state_dict wrong arch": (["report", "{bad}/weights.pth", "--arch", "resnet34"], "layer1.2."),
    "state_dict unknown arch": (["report", "{bad}/weights.pth", "--arch", "resnet1000"], "unknown model"),
    "callable not a module": (["report", "tests.models:not_a_module"], "not an nn.Module"),
    "callable missing": (["report", "tests.models:nothing_here"], "has no attribute"),
    "identity unknown": (["report", "resnet18", "--identity", "layer9"], "no submodule 'layer9'"),
    "identity root": (["report", "resnet18", "--identity", ""], "root module"),
    "identity parameter": (["report", "resnet18", "--identity", "fc.weight"], "is a parameter"),
    "identity twice": (["report", "resnet18", "--identity", "fc", "--identity", "fc"], "already replaced"),
    "shape not a shape": (["report", "tests.models:tiny_mlp", "--input-shape", "big"], "not a shape"),
    "shape zero": (["report", "tests.models:tiny_mlp", "--input-shape", "0,4"], "positive"),
    "shape negative": (["report", "tests.models:tiny_mlp", "--input-shape=-1,4"], "positive"),
    "shape astronomically large": (
        ["report", "tests.models:tiny_mlp", "--input-shape", "64,3,409600,409600"], "too large"),
    "dtype unknown": (["report", "tests.models:tiny_mlp", "--dtype", "float8"], "unknown dtype"),
    "fill unknown": (["report", "tests.models:tiny_mlp", "--fill", "noise"], "unknown fill"),
    "image not an image": (
        ["report", "tests.models:tiny_cnn", "--input-shape", "1,3,8,8", "--fill", "image:{bad}/notes.png"],
        "not an image"),
    "image missing": (
        ["report", "tests.models:tiny_cnn", "--input-shape", "1,3,8,8", "--fill", "image:{bad}/none.png"],
        "no such image"),
    "device cuda": (["report", "tests.models:tiny_mlp", "--device", "cuda:7"], "available here: cpu"),
    "device nonsense": (["report", "tests.models:tiny_mlp", "--device", "quantum"], "unknown device"),
    "weights unknown": (["report", "resnet18", "--weights", "BEST"], "IMAGENET1K_V1"),
    "nothing guessable": (["report", "tests.models:unguessable"], "--input-shape"),
    "detection on meta": (["report", "fasterrcnn_mobilenet_v3_large_320_fpn", "--meta"], "run without --meta"),
    "mode unknown": (["report", "resnet18", "--mode", "test"], "invalid choice"),
    "seed not an int": (["report", "resnet18", "--seed", "x"], "invalid int value"),
    "unknown option": (["report", "resnet18", "--colour"], "unrecognized arguments"),
    "no model": (["report"], "required: model"),
    "unknown command": (["explain", "resnet18"], "invalid choice"),
    "unknown task": (["list-models", "--task", "audio"], "invalid choice"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_usage_errors_exit_2_in_one_line_and_write_nothing(case, bad_files, tmp_path, capsys):
    argv, expected = CASES[case]
    argv = [a.replace("{bad}", str(bad_files)) for a in argv]
    target = tmp_path / "report.json"
    target.write_text("the previous report\n")
    with_json = argv + ["--json", str(target)] if argv[0] == "report" and len(argv) > 1 else argv
    code, out, err = run_main(with_json, capsys)
    assert code == 2, (case, out, err)
    line = assert_one_line_error(err)
    assert line.startswith("model-inspector: error: ")
    assert expected in line, line
    assert out == ""
    assert target.read_text() == "the previous report\n", "a usage error touched --json PATH"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"], "a temporary file was left behind"


def test_torchscript_identity_refused(tmp_path, capsys):
    from tests.helpers import trace
    from tests.models import tiny_mlp

    path = tmp_path / "traced.ts"
    trace(tiny_mlp(), torch.randn(1, 4)).save(str(path))
    code, out, err = run_main(["report", str(path), "--identity", "fc1", "--json", str(tmp_path / "r.json")], capsys)
    assert code == 2 and out == ""
    assert "TorchScript" in assert_one_line_error(err)
    assert not (tmp_path / "r.json").exists()


def test_crafted_pickle_refused_from_the_command_line(tmp_path, capsys):
    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    path = tmp_path / "model.pt"
    torch.save({"model": Payload()}, path)
    code, out, err = run_main(["report", str(path)], capsys)
    assert code == 2 and out == ""
    line = assert_one_line_error(err)
    assert "--trust" in line and "mkdir" in line
    assert not marker.exists()


def test_the_spec_example_of_a_huge_input(capsys, tmp_path):
    """64,3,4096,4096 is 12 GiB of float32: refused up front wherever it (with activations) cannot fit."""
    spec = InputSpec((64, 3, 4096, 4096))
    free = available_memory(torch.device("cpu"))
    if free is None or free >= 4 * spec.nbytes:
        pytest.skip("this machine could hold it; the 'too large' case above still runs")
    code, out, err = run_main(["report", "resnet18", "--input-shape", "64,3,4096,4096",
                               "--json", str(tmp_path / "r.json")], capsys)
    assert code == 2 and out == ""
    assert "does not fit" in assert_one_line_error(err)
    assert not (tmp_path / "r.json").exists()


def test_an_unwritable_json_path_is_a_usage_error(tmp_path, capsys):
    code, out, err = run_main(["report", "tests.models:tiny_mlp", "--json", str(tmp_path / "no" / "dir" / "r.json")], capsys)
    assert code == 2 and out == ""
    assert "cannot write" in assert_one_line_error(err)


def test_weights_download_never_pollutes_standard_output(capsys):
    """torch.hub prints "Downloading: ..." on stdout; the report's JSON must stay parseable."""
    code, out, err = run_main(["report", "resnet18", "--weights", "DEFAULT", "--input-shape", "1,3,64,64"], capsys)
    if code == 2:  # offline, as on the development machines
        assert out == ""
        assert "offline" in assert_one_line_error(err)
    else:
        from tests.helpers import strict_json

        assert code == 0 and strict_json(out)["ok"] is True


@pytest.mark.skipif(torch.cuda.is_available(), reason="there is a GPU here")
def test_plain_cuda_without_a_gpu_lists_what_is_available(capsys):
    code, out, err = run_main(["report", "tests.models:tiny_mlp", "--device", "cuda"], capsys)
    assert code == 2 and out == ""
    assert assert_one_line_error(err).endswith("available here: cpu")
