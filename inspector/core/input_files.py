"""Inputs kept in files: ``--inputs FILE`` (JSON descriptions, ``.pt`` and ``.safetensors`` tensors) and
the saved form of an input in session files.

A JSON description may nest dicts and lists as deep as ``forward`` wants;
its leaves are the ``SHAPE[:DTYPE[:FILL]]`` of ``--input``. Tensor files are
read weights-only: a ``.pt`` that asks for anything but tensors is refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import torch

from inspector.core.errors import InputError
from inspector.core.inputs import (
    NAME_PATTERN,
    InputSpec,
    Leaf,
    ModelInput,
    check_fill,
    default_fill,
    dtype_key,
    dtype_name,
    leaf_from_text,
)

# --------------------------------------------------------------------------- saved form


def inputs_to_json(inputs: ModelInput, *, fill_path: Callable[[str], str] = lambda fill: fill) -> dict[str, Any]:
    """The input as plain JSON (session files): ``{"args": [...], "kwargs": {...}, "seed": N}``.

    A tensor read from a file is saved as its shape and dtype (its values are
    not kept). ``fill_path`` rewrites fills (an image path made absolute).
    """

    def leaf(value: Leaf) -> Any:
        if isinstance(value, InputSpec):
            data: dict[str, Any] = {"shape": list(value.shape), "dtype": value.dtype, "fill": fill_path(value.fill)}
            if value.layout != "tensor":
                data["layout"] = value.layout
            if value.name:
                data["name"] = value.name
            if value.source:
                data["source"] = value.source
            return data
        if isinstance(value, torch.Tensor):
            dtype = dtype_key(value.dtype)
            return {"shape": list(value.shape), "dtype": dtype, "fill": default_fill("", dtype),
                    "source": "saved without its values"}
        if isinstance(value, dict):
            return {"dict": {str(k): leaf(v) for k, v in value.items()}}
        if isinstance(value, (list, tuple)):
            return {"list": [leaf(v) for v in value]}
        return {"value": value}

    return {"args": [leaf(v) for v in inputs.args], "kwargs": {k: leaf(v) for k, v in inputs.kwargs.items()},
            "seed": inputs.seed}


def inputs_from_json(data: Any) -> ModelInput:
    """The input saved by :func:`inputs_to_json`; :class:`InputError` for anything malformed."""
    if not isinstance(data, dict) or not isinstance(data.get("args", []), list) or not isinstance(
        data.get("kwargs", {}), dict
    ):
        raise InputError("the saved inputs are not {args, kwargs, seed}")

    def leaf(value: Any, depth: int = 0) -> Leaf:
        if depth > 32 or not isinstance(value, dict):
            raise InputError("a saved input is malformed")
        if "shape" in value:
            shape = value["shape"]
            if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                                                      for s in shape):
                raise InputError(f"a saved input has the shape {shape!r}")
            dtype = dtype_name(str(value.get("dtype", "float32")))
            fill = str(value.get("fill", "randn"))
            check_fill(fill)
            layout = str(value.get("layout", "tensor"))
            if layout not in ("tensor", "images", "pair"):
                raise InputError(f"a saved input has the layout {layout!r}")
            name = value.get("name")
            return InputSpec(tuple(shape), dtype, fill, 0, layout, str(name) if name else None,
                             str(value.get("source", "")))
        if "dict" in value and isinstance(value["dict"], dict):
            return {str(k): leaf(v, depth + 1) for k, v in value["dict"].items()}
        if "list" in value and isinstance(value["list"], list):
            return [leaf(v, depth + 1) for v in value["list"]]
        if "value" in value and (value["value"] is None or isinstance(value["value"], (bool, int, float, str))):
            return value["value"]
        raise InputError("a saved input is malformed")

    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or not -(2**63) <= seed < 2**64:
        raise InputError(f"the saved seed {seed!r} is not a whole number in range")
    kwargs = {}
    for name, value in data.get("kwargs", {}).items():
        if not NAME_PATTERN.match(str(name)) or str(name).isdigit():
            raise InputError(f"the saved input name {name!r} is not a parameter name")
        kwargs[str(name)] = leaf(value)
    return ModelInput([leaf(v) for v in data.get("args", [])], kwargs, seed)


# --------------------------------------------------------------------------- files


def load_inputs_file(path: str, *, trusted_dir: str | None = None) -> ModelInput:
    """``--inputs FILE``: a ``.json`` description, or real tensors from ``.pt`` (weights-only) or ``.safetensors``.

    JSON: an object (names; digits are positions) or a list (positions) whose
    values are leaves: a string ``SHAPE[:DTYPE[:FILL]]``, an object with
    ``shape`` (and ``dtype``, ``fill``), a number, a boolean, ``null``, or
    nested lists and objects of these. A top-level ``"seed"`` sets the seed.
    """
    lower = path.lower()
    if not os.path.isfile(path):
        raise InputError(f"no such inputs file: {path}")
    if lower.endswith(".json"):
        try:
            with open(path, encoding="utf-8") as stream:
                data = json.load(stream)
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"cannot read {path}: {error}") from None
        except json.JSONDecodeError as error:
            raise InputError(f"{path} is not JSON ({error.msg} at line {error.lineno})") from None
        seed = 0
        if isinstance(data, dict) and "seed" in data:
            seed = data.pop("seed")
            if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
                raise InputError(f"{path}: the seed must be a whole number from 0, got {seed!r}")
        result = _structure(data, path, lambda where, leaf: _json_leaf(where, leaf, path), described=True)
        result.seed = seed
        return result
    if lower.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise InputError("reading .safetensors inputs needs the safetensors package") from None
        try:
            tensors = load_file(path, device="cpu")
        except Exception as error:  # noqa: BLE001 - a damaged file can raise anything; it becomes a message
            raise InputError(f"{path} cannot be read as safetensors: {error}") from None
        result = _structure(dict(tensors), path, lambda where, leaf: leaf)
    elif lower.endswith((".pt", ".pth")):
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - weights-only refusals and damaged files become a message
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise InputError(f"{path} cannot be read as tensors (weights-only): {first}") from None
        if isinstance(data, torch.Tensor):
            data = [data]
        result = _structure(data, path, lambda where, leaf: _tensor_leaf(where, leaf, path))
    else:
        raise InputError(f"--inputs takes a .json, .pt or .safetensors file, not {path}")
    result.origin = os.path.basename(path)
    return result


def _structure(data: Any, path: str, leaf: Callable[[str, Any], Leaf], described: bool = False) -> ModelInput:
    """Positions and names of a file's top level; ``described``: JSON, where an object with ``shape`` is a leaf."""

    def convert(where: str, value: Any) -> Leaf:
        return _convert(where, value, leaf, described)

    if isinstance(data, (list, tuple)):
        return ModelInput([convert(str(i), v) for i, v in enumerate(data)], {})
    if not isinstance(data, dict):
        raise InputError(f"{path}: the inputs must be a list (positions) or an object (names), got {type(data).__name__}")
    positional: dict[int, Leaf] = {}
    kwargs: dict[str, Leaf] = {}
    for key, value in data.items():
        key = str(key)
        if key.isdigit():
            positional[int(key)] = convert(key, value)
        elif NAME_PATTERN.match(key):
            kwargs[key] = convert(key, value)
        else:
            raise InputError(f"{path}: {key!r} is neither a parameter name nor a position")
    return ModelInput(_in_order(positional, path), kwargs)


def _in_order(positional: dict[int, Leaf], where: str) -> list[Leaf]:
    if sorted(positional) != list(range(len(positional))):
        missing = min(set(range(max(positional) + 1)) - set(positional))
        raise InputError(f"{where}: input {max(positional)} is given but input {missing} is not; positions start at 0")
    return [positional[i] for i in range(len(positional))]


def _convert(where: str, value: Any, leaf: Callable[[str, Any], Leaf], described: bool) -> Leaf:
    if isinstance(value, dict) and not (described and "shape" in value):
        return {str(k): _convert(f"{where}.{k}", v, leaf, described) for k, v in value.items()}
    if isinstance(value, list):
        return [_convert(f"{where}.{i}", v, leaf, described) for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return tuple(_convert(f"{where}.{i}", v, leaf, described) for i, v in enumerate(value))
    return leaf(where, value)


def _json_leaf(where: str, value: Any, path: str) -> Leaf:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    try:
        if isinstance(value, str):
            return leaf_from_text(value, where, source=f"read from {os.path.basename(path)}")
        if isinstance(value, dict):
            unknown = set(value) - {"shape", "dtype", "fill"}
            if unknown:
                raise InputError(f"unknown keys {sorted(unknown)} (a tensor has shape, dtype, fill)")
            shape = value["shape"]
            shape_text = ",".join(str(s) for s in shape) if isinstance(shape, list) else str(shape)
            text = shape_text + ":" + str(value.get("dtype") or "") + (":" + str(value["fill"]) if value.get("fill") else "")
            return leaf_from_text(text, where, source=f"read from {os.path.basename(path)}")
    except InputError as error:
        raise InputError(f"{path}: input {where}: {error}") from None
    raise InputError(f"{path}: input {where} is a {type(value).__name__}; give SHAPE[:DTYPE[:FILL]], a number or null")


def _tensor_leaf(where: str, value: Any, path: str) -> Leaf:
    if value is None or isinstance(value, (bool, int, float, torch.Tensor)):
        return value
    raise InputError(f"{path}: input {where} is a {type(value).__name__}; a tensors file holds tensors, numbers and None")
