"""What the probe, sweep, compare, graph, summary and export share.

- :func:`tensors_in`: the tensors of an output structure, in one order;
- :func:`device_of`: where a call's inputs (or else the model) live;
- :func:`first_line`: what an exception from the user's code says, in one line;
- :class:`RunError`: where a forward raised, the one record of the probe's
  report and the sweep's entries;
- :class:`ModelState` / :func:`preserved_state`: every module's train/eval
  flag and, for train-mode work, every buffer, put back afterwards;
- :func:`install_hooks` / :func:`remove_hooks`: a pre- and a post-forward
  hook on each of a list of modules, and their removal.

Nothing here imports another room of the core, so every room can use it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

# --------------------------------------------------------------------------- outputs


def tensors_in(value: Any) -> list[torch.Tensor]:
    """Tensors in an output structure, depth first: tuple/list order, dict insertion order."""
    # The usual cases first: every hook of a run asks this of its input
    # tuple and its output.
    if isinstance(value, torch.Tensor):
        return [value]
    if type(value) is tuple and len(value) == 1 and isinstance(value[0], torch.Tensor):
        return [value[0]]
    found: list[torch.Tensor] = []
    _gather_tensors(value, found, set())
    return found


def _gather_tensors(item: Any, found: list[torch.Tensor], enclosing: set[int]) -> None:
    # A module-level function, not a closure that calls itself: such a closure
    # is a reference cycle, and it kept every tensor it saw (every layer's
    # output) alive until the cyclic garbage collector ran. ``enclosing``
    # holds the containers being walked, so a structure that contains itself
    # ends the walk there instead of never ending.
    if isinstance(item, torch.Tensor):
        found.append(item)
        return
    children: Any
    if isinstance(item, dict):
        children = list(item.values())
    elif isinstance(item, (list, tuple)):
        children = item
    elif hasattr(item, "__dataclass_fields__"):
        children = [getattr(item, name) for name in item.__dataclass_fields__]
    else:
        return
    if id(item) in enclosing:
        return
    enclosing.add(id(item))
    for child in children:
        _gather_tensors(child, found, enclosing)
    enclosing.discard(id(item))


def device_of(args: Sequence[Any], model: nn.Module) -> torch.device:
    """The device of the first tensor in ``args``; else of the model's first parameter; else the CPU."""
    tensors = tensors_in(list(args))
    if tensors:
        return tensors[0].device
    param = next(iter(model.parameters()), None)
    return param.device if param is not None else torch.device("cpu")


# --------------------------------------------------------------------------- errors


def first_line(error: BaseException) -> str:
    """What an exception from user code says, in one line (``sys.exit`` and a bare KeyboardInterrupt named)."""
    if isinstance(error, SystemExit):
        # str(SystemExit(2)) is "2": say what it was.
        return f"the model's code called sys.exit({error.code!r})"
    if isinstance(error, KeyboardInterrupt) and not str(error).strip():
        return "the model's code raised KeyboardInterrupt"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


@dataclass
class RunError:
    """Where a forward raised: the innermost module on the call stack, and what it was given."""

    module: str | None
    """Dotted path of the innermost module whose forward raised; ``""`` for the root; None outside any module."""
    type_name: str | None
    message: str
    exception_type: str
    input_shapes: list[list[int]]
    """The failing call's input shapes; ``[]`` where they were not recorded (a sweep step)."""

    def as_dict(self) -> dict[str, Any]:
        """The report's ``error`` object (``model-inspector/report@1``)."""
        return {
            "module": self.module,
            "type": self.type_name,
            "message": self.message,
            "input_shapes": self.input_shapes,
        }

    def __str__(self) -> str:
        where = f"{self.module or '(root)'} ({self.type_name})" if self.module is not None else "the model"
        return f"{where} raised {self.exception_type}: {self.message}"

    def brief(self) -> str:
        """``module: ExceptionType: message``, as a sweep step or its baseline names the failure."""
        where = "the root" if self.module == "" else self.module or "the model"
        return f"{where}: {self.exception_type}: {self.message}"


# --------------------------------------------------------------------------- model state


BufferSnapshot = list[tuple[nn.Module, str, torch.Tensor, torch.Tensor]]
"""(module, buffer name, the buffer object, a copy of its values)."""


def snapshot_buffers(model: nn.Module) -> BufferSnapshot:
    """Every module's buffers and copies of their values, so a train-mode run leaves them as they were.

    Kept by module and name, not only by object: a model that re-binds a
    buffer in its forward (``self.ema = new``, the EMA pattern) leaves its
    module holding another tensor, which updating the old object in place
    would not undo. Meta buffers hold no values and are left out.
    """
    saved: BufferSnapshot = []
    copies: dict[int, torch.Tensor] = {}
    for module in model.modules():
        for name, buffer in module._buffers.items():
            if buffer is None or buffer.is_meta:
                continue
            # A buffer shared by several modules is copied once.
            copy = copies.get(id(buffer))
            if copy is None:
                copy = copies[id(buffer)] = buffer.detach().clone()
            saved.append((module, name, buffer, copy))
    return saved


def restore_buffers(saved: BufferSnapshot) -> None:
    """Put each module's own buffer object back under its name, with its values as they were."""
    with torch.no_grad():  # a buffer that requires grad cannot be written in place otherwise
        for module, name, buffer, copy in saved:
            if module._buffers.get(name) is not buffer:
                module._buffers[name] = buffer
            buffer.copy_(copy)


class ModelState:
    """Every module's train/eval flag and, when asked, its buffers, as they were when this was made."""

    def __init__(self, model: nn.Module, *, buffers: bool = False) -> None:
        self.flags = [(module, module.training) for module in model.modules()]
        self.buffers: BufferSnapshot = snapshot_buffers(model) if buffers else []

    def restore_buffers(self) -> None:
        """The buffers' objects and values back (a train-mode forward moved BatchNorm's statistics)."""
        restore_buffers(self.buffers)

    def restore(self) -> None:
        """Flags and buffers back."""
        for module, flag in self.flags:
            module.training = flag
        self.restore_buffers()


@contextlib.contextmanager
def preserved_state(model: nn.Module, *, buffers: bool = False) -> Iterator[ModelState]:
    """Put every module's train/eval flag (and with ``buffers``, every buffer) back when the block ends, also on an exception."""
    state = ModelState(model, buffers=buffers)
    try:
        yield state
    finally:
        state.restore()


# --------------------------------------------------------------------------- hooks

PreHook = Callable[..., Any]
PostHook = Callable[..., Any]


def install_hooks(
    modules: Iterable[nn.Module], pre: PreHook | None, post: PostHook | None, *, with_kwargs: bool = False
) -> list[RemovableHandle]:
    """A forward pre-hook ``pre`` and a forward hook ``post`` on each module (either may be None); their handles.

    ``with_kwargs`` passes the forward's keyword arguments to both, as
    ``register_forward_pre_hook(..., with_kwargs=True)`` does.
    """
    handles: list[RemovableHandle] = []
    try:
        for module in modules:
            if pre is not None:
                handles.append(module.register_forward_pre_hook(pre, with_kwargs=with_kwargs))
            if post is not None:
                handles.append(module.register_forward_hook(post, with_kwargs=with_kwargs))
    except BaseException:
        # A module that refuses hooks (a ScriptModule) leaves none of the others behind.
        remove_hooks(handles)
        raise
    return handles


def remove_hooks(handles: list[RemovableHandle]) -> None:
    """Remove every hook of ``handles``, and forget them."""
    for handle in handles:
        handle.remove()
    handles.clear()


# --------------------------------------------------------------------------- memory


def model_bytes(model: nn.Module) -> int:
    """Bytes of the model's distinct parameters and buffers (parameters x dtype size); tied tensors count once."""
    seen: set[int] = set()
    total = 0
    for tensor in list(model.parameters()) + list(model.buffers()):
        if id(tensor) not in seen:
            seen.add(id(tensor))
            total += tensor.numel() * tensor.element_size()
    return total


def free_memory(device: torch.device) -> int | None:
    """Bytes free for new tensors on ``device`` now; None when it cannot be known."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
