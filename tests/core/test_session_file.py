"""Session files: a round trip gives the same tree, edits, input and plots; what cannot come back is said."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inspector.core.errors import TrustRequired
from inspector.core.inputs import InputSpec
from inspector.core.session import Session
from inspector.core.session_file import SCHEMA, SessionFileError, open_session, save_session
from tests.helpers import strict_json
from tests.models import TinyMLP


def tree_rows(session: Session) -> list[tuple[str, str, int, bool]]:
    return [(n.qualified_name, n.type_name, n.total_params, n.replaced) for n in session.tree().walk()]


def edited_resnet18() -> Session:
    session = Session.open("resnet18")
    session.set_input(InputSpec((1, 3, 64, 64), seed=3))
    session.replace_with_identity("layer1.0")
    session.replace_with_identity("fc")
    session.run()
    return session


def test_round_trip_gives_the_same_tree_edits_input_and_run(tmp_path):
    session = edited_resnet18()
    path = tmp_path / "work.inspector.json"
    save_session(session, str(path))
    opened, problems = open_session(str(path))
    assert problems == []
    assert opened.source == "torchvision:resnet18"
    assert opened.replaced == ["layer1.0", "fc"]
    assert tree_rows(opened) == tree_rows(session)
    assert opened.input_spec == session.input_spec
    assert (opened.device, opened.mode) == (session.device, session.mode)
    # The saved run is the last run again, histograms included: the plots are the same.
    saved, original = opened.last_run, session.last_run
    assert saved is not None and original is not None
    assert list(saved.records) == list(original.records)
    assert saved.output_shapes == original.output_shapes == [[1, 512]]
    for name, record in original.records.items():
        again = saved.records[name]
        assert again.type_name == record.type_name and len(again.calls) == len(record.calls)
        for before, after in zip(record.calls, again.calls, strict=True):
            assert after.output_shapes == before.output_shapes and after.input_shapes == before.input_shapes
            assert after.stats == before.stats
            if before.histogram is not None:
                assert np.array_equal(after.histogram.counts, before.histogram.counts)
                assert np.array_equal(after.histogram.edges, before.histogram.edges)
    assert opened.baseline_run is None  # the saved run had edits
    # The model is the same too (seeded random weights): a new run gives the same numbers.
    rerun = opened.run()
    assert rerun.records["layer2"].first.stats == original.records["layer2"].first.stats


def test_the_file_is_plain_strict_json(tmp_path):
    session = edited_resnet18()
    path = tmp_path / "work.inspector.json"
    save_session(session, str(path))
    data = strict_json(path.read_text())
    assert data["schema"] == SCHEMA
    assert data["model"]["source"] == "torchvision:resnet18"
    assert data["edits"] == ["layer1.0", "fc"]
    assert data["input"] == {"shape": [1, 3, 64, 64], "dtype": "float32", "fill": "randn", "seed": 3, "layout": "tensor"}
    assert data["device"] == "cpu" and data["mode"] == "eval"
    assert path.read_bytes()[:1] == b"{"  # never a pickle


def test_an_edit_that_no_longer_applies_is_reported_and_the_rest_opens(tmp_path):
    session = edited_resnet18()
    path = tmp_path / "work.inspector.json"
    save_session(session, str(path))
    data = json.loads(path.read_text())
    data["edits"] = ["layer1.0", "layer9.1", "fc"]
    path.write_text(json.dumps(data))
    opened, problems = open_session(str(path))
    assert opened.replaced == ["layer1.0", "fc"]
    assert any("layer9.1" in p and "no longer applies" in p for p in problems)
    # The saved statistics belong to a different model: not restored, and said so.
    assert opened.last_run is None
    assert any("statistics were not restored" in p for p in problems)


def test_a_missing_model_file_is_an_error_and_a_moved_one_is_found(tmp_path):
    model_dir = tmp_path / "a"
    model_dir.mkdir()
    resnet = Session.open("resnet18")
    torch.save(resnet.model.state_dict(), model_dir / "r18.pth")
    session = Session.open(str(model_dir / "r18.pth"), arch="resnet18")
    session.replace_with_identity("fc")
    path = model_dir / "s.inspector.json"
    save_session(session, str(path))
    assert json.loads(path.read_text())["model"]["arch"] == "resnet18"
    # Moved together to another folder: the file beside the session is used.
    moved = tmp_path / "b"
    (model_dir).rename(moved)
    opened, problems = open_session(str(moved / "s.inspector.json"))
    assert problems == [] and opened.replaced == ["fc"]
    assert torch.equal(opened.model.layer1[0].conv1.weight, resnet.model.layer1[0].conv1.weight)
    # Gone altogether: an error that names the file.
    (moved / "r18.pth").unlink()
    with pytest.raises(SessionFileError, match="r18.pth"):
        open_session(str(moved / "s.inspector.json"))


def test_a_pickled_model_needs_trust_again(tmp_path):
    torch.manual_seed(0)
    model_path = tmp_path / "mlp.pt"
    torch.save(TinyMLP(), model_path)
    session = Session.open(str(model_path), trust=True)
    session.set_input(InputSpec((1, 4)))
    path = tmp_path / "s.inspector.json"
    save_session(session, str(path))
    with pytest.raises(TrustRequired):
        open_session(str(path))
    opened, problems = open_session(str(path), trust=True)
    assert problems == [] and opened.input_spec == InputSpec((1, 4))


def test_unavailable_device_and_bad_input_are_reported(tmp_path):
    session = Session.open("tests.models:tiny_mlp")
    path = tmp_path / "s.inspector.json"
    save_session(session, str(path))
    data = json.loads(path.read_text())
    data["device"] = "cuda:7"
    data["input"]["shape"] = [0, 4]
    path.write_text(json.dumps(data))
    opened, problems = open_session(str(path), trust=True)  # the model is a callable: code needs trust
    assert str(opened.device) == "cpu"
    assert any("cuda:7" in p for p in problems)
    assert any("saved input could not be used" in p for p in problems)
    assert opened.input_spec == InputSpec((1, 4))  # the model's natural input


def test_not_a_session_file(tmp_path):
    path = tmp_path / "x.inspector.json"
    path.write_text("{}")
    with pytest.raises(SessionFileError, match="not a session file"):
        open_session(str(path))
    path.write_text("not json")
    with pytest.raises(SessionFileError, match="not JSON"):
        open_session(str(path))
    with pytest.raises(SessionFileError, match="no such session file"):
        open_session(str(tmp_path / "missing.inspector.json"))


def test_saving_over_a_session_replaces_it_whole(tmp_path):
    path = tmp_path / "s.inspector.json"
    first = Session.open("tests.models:tiny_mlp")
    save_session(first, str(path))
    second = Session.open("tests.models:tiny_mlp")
    second.replace_with_identity("act")
    save_session(second, str(path))
    assert json.loads(path.read_text())["edits"] == ["act"]
    assert [p.name for p in tmp_path.iterdir()] == ["s.inspector.json"]  # no temporary left behind
