"""Where a model comes from: torchvision names, files and Python callables.

Loading is safe by default: files are read with ``weights_only=True`` and a
pickled module (or a ``.pt2`` program, whose loader can fall back to full
unpickling) is only opened when the caller passes ``trust=True``.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import io
import os
import pickle
import pickletools
import re
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch import nn

from inspector.core.common import first_line as _first_line
from inspector.core.errors import ArchitectureRequired, ModelLoadError, TrustRequired

TASKS = ("classification", "detection", "segmentation", "video", "optical_flow")
FILE_SUFFIXES = (".pt", ".pth", ".ts", ".pt2", ".bin", ".ckpt", ".pkl", ".jit", ".safetensors")


@dataclass
class LoadedModel:
    """A model and what is known about where it came from."""

    module: nn.Module
    source: str
    """How the user named it, canonical: ``torchvision:resnet18``, a path, ``pkg.mod:fn``."""
    kind: str
    """One of ``torchvision``, ``state_dict``, ``torchscript``, ``pickle``, ``export``, ``callable``, ``timm``, ``hf``."""
    arch: str | None = None
    """The torchvision architecture, when there is one."""
    task: str | None = None
    """The torchvision task of ``arch`` (classification, detection, ...)."""
    weights: str | None = None
    notes: list[str] = field(default_factory=list)
    """Things the loader did that a person should know (a stripped prefix, an inferred head size)."""
    build_options: dict[str, Any] = field(default_factory=dict)
    """``hf_class`` and ``config`` of an ``hf:`` model or architecture, to build it again."""
    dispatch: Any = None
    """Where accelerate put each module (:class:`inspector.core.dispatch.Dispatch`), for ``--device auto``; None otherwise."""

    @property
    def read_only(self) -> bool:
        """TorchScript modules take no hooks and no edits."""
        return self.kind == "torchscript"


# --------------------------------------------------------------------------- torchvision


def _task_modules() -> dict[str, Any]:
    import torchvision.models as tvm

    return {
        "classification": tvm,
        "detection": tvm.detection,
        "segmentation": tvm.segmentation,
        "video": tvm.video,
        "optical_flow": tvm.optical_flow,
    }


def list_models(task: str = "classification") -> list[tuple[str, str]]:
    """Torchvision models as ``(task, name)`` pairs, sorted by task then name.

    ``task`` is one of :data:`TASKS` or ``all``.
    """
    import torchvision.models as tvm

    tasks = TASKS if task == "all" else (task,)
    if any(t not in TASKS for t in tasks):
        raise ModelLoadError(f"unknown task {task!r}; choose one of {', '.join(TASKS)} or all")
    modules = _task_modules()
    pairs = [(t, name) for t in tasks for name in tvm.list_models(module=modules[t])]
    return sorted(pairs)


def task_of(name: str) -> str | None:
    """The torchvision task a model name belongs to, or None when it is not one."""
    for task, model in list_models("all"):
        if model == name:
            return task
    return None


def _builder_kwargs(task: str | None, weights: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"weights": weights}
    if task in ("detection", "segmentation"):
        # Without this the builders fetch an ImageNet backbone from the hub.
        kwargs["weights_backbone"] = None
    return kwargs


# These builders warn that their default initialisation will change unless
# it is named; naming today's default keeps the weights and silences that.
_EXPLICIT_INIT = {"googlenet": {"init_weights": True}, "inception_v3": {"init_weights": True}}


def _unknown_model_message(name: str) -> str:
    names = [n for _, n in list_models("all")]
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `model-inspector list-models --task all` lists them"
    return f"unknown model {name!r}: not a torchvision model, a file, or a module:callable{hint}"


def build_torchvision(
    name: str, weights: str | None = None, *, meta: bool = False, **overrides: Any
) -> nn.Module:
    """Build a torchvision model, with random weights unless ``weights`` is given.

    Random weights are the same on every call (drawn from seed 0).

    ``meta=True`` puts every parameter and buffer on the meta device, so
    nothing is allocated (the approach of accelerate's ``init_empty_weights``,
    which works for builders that read tensor values, such as RegNet's).
    """
    import torchvision.models as tvm

    task = task_of(name)
    if task is None:
        raise ModelLoadError(_unknown_model_message(name))
    kwargs = _builder_kwargs(task, weights)
    if weights is None:
        kwargs.update(_EXPLICIT_INIT.get(name, {}))
    kwargs.update(overrides)
    if weights is not None:
        try:
            tvm.get_model_weights(name)[weights]
        except KeyError:
            choices = ", ".join(w.name for w in tvm.get_model_weights(name))
            raise ModelLoadError(
                f"{name} has no weights {weights!r}; choose one of DEFAULT, {choices}"
            ) from None
    try:
        with _hub_messages_to_stderr() if weights is not None else contextlib.nullcontext():
            if meta:
                return _build_on_meta(tvm.get_model, name, kwargs)
            # Random weights are drawn from a fixed seed, without touching the
            # caller's random state, so two runs of the same command agree.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                return cast(nn.Module, tvm.get_model(name, **kwargs))
    except (OSError, RuntimeError) as error:
        if weights is not None and _looks_like_download_failure(error):
            raise ModelLoadError(
                f"could not download the {weights} weights of {name} (offline?); "
                "run without --weights for random weights"
            ) from None
        raise


@contextlib.contextmanager
def _hub_messages_to_stderr() -> Iterator[None]:
    """Keep torch.hub's "Downloading: ..." line off standard output, where the report's JSON goes.

    The line is passed on to standard error once the download worked; when
    it failed, our own one-line error says everything.
    """
    held = io.StringIO()
    with contextlib.redirect_stdout(held):
        yield
    if held.getvalue():
        sys.stderr.write(held.getvalue())


def _build_on_meta(builder: Callable[..., nn.Module], name: str, kwargs: dict[str, Any]) -> nn.Module:
    """Build with every tensor on meta; builders that read values get only their weights there."""
    from inspector.core.meta_shortcuts import SkipMetaInit

    try:
        with torch.device("meta"), SkipMetaInit():
            return builder(name, **kwargs)
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        # RegNet's builder computes widths from tensor values: let those
        # tensors be real and put only parameters and buffers on meta.
        with empty_weights(), SkipMetaInit():
            return builder(name, **kwargs)


def _looks_like_download_failure(error: BaseException) -> bool:
    import urllib.error

    text = str(error).lower()
    return isinstance(error, urllib.error.URLError) or any(
        word in text for word in ("urlopen", "name resolution", "network", "connection", "download")
    )


@contextlib.contextmanager
def empty_weights() -> Iterator[None]:
    """Create every parameter and buffer on the meta device while building a model.

    Tensors that are not registered on a module (those some builders compute
    with) stay real, so builders that read values still work.
    """
    original_parameter = nn.Module.register_parameter
    original_buffer = nn.Module.register_buffer

    # Named ``self`` as the methods they stand in for, so the signatures match.
    def register_parameter(self: nn.Module, name: str, param: nn.Parameter | None) -> None:
        original_parameter(self, name, param)
        if param is not None:
            value = self._parameters[name]
            assert value is not None
            self._parameters[name] = nn.Parameter(
                value.to("meta"), requires_grad=value.requires_grad
            )

    def register_buffer(
        self: nn.Module, name: str, tensor: torch.Tensor | None, persistent: bool = True
    ) -> None:
        original_buffer(self, name, tensor, persistent)
        if tensor is not None:
            self._buffers[name] = tensor.to("meta")

    # Patched for the length of the build only, and restored below.
    nn.Module.register_parameter = register_parameter  # type: ignore[method-assign]  # see above
    nn.Module.register_buffer = register_buffer  # type: ignore[method-assign]  # see above
    try:
        yield
    finally:
        nn.Module.register_parameter = original_parameter  # type: ignore[method-assign]  # see above
        nn.Module.register_buffer = original_buffer  # type: ignore[method-assign]  # see above


# --------------------------------------------------------------------------- files


@contextlib.contextmanager
def _quiet_torch() -> Iterator[None]:
    """Silence torch's own loader warnings (``torch.jit`` deprecation, pickle protocol notes).

    They are not the user's concern and would turn the CLI's one-line error
    into several lines; what matters is said in our own messages.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.")
        yield


def _zip_names(path: str) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def _is_torchscript(names: list[str]) -> bool:
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def _is_export(path: str, names: list[str]) -> bool:
    return path.endswith(".pt2") or any(n.endswith("archive_format") for n in names)


def _unsafe_globals(path: str) -> list[str]:
    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # noqa: BLE001 - only a hint for the message; any failure means "unknown"
        return []


def _trust_message(path: str, wanted: list[str]) -> str:
    # What is not torch's own (the user's classes, os.system...) is what a
    # person must see to decide, so it is named first.
    shown = sorted(wanted, key=lambda name: (name.startswith("torch"), name))
    what = f" (it asks for {', '.join(shown[:6])}{', ...' if len(shown) > 6 else ''})" if shown else ""
    return (
        f"{path} is a pickled model{what}; unpickling it can run arbitrary code. "
        "Open it only if you trust where it came from: pass --trust (GUI: confirm the prompt)"
    )


_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "weights")
MAX_WRAPPER_DEPTH = 8
"""How many checkpoint wrappers (``{"state_dict": {"model": ...}}``) are looked through at most."""


def _find_state_dict(obj: Any) -> dict[str, torch.Tensor] | None:
    """The state_dict in a loaded file: the file itself or a common checkpoint wrapper.

    A loop over at most :data:`MAX_WRAPPER_DEPTH` levels, not a recursion: a
    file can nest dicts a hundred thousand deep, or hold a dict that
    contains itself.
    """
    level = [obj]
    seen: set[int] = set()
    for _ in range(MAX_WRAPPER_DEPTH + 1):
        inner_level: list[Any] = []
        for candidate in level:
            if not isinstance(candidate, Mapping) or id(candidate) in seen:
                continue
            seen.add(id(candidate))
            if candidate and all(isinstance(k, str) for k in candidate) and all(
                isinstance(v, torch.Tensor) for v in candidate.values()
            ):
                return dict(candidate)
            inner_level += [candidate[key] for key in _WRAPPER_KEYS if candidate.get(key) is not None]
        if not inner_level:
            return None
        level = inner_level
    return None


def _check_values(path: str, state: Mapping[str, torch.Tensor]) -> None:
    """Refuse a state_dict whose tensors hold no values (saved from a model built on the meta device)."""
    empty = [key for key, tensor in state.items() if tensor.is_meta]
    if empty:
        raise ModelLoadError(
            f"{path} holds no weight values: {len(empty)} of its {len(state)} tensors are on the meta device "
            f"({', '.join(empty[:3])}{', ...' if len(empty) > 3 else ''}); save the state_dict of a model with real weights"
        )


def _strip_prefix(state: dict[str, torch.Tensor], notes: list[str]) -> dict[str, torch.Tensor]:
    for prefix in ("module.", "_orig_mod.", "model."):
        if state and all(k.startswith(prefix) for k in state):
            notes.append(f"stripped the {prefix!r} prefix from every key")
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def _head_size(state: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor]) -> int | None:
    """The number of classes a state_dict's head has, when it differs from the model's."""
    sizes = set()
    for key, tensor in state.items():
        ref = reference.get(key)
        if ref is None or tuple(ref.shape) == tuple(tensor.shape):
            continue
        if ref.dim() != tensor.dim() or ref.dim() == 0 or tuple(ref.shape[1:]) != tuple(tensor.shape[1:]):
            return None
        sizes.add(int(tensor.shape[0]))
    return sizes.pop() if len(sizes) == 1 else None


def _describe_key_mismatch(arch: str, missing: list[str], unexpected: list[str], shapes: list[str]) -> str:
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} keys ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
    if unexpected:
        parts.append(
            f"{len(unexpected)} unexpected keys ({', '.join(unexpected[:3])}{', ...' if len(unexpected) > 3 else ''})"
        )
    if shapes:
        parts.append(f"shape mismatch in {', '.join(shapes[:3])}{', ...' if len(shapes) > 3 else ''}")
    return f"the state_dict does not fit {arch}: {'; '.join(parts)}; is --arch right?"


def load_state_dict_into(arch: str, state: dict[str, torch.Tensor], notes: list[str], **arch_options: Any) -> nn.Module:
    """Build ``arch`` (any source, see :mod:`inspector.core.sources.arch`) and load ``state`` into it, without initialising weights twice.

    The model is built on the meta device and the file's tensors are assigned
    to it (``load_state_dict(assign=True)``), which skips the random
    initialisation; builders that need real tensors fall back to a plain build.
    """
    from inspector.core.sources.arch import build_arch, fill_tied, retie

    state = _strip_prefix(state, notes)
    model = build_arch(arch, meta=True, **arch_options)
    state = fill_tied(model, state)
    reference = model.state_dict()
    overrides: dict[str, Any] = {}
    head = _head_size(state, reference)
    if head is not None:
        try:
            model = build_arch(arch, meta=True, num_classes=head, **arch_options)
            reference = model.state_dict()
            overrides["num_classes"] = head
            notes.append(f"built {arch} with num_classes={head} to match the file")
        except TypeError:
            pass
    missing = [k for k in reference if k not in state]
    unexpected = [k for k in state if k not in reference]
    shapes = [
        f"{k} {list(state[k].shape)} vs {list(v.shape)}"
        for k, v in reference.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        raise ModelLoadError(_describe_key_mismatch(arch, missing, unexpected, shapes))
    model.load_state_dict(state, strict=True, assign=True)
    retie(model)  # assign=True put separate tensors where the model ties one
    if any(t.is_meta for t in _tensors(model)):
        # A buffer the file does not hold (persistent=False) is still on meta:
        # build for real and copy the values in.
        model = build_arch(arch, **overrides, **arch_options)
        model.load_state_dict(state, strict=True)
    return model


def _tensors(model: nn.Module) -> Iterator[torch.Tensor]:
    yield from model.parameters()
    yield from model.buffers()


def load_file(
    path: str, *, arch: str | None = None, trust: bool = False, **arch_options: Any
) -> LoadedModel:
    """Load a model file: TorchScript, ``torch.export`` program, pickled module or state_dict (``.safetensors`` too)."""
    if not os.path.exists(path):
        raise ModelLoadError(f"no such file: {path}")
    if os.path.isdir(path):
        raise ModelLoadError(f"{path} is a folder, not a model file")
    if os.path.getsize(path) == 0:
        raise ModelLoadError(f"{path} is empty")
    notes: list[str] = []
    if path.lower().endswith(".safetensors"):
        from inspector.core.dispatch import check_fits
        from inspector.core.sources.safetensors_source import read_state_dict

        # Read whole into memory: refused before reading when it cannot fit, suggesting --device auto.
        check_fits(os.path.getsize(path), torch.device("cpu"), path)

        return _state_dict_model(path, read_state_dict(path), arch, notes, arch_options)
    names = _zip_names(path)
    if _is_torchscript(names):
        try:
            with _quiet_torch():
                module = torch.jit.load(path, map_location="cpu")
        except Exception as error:  # noqa: BLE001 - any failure here means a broken archive
            raise ModelLoadError(f"{path} looks like TorchScript but cannot be read: {_first_line(error)}") from None
        return LoadedModel(module, path, "torchscript", notes=["TorchScript: read-only (no edits); per-layer records come from its graph, without per-layer time"])
    if _is_export(path, names):
        if not trust:
            raise TrustRequired(
                f"{path} is a torch.export program; its loader can fall back to full unpickling, "
                "which can run arbitrary code. Pass --trust (GUI: confirm the prompt) if you trust it"
            )
        try:
            with _quiet_torch():
                program = torch.export.load(path)
        except Exception as error:  # noqa: BLE001
            raise ModelLoadError(f"{path} cannot be read as a torch.export program: {_first_line(error)}") from None
        from inspector.core.sources.export_source import module_of

        module, notes = module_of(program)  # the module tree back, so every layer is probed
        return LoadedModel(module, path, "export", notes=notes)
    if not names and not _is_pickle(path):
        raise ModelLoadError(f"{path} is not a PyTorch model file (neither a zip archive nor a pickle)")
    try:
        with _quiet_torch():
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=bool(names))
    except pickle.UnpicklingError as error:
        wanted = (_unsafe_globals(path) if names else _pickle_globals(path)) or _globals_from_message(str(error))
        if not trust:
            raise TrustRequired(_trust_message(path, wanted), wanted) from None
        obj = _load_trusted(path)
    except Exception as error:  # noqa: BLE001 - weights_only runs no code; a garbled file raises anything (KeyError, struct.error, ...)
        raise ModelLoadError(f"{path} is not a PyTorch model file ({_first_line(error)})") from None
    if isinstance(obj, nn.Module):
        return LoadedModel(obj, path, "pickle")
    state = _find_state_dict(obj)
    if state is None:
        raise ModelLoadError(f"{path} holds a {type(obj).__name__}, not a model or a state_dict")
    _check_values(path, state)
    return _state_dict_model(path, state, arch, notes, arch_options)


def _state_dict_model(
    path: str, state: dict[str, torch.Tensor], arch: str | None, notes: list[str], arch_options: dict[str, Any]
) -> LoadedModel:
    if arch is None:
        raise ArchitectureRequired(
            f"{path} holds a state_dict (weights only); name the architecture to load it into with --arch NAME "
            "(e.g. --arch resnet18, --arch timm:resnet50, --arch hf:bert)"
        )
    module = load_state_dict_into(arch, state, notes, **arch_options)
    return LoadedModel(module, path, "state_dict", arch=arch, task=task_of(arch), notes=notes)


def _load_trusted(path: str) -> Any:
    from inspector.core.odd_modules import quantized_unpickling

    try:
        with quantized_unpickling():  # a static-quantized Conv: torch cannot unpickle it on its own
            return _unpickle(path)
    except Exception as error:  # noqa: BLE001 - the user's pickle can raise anything
        raise ModelLoadError(f"{path} could not be unpickled: {_first_line(error)}") from None


def _unpickle(path: str) -> Any:
    try:
        with _quiet_torch():
            return torch.load(path, map_location="cpu", weights_only=False)
    except RuntimeError as error:
        if "magic number" not in str(error).lower():
            raise
        # Written with pickle.dump rather than torch.save: no magic number.
        with open(path, "rb") as stream:
            return pickle.load(stream)  # noqa: S301 - the user passed --trust for this file


def _pickle_opcodes(path: str, limit: int = 8) -> Iterator[tuple[Any, Any]]:
    """Opcodes of the pickles at the start of a (legacy, non-zip) file, read without running any.

    A legacy ``torch.save`` file is several pickles in a row (magic number,
    protocol, system info, the object) followed by raw storage bytes.
    """
    with open(path, "rb") as stream:
        for _ in range(limit):
            start = stream.tell()
            if not stream.read(1):
                return
            stream.seek(start)
            try:
                for opcode, arg, _ in pickletools.genops(stream):
                    yield opcode, arg
            except (ValueError, EOFError, UnicodeDecodeError):
                return
            if stream.tell() == start:
                return


def _is_pickle(path: str) -> bool:
    """True when the file starts with a whole, well-formed pickle (checked without unpickling)."""
    try:
        with open(path, "rb") as stream:
            for _ in pickletools.genops(stream):
                pass
    except (ValueError, EOFError, UnicodeDecodeError, OSError):
        return False
    return True


def _pickle_globals(path: str) -> list[str]:
    """The ``module.name`` globals a plain pickle file asks for, found by reading its opcodes.

    ``STACK_GLOBAL`` takes its module and name from the two values pushed
    before it (strings, possibly fetched back from the memo), so the recent
    pushes and the memo are followed; nothing is ever executed.
    """
    found: list[str] = []
    recent: list[str | None] = []
    memo: dict[int, str | None] = {}
    try:
        for opcode, arg in _pickle_opcodes(path):
            name = opcode.name
            if name in ("GLOBAL", "INST") and isinstance(arg, str):
                found.append(arg.replace(" ", "."))
                recent.append(None)
            elif name == "STACK_GLOBAL":
                if len(recent) >= 2 and recent[-2] and recent[-1]:
                    found.append(f"{recent[-2]}.{recent[-1]}")
                recent.append(None)
            elif name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT") and isinstance(arg, int):
                memo[arg] = recent[-1] if recent else None
            elif name in ("GET", "BINGET", "LONG_BINGET") and isinstance(arg, int):
                recent.append(memo.get(arg))
            elif name == "STOP":  # the next pickle of a legacy file has its own memo
                memo.clear()
                recent.clear()
            else:
                recent.append(arg if isinstance(arg, str) and ("UNICODE" in name or name.endswith("STRING")) else None)
    except OSError:
        return []
    return list(dict.fromkeys(found))


def _globals_from_message(message: str) -> list[str]:
    return sorted(set(re.findall(r"GLOBAL ([\w.]+ ?[\w.]*)", message)))


# --------------------------------------------------------------------------- callables


def load_callable(spec: str) -> LoadedModel:
    """Import ``pkg.mod:fn`` or ``path/file.py:fn`` and call it with no arguments."""
    target, _, attr = spec.rpartition(":")
    if target.endswith(".py"):
        if not os.path.exists(target):
            raise ModelLoadError(f"no such file: {target}")
        module_name = f"_inspector_user_{abs(hash(os.path.abspath(target)))}"
        spec_obj = importlib.util.spec_from_file_location(module_name, target)
        if spec_obj is None or spec_obj.loader is None:
            raise ModelLoadError(f"cannot import {target}")
        module = importlib.util.module_from_spec(spec_obj)
        sys.modules[module_name] = module
        try:
            spec_obj.loader.exec_module(module)
        except Exception as error:  # noqa: BLE001 - the user's file can raise anything
            sys.modules.pop(module_name, None)
            raise ModelLoadError(f"importing {target} raised {type(error).__name__}: {_first_line(error)}") from None
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as error:
            raise ModelLoadError(f"cannot import {target!r}: {_first_line(error)}") from None
        except Exception as error:  # noqa: BLE001
            raise ModelLoadError(f"importing {target} raised {type(error).__name__}: {_first_line(error)}") from None
    factory = getattr(module, attr, None)
    if factory is None:
        raise ModelLoadError(f"{target} has no attribute {attr!r}")
    if not callable(factory):
        raise ModelLoadError(f"{spec} is not callable")
    try:
        model = factory()
    except Exception as error:  # noqa: BLE001
        raise ModelLoadError(f"calling {spec}() raised {type(error).__name__}: {_first_line(error)}") from None
    if not isinstance(model, nn.Module):
        raise ModelLoadError(f"{spec}() returned a {type(model).__name__}, not an nn.Module")
    return LoadedModel(model, spec, "callable")


def _callable_trust_message(spec: str) -> str:
    target, _, attr = spec.rpartition(":")
    return (
        f"{spec} is Python code: opening it imports {target} and calls {attr}(), which can do anything. "
        "Open it only if you trust where it came from: pass --trust (GUI: confirm the prompt)"
    )


# --------------------------------------------------------------------------- any source

_CALLABLE = re.compile(r"^(?P<target>.+):(?P<attr>[A-Za-z_][A-Za-z0-9_]*)$", re.DOTALL)  # a path may hold a newline


def classify_source(spec: str) -> str:
    """Which form a MODEL argument has: ``torchvision``, ``file``, ``callable``, ``timm`` or ``hf``."""
    text = spec.strip()
    if text.startswith(("timm:", "hf:")):
        return text.partition(":")[0]
    if text.startswith("torchvision:"):
        return "torchvision"
    match = _CALLABLE.match(text)
    if match and not os.path.exists(text):
        target = match.group("target")
        if target.endswith(".py") or re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", target):
            return "callable"
    if os.path.exists(text) or text.lower().endswith(FILE_SUFFIXES) or os.sep in text:
        return "file"
    return "torchvision"


def load_model(
    spec: str,
    *,
    arch: str | None = None,
    weights: str | None = None,
    trust: bool = False,
    meta: bool = False,
    named: bool = True,
    hf_class: str | None = None,
    config: Mapping[str, Any] | None = None,
    dispatched: bool = False,
    max_memory: Mapping[str, int] | None = None,
    offload_dir: str | None = None,
) -> LoadedModel:
    """Load a model from any MODEL form of the command line.

    ``meta=True`` builds with every parameter on the meta device (no weights
    allocated): torchvision, timm and hf models and callables; a file's
    tensors are read as they are. ``hf_class`` and ``config`` are for
    ``hf:`` models and ``hf:`` architectures (``--arch``).

    ``named=False`` says the person did not name ``spec`` just now: it comes
    from a session file, a list of recent models, anything written by
    someone else. A Python callable then needs ``trust`` like a pickle does
    (:class:`TrustRequired` otherwise); a callable the person typed is their
    consent, as with ``python -c``.

    ``dispatched=True`` (``--device auto``) loads the checkpoint into a model
    dispatched by accelerate within ``max_memory``, the rest offloaded to
    ``offload_dir`` (see :mod:`inspector.core.dispatch`).
    """
    text = (spec or "").strip()
    if not text:
        raise ModelLoadError("no model given; name a torchvision model (e.g. resnet18), a file or module:callable")
    form = classify_source(text)
    hf_options: dict[str, Any] = {k: v for k, v in (("hf_class", hf_class), ("config", config)) if v}
    if dispatched:
        from inspector.core.dispatch import load_dispatched

        loaded: LoadedModel = load_dispatched(text, arch=arch, hf_class=hf_class, config=config,
                                              max_memory=max_memory, offload_dir=offload_dir)
        loaded.build_options = hf_options
        return loaded
    if form == "timm":
        from inspector.core.sources import timm_source

        name = text.removeprefix(timm_source.PREFIX)
        module = timm_source.build(name, weights=weights, meta=meta)
        return LoadedModel(module, text, "timm", arch=text, weights=weights)
    if form == "hf":
        from inspector.core.sources import hf_source

        module, source, notes = hf_source.build(text.removeprefix(hf_source.PREFIX), meta=meta, **hf_options)
        return LoadedModel(module, source, "hf", arch=source, notes=notes, build_options=hf_options)
    if form == "callable":
        if not named and not trust:
            raise TrustRequired(_callable_trust_message(text), [text])
        from inspector.core.sources.arch import meta_context

        with meta_context(meta):  # the factory's tensors on meta: nothing allocated
            return load_callable(text)
    if form == "file":
        loaded = load_file(text, arch=arch, trust=trust, **hf_options)
        loaded.build_options = hf_options
        return loaded
    name = text.removeprefix("torchvision:")
    module = build_torchvision(name, weights, meta=meta)
    return LoadedModel(module, f"torchvision:{name}", "torchvision", arch=name, task=task_of(name), weights=weights)
