"""`--export DIR` never overwrites silently: a user's files are kept unless --force, the model's never."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from tests.helpers import assert_one_line_error, run_main, strict_json, trace


def export(model: str, folder: Path, capsys, *extra: str) -> tuple[int, str, str]:
    return run_main(["report", model, "--trust", "--input-shape", "1,4", "--export", str(folder), *extra], capsys)


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_users_own_report_is_kept_and_the_export_refused_before_the_run(marked, tmp_path, capsys):
    model, model_folder = marked
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "report.json").write_text("my own notes, not an export\n")
    (folder / "rebuild_model.py").write_text("print('mine')\n")
    before = contents(folder)
    code, out, err = export(model, folder, capsys)
    assert code == 2 and out == ""
    line = assert_one_line_error(err)
    assert "--force" in line and "report.json" in line and str(folder) in line
    assert contents(folder) == before
    assert not (model_folder / "FORWARD_RAN").exists(), "the export was refused only after the run"


def test_force_replaces_the_whole_set(marked, tmp_path, capsys):
    """A second export with --force leaves nothing of the first behind (here: weights and plot)."""
    model, _ = marked
    folder = tmp_path / "results"
    code, _, err = export(model, folder, capsys)
    assert code == 0, err
    first = contents(folder)
    assert {"model_state_dict.pt", "layer_stats.png", "report.json"} <= set(first)
    (folder / "notes.txt").write_text("a file of the user's, not of an export\n")

    code, out, err = export(model, folder, capsys, "--meta")
    assert code == 2 and out == ""
    assert "--force" in assert_one_line_error(err)
    assert {k: v for k, v in contents(folder).items() if k != "notes.txt"} == first

    code, out, err = export(model, folder, capsys, "--meta", "--force")
    assert code == 0, err
    after = contents(folder)
    # A meta run has no statistics, so no plot: the first export's must not stay to describe another run.
    assert "layer_stats.png" not in after
    # Weights only where this export wrote them (a model built on meta has none).
    assert ("model_state_dict.pt" in after) == ("weights not written" not in err)
    assert set(after) - {"model_state_dict.pt"} == {"graph.svg", "layers.csv", "notes.txt", "rebuild_model.py",
                                                   "report.json"}
    assert strict_json(after["report.json"])["layers"][0]["stats"] is None
    assert strict_json(out)["layers"][0]["stats"] is None
    assert after["notes.txt"] == b"a file of the user's, not of an export\n"


@pytest.mark.parametrize("force", [False, True])
def test_the_input_weights_are_never_overwritten(force, tmp_path, capsys):
    """The model read from DIR/model_state_dict.pt, exported into DIR: refused, even with --force."""
    from tests.models import tiny_mlp

    folder = tmp_path / "work"
    folder.mkdir()
    weights = folder / "model_state_dict.pt"  # a TorchScript archive opens under any name
    trace(tiny_mlp(), torch.randn(1, 4)).save(str(weights))
    before = weights.read_bytes()
    force_flag = ["--force"] if force else []
    code, out, err = run_main(["report", str(weights), "--export", str(folder), *force_flag], capsys)
    assert code == 2 and out == ""
    line = assert_one_line_error(err)
    assert "never overwritten" in line and str(weights) in line
    assert weights.read_bytes() == before
    assert [p.name for p in folder.iterdir()] == ["model_state_dict.pt"]


def test_the_core_refuses_to_export_over_the_model_it_read(tmp_path):
    from inspector.core.export import ExportError, export_session
    from inspector.core.session import Session
    from tests.models import tiny_mlp

    weights = tmp_path / "rebuild_model.py"  # a TorchScript archive under one of the export's names
    trace(tiny_mlp(), torch.randn(1, 4)).save(str(weights))
    before = weights.read_bytes()
    session = Session.open(str(weights))
    session.run()
    with pytest.raises(ExportError, match="never overwritten"):
        export_session(session, str(tmp_path), force=True)
    assert weights.read_bytes() == before


def test_exported_files_get_the_umask_mode(marked, tmp_path, capsys):
    """What a user shares is readable by the group and others as their umask says (not 0600)."""
    model, _ = marked
    folder = tmp_path / "results"
    old = os.umask(0o022)
    try:
        code, _, err = export(model, folder, capsys)
    finally:
        os.umask(old)
    assert code == 0, err
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert modes and set(modes.values()) == {0o644}, modes


def test_a_folder_with_only_other_files_is_exported_into(marked, tmp_path, capsys):
    model, _ = marked
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n")
    code, _, err = export(model, folder, capsys)
    assert code == 0, err
    assert (folder / "notes.txt").read_text() == "mine\n"
    assert (folder / "report.json").exists()


def test_json_into_a_refused_export_folder_writes_nothing(marked, tmp_path, capsys):
    model, model_folder = marked
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "layers.csv").write_text("mine\n")
    target = tmp_path / "r.json"
    code, out, err = run_main(["report", model, "--trust", "--input-shape", "1,4", "--export", str(folder),
                               "--json", str(target)], capsys)
    assert code == 2 and out == ""
    assert not target.exists()
    assert not (model_folder / "FORWARD_RAN").exists()
