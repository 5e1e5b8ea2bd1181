"""Writing the files a user names (reports, exports, session files, CSV, PNG) the way a shell would.

A path is written as ``program > PATH`` writes it, with one addition that
keeps a previous regular file whole when a write fails:

- a **symlink** is followed: the link stays a link and its target gets the
  content (a dangling link creates its target);
- anything that is **not a regular file** (a terminal, a FIFO, ``/dev/null``,
  ``/dev/stdout``) is opened and written through, never replaced, so a
  device node is never turned into a regular file;
- a **regular file**, new or existing, is written to a temporary file beside
  it and renamed over it. A write that fails leaves any previous file whole;
  a temporary file left by a killed process is named for what it is
  (``.report.json.model-inspector-partial-1234-0``) and removed by the next
  write to the same path once that process no longer runs;
- a new file gets the mode the user's umask gives (``0666 & ~umask``), as any
  other program's would; an existing file keeps its mode and owner;
- an existing file with several hard links, and any path under ``/dev`` or
  ``/proc``, is written in place, so every name of it sees the new content.

:func:`check_output` answers before any work whether a path can be written,
so a long run does not end in "cannot write". Both refuse a path that is one
of the ``protected`` files (the model being inspected, its inputs): a user's
model is never overwritten by its own report.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

from inspector.core.errors import InspectorError

PARTIAL_MARK = ".model-inspector-partial-"
"""In the name of a temporary file that is renamed over its target once complete."""

_NAME_ROOM = 100
"""Characters of the target's name kept in a temporary file's name (names are limited to 255 bytes)."""

_counter = itertools.count()


class OutputError(InspectorError):
    """An output path that cannot or must not be written; the message names it and says why."""


# --------------------------------------------------------------------------- protected files


def identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path`` (symlinks followed), or None when there is none."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def protected_identities(paths: Iterable[str]) -> set[tuple[int, int]]:
    """(device, inode) of every file among ``paths``, and of the files directly inside any folder among them.

    Compared by identity, not by name, a protected file is recognised
    through symlinks, hard links and ``..`` alike.
    """
    found: set[tuple[int, int]] = set()
    for path in paths:
        if os.path.isdir(path):
            with contextlib.suppress(OSError):
                for entry in os.scandir(path):
                    if entry.is_file():
                        ident = identity(entry.path)
                        if ident is not None:
                            found.add(ident)
            continue
        ident = identity(path)
        if ident is not None:
            found.add(ident)
    return found


def _refuse_protected(path: str, protected: Iterable[str]) -> None:
    ident = identity(path)
    if ident is not None and ident in protected_identities(protected):
        raise OutputError(f"{path} is a file the model is read from; it is never overwritten: choose another path")


# --------------------------------------------------------------------------- where and how


def _through_special_tree(path: str, real: str) -> bool:
    """True for ``/dev/...`` and ``/proc/...`` paths: magic links (``/dev/stdout``) to open, not resolve."""
    return any(
        p == root or p.startswith(root + os.sep) for p in (os.path.abspath(path), real) for root in ("/dev", "/proc")
    )


def _partial_name(target: str) -> str:
    base = os.path.basename(target)[:_NAME_ROOM]
    return os.path.join(os.path.dirname(target), f".{base}{PARTIAL_MARK}{os.getpid()}-{next(_counter)}")


def _remove_stale_partials(target: str) -> None:
    """Remove temporary files of ``target`` left by processes that no longer run (a kill mid-write)."""
    folder, base = os.path.dirname(target), os.path.basename(target)[:_NAME_ROOM]
    prefix = f".{base}{PARTIAL_MARK}"
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid_text = name[len(prefix):].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _running(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def probe_folder(folder: str) -> None:
    """Create and remove a temporary file in ``folder``: the one honest test that a file can be made there.

    ``os.access`` answers yes to root everywhere, also on a read-only file
    system. Raises ``OSError`` when no file can be made.
    """
    probe = _partial_name(os.path.join(folder, "probe"))
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    os.unlink(probe)


def check_output(path: str, protected: Iterable[str] = (), what: str = "the output") -> None:
    """Raise :class:`OutputError` now when writing ``path`` (:func:`write_text`, ...) would fail or is refused.

    Nothing is left behind: a new file is not created (a FIFO is not opened, so no reader is woken).
    """
    if not path:
        raise OutputError(f"no file name given for {what}")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise OutputError(f"cannot write {what} to {path}: {error.strerror or error}") from None
    real = os.path.realpath(path)
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputError(f"cannot write {what} to {path}: it is a folder; give a file name")
    _refuse_protected(path, protected)
    if info is not None and (not stat.S_ISREG(info.st_mode) or _through_special_tree(path, real)):
        if not os.access(path, os.W_OK):
            raise OutputError(f"cannot write {what} to {path}: permission denied")
        return
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {what} to {path}: the folder {folder} does not exist")
    try:
        probe_folder(folder)
    except OSError as error:
        # A file the user may write in a folder they may not: written in place, as a shell would.
        if info is not None and os.access(real, os.W_OK):
            return
        raise OutputError(f"cannot write {what} to {path}: {error.strerror or error}") from None


@contextlib.contextmanager
def open_output(path: str, binary: bool = False, protected: Iterable[str] = ()) -> Iterator[IO[Any]]:
    """A stream to write ``path`` with (see the module's rules); the content takes effect when the block ends.

    An exception inside the block leaves a regular file as it was and
    removes the temporary file. Raises :class:`OutputError` for a protected
    path and ``OSError`` for a path that cannot be written.
    """
    _refuse_protected(path, protected)
    mode = "wb" if binary else "w"
    encoding = None if binary else "utf-8"
    try:
        info: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        info = None
    real = os.path.realpath(path)
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(21, "Is a directory", path)
    in_place = info is not None and (
        not stat.S_ISREG(info.st_mode) or info.st_nlink > 1 or _through_special_tree(path, real)
    )
    if info is not None and not in_place:
        try:
            probe_folder(os.path.dirname(real))
        except OSError:
            in_place = os.access(real, os.W_OK)  # else the rename below raises the real error
    if in_place:
        assert info is not None
        flags = os.O_WRONLY
        if stat.S_ISREG(info.st_mode):
            # /dev/stdout onto a file the shell opened (maybe with >>) adds to it, as
            # standard output would; an ordinary file is replaced.
            flags |= os.O_APPEND if _through_special_tree(path, real) else os.O_TRUNC
        # The path as given, not `real`: the kernel resolves /dev/stdout's magic link, realpath cannot.
        with os.fdopen(os.open(path, flags), mode, encoding=encoding) as stream:
            yield stream
        return
    _remove_stale_partials(real)
    temporary = _partial_name(real)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        if info is not None:
            os.chmod(temporary, stat.S_IMODE(info.st_mode))
            if (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
                with contextlib.suppress(OSError):  # only root may give a file away; others keep their own
                    os.chown(temporary, info.st_uid, info.st_gid)
        with os.fdopen(fd, mode, encoding=encoding) as stream:
            fd = -1
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, real)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_text(path: str, text: str, protected: Iterable[str] = ()) -> None:
    """Write ``text`` (UTF-8, ending in a newline) to ``path`` by the rules above."""
    with open_output(path, protected=protected) as stream:
        stream.write(text)
        if not text.endswith("\n"):
            stream.write("\n")


def write_bytes(path: str, data: bytes, protected: Iterable[str] = ()) -> None:
    """Write ``data`` to ``path`` by the rules above."""
    with open_output(path, binary=True, protected=protected) as stream:
        stream.write(data)


# --------------------------------------------------------------------------- standard output


def _flush_c_stdio() -> None:
    """Flush C's ``stdout`` buffer (a ``printf`` from an extension) before file descriptor 1 changes."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).fflush(None)


class StdoutToStderr:
    """While active, whatever is written to standard output goes to standard error.

    At the file-descriptor level, so a ``print`` in a model's forward, a C
    extension's ``printf``, ``os.write(1, ...)`` and TorchScript's ``print``
    all land on standard error. The program's own output (the JSON) is
    written inside :meth:`paused`, where standard output is itself again.
    Use as a context manager; it may be nested in nothing but itself paused.
    """

    def __init__(self) -> None:
        self._saved_stdout: Any = None
        self._saved_fd: int | None = None

    def __enter__(self) -> StdoutToStderr:
        self._saved_stdout = sys.stdout
        self._divert()
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Standard output as it was, for the program's own output; diverted again afterwards."""
        self._restore()
        try:
            yield
        finally:
            self._divert()

    def _divert(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        _flush_c_stdio()
        try:
            self._saved_fd = os.dup(1)
            os.dup2(2, 1)
        except OSError:  # standard output or error closed: nothing to keep apart
            self._saved_fd = None
        if sys.stderr is not None:
            sys.stdout = sys.stderr

    def _restore(self) -> None:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        _flush_c_stdio()
        sys.stdout = self._saved_stdout
        if self._saved_fd is not None:
            os.dup2(self._saved_fd, 1)
            os.close(self._saved_fd)
            self._saved_fd = None
