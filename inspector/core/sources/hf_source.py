"""``hf:...``: a Hugging Face transformers model, built offline.

Three forms, tried in this order:

- ``hf:PATH``: a local folder with ``config.json``; its safetensors weights
  are loaded when the folder has them, random weights otherwise;
- ``hf:org/name``: a hub id found in the local Hugging Face cache (nothing is
  downloaded);
- ``hf:MODEL_TYPE`` (``hf:bert``, ``hf:gpt2``): the model type's default
  configuration, random weights.

``hf_class`` picks the head (``AutoModel`` by default); ``config`` overrides
configuration fields (``num_hidden_layers=2``). A model that would not fit in
memory is refused before anything is allocated.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from inspector.core.common import free_memory, model_bytes
from inspector.core.errors import ModelLoadError
from inspector.core.sources import require

PREFIX = "hf:"
DEFAULT_CLASS = "AutoModel"
MEMORY_SHARE = 0.8
"""Refuse a random-weight build whose weights would take more than this share of the memory available."""


def _transformers() -> Any:
    return require("transformers", "hf", "an hf: model")


def parse_config_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """``["num_hidden_layers=2", "use_cache=false"]`` as a dict; values read as JSON when they are JSON."""
    overrides: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ModelLoadError(f"--config {pair!r}: expected KEY=VALUE, e.g. num_hidden_layers=2")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = {"True": True, "False": False, "None": None}.get(raw, raw)
        overrides[key] = value
    return overrides


def model_types() -> list[str]:
    """The model types transformers can build from a default configuration (``bert``, ``gpt2``, ...)."""
    transformers = _transformers()
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    del transformers
    return sorted(CONFIG_MAPPING_NAMES)


def _model_class(name: str) -> Any:
    transformers = _transformers()
    cls = getattr(transformers, name, None) if name.isidentifier() else None
    if cls is None or not (hasattr(cls, "from_config") or hasattr(cls, "_from_config")):
        raise ModelLoadError(
            f"--hf-class {name!r} is not a transformers model class; use AutoModel, AutoModelForCausalLM, "
            "AutoModelForSequenceClassification, ... or a model class such as BertModel"
        )
    return cls


def _config(target: str, overrides: Mapping[str, Any]) -> tuple[Any, str | None, str]:
    """(configuration, folder holding weights or None, canonical source)."""
    transformers = _transformers()
    if os.path.isdir(target):
        if not os.path.exists(os.path.join(target, "config.json")):
            raise ModelLoadError(f"{target} has no config.json; an hf: folder needs one")
        config = _checked(lambda: transformers.AutoConfig.from_pretrained(target, local_files_only=True, **overrides), target)
        return config, target, f"hf:{target}"
    if "/" in target:
        folder = _cached_snapshot(target)
        if folder is None:
            raise ModelLoadError(
                f"hf:{target}: no such folder, and not in the local Hugging Face cache (nothing is downloaded); "
                "download it first, or give a folder with config.json"
            )
        config = _checked(lambda: transformers.AutoConfig.from_pretrained(folder, local_files_only=True, **overrides), target)
        return config, folder, f"hf:{target}"
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    if target not in CONFIG_MAPPING_NAMES:
        import difflib

        close = difflib.get_close_matches(target, list(CONFIG_MAPPING_NAMES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ModelLoadError(f"hf:{target}: not a transformers model type, a folder, or a cached hub id{hint}")
    config = _checked(lambda: transformers.AutoConfig.for_model(target, **overrides), target)
    return config, None, f"hf:{target}"


def _checked(make: Any, target: str) -> Any:
    try:
        return make()
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise ModelLoadError(f"hf:{target}: cannot read its configuration: {str(error).splitlines()[0]}") from None


def _cached_snapshot(repo_id: str) -> str | None:
    """The newest snapshot folder of ``repo_id`` in the local cache that has a config.json."""
    try:
        from huggingface_hub import constants

        cache = constants.HF_HUB_CACHE
    except ImportError:
        cache = os.path.join(os.path.expanduser("~"), ".cache", "huggingface", "hub")
    snapshots = os.path.join(cache, "models--" + repo_id.replace("/", "--"), "snapshots")
    candidates = [p for p in glob.glob(os.path.join(glob.escape(snapshots), "*")) if os.path.exists(os.path.join(p, "config.json"))]
    if not candidates:
        return None
    return max(candidates, key=os.path.getmtime)


def _has_weights(folder: str | None) -> bool:
    return folder is not None and bool(glob.glob(os.path.join(glob.escape(folder), "*.safetensors")))


def _build_meta(cls: Any, config: Any) -> nn.Module:
    from inspector.core.meta_shortcuts import SkipMetaInit

    with torch.device("meta"), SkipMetaInit():
        return _from_config(cls, config)


def _from_config(cls: Any, config: Any) -> nn.Module:
    make: Callable[[Any], nn.Module] = getattr(cls, "from_config", None) or cls._from_config
    try:
        return make(config)
    except (ValueError, TypeError, KeyError) as error:
        raise ModelLoadError(f"{cls.__name__} cannot be built from this configuration: {str(error).splitlines()[0]}") from None


def build(
    target: str,
    *,
    hf_class: str | None = None,
    config: Mapping[str, Any] | None = None,
    meta: bool = False,
) -> tuple[nn.Module, str, list[str]]:
    """(model, canonical source, notes) for ``hf:target``; see the module docstring."""
    transformers = _transformers()
    cls = _model_class(hf_class or DEFAULT_CLASS)
    configuration, folder, source = _config(target, dict(config or {}))
    notes: list[str] = []
    if meta:
        model = _build_meta(cls, configuration)
        notes.append("built on the meta device: shapes only, no weights")
        return model.eval(), source, notes
    # The size first, on meta (nothing allocated): a default configuration
    # can be billions of parameters (llama's is 6.7B).
    size = model_bytes(_build_meta(cls, configuration))
    available = free_memory(torch.device("cpu"))
    if available is not None and size > MEMORY_SHARE * available:
        raise ModelLoadError(
            f"{source} would take {size / 2**30:.1f} GiB ({size / 4 / 1e9:.1f}B float32 parameters) and "
            f"{available / 2**30:.1f} GiB is available; use --meta for shapes only, a smaller configuration "
            "(e.g. --config num_hidden_layers=2), or for a folder with safetensors weights --device auto "
            f"--max-memory cpu={available * 0.6 / 2**30:.1f}GiB (the rest offloaded to disk)"
        )
    if _has_weights(folder):
        assert folder is not None
        load = cls.from_pretrained
        try:
            model = load(folder, config=configuration, local_files_only=True)
        except (OSError, ValueError, RuntimeError) as error:
            raise ModelLoadError(f"{source}: cannot load its weights: {str(error).splitlines()[0]}") from None
        notes.append(f"weights from {folder}")
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = _from_config(cls, configuration)
        notes.append("random weights (from seed 0)")
    del transformers
    return model.eval(), source, notes
