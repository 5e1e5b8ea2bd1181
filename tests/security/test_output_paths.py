"""`--json PATH` is written as a shell redirection writes it, checked before any run, never over the model.

Every path here lives under tmp_path; a pseudo-terminal and a FIFO stand in
for devices (no test ever points output at a real /dev node).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import assert_one_line_error, run_main, strict_json, trace


def report(model: str, target: str | os.PathLike[str], capsys, *extra: str) -> tuple[int, str, str]:
    # --trust: naming file.py:fn is consent on today's command line; passing it keeps these
    # tests about output paths whatever the callable policy becomes.
    return run_main(["report", model, "--trust", "--input-shape", "1,4", *extra, "--json", str(target)], capsys)


def assert_report(text: str) -> dict:
    document = strict_json(text)
    assert document["schema"] == "model-inspector/report@1" and document["ok"] is True
    return document


def leftovers(folder: Path, expected: set[str]) -> set[str]:
    return {p.name for p in folder.iterdir()} - expected


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


# --------------------------------------------------------------------------- regular files


def test_a_new_file_gets_the_umask_mode(marked, tmp_path, capsys, umask_022):
    model, _ = marked
    target = tmp_path / "out" / "r.json"
    target.parent.mkdir()
    code, out, err = report(model, target, capsys)
    assert code == 0, err
    assert out == ""
    assert_report(target.read_text())
    assert stat.S_IMODE(target.stat().st_mode) == 0o644, "a shared report must be readable as the umask says"
    assert leftovers(target.parent, {"r.json"}) == set(), "a temporary file was left behind"


def test_an_existing_file_is_replaced_and_keeps_its_mode(marked, tmp_path, capsys, umask_022):
    model, _ = marked
    target = tmp_path / "r.json"
    target.write_text("the previous report, much longer than nothing at all " * 200)
    target.chmod(0o640)
    code, _, err = report(model, target, capsys)
    assert code == 0, err
    assert_report(target.read_text())
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert leftovers(tmp_path, {"r.json", "model"}) == set()


def test_a_symlink_stays_a_link_and_its_target_gets_the_report(marked, tmp_path, capsys):
    model, _ = marked
    real = tmp_path / "real.json"
    real.write_text("old\n")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    code, _, err = report(model, link, capsys)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert_report(real.read_text())
    assert leftovers(tmp_path, {"real.json", "link.json", "model"}) == set()


def test_a_dangling_symlink_creates_its_target(marked, tmp_path, capsys):
    model, _ = marked
    (tmp_path / "sub").mkdir()
    real = tmp_path / "sub" / "new.json"
    link = tmp_path / "link.json"
    link.symlink_to(real)
    code, _, err = report(model, link, capsys)
    assert code == 0, err
    assert link.is_symlink()
    assert_report(real.read_text())


def test_a_temporary_file_left_by_a_killed_run_is_removed(marked, tmp_path, capsys):
    model, _ = marked
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".r.json.model-inspector-partial-{dead.pid}-0"
    stale.write_text('{"half": ')
    code, _, err = report(model, tmp_path / "r.json", capsys)
    assert code == 0, err
    assert not stale.exists()
    assert leftovers(tmp_path, {"r.json", "model"}) == set()


# --------------------------------------------------------------------------- written through


def test_a_fifo_is_written_through_to_its_reader(marked, tmp_path, capsys):
    model, _ = marked
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read_all() -> None:
        with open(fifo, "rb") as stream:
            received.append(stream.read())

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    code, _, err = report(model, fifo, capsys)
    reader.join(timeout=30)
    assert code == 0, err
    assert not reader.is_alive()
    assert_report(received[0].decode())
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a regular file"
    assert leftovers(tmp_path, {"report.fifo", "model"}) == set()


def test_a_character_device_is_written_through(marked, tmp_path, capsys):
    """A pseudo-terminal's slave stands in for /dev/null or /dev/stdout: a character device node."""
    import tty

    model, _ = marked
    master, slave = os.openpty()
    tty.setraw(slave)  # no \n -> \r\n translation: the master reads the bytes as written
    device = os.ttyname(slave)
    before = os.stat(device)
    chunks: list[bytes] = []
    done = threading.Event()

    def read_master() -> None:
        import select

        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunks.append(os.read(master, 65536))
                except OSError:
                    return
            elif done.is_set():
                return

    reader = threading.Thread(target=read_master, daemon=True)
    reader.start()
    try:
        code, _, err = report(model, device, capsys)
        done.set()
        reader.join(timeout=30)
    finally:
        os.close(slave)
        os.close(master)
    assert code == 0, err
    assert_report(b"".join(chunks).decode())
    after = os.stat(device) if os.path.exists(device) else before
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


# --------------------------------------------------------------------------- refused before the run


def test_a_folder_is_refused_before_the_run(marked, tmp_path, capsys):
    model, folder = marked
    target = tmp_path / "reports"
    target.mkdir()
    code, out, err = report(model, target, capsys)
    assert code == 2 and out == ""
    line = assert_one_line_error(err)
    assert "folder" in line and str(target) in line
    assert not (folder / "BUILT").exists() and not (folder / "FORWARD_RAN").exists(), "the model ran first"
    assert list(target.iterdir()) == []


def test_sweep_checks_its_json_path_before_the_run(marked, tmp_path, capsys):
    model, folder = marked
    code, out, err = run_main(["sweep", model, "--trust", "--input-shape", "1,4", "--json", str(tmp_path)], capsys)
    assert code == 2 and out == ""
    assert "folder" in assert_one_line_error(err)
    assert not (folder / "BUILT").exists() and not (folder / "FORWARD_RAN").exists()


def _unwritable(tmp_path: Path, how: str) -> Path:
    if how == "missing folder":
        return tmp_path / "no" / "such" / "r.json"
    if how == "below a file":
        blocker = tmp_path / "blocker"
        blocker.write_text("x")
        return blocker / "r.json"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    probe = locked / "probe"
    try:
        probe.write_text("x")
    except OSError:
        return locked / "r.json"
    probe.unlink()
    locked.chmod(0o700)
    pytest.skip("this user can write into a read-only folder (root): the other cases still run")


@pytest.mark.parametrize("how", ["missing folder", "below a file", "read-only folder"])
def test_an_unwritable_path_is_refused_before_the_run(how, marked, tmp_path, capsys):
    model, folder = marked
    target = _unwritable(tmp_path, how)
    try:
        code, out, err = report(model, target, capsys)
    finally:
        if (tmp_path / "locked").exists():
            (tmp_path / "locked").chmod(0o700)
    assert code == 2 and out == ""
    line = assert_one_line_error(err)
    assert "cannot write" in line and str(target) in line
    assert not (folder / "BUILT").exists() and not (folder / "FORWARD_RAN").exists(), "the model ran first"


def test_the_python_file_of_the_model_is_never_overwritten(marked, capsys):
    model, folder = marked
    source = folder / "marked.py"
    before = source.read_bytes()
    code, out, err = report(model, source, capsys)
    assert code == 2 and out == ""
    assert "never overwritten" in assert_one_line_error(err)
    assert source.read_bytes() == before
    assert not (folder / "FORWARD_RAN").exists()


@pytest.mark.parametrize("via", ["the same path", "a symlink", "a hard link"])
def test_the_model_file_is_never_overwritten(via, tmp_path, capsys):
    from tests.models import tiny_mlp

    path = tmp_path / "model.ts"
    trace(tiny_mlp(), torch.randn(1, 4)).save(str(path))
    before = path.read_bytes()
    target = path
    if via == "a symlink":
        target = tmp_path / "link.json"
        target.symlink_to(path)
    elif via == "a hard link":
        target = tmp_path / "hard.json"
        os.link(path, target)
    code, out, err = run_main(["report", str(path), "--json", str(target)], capsys)
    assert code == 2 and out == ""
    assert "never overwritten" in assert_one_line_error(err)
    assert path.read_bytes() == before


# --------------------------------------------------------------------------- every writer of the core


def test_session_files_are_written_through_a_symlink(tmp_path):
    from inspector.core.session import Session
    from inspector.core.session_file import save_session

    session = Session.open("tests.models:tiny_mlp")
    real = tmp_path / "real.inspector.json"
    link = tmp_path / "work.inspector.json"
    link.symlink_to(real)
    save_session(session, str(link))
    assert link.is_symlink()
    assert strict_json(real.read_text())["schema"] == "model-inspector/session@1"


def test_the_writer_refuses_a_protected_file_and_writes_nothing(tmp_path):
    from inspector.core.output import OutputError, write_text

    model = tmp_path / "weights.pt"
    model.write_bytes(b"weights")
    with pytest.raises(OutputError, match="never overwritten"):
        write_text(str(model), "{}", protected=[str(model)])
    assert model.read_bytes() == b"weights"


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path):
    from inspector.core.output import open_output

    target = tmp_path / "r.json"
    target.write_text("previous\n")
    with pytest.raises(RuntimeError), open_output(str(target)) as stream:
        stream.write("half of a new")
        raise RuntimeError("the writer died")
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_writing_to_a_fifo_waits_for_its_reader_like_a_shell(tmp_path):
    """Sanity of the FIFO case: the writer blocks until a reader opens it, then the reader gets everything."""
    from inspector.core.output import write_text

    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    text = "x" * 300_000  # more than a pipe holds: needs a reader draining it
    writer = threading.Thread(target=write_text, args=(str(fifo), text), daemon=True)
    writer.start()
    time.sleep(0.1)
    with open(fifo) as stream:
        got = stream.read()
    writer.join(timeout=30)
    assert got == text + "\n"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
