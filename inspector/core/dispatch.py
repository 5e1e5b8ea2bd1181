"""Models bigger than memory: built with empty weights, dispatched by accelerate over the devices, the CPU and a disk folder.

``--device auto`` loads a checkpoint (a ``.safetensors`` file or a
state_dict file with ``--arch``, or an ``hf:`` folder's safetensors) into a
model built under accelerate's ``init_empty_weights``: accelerate's
``infer_auto_device_map`` decides from ``max_memory`` where each module
lives, and ``dispatch_model`` wraps each module's forward so that the
weights of the modules placed on ``disk`` are read in just before they run
and dropped afterwards. The probe's hooks sit outside those wrappers, so they
see every call, shape and output as in an in-memory run.

The checkpoint is read one tensor at a time (accelerate's own
``load_checkpoint_in_model`` reads a whole file first, which for a one-file
checkpoint is the whole model); each tensor goes to its module's device
through accelerate's ``set_module_tensor_to_device`` or into the offload
folder through accelerate's ``offload_weight``. Nothing here moves weights
while the model runs: that is accelerate's hooks.

accelerate is an optional extra (``pip install 'model-inspector[big]'``).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import importlib
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch import nn

from inspector.core.common import first_line, free_memory
from inspector.core.errors import ArchitectureRequired, DeviceError, ModelLoadError
from inspector.core.watch import clean_up_at_exit_now

AUTO = "auto"
"""The device name that asks for dispatch."""
DISK = "disk"

_UNITS = {
    "": 1, "b": 1,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
}
_SIZE = re.compile(r"^\s*(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-zA-Z]*)\s*$")


def accelerate_module() -> Any:
    """accelerate, or :class:`MissingExtra` naming the extra that installs it."""
    from inspector.core.sources import require

    return require("accelerate", "big", "--device auto (dispatch and offload)")


def parse_size(text: str) -> int:
    """``200MiB``, ``2GiB``, ``1.5GB``, ``500MB``, ``64KiB`` or plain bytes, as a number of bytes."""
    match = _SIZE.match(text)
    unit = match.group("unit").lower() if match else ""
    if match is None or unit not in _UNITS:
        raise DeviceError(f"size {text!r}: expected a number and a unit, e.g. 200MiB, 2GiB, 1.5GB, 500MB")
    size = int(float(match.group("number")) * _UNITS[unit])
    if size <= 0:
        raise DeviceError(f"size {text!r} must be more than zero")
    return size


def parse_max_memory(text: str | None) -> dict[str, int]:
    """``cuda:0=20GiB,cpu=30GiB`` as ``{"cuda:0": bytes, "cpu": bytes}``; devices checked against this machine."""
    from inspector.core.devices import available_devices

    budget: dict[str, int] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, size = part.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            raise DeviceError(f"--max-memory {part.strip()!r}: expected DEVICE=SIZE, e.g. cpu=2GiB or cuda:0=20GiB")
        if name == "cuda":
            name = "cuda:0"
        if name != "cpu" and name not in available_devices():
            raise DeviceError(
                f"--max-memory {name!r}: not a device of this machine; available here: {', '.join(available_devices())}"
            )
        if name in budget:
            raise DeviceError(f"--max-memory gives {name} twice")
        budget[name] = parse_size(size)
    return budget


def _accelerate_budget(budget: Mapping[str, int]) -> dict[int | str, int]:
    """Our device names in accelerate's spelling: GPUs by index."""
    return {int(name.split(":")[1]) if name.startswith("cuda:") else name: size for name, size in budget.items()}


def _placement_name(device: int | str | torch.device) -> str:
    if isinstance(device, int):
        return f"cuda:{device}"
    text = str(device)
    return "cuda:0" if text == "cuda" else text


def describe_bytes(size: float) -> str:
    """``1.2 GiB``, ``340.0 MiB``, ``12.0 KiB``: sizes as the summary line shows them."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{int(size)} B"


@dataclass
class Dispatch:
    """Where accelerate put a model's modules, and what loading and offload cost."""

    device_map: dict[str, str]
    """Module name -> ``cuda:N``, ``cpu`` or ``disk``, as accelerate chose (``""`` is the whole model)."""
    main_device: str
    """Where the forward runs: the first GPU in the map, else ``cpu``; disk modules run there too."""
    max_memory: dict[str, int]
    """The budget the map was made from (bytes per device); empty: accelerate's default, what is free."""
    offload_dir: str | None
    """The folder the disk modules' weights are in (None: nothing went to disk)."""
    temporary: bool
    """The folder is ours and is removed by :meth:`close`."""
    bytes_by_placement: dict[str, int] = field(default_factory=dict)
    modules_by_placement: dict[str, int] = field(default_factory=dict)
    load_s: float = 0.0
    """Reading the checkpoint and putting each tensor in place, offload writes included."""
    offload_write_s: float = 0.0
    """Of ``load_s``: writing the disk modules' weights into the offload folder."""
    offload_read_s: float = 0.0
    """Reading offloaded weights in (and dropping them) while the model ran, every run so far."""
    _finalizer: Any = field(default=None, repr=False)

    def placement_of(self, name: str) -> str | None:
        """Where module ``name`` lives: its own entry or an enclosing one's; ``mixed`` for a container split over several."""
        probe = name
        while True:
            if probe in self.device_map:
                return self.device_map[probe]
            if not probe:
                break
            probe = probe.rpartition(".")[0]
        inside = {placement for module, placement in self.device_map.items() if module.startswith(name + ".")}
        if not inside:
            return None
        return inside.pop() if len(inside) == 1 else "mixed"

    def summary(self) -> dict[str, Any]:
        """The report's ``dispatch`` object (see docs/cli.md)."""
        return {
            "main_device": self.main_device,
            "max_memory": dict(self.max_memory),
            "bytes": dict(self.bytes_by_placement),
            "modules": dict(self.modules_by_placement),
            "offload_dir": None if self.temporary else self.offload_dir,
            "load_s": round(self.load_s, 4),
            "offload_write_s": round(self.offload_write_s, 4),
            "offload_read_s": round(self.offload_read_s, 4),
        }

    def summary_line(self) -> str:
        """One line: how much went where, and how long the offload I/O took."""
        order = sorted(self.bytes_by_placement, key=lambda p: (p == DISK, p == "cpu", p))
        where = ", ".join(
            f"{describe_bytes(self.bytes_by_placement[p])} in {self.modules_by_placement.get(p, 0)} modules on {p}"
            for p in order
        )
        return (
            f"dispatched by accelerate: {where}; offload I/O {self.offload_write_s:.2f} s writing at load, "
            f"{self.offload_read_s:.2f} s reading during runs"
        )

    @contextlib.contextmanager
    def timing(self, model: nn.Module) -> Iterator[None]:
        """Add the time accelerate's hooks spend bringing offloaded weights in and out to ``offload_read_s``."""
        wrapped: list[tuple[Any, str]] = []
        spent = [0.0]

        def timed(method: Callable[..., Any]) -> Callable[..., Any]:
            def run(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return method(*args, **kwargs)
                finally:
                    spent[0] += time.perf_counter() - started

            return run

        for module in model.modules():
            hook = getattr(module, "_hf_hook", None)
            for inner in getattr(hook, "hooks", None) or ([hook] if hook is not None else []):
                if getattr(inner, "offload", False):
                    for method in ("pre_forward", "post_forward"):
                        setattr(inner, method, timed(getattr(inner, method)))
                        wrapped.append((inner, method))
        try:
            yield
        finally:
            for inner, method in wrapped:
                with contextlib.suppress(AttributeError):
                    delattr(inner, method)  # the class's own method shows through again
            self.offload_read_s += spent[0]

    def close(self) -> None:
        """Remove the temporary offload folder (a folder the user named is left as it is)."""
        if self._finalizer is not None:
            self._finalizer()


# --------------------------------------------------------------------------- checkpoints


class _Checkpoint:
    """The tensors of a checkpoint by name, read one at a time."""

    def __init__(self, shapes: dict[str, tuple[tuple[int, ...], torch.dtype]], read: Callable[[str], torch.Tensor],
                 close: Callable[[], None]) -> None:
        self.shapes = shapes
        self.read = read
        self.close = close


def _safetensors_checkpoint(files: list[str], label: str) -> _Checkpoint:
    """The tensors of safetensors files, each read through a handle opened for it alone.

    A safetensors handle maps its whole file, and every page a read touches
    stays in the process's resident memory until the handle is closed: kept
    open through the load, a one-file checkpoint ends up resident whole,
    whatever the budget. One handle per tensor holds at most that tensor
    (the tensor read still views the mapping: see :func:`load_dispatched`).
    """
    from inspector.core.sources import require

    safetensors = require("safetensors", "hf", "a .safetensors file")
    where: dict[str, str] = {}
    shapes: dict[str, tuple[tuple[int, ...], torch.dtype]] = {}
    try:
        for path in files:
            with safetensors.safe_open(path, framework="pt", device="cpu") as handle:
                for key in handle.keys():  # noqa: SIM118 - a safetensors handle is not a Mapping
                    where[key] = path
                    piece = handle.get_slice(key)
                    shapes[key] = (tuple(piece.get_shape()), _safetensors_dtype(piece.get_dtype()))
    except Exception as error:  # noqa: BLE001 - a garbled header raises anything (SafetensorError, ValueError, ...)
        text = str(error).strip().splitlines()
        raise ModelLoadError(f"{label} is not a readable safetensors checkpoint ({text[0] if text else type(error).__name__})") from None
    if not shapes:
        raise ModelLoadError(f"{label} holds no tensors")

    def read(key: str) -> torch.Tensor:
        with safetensors.safe_open(where[key], framework="pt", device="cpu") as handle:
            tensor: torch.Tensor = handle.get_tensor(key)
            return tensor

    return _Checkpoint(shapes, read, where.clear)


_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}


def _safetensors_dtype(name: str) -> torch.dtype:
    return _SAFETENSORS_DTYPES.get(name.upper(), torch.float32)


def _state_dict_checkpoint(path: str) -> _Checkpoint:
    """A state_dict file, memory-mapped (weights only, no code run): its pages are read as each tensor is used."""
    from inspector.core import loading

    try:
        with loading._quiet_torch():
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=bool(loading._zip_names(path)))
    except Exception as error:  # noqa: BLE001 - weights_only runs no code; anything it raises means "not a state_dict"
        raise ModelLoadError(
            f"--device auto loads weights from a checkpoint (a state_dict or safetensors file); "
            f"{path} cannot be read as one ({first_line(error)})"
        ) from None
    state = loading._find_state_dict(obj)
    if state is None:
        raise ModelLoadError(
            f"--device auto loads weights from a checkpoint; {path} holds a {type(obj).__name__}, not a state_dict"
        )
    loading._check_values(path, state)
    return _Checkpoint({k: (tuple(v.shape), v.dtype) for k, v in state.items()}, state.__getitem__, state.clear)


def _checkpoint_of(path: str) -> _Checkpoint:
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(glob.escape(path), "*.safetensors")))
        if not files:
            raise ModelLoadError(f"{path} has no .safetensors weights; --device auto loads weights from a checkpoint")
        return _safetensors_checkpoint(files, path)
    if path.lower().endswith(".safetensors"):
        return _safetensors_checkpoint([path], path)
    return _state_dict_checkpoint(path)


# --------------------------------------------------------------------------- building


def _empty_model(spec: str, arch: str | None, hf_class: str | None, config: Mapping[str, Any] | None) -> tuple[nn.Module, str, str, str, str | None]:
    """(model with empty weights, canonical source, kind, checkpoint path, arch) for ``spec``."""
    from inspector.core import loading

    accelerate = accelerate_module()
    form = loading.classify_source(spec)
    if form == "hf":
        from inspector.core.sources import hf_source

        target = spec.removeprefix(hf_source.PREFIX)
        configuration, folder, source = hf_source._config(target, dict(config or {}))
        if folder is None or not hf_source._has_weights(folder):
            raise ModelLoadError(
                f"{source}: --device auto loads weights from a checkpoint, and there are no .safetensors "
                "weights here; give a folder with config.json and its safetensors"
            )
        cls = hf_source._model_class(hf_class or hf_source.DEFAULT_CLASS)
        with accelerate.init_empty_weights():
            model = hf_source._from_config(cls, configuration)
        return model, source, "hf", folder, source
    if form == "file":
        if not os.path.exists(spec):
            raise ModelLoadError(f"no such file: {spec}")
        if arch is None:
            raise ArchitectureRequired(
                f"{spec} holds weights only; name the architecture to load them into with --arch NAME "
                "(e.g. --arch resnet18, --arch timm:resnet50, --arch hf:bert)"
            )
        from inspector.core.sources.arch import build_arch

        # Built as for a real load (so builders that read values work), but
        # every parameter is created on meta by accelerate: nothing allocated.
        # Buffers stay real: a non-persistent one (rotary frequencies) is in no checkpoint.
        with accelerate.init_empty_weights():
            if loading.classify_source(arch) == "hf":
                from inspector.core.sources import hf_source

                configuration, _, _ = hf_source._config(arch.removeprefix(hf_source.PREFIX), dict(config or {}))
                cls = hf_source._model_class(hf_class or hf_source.DEFAULT_CLASS)
                model = hf_source._from_config(cls, configuration)
            else:
                model = build_arch(arch, meta=False)
        return model, spec, "state_dict", spec, arch
    raise ModelLoadError(
        f"--device auto loads weights from a checkpoint: a .safetensors or state_dict file with --arch, "
        f"or an hf: folder with safetensors; {spec} is built with random weights, which must fit in memory"
    )


def _check_keys(model: nn.Module, checkpoint: _Checkpoint, arch: str, notes: list[str]) -> dict[str, str]:
    """Each of the model's tensor names -> the checkpoint name holding its values; a mismatch is refused as today."""
    from inspector.core import loading
    from inspector.core.sources.arch import fill_tied

    keys = {k: k for k in checkpoint.shapes}
    for prefix in ("module.", "_orig_mod.", "model."):
        if keys and all(k.startswith(prefix) for k in keys):
            notes.append(f"stripped the {prefix!r} prefix from every key")
            keys = {k[len(prefix):]: v for k, v in keys.items()}
    # Tied names the file stored once (safetensors keeps a shared tensor once).
    keys = cast("dict[str, str]", fill_tied(model, cast("dict[str, torch.Tensor]", keys)))
    reference = model.state_dict()
    missing = [k for k in reference if k not in keys]
    unexpected = [k for k in keys if k not in reference]
    shapes = [
        f"{k} {list(checkpoint.shapes[keys[k]][0])} vs {list(v.shape)}"
        for k, v in reference.items()
        if k in keys and tuple(checkpoint.shapes[keys[k]][0]) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        raise ModelLoadError(loading._describe_key_mismatch(arch, missing, unexpected, shapes))
    return keys


def _placement(name: str, device_map: Mapping[str, str]) -> str:
    probe = name
    while probe not in device_map:
        if not probe:
            return device_map.get("", "cpu")
        probe = probe.rpartition(".")[0]
    return device_map[probe]


def load_dispatched(
    spec: str,
    *,
    arch: str | None = None,
    hf_class: str | None = None,
    config: Mapping[str, Any] | None = None,
    max_memory: Mapping[str, int] | None = None,
    offload_dir: str | None = None,
) -> Any:
    """Load ``spec``'s checkpoint into a model dispatched by accelerate: a :class:`~inspector.core.loading.LoadedModel` with ``dispatch`` set.

    ``max_memory`` (bytes per device, see :func:`parse_max_memory`) bounds
    what stays resident on each device; what does not fit goes to disk, into
    ``offload_dir`` (a temporary folder removed by :meth:`Dispatch.close`
    when None).
    """
    from inspector.core.loading import LoadedModel

    accelerate = accelerate_module()
    utils = importlib.import_module("accelerate.utils")
    find_tied_parameters = utils.find_tied_parameters
    offload_weight = utils.offload_weight
    retie_parameters = utils.retie_parameters
    save_offload_index = utils.save_offload_index
    set_module_tensor_to_device = utils.set_module_tensor_to_device

    started = time.perf_counter()
    _give_back_freed_blocks()
    model, source, kind, checkpoint_path, model_arch = _empty_model(spec, arch, hf_class, config)
    model.eval()
    notes: list[str] = []
    checkpoint = _checkpoint_of(checkpoint_path)
    try:
        keys = _check_keys(model, checkpoint, model_arch or source, notes)
        tie = getattr(model, "tie_weights", None)
        if callable(tie):
            tie()
        tied = find_tied_parameters(model)
        budget = dict(max_memory or {})
        no_split = list(getattr(model, "_no_split_modules", None) or [])
        raw_map = accelerate.infer_auto_device_map(
            model, max_memory=_accelerate_budget(budget) or None, no_split_module_classes=no_split
        )
        device_map = {name: _placement_name(device) for name, device in raw_map.items()}
        resident = [p for p in dict.fromkeys(device_map.values()) if p not in ("cpu", DISK)]
        main_device = resident[0] if resident else "cpu"
        temporary = offload_dir is None
        folder = tempfile.mkdtemp(prefix="inspector-offload-") if temporary else offload_dir
        assert folder is not None
        os.makedirs(folder, exist_ok=True)
        buffers = {name for name, _ in model.named_buffers()}
        index: dict[str, Any] = {}
        sizes: dict[str, int] = {}
        written = 0.0
        done: set[int] = set()
        for name, value in model.state_dict(keep_vars=True).items():
            if id(value) in done:  # a tied tensor is placed once, through its first name
                continue
            done.add(id(value))
            placement = _placement(name, device_map)
            tensor = checkpoint.read(keys[name])
            sizes[placement] = sizes.get(placement, 0) + tensor.numel() * tensor.element_size()
            if placement == DISK and name not in buffers:
                before = time.perf_counter()
                set_module_tensor_to_device(model, name, "meta", dtype=tensor.dtype)
                offload_weight(tensor, name, folder, index=index)
                written += time.perf_counter() - before
            else:
                # Buffers of disk modules stay on the device the forward runs on (accelerate's default).
                target = main_device if placement == DISK else placement
                if target == "cpu":
                    # Copied out of the file's mapping, which it would keep alive (pages beyond its own
                    # resident, and a crash should the file be rewritten while the model is open). Only
                    # what stays: a copy of each offloaded tensor, freed at once, would grow the heap.
                    tensor = tensor.clone()
                set_module_tensor_to_device(model, name, target, value=tensor, dtype=tensor.dtype)
            del tensor
        save_offload_index(index, folder)
        retie_parameters(model, tied)
    finally:
        checkpoint.close()
    with _quiet_accelerate():
        accelerate.dispatch_model(model, device_map=raw_map, offload_dir=folder if index else None,
                                  main_device=None if main_device == "cpu" else main_device)
    dispatch = Dispatch(
        device_map=device_map,
        main_device=main_device,
        max_memory=budget,
        offload_dir=folder,
        temporary=temporary,
        bytes_by_placement=sizes,
        modules_by_placement=_count_modules(model, device_map),
        load_s=time.perf_counter() - started,
        offload_write_s=written,
    )
    if temporary:
        # Also at exit or when the model is dropped, should nobody call close().
        dispatch._finalizer = weakref.finalize(dispatch, shutil.rmtree, folder, True)
        clean_up_at_exit_now(dispatch._finalizer)  # a timeout's os._exit runs no finalizer
    notes.append(dispatch.summary_line())
    loaded = LoadedModel(model, source, kind, arch=model_arch, notes=notes)
    loaded.dispatch = dispatch
    return loaded


MAPPED_BLOCK = 1 << 20
"""Blocks of this size and more are given to the process by mmap, and given back when freed (glibc)."""


def _give_back_freed_blocks() -> None:
    """Make glibc return each big freed block to the system at once, for the rest of the process.

    accelerate reads an offloaded module's weights into fresh tensors before
    it runs and frees them after. glibc raises its mmap threshold past the
    first such block freed, so the next ones come from the heap, which it
    does not shrink: a 600 MB model run from disk under a 200 MiB budget
    ended with 400 MB of freed weights still resident. A fixed threshold
    keeps big blocks mapped, so freeing one unmaps it. Linux with glibc
    only; elsewhere nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, MAPPED_BLOCK)  # M_MMAP_THRESHOLD; setting it also stops glibc moving it
    except (OSError, AttributeError):
        pass


def _count_modules(model: nn.Module, device_map: Mapping[str, str]) -> dict[str, int]:
    """Modules with weights of their own, by where those weights live."""
    counts: dict[str, int] = {}
    for name, module in model.named_modules():
        if any(True for _ in module.parameters(recurse=False)):
            placement = _placement(name, device_map)
            counts[placement] = counts.get(placement, 0) + 1
    return counts


@contextlib.contextmanager
def _quiet_accelerate() -> Iterator[None]:
    """accelerate warns that offloaded parameters sit on meta: that is the point here, not the user's concern."""
    logger = logging.getLogger("accelerate")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def hooks_bypassed(module: nn.Module) -> Iterator[None]:
    """Within the block, ``module`` and its children run their own forward, not accelerate's wrapper.

    For a shapes-only call on fake tensors (the pass-through Identity learning
    its output structure): the wrapper would read offloaded weights from disk
    for nothing. A module that accelerate never touched is left alone.
    """
    swapped: list[tuple[nn.Module, Any]] = []
    for inner in module.modules():
        wrapper = inner.__dict__.get("forward")
        original = inner.__dict__.get("_old_forward")
        if wrapper is not None and original is not None and hasattr(inner, "_hf_hook"):
            inner.forward = original
            swapped.append((inner, wrapper))
    try:
        yield
    finally:
        for inner, wrapper in swapped:
            inner.forward = wrapper


def device_choices(devices: list[str]) -> list[str]:
    """``devices`` and ``auto`` after them when accelerate is installed (the GUI's device box)."""
    from inspector.core.sources import available

    return [*devices, AUTO] if available("accelerate") else list(devices)


# --------------------------------------------------------------------------- refusing what cannot fit


FIT_SHARE = 0.9
"""A model is refused on a device when it needs more than this share of what is free there."""


def check_fits(size: int, device: torch.device, what: str) -> None:
    """Refuse, before anything is allocated, ``size`` bytes of weights that will not fit on ``device``; suggest ``--device auto``."""
    free = free_memory(device)
    if free is None or size <= FIT_SHARE * free:
        return
    raise DeviceError(
        f"{what} needs {describe_bytes(size)} of weights and {device} has {describe_bytes(free)} free; "
        f"use --device auto --max-memory {'cpu' if device.type == 'cpu' else device}={describe_bytes(free * 0.8).replace(' ', '')} "
        "to keep what fits there and offload the rest to disk"
    )
