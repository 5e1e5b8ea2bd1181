"""The input a model takes when the user gives none, and where that answer came from.

In this order: torchvision's known inputs; the input a timm model declares
(``pretrained_cfg["input_size"]``); a Hugging Face model's own description
(``main_input_name`` and its config); a ``torch.export`` program's example
inputs; and only then a guess from the first layer in execution order.
Every tensor carries its provenance in :attr:`InputSpec.source`. Nothing
here imports timm or transformers: the model object says it all.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from typing import Any

import torch
from torch import nn

from inspector.core.errors import InputError
from inspector.core.inputs import InputSpec, ModelInput, default_fill, dtype_key, forward_parameters
from inspector.core.odd_modules import float_twin
from inspector.core.tree import type_name

SEQUENCE_LENGTH = 16
"""Tokens of a guessed or declared text input: short enough for any context window, long enough to mean something."""
RNN_STEPS = 8
WAVEFORM_SAMPLES = 16000
"""One second of audio at 16 kHz, what speech models are trained on."""
GUESS_ATTEMPTS = 4


def natural_inputs(model: nn.Module, arch: str | None = None, task: str | None = None) -> ModelInput | None:
    """The model's natural input, or None when nothing is known; InputError when the model says why it cannot be.

    ``arch`` and ``task`` are torchvision's, when the model is one of its.
    """
    if arch is not None and (task is not None or type(model).__module__.startswith("torchvision.")):
        return ModelInput.single(_torchvision_input(model, arch, task))
    for declared in (timm_input, hugging_face_input, export_input):
        found = declared(model)
        if found is not None:
            return found
    return guess_input(model)


def _torchvision_input(model: nn.Module, arch: str, task: str | None) -> InputSpec:
    source = f"the natural input of torchvision's {arch}"
    if task == "video":
        # 16-frame clips at the crop size of the model's own transforms:
        # 112 for the ResNet-3D family, 224 for S3D, MViT and Swin3D
        # (MViT's positional encoding only fits its own size).
        size = _crop_size(arch) or 112
        return InputSpec((1, 3, 16, size, size), source=source)
    if task == "detection":
        return InputSpec((1, 3, 224, 224), layout="images", source=source)
    if task == "optical_flow":
        return InputSpec((1, 3, 224, 224), layout="pair", source=source)
    if arch == "inception_v3":
        return InputSpec((1, 3, 299, 299), source=source)
    image_size = getattr(model, "image_size", None)
    if isinstance(image_size, int):
        return InputSpec((1, 3, image_size, image_size), source=source)
    return InputSpec((1, 3, 224, 224), source=source)


def _crop_size(arch: str) -> int | None:
    """The square crop of ``arch``'s torchvision transforms, from metadata (no download)."""
    try:
        import torchvision.models as tvm

        crop = getattr(tvm.get_model_weights(arch).DEFAULT.transforms(), "crop_size", None)
    except (ValueError, KeyError, AttributeError, TypeError):
        return None
    if isinstance(crop, (list, tuple)) and crop and all(isinstance(c, int) and c == crop[0] for c in crop):
        return int(crop[0])
    return None


# --------------------------------------------------------------------------- declared


def timm_input(model: nn.Module) -> ModelInput | None:
    """``[1, C, H, W]`` from the ``pretrained_cfg["input_size"]`` a timm model carries."""
    for attribute in ("pretrained_cfg", "default_cfg"):
        cfg = getattr(model, attribute, None)
        size = cfg.get("input_size") if isinstance(cfg, dict) else None
        if isinstance(size, (list, tuple)) and size and all(isinstance(s, int) and s > 0 for s in size):
            return ModelInput.single(InputSpec((1, *size), source=f"declared by timm ({attribute}['input_size'])"))
    return None


def hugging_face_input(model: nn.Module) -> ModelInput | None:
    """The inputs a Hugging Face model describes: ``main_input_name``, its config's sizes, decoder ids."""
    config = getattr(model, "config", None)
    main = getattr(model, "main_input_name", None)
    if config is None or not isinstance(main, str) or not hasattr(config, "to_dict"):
        return None
    params = {p.name for p in forward_parameters(model) or []}
    text = _sub_config(config, "text_config") or config
    vision = _sub_config(config, "vision_config") or config
    source = f"declared by the Hugging Face model ({type(config).__name__}, main input {main})"
    kwargs: dict[str, Any] = {}
    vocab = _int(text, "vocab_size")
    length = min(SEQUENCE_LENGTH, _int(text, "max_position_embeddings") or SEQUENCE_LENGTH)

    def ids(name: str, size: int) -> InputSpec:
        fill = default_fill(name, "int64", vocab)
        return InputSpec((1, size), "int64", fill, name=name, source=source)

    if main == "input_ids" or ("input_ids" in params and _sub_config(config, "text_config") is not None):
        kwargs["input_ids"] = ids("input_ids", length)
        for name in ("attention_mask", "token_type_ids"):
            if name in params:
                kwargs[name] = ids(name, length)
    if main == "pixel_values" or ("pixel_values" in params and _sub_config(config, "vision_config") is not None):
        size = getattr(vision, "image_size", 224)
        height, width = (size, size) if isinstance(size, int) else tuple(size)[:2]
        channels = _int(vision, "num_channels") or 3
        kwargs["pixel_values"] = InputSpec((1, channels, int(height), int(width)), name="pixel_values", source=source)
    if main == "input_values":
        kwargs["input_values"] = InputSpec((1, WAVEFORM_SAMPLES), name="input_values", source=source)
    if main == "input_features" and _int(config, "num_mel_bins"):
        # Whisper's encoder takes [N, mel bins, frames], exactly twice its positions in frames.
        frames = 2 * (_int(config, "max_source_positions") or 1500)
        kwargs["input_features"] = InputSpec((1, _int(config, "num_mel_bins") or 80, frames), name="input_features",
                                             source=source)
    elif main == "input_features" and _int(config, "input_feat_per_channel"):
        # Speech2Text's takes [N, frames, features per channel × channels].
        features = (_int(config, "input_feat_per_channel") or 80) * (_int(config, "input_channels") or 1)
        kwargs["input_features"] = InputSpec((1, 64, features), name="input_features", source=source)
    if kwargs and getattr(config, "is_encoder_decoder", False) and "decoder_input_ids" in params:
        kwargs["decoder_input_ids"] = ids("decoder_input_ids", min(4, length))
    if not kwargs:
        return _dummy_inputs(model, source)
    return ModelInput([], kwargs)


def _dummy_inputs(model: nn.Module, source: str) -> ModelInput | None:
    """Shapes and dtypes of the model's own ``dummy_inputs``, where it has them."""
    try:
        dummy = getattr(model, "dummy_inputs", None)
    except Exception:  # noqa: BLE001 - a property of the user's model can raise anything; then there is none
        return None
    if not isinstance(dummy, dict) or not dummy or not all(isinstance(v, torch.Tensor) for v in dummy.values()):
        return None
    vocab = _int(getattr(model, "config", None), "vocab_size")
    kwargs = {
        name: InputSpec(tuple(t.shape), dtype_key(t.dtype), default_fill(name, dtype_key(t.dtype), vocab),
                        name=name, source=f"{source}: dummy_inputs")
        for name, t in dummy.items()
    }
    return ModelInput([], kwargs)


def _sub_config(config: Any, name: str) -> Any:
    sub = getattr(config, name, None)
    return sub if sub is not None and hasattr(sub, "to_dict") else None


def _int(config: Any, name: str) -> int | None:
    value = getattr(config, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def export_input(model: nn.Module) -> ModelInput | None:
    """The example inputs a ``torch.export`` program was traced with, from its graph's placeholders."""
    spec = getattr(model, "_in_spec", None)
    graph = getattr(model, "graph", None)
    if spec is None or graph is None or not hasattr(graph, "nodes"):
        return None
    try:
        from torch.utils import _pytree

        leaves = []
        for node in graph.nodes:
            if node.op != "placeholder":
                continue
            value = node.meta.get("val")
            if not isinstance(value, torch.Tensor):
                return None
            dtype = dtype_key(value.dtype)
            leaves.append(
                InputSpec(tuple(int(s) for s in value.shape), dtype, default_fill(node.name, dtype), name=None,
                          source="example input of the torch.export program")
            )
        args, kwargs = _pytree.tree_unflatten(leaves, spec)
    except Exception:  # noqa: BLE001 - a graph that is not an export program's: no declared input
        return None
    return ModelInput(list(args), dict(kwargs))


# --------------------------------------------------------------------------- the guess


def _layer_input(name: str, module: nn.Module) -> InputSpec | None:
    """The input the layer ``module`` takes as a model's first layer, or None when it says nothing."""
    source = f"guessed from {name or '(root)'} ({type_name(module)})"
    if isinstance(module, torch.jit.ScriptModule):
        return _scripted_layer_input(module, source)
    twin = float_twin(module)  # a torch.ao quantized Conv or Linear: a float one of its sizes
    if twin is not None:
        module = twin
    lazy = getattr(module, "has_uninitialized_params", None)
    if callable(lazy) and lazy():
        raise InputError(
            f"the first layer {name} ({type(module).__name__}) is lazy: its input size is only known once it runs; "
            "give the input shape (--input-shape or --input NAME=SHAPE)"
        )
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return InputSpec((1, SEQUENCE_LENGTH), "int64", f"randint:0,{module.num_embeddings}", source=source)
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        channels = int(module.in_channels)
        if isinstance(module, nn.Conv1d):
            return InputSpec((1, channels, WAVEFORM_SAMPLES if channels == 1 else 128), source=source)
        if isinstance(module, nn.Conv2d):
            return InputSpec((1, channels, 224, 224), source=source)
        return InputSpec((1, channels, 16, 112, 112), source=source)
    if isinstance(module, nn.Linear):
        return InputSpec((1, int(module.in_features)), source=source)
    if isinstance(module, nn.RNNBase):
        return _sequence(module.input_size, module.batch_first, source)
    if isinstance(module, nn.MultiheadAttention):
        return _sequence(module.embed_dim, module.batch_first, source)
    if isinstance(module, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
        attention = module.self_attn
        return _sequence(attention.embed_dim, attention.batch_first, source)
    return None


def _sequence(features: int, batch_first: bool, source: str) -> InputSpec:
    shape = (1, RNN_STEPS, int(features)) if batch_first else (RNN_STEPS, 1, int(features))
    return InputSpec(shape, source=source)


def _scripted_layer_input(module: torch.jit.ScriptModule, source: str) -> InputSpec | None:
    """A TorchScript submodule has no Python class to test: its original name and weight decide."""
    kind = type_name(module)
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
        return None
    groups = getattr(module, "groups", 1)
    channels = getattr(module, "in_channels", None)
    if not isinstance(channels, int):
        channels = int(weight.shape[1]) * (groups if isinstance(groups, int) else 1)
    if kind == "Conv2d":
        return InputSpec((1, channels, 224, 224), source=source)
    if kind == "Conv1d":
        return InputSpec((1, channels, WAVEFORM_SAMPLES if channels == 1 else 128), source=source)
    if kind == "Conv3d":
        return InputSpec((1, channels, 16, 112, 112), source=source)
    if kind == "Linear":
        return InputSpec((1, int(weight.shape[1])), source=source)
    if kind == "Embedding":
        return InputSpec((1, SEQUENCE_LENGTH), "int64", f"randint:0,{int(weight.shape[0])}", source=source)
    return None


def _candidates(model: nn.Module) -> list[tuple[str, InputSpec]]:
    """Every layer that would tell the input, in registration order; a lazy first layer raises."""
    found: list[tuple[str, InputSpec]] = []
    inside: list[str] = []
    for name, module in model.named_modules():
        # Children of a layer already taken (an attention's projections) say nothing new.
        if any(name.startswith(f"{outer}.") for outer in inside):
            continue
        try:
            spec = _layer_input(name, module)
        except InputError:
            if not found:
                raise
            continue
        if spec is not None:
            found.append((name, spec))
            inside.append(name)
    return found


def guess_input(model: nn.Module) -> ModelInput | None:
    """The guess from the first layer the model runs.

    Candidates come in registration order; when there are several, a run on
    the meta device (no values, nothing allocated, the model untouched)
    checks the guess, and the layer that raised or ran first decides
    instead, so a head registered before the stem does not mislead it.
    """
    candidates = _candidates(model)
    if not candidates:
        return None
    by_name = dict(candidates)
    first_name, first = candidates[0]
    if len(candidates) == 1 or isinstance(model, torch.jit.ScriptModule):
        return fit_to_forward(model, first)
    name, tried = first_name, {first_name}
    for _ in range(GUESS_ATTEMPTS):
        order_or_error = _meta_try(model, fit_to_forward(model, by_name[name]))
        if order_or_error is None:
            break
        ok, where = order_or_error
        if ok:
            if where in by_name and where not in tried:
                name = where  # the layer that ran first takes over, if its own guess runs too
                tried.add(name)
                continue
            return fit_to_forward(model, by_name[name])
        if where not in by_name or where in tried:
            break
        name = where
        tried.add(name)
    return fit_to_forward(model, first)


TIMESTEP_NAMES = ("t", "timestep", "timesteps", "time", "step", "steps")
ADJACENCY_NAMES = ("adj", "adjacency", "adj_matrix", "a_hat", "graph")


def fit_to_forward(model: nn.Module, spec: InputSpec) -> ModelInput:
    """The guessed first tensor, and one for each other input ``forward`` requires.

    A required input after the first is drawn like the first (two branches
    of a siamese model), except where its name says what it is: a timestep
    (``t``) is one integer per sample, an adjacency (``adj``) is square over
    the nodes. A keyword-only input is given by name.
    """
    params = forward_parameters(model)
    if params is None:
        return ModelInput.single(spec)
    kind = inspect.Parameter
    required = [p for p in params if p.default is kind.empty and p.kind not in (kind.VAR_POSITIONAL, kind.VAR_KEYWORD)]
    if not required:
        return ModelInput.single(spec)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for index, param in enumerate(required):
        leaf = spec if index == 0 else _companion(model, param.name, spec, required[0].name)
        leaf = leaf.replace(name=param.name)
        if param.kind == kind.KEYWORD_ONLY:
            kwargs[param.name] = leaf
        else:
            args.append(leaf)
    return ModelInput(args, kwargs)


def _companion(model: nn.Module, name: str, first: InputSpec, first_name: str) -> InputSpec:
    lowered = name.lower()
    if lowered in TIMESTEP_NAMES:
        steps = min((m.num_embeddings for m in model.modules() if isinstance(m, nn.Embedding)), default=1000)
        return InputSpec((first.shape[0],), "int64", f"randint:0,{steps}",
                         source=f"guessed from the name {name!r}: one timestep per sample")
    if lowered in ADJACENCY_NAMES and len(first.shape) in (2, 3):
        nodes = first.shape[-2]
        shape = (nodes, nodes) if len(first.shape) == 2 else (first.shape[0], nodes, nodes)
        return InputSpec(shape, first.dtype, "rand", source=f"guessed from the name {name!r}: an adjacency over the nodes")
    return first.replace(source=f"guessed like {first_name} ({first.source.removeprefix('guessed ')})")


def _meta_try(model: nn.Module, spec: ModelInput) -> tuple[bool, str | None] | None:
    """Run ``spec`` on meta: (True, first candidate-like layer run) or (False, the layer that raised); None if it cannot tell."""
    from inspector.core import shapes

    try:
        # What the model prints while it is only being looked at must not reach a JSON report on stdout.
        with contextlib.redirect_stdout(sys.stderr):
            run = shapes.meta_run(model, spec)
    except Exception:  # noqa: BLE001 - a model that cannot even start on meta: the guess stays unchecked
        return None
    if run.ok:
        order = run.execution_order()
        return True, next((n for n in order if _layer_like(model, n)), None)
    if run.error is None or run.error.module is None:
        return None
    return False, run.error.module


def _layer_like(model: nn.Module, name: str) -> bool:
    try:
        return _layer_input(name, model.get_submodule(name)) is not None
    except (AttributeError, InputError):
        return False


# --------------------------------------------------------------------------- vocabularies


def vocab_size(model: nn.Module, name: str) -> int | None:
    """The vocabulary token ids of input ``name`` are drawn from: the config's, or the first embedding's."""
    config = getattr(model, "config", None)
    if config is not None:
        text = _sub_config(config, "text_config") or config
        vocab = _int(text, "vocab_size")
        if vocab:
            return vocab
    for _, module in model.named_modules():
        if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
            return int(module.num_embeddings)
    return None
