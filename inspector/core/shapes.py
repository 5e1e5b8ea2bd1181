"""Shapes without weights: a probed run on the meta device.

A model built with :func:`inspector.core.loading.build_torchvision` and
``meta=True`` already has every tensor on meta. A live model with real
weights is run through ``torch.func.functional_call`` with meta stand-ins for
its parameters and buffers, so nothing is allocated and the model itself is
not touched.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from inspector.core import probe
from inspector.core.errors import MetaUnsupported
from inspector.core.inputs import InputSpec, ModelInput, make_call, parse_dtype
from inspector.core.meta_shortcuts import ShapeShortcuts

META_HINT = "the meta device has shapes but no values, and this model reads values; run without --meta"


def check_meta_supported(task: str | None, read_only: bool = False) -> None:
    """Refuse up front the models that are known not to run on meta."""
    if read_only:
        raise MetaUnsupported("a TorchScript module cannot run on the meta device; run without --meta")
    if task == "detection":
        raise MetaUnsupported(
            "detection models cannot run on the meta device (their post-processing depends on values); "
            "run without --meta"
        )


def _all_meta(model: nn.Module) -> bool:
    tensors = list(model.parameters()) + list(model.buffers())
    return all(t.is_meta for t in tensors)


def meta_run(
    model: nn.Module,
    spec: InputSpec | ModelInput,
    *,
    mode: str = "eval",
    on_progress: probe.ProgressCallback | None = None,
    should_stop: probe.StopCallback | None = None,
    float_dtype: str | None = None,
) -> probe.ProbeRun:
    """Every module's output shapes, computed on the meta device; statistics and times are None.

    ``float_dtype`` (``--dtype``) runs the floating inputs, parameters and buffers in that dtype.
    """
    args, kwargs = make_call(_without_all_ones_mask(model, spec), "meta", float_dtype=float_dtype)
    cast = parse_dtype(float_dtype) if float_dtype is not None else None
    call = None
    if not _all_meta(model) or kwargs or cast is not None:
        # Every module once (under its first path) and each of its own tensors once:
        # a module registered twice must be swapped once, or torch puts the meta
        # stand-in back as its "original" (functional_call with tie_weights=True
        # does, on a shared module). Tied tensors in different modules (GPT-2's
        # lm_head and wte) share one stand-in, so the tie holds on meta too.
        by_tensor: dict[int, torch.Tensor] = {}
        stand_ins: dict[str, torch.Tensor] = {}
        for prefix, module in model.named_modules():
            own = list(module._parameters.items()) + list(module._buffers.items())
            for attr, tensor in own:
                if tensor is None:
                    continue
                floating = cast is not None and tensor.is_floating_point()
                stand_ins[f"{prefix}.{attr}" if prefix else attr] = by_tensor.setdefault(
                    id(tensor), torch.empty_like(tensor, device="meta", dtype=cast if floating else None)
                )

        def call(module: nn.Module, arguments: tuple[Any, ...]) -> Any:
            return torch.func.functional_call(module, stand_ins, arguments, kwargs, tie_weights=False, strict=False)

    with ShapeShortcuts():
        run = probe.run(model, args, mode=mode, on_progress=on_progress, should_stop=should_stop, call=call,
                        kwargs=kwargs)
    if run.error is not None and _mixes_devices(run.error.message):
        where = f"in {run.error.module!r} ({run.error.type_name})" if run.error.module else "in the model's forward"
        run.error.message = f"{run.error.message} ({DEVICE_HINT.format(where=where)})"
    elif run.error is not None and _reads_values(run.error.message):
        run.error.message = f"{run.error.message} ({META_HINT})"
    return run


def _without_all_ones_mask(model: nn.Module, spec: InputSpec | ModelInput) -> InputSpec | ModelInput:
    """The input without an all-ones ``attention_mask`` for a Hugging Face model, on meta only.

    Hugging Face reads the mask's values to skip it when nothing is masked
    (``padding_mask.all()``), which meta tensors cannot answer. For these
    models a mask of ones and no mask are the same call, with the same shapes.
    """
    if not isinstance(spec, ModelInput) or not _is_hugging_face(model):
        return spec
    mask = spec.kwargs.get("attention_mask")
    if not (isinstance(mask, InputSpec) and mask.fill == "ones"):
        return spec
    kwargs = {name: value for name, value in spec.kwargs.items() if name != "attention_mask"}
    return ModelInput(list(spec.args), kwargs, spec.seed, spec.origin)


def _is_hugging_face(model: nn.Module) -> bool:
    return any(cls.__module__.startswith("transformers.") and cls.__name__ == "PreTrainedModel" for cls in type(model).__mro__)


DEVICE_HINT = (
    "a tensor created {where} without device= is on the CPU while the run is on meta; "
    "create it on the input's device (device=x.device), or run without --meta"
)


def _mixes_devices(message: str) -> bool:
    text = message.lower()
    return "meta" in text and ("device cpu" in text or "devices" in text) and "expected" in text


def _reads_values(message: str) -> bool:
    text = message.lower()
    return "meta" in text and any(w in text for w in ("item", "data-dependent", "cannot", "not implemented", "no data"))
