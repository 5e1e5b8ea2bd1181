"""Watching a forward from another thread, and telling the user's Ctrl-C from the model's.

:class:`ModuleWatch` knows which module a forward running on one thread is
in now, for a caller on another thread: the command line's ``--timeout``
names it in the report, the window says where a run is stuck. It uses
torch's global module hooks, so it works the same for a probed run, a
sweep, a comparison or a summary, whichever code runs the model.

A model's code can raise ``KeyboardInterrupt`` or ``SystemExit`` itself (a
factory that parses ``sys.argv``, ``sys.exit`` in a forward); those are the
model's failures and become records. Only the user's own Ctrl-C must end the
work: :func:`note_user_interrupt` is called by the caller's SIGINT handler,
and :func:`from_user` tells the two apart.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from torch import nn

# torch is imported by install(), not here: the command line's SIGINT
# handler uses the functions below before torch has loaded.

_user_interrupt = threading.Event()


def note_user_interrupt() -> None:
    """Record that the user pressed Ctrl-C (called from the program's own SIGINT handler)."""
    _user_interrupt.set()


def clear_user_interrupt() -> None:
    """Forget an earlier Ctrl-C (a new command starts)."""
    _user_interrupt.clear()


def user_interrupted() -> bool:
    """True once :func:`note_user_interrupt` was called since the last :func:`clear_user_interrupt`."""
    return _user_interrupt.is_set()


def from_user(error: BaseException) -> bool:
    """True when ``error`` is the user's Ctrl-C, which must end the work rather than become a record.

    With a SIGINT handler that calls :func:`note_user_interrupt`, only a
    noted Ctrl-C counts. Without one (Python's default handler, on the main
    thread), a ``KeyboardInterrupt`` cannot be told apart from one the model
    raised, and it is taken for the user's: a real Ctrl-C is never swallowed.
    On any other thread, signals never raise, so it is the model's.
    """
    if not isinstance(error, KeyboardInterrupt):
        return False
    if _user_interrupt.is_set():
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        return signal.getsignal(signal.SIGINT) is signal.default_int_handler
    except (ValueError, TypeError):  # pragma: no cover - no signal support here
        return True


class ModuleWatch:
    """Which module the forward on one thread is in now; readable from any thread.

    :meth:`install` on the thread to watch (its calls only are seen);
    :meth:`remove` when done. The hooks never raise and never change what a
    module computes. The first module entered with nothing running is taken
    as the root, and every module is named as its path in the root's
    ``named_modules()``.
    """

    def __init__(self) -> None:
        self._thread: int | None = None
        self._stack: list[tuple[str, str, int]] = []
        self._names: dict[int, str] = {}
        self._root: Any = None
        self._unknown: set[int] = set()
        """Ids of modules outside the root's tree, so that it is not walked again for each of their calls."""
        self._handles: list[Any] = []
        self.activity = time.monotonic()
        """``time.monotonic()`` of the last module entry or return on the watched thread."""

    def install(self) -> ModuleWatch:
        """Start watching the calling thread."""
        from torch.nn.modules import module as module_mod

        self._thread = threading.get_ident()
        self._stack.clear()
        self.activity = time.monotonic()
        if not self._handles:
            self._handles = [
                module_mod.register_module_forward_pre_hook(self._pre),
                module_mod.register_module_forward_hook(self._post),
            ]
        return self

    def remove(self) -> None:
        """Stop watching; the global hooks are removed."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._root = None
        self._names = {}

    @property
    def installed(self) -> bool:
        """True between :meth:`install` and :meth:`remove`."""
        return bool(self._handles)

    def __enter__(self) -> ModuleWatch:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.remove()

    @property
    def current(self) -> tuple[str, str] | None:
        """``(qualified name, type name)`` of the innermost module running now (``""`` is the root).

        After a forward raised, the modules it was in when it raised (their
        hooks never saw them return); None before any module ran.
        """
        try:
            name, kind, _ = self._stack[-1]
        except IndexError:
            return None
        return name, kind

    def idle_for(self) -> float:
        """Seconds since a module last started or returned on the watched thread."""
        return time.monotonic() - self.activity

    # ----------------------------------------------------------------- hooks

    def _pre(self, module: nn.Module, args: Any) -> None:
        if threading.get_ident() != self._thread:
            return
        try:
            if not self._stack or module is self._root:
                # A new forward (entries left by one that raised are stale now).
                self._stack.clear()
                self._unknown.clear()
                self._rename(module)
            key = id(module)
            name = self._names.get(key)
            if name is None and key not in self._unknown:
                self._rename(self._root)  # a module put in during the run (an Identity of a sweep)
                name = self._names.get(key)
                if name is None:
                    self._unknown.add(key)
            if name is None:
                parent = self._stack[-1][0] if self._stack else ""
                name = f"{parent}.<{type_name(module)}>" if parent else f"<{type_name(module)}>"
            self._stack.append((name, type_name(module), id(module)))
            self.activity = time.monotonic()
        except Exception:  # noqa: BLE001 - watching must never break the model's forward
            pass

    def _post(self, module: nn.Module, args: Any, output: Any) -> None:
        if threading.get_ident() != self._thread:
            return
        key = id(module)
        # Entries above this module's own belong to children whose exception it caught.
        while self._stack and self._stack[-1][2] != key:
            self._stack.pop()
        if self._stack:
            self._stack.pop()
        self.activity = time.monotonic()

    def _rename(self, root: Any) -> None:
        """Name every module of ``root`` by its path in ``root.named_modules()``."""
        if root is None:
            return
        self._root = root
        try:
            self._names = {id(m): n for n, m in root.named_modules()}
        except RecursionError:  # a model nested past Python's recursion limit: its modules go by type
            self._names = {id(root): ""}


def type_name(module: Any) -> str:
    """The class name a person knows the module by (as :func:`inspector.core.tree.type_name`, without torch)."""
    original = getattr(module, "original_name", None)
    return original if isinstance(original, str) and original else type(module).__name__


_AT_EXIT_NOW: list[Callable[[], object]] = []


def clean_up_at_exit_now(cleanup: Callable[[], object]) -> None:
    """Run ``cleanup`` (a ``weakref.finalize``, say) when :func:`exit_now` ends the process.

    ``os._exit`` runs no atexit handler, so a temporary folder removed by a
    finalizer would otherwise stay behind after a timeout or a second Ctrl+C.
    A finalizer already run does nothing when called again.
    """
    _AT_EXIT_NOW.append(cleanup)


def exit_now(status: int) -> NoReturn:
    """End the process with ``status`` now, without waiting for a thread stuck in the model's code.

    Python would not wait for such a thread (a daemon, or a worker given up),
    but finalising the interpreter while it runs inside torch aborts; so the
    streams are flushed, what asked to be cleaned up is (see
    :func:`clean_up_at_exit_now`), and the process ends here.
    """
    for cleanup in _AT_EXIT_NOW:
        try:
            cleanup()
        except Exception:  # noqa: BLE001 - the exit must happen whatever a cleanup does
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
