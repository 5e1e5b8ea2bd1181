"""The sample input: its description and the tensors it makes.

A model is called with one :class:`ModelInput`: positional arguments and
keyword arguments, each a tree (dicts, lists, scalars, ``None``) whose tensor
leaves are :class:`InputSpec` descriptions (shape, dtype, fill) or real
tensors read from a file. One seed draws every random leaf, in order.

Every model gets a natural default (see :mod:`inspector.core.input_defaults`):
the input the model as built accepts or declares, or a guess from its first
layer, each with the provenance a person can read.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from inspector.core.errors import InputError

FILLS = ("randn", "rand", "zeros", "ones", "randint", "arange")
FLOAT_ONLY_FILLS = ("randn", "rand")
DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
    "uint8": torch.uint8,
    "bool": torch.bool,
}
FLOAT_DTYPES = ("float32", "float64", "float16", "bfloat16")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_ELEMENTS = 2**34
LEGACY_INT_HIGH = 10
"""An integer input with a floating fill (a description made before integer fills existed) draws [0, 10)."""


@dataclass
class InputSpec:
    """One tensor of the sample input: its shape, dtype, how it is filled, and the seed."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    fill: str = "randn"
    """randn, rand, zeros, ones, ``randint[:LOW,HIGH]``, arange, or ``image:PATH``."""
    seed: int = 0
    layout: str = "tensor"
    """How the model takes it: ``tensor`` (one argument), ``images`` (a list of
    ``[C, H, W]`` images, as torchvision's detection models take), or ``pair``
    (two tensors of ``shape``, as the optical-flow models take)."""
    # Name and provenance describe the tensor; two specs that make the same values are equal without them.
    name: str | None = field(default=None, compare=False)
    """The ``forward`` parameter it is given to, when known (positional inputs may have none)."""
    source: str = field(default="", compare=False)
    """Where this description came from: ``given``, ``declared by timm``, ``guessed from conv1 (Conv2d)``, ..."""

    def as_dict(self) -> dict[str, Any]:
        """The ``input`` object of the report."""
        return {"shape": list(self.shape), "dtype": self.dtype, "fill": self.fill, "seed": self.seed}

    def replace(self, **changes: Any) -> InputSpec:
        values = asdict(self)
        values.update(changes)
        values["shape"] = tuple(values["shape"])
        return InputSpec(**values)

    @property
    def numel(self) -> int:
        n = 1
        for size in self.shape:
            n *= size
        return n * (2 if self.layout == "pair" else 1)

    @property
    def nbytes(self) -> int:
        return self.numel * torch.empty((), dtype=parse_dtype(self.dtype)).element_size()

    @property
    def floating(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    def value_range(self) -> list[float] | None:
        """The smallest and largest value the fill can give; None when unbounded or unknown (randn, images)."""
        if self.fill == "zeros":
            return [0, 0]
        if self.fill == "ones":
            return [1, 1]
        if self.fill == "arange":
            return [0, self.shape[-1] - 1 if self.shape else 0]
        if self.fill.startswith("randint"):
            low, high = parse_randint(self.fill)
            return [low, high - 1]
        if self.dtype == "bool":
            return [0, 1]
        if not self.floating:
            return [0, 1] if self.fill == "rand" else [0, LEGACY_INT_HIGH - 1]
        if self.fill == "rand":
            return [0, 1]
        return None


Leaf = Any
"""An input leaf: an :class:`InputSpec`, a real tensor, a scalar or ``None``; or a dict/list/tuple of leaves."""


@dataclass
class ModelInput:
    """Everything the model's forward is called with: ``model(*args, **kwargs)``."""

    args: list[Leaf] = field(default_factory=list)
    kwargs: dict[str, Leaf] = field(default_factory=dict)
    seed: int = 0
    origin: str = ""
    """A file the values came from (``--inputs FILE``), for the report."""

    @classmethod
    def single(cls, spec: InputSpec) -> ModelInput:
        """The one-tensor input of the first round: ``model(x)``."""
        return cls([spec], {}, spec.seed)

    def leaves(self) -> list[tuple[str, Leaf]]:
        """Every leaf with its path: positions as ``0``, names as given, nested parts joined with dots."""
        found: list[tuple[str, Leaf]] = []
        for index, value in enumerate(self.args):
            _walk(str(index), value, found)
        for name, value in self.kwargs.items():
            _walk(name, value, found)
        return found

    def specs(self) -> list[InputSpec]:
        return [leaf for _, leaf in self.leaves() if isinstance(leaf, InputSpec)]

    def first_spec(self) -> InputSpec | None:
        """The first described tensor, with the input's seed: today's ``input.shape``/``dtype``/``fill``."""
        for _, leaf in self.leaves():
            if isinstance(leaf, InputSpec):
                return leaf.replace(seed=self.seed)
            if isinstance(leaf, torch.Tensor):
                return InputSpec(tuple(leaf.shape), dtype_key(leaf.dtype), "file", self.seed, source="file")
        return None

    def map_specs(self, change: Callable[[str, InputSpec], InputSpec]) -> ModelInput:
        """The same input with ``change(path, spec)`` applied to every :class:`InputSpec` leaf."""
        args = [_map(str(i), v, change) for i, v in enumerate(self.args)]
        kwargs = {k: _map(k, v, change) for k, v in self.kwargs.items()}
        return ModelInput(args, kwargs, self.seed, self.origin)

    @property
    def numel(self) -> int:
        total = 0
        for _, leaf in self.leaves():
            if isinstance(leaf, InputSpec):
                total += leaf.numel
        return total

    @property
    def nbytes(self) -> int:
        return sum(spec.nbytes for spec in self.specs())

    def describe(self) -> list[dict[str, Any]]:
        """One entry per leaf for the report: name, shape, dtype, fill, value range, where it came from."""
        entries: list[dict[str, Any]] = []
        for path, leaf in self.leaves():
            if isinstance(leaf, InputSpec):
                entry: dict[str, Any] = {
                    "name": leaf.name or path,
                    "shape": list(leaf.shape),
                    "dtype": leaf.dtype,
                    "fill": leaf.fill,
                    "range": leaf.value_range(),
                    "source": leaf.source or "given",
                }
                if leaf.layout != "tensor":
                    entry["layout"] = leaf.layout
            elif isinstance(leaf, torch.Tensor):
                values = leaf.detach()
                finite = not values.is_floating_point() or bool(torch.isfinite(values).all())
                entry = {
                    "name": path,
                    "shape": list(leaf.shape),
                    "dtype": dtype_key(leaf.dtype),
                    "fill": "file",
                    "range": (
                        [_number(values.min()), _number(values.max())] if values.numel() and finite else None
                    ),
                    "source": f"read from {self.origin}" if self.origin else "given as a tensor",
                }
            else:
                entry = {"name": path, "value": leaf, "source": f"read from {self.origin}" if self.origin else "given"}
            if path.split(".")[0].isdigit():
                entry["position"] = int(path.split(".")[0])
            entries.append(entry)
        return entries


def _walk(path: str, value: Leaf, found: list[tuple[str, Leaf]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _walk(f"{path}.{key}", item, found)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _walk(f"{path}.{index}", item, found)
    else:
        found.append((path, value))


def _map(path: str, value: Leaf, change: Callable[[str, InputSpec], InputSpec]) -> Leaf:
    if isinstance(value, InputSpec):
        return change(path, value)
    if isinstance(value, dict):
        return {k: _map(f"{path}.{k}", v, change) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_map(f"{path}.{i}", v, change) for i, v in enumerate(value))
    return value


def _number(value: torch.Tensor) -> float | int:
    item = value.item()
    return int(item) if isinstance(item, bool) else item


def dtype_key(dtype: torch.dtype) -> str:
    """The name of a torch dtype as the report writes it (``torch.float32`` -> ``float32``)."""
    for key, value in DTYPES.items():
        if value == dtype:
            return key
    return str(dtype).removeprefix("torch.")


def as_model_input(value: InputSpec | ModelInput) -> ModelInput:
    """A :class:`ModelInput` from either form (one :class:`InputSpec` is ``model(x)``)."""
    return value if isinstance(value, ModelInput) else ModelInput.single(value)


# --------------------------------------------------------------------------- parsing


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,3,224,224"`` (or with x, spaces, brackets) as a tuple of positive sizes."""
    cleaned = text.strip().strip("[]()").strip()
    if not cleaned:
        raise InputError("the input shape is empty; give sizes separated by commas, e.g. 1,3,224,224")
    # One separator between sizes: "1,,3" or "1,x" is a typo, not a shorter shape.
    parts = re.split(r"\s*[,x×]\s*|\s+", cleaned)
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise InputError(f"{text!r} is not a shape; give sizes separated by commas, e.g. 1,3,224,224") from None
    if any(s <= 0 for s in shape):
        raise InputError(f"every size in the input shape must be positive, got {list(shape)}")
    return shape


def dtype_name(name: str) -> str:
    """The canonical name of a dtype as a person may type it (``torch.float32`` -> ``float32``)."""
    key = name.strip().removeprefix("torch.")
    if key not in DTYPES:
        raise InputError(f"unknown dtype {name!r}; choose one of {', '.join(DTYPES)}")
    return key


def parse_dtype(name: str) -> torch.dtype:
    """The torch dtype of a name (``float32``, ``torch.float32``, ...)."""
    return DTYPES[dtype_name(name)]


def parse_randint(fill: str) -> tuple[int, int]:
    """``randint`` -> (0, 10); ``randint:LOW,HIGH`` -> (LOW, HIGH): values drawn from [LOW, HIGH)."""
    if fill == "randint":
        return 0, LEGACY_INT_HIGH
    text = fill[len("randint:"):] if fill.startswith("randint:") else ""
    parts = [p.strip() for p in text.split(",")]
    try:
        low, high = (int(parts[0]), int(parts[1])) if len(parts) == 2 else (0, int(parts[0]))
    except (ValueError, IndexError):
        raise InputError(f"{fill!r} is not an integer fill; write randint:LOW,HIGH, e.g. randint:0,1000") from None
    if high <= low:
        raise InputError(f"{fill!r} draws from [LOW, HIGH), so HIGH must be above LOW")
    if not -(2**63) <= low < high <= 2**63 - 1:
        raise InputError(f"{fill!r} is out of the int64 range")
    return low, high


def check_fill(fill: str, dtype: str | None = None) -> None:
    """Refuse a fill that does not exist, or one that cannot fill an input of ``dtype``."""
    if fill.startswith("randint"):
        parse_randint(fill)
    elif fill not in FILLS and not (fill.startswith("image:") and len(fill) > len("image:")):
        raise InputError(
            f"unknown fill {fill!r}; choose one of randn, rand, zeros, ones, randint[:LOW,HIGH], arange or image:PATH"
        )
    if (
        dtype is not None
        and dtype_name(dtype) not in FLOAT_DTYPES
        and dtype_name(dtype) != "bool"
        and (fill in FLOAT_ONLY_FILLS or fill.startswith("image:"))
    ):
        raise InputError(
            f"the fill {fill} makes floating-point values, and this input is {dtype_name(dtype)}; "
            "use randint[:LOW,HIGH] (e.g. token ids randint:0,VOCAB), ones, zeros or arange"
        )


NAME_PATTERN = re.compile(r"^(\d+|[A-Za-z_][A-Za-z0-9_]*)$")


def parse_input_option(text: str) -> tuple[str, tuple[int, ...], str | None, str | None]:
    """``NAME=SHAPE[:DTYPE[:FILL]]`` -> (name, shape, dtype or None, fill or None).

    NAME is a parameter of the model's ``forward`` or a position (``0``,
    ``1``, ...); the fill may itself hold colons (``image:PATH``,
    ``randint:0,1000``).
    """
    name, equals, spec = text.partition("=")
    name = name.strip()
    if not equals or not NAME_PATTERN.match(name):
        raise InputError(
            f"--input {text!r}: write NAME=SHAPE[:DTYPE[:FILL]], NAME a forward parameter or a position, "
            "e.g. input_ids=1,16:int64"
        )
    shape_text, _, rest = spec.partition(":")
    dtype_text, _, fill_text = rest.partition(":")
    shape = parse_shape(shape_text)
    dtype = dtype_name(dtype_text) if dtype_text.strip() else None
    fill = fill_text.strip() or None
    if fill is not None:
        check_fill(fill, dtype)
    return name, shape, dtype, fill


def leaf_from_text(text: str, name: str, source: str = "given") -> InputSpec:
    """A leaf written ``SHAPE[:DTYPE[:FILL]]`` (the JSON form of one tensor)."""
    _, shape, dtype, fill = parse_input_option(f"{name if NAME_PATTERN.match(name) else 'x'}={text}")
    dtype = dtype or "float32"
    return InputSpec(shape, dtype, fill or default_fill(name, dtype), name=name, source=source)


def default_fill(name: str, dtype: str, vocab: int | None = None) -> str:
    """The fill of an input given without one: randn for floats; for integers what the name says.

    Masks are ones, ``token_type_ids`` zeros, ``position_ids`` arange; other
    integer inputs (token ids) are drawn from ``[0, vocab)`` when the
    vocabulary is known.
    """
    if dtype in FLOAT_DTYPES:
        return "randn"
    if dtype == "bool":
        return "ones" if "mask" in name else "rand"
    leaf = name.rsplit(".", 1)[-1].lower()
    if "mask" in leaf:
        return "ones"
    if leaf in ("token_type_ids", "segment_ids"):
        return "zeros"
    if leaf == "position_ids":
        return "arange"
    return f"randint:0,{vocab}" if vocab else "randint"


# --------------------------------------------------------------------------- tensors


SEED_LIMIT = 2**64
"""Seeds are 0 to 2**64 - 1: what ``torch.Generator.manual_seed`` takes as distinct seeds."""


def check_seed(seed: Any) -> int:
    """``seed`` when it is a whole number in ``[0, 2**64)``; :class:`InputError` otherwise.

    torch raises a bare ValueError past 2**64, and takes a negative seed as
    the same seed as ``2**64 + seed``; both are refused here so that one
    seed names one sample.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise InputError(f"the seed must be a whole number from 0 to {SEED_LIMIT - 1} (2**64 - 1), got {seed!r}")
    return seed


def is_out_of_memory(error: BaseException) -> bool:
    """True for an allocation failure: Python's MemoryError, or torch's RuntimeError of its allocators."""
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and any(
        marker in text for marker in ("DefaultCPUAllocator", "not enough memory", "out of memory", "can't allocate memory")
    )


def make_inputs(
    spec: InputSpec | ModelInput, device: torch.device | str = "cpu", *, arch: str | None = None
) -> tuple[Any, ...]:
    """The positional arguments the model is called with, on ``device``.

    For an input with keyword arguments use :func:`make_call`. The same spec
    and seed always give the same values, whatever the device: values are
    drawn on the CPU and then moved.
    """
    args, kwargs = make_call(spec, device, arch=arch)
    if kwargs:
        raise InputError("this input has keyword arguments; it cannot be given as positional arguments alone")
    return args


def make_call(
    inputs: InputSpec | ModelInput,
    device: torch.device | str = "cpu",
    *,
    arch: str | None = None,
    float_dtype: str | None = None,
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``(args, kwargs)`` for ``model(*args, **kwargs)``, every tensor on ``device``.

    One generator seeded with the input's seed draws every random leaf in
    order (positions, then names), so the first tensor has the values the
    one-tensor input always had. ``float_dtype`` (``--dtype``) turns every
    floating tensor, described or read from a file, into that dtype.
    """
    model_input = as_model_input(inputs)
    device = torch.device(device)
    cast = parse_dtype(float_dtype) if float_dtype is not None else None
    for spec in model_input.specs():
        check_fill(spec.fill)
        parse_dtype(spec.dtype)
        if spec.numel > MAX_ELEMENTS:
            raise InputError(f"an input of shape {list(spec.shape)} is too large to allocate")
        if spec.layout == "images" and len(spec.shape) not in (3, 4):
            raise InputError(f"a detection model takes images [N,C,H,W] or [C,H,W], got {list(spec.shape)}")
    generator = torch.Generator().manual_seed(check_seed(model_input.seed))

    def build(value: Leaf) -> Any:
        if isinstance(value, InputSpec):
            return _leaf_tensors(value, device, generator, arch, cast)
        if isinstance(value, torch.Tensor):
            tensor = value.detach()
            if cast is not None and tensor.is_floating_point():
                tensor = tensor.to(cast)
            if device.type == "meta":
                return torch.empty_like(tensor, device="meta")
            # A copy: a model that writes into its input must not change what the file gave.
            return tensor.to(device=device, copy=True)
        if isinstance(value, dict):
            return {k: build(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(build(v) for v in value)
        return value

    args: list[Any] = []
    for value in model_input.args:
        built = build(value)
        if isinstance(value, InputSpec) and value.layout == "pair":
            args.extend(built)
        else:
            args.append(built)
    kwargs = {name: build(value) for name, value in model_input.kwargs.items()}
    return tuple(args), kwargs


def _leaf_tensors(
    spec: InputSpec, device: torch.device, generator: torch.Generator, arch: str | None, cast: torch.dtype | None
) -> Any:
    if cast is not None and spec.floating:
        spec = spec.replace(dtype=dtype_key(cast))
    dtype = parse_dtype(spec.dtype)
    count = 2 if spec.layout == "pair" else 1
    try:
        tensors = [_tensor(spec, dtype, device, generator, arch) for _ in range(count)]
    except (MemoryError, RuntimeError) as error:
        if not is_out_of_memory(error):
            raise
        raise InputError(
            f"not enough memory on {device} for an input of shape {list(spec.shape)} "
            f"({spec.nbytes / 2**30:.2f} GiB); use a smaller shape"
        ) from None
    if spec.layout == "images":
        batch = tensors[0] if len(spec.shape) == 4 else tensors[0].unsqueeze(0)
        return list(batch.unbind(0))
    if spec.layout == "pair":
        return tensors
    return tensors[0]


def _tensor(
    spec: InputSpec, dtype: torch.dtype, device: torch.device, generator: torch.Generator, arch: str | None
) -> torch.Tensor:
    shape = spec.shape
    if device.type == "meta":
        return torch.empty(shape, dtype=dtype, device="meta")
    if spec.fill.startswith("image:"):
        return load_image(spec.fill[len("image:"):], shape, arch).to(device=device, dtype=dtype)
    if spec.fill in ("zeros", "ones"):
        maker = torch.zeros if spec.fill == "zeros" else torch.ones
        return maker(shape, dtype=dtype, device=device)
    if spec.fill == "arange":
        # 0, 1, 2, ... along the last dimension, the same in every row (position ids).
        steps = torch.arange(shape[-1] if shape else 1, dtype=torch.int64)
        return steps.expand(shape).to(device=device, dtype=dtype).contiguous() if shape else steps[0].to(device, dtype)
    if spec.fill.startswith("randint"):
        low, high = parse_randint(spec.fill)
        return torch.randint(low, high, shape, generator=generator).to(device=device, dtype=dtype)
    if not dtype.is_floating_point:
        if spec.fill == "rand":
            return torch.randint(0, 2, shape, generator=generator).to(device=device, dtype=dtype)
        return torch.randint(0, LEGACY_INT_HIGH, shape, generator=generator).to(device=device, dtype=dtype)
    draw = torch.randn if spec.fill == "randn" else torch.rand
    return draw(shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)


# --------------------------------------------------------------------------- the call


def forward_parameters(model: nn.Module) -> list[inspect.Parameter] | None:
    """The parameters of ``model.forward`` (without ``self``), or None when they cannot be read."""
    if isinstance(model, torch.jit.ScriptModule):
        return None
    try:
        return list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return None


def positional_names(model: nn.Module) -> list[str]:
    """The names of the parameters ``forward`` takes by position, in order."""
    params = forward_parameters(model) or []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds]


def check_call(model: nn.Module, inputs: ModelInput) -> None:
    """Refuse up front inputs that ``forward`` cannot take: an unknown name, too many positions, a name twice."""
    params = forward_parameters(model)
    if params is None:
        return
    kind = inspect.Parameter
    if any(p.kind == kind.VAR_KEYWORD for p in params) and any(p.kind == kind.VAR_POSITIONAL for p in params):
        return
    positional = [p.name for p in params if p.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)]
    by_name = {p.name for p in params if p.kind in (kind.POSITIONAL_OR_KEYWORD, kind.KEYWORD_ONLY)}
    listed = ", ".join(p.name for p in params if p.kind not in (kind.VAR_POSITIONAL, kind.VAR_KEYWORD)) or "none"
    count = sum(2 if isinstance(v, InputSpec) and v.layout == "pair" else 1 for v in inputs.args)
    if count > len(positional) and not any(p.kind == kind.VAR_POSITIONAL for p in params):
        raise InputError(
            f"{type(model).__name__}.forward takes {len(positional)} positional input(s) ({listed}), "
            f"and {count} were given"
        )
    for name in inputs.kwargs:
        if name not in by_name and not any(p.kind == kind.VAR_KEYWORD for p in params):
            raise InputError(f"{type(model).__name__}.forward has no parameter {name!r}; its parameters are {listed}")
        if name in positional[:count]:
            raise InputError(f"the input {name!r} is given twice: by position and by name")


def as_positional(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """The same call with every keyword argument moved to its position (defaults fill the gaps).

    For the tools that call ``model(*args)`` (sweep, export, the summary);
    a keyword-only parameter cannot move, and that is an :class:`InputError`.
    """
    if not kwargs:
        return args
    names = positional_names(model)
    params = {p.name: p for p in forward_parameters(model) or []}
    values = list(args)
    last = max((names.index(k) for k in kwargs if k in names), default=-1)
    if any(k not in names for k in kwargs) or last < 0:
        raise InputError(
            f"{type(model).__name__}.forward takes {', '.join(k for k in kwargs if k not in names) or 'these inputs'} "
            "by keyword only; this tool calls the model with positional inputs"
        )
    for index in range(len(values), last + 1):
        name = names[index]
        if name in kwargs:
            values.append(kwargs[name])
        elif params[name].default is not inspect.Parameter.empty:
            values.append(params[name].default)
        else:
            raise InputError(f"the input {name!r} of {type(model).__name__}.forward has no value and no default")
    return tuple(values)


def resolve_fills(model: nn.Module, inputs: ModelInput) -> ModelInput:
    """A bare ``randint`` on token ids becomes ``randint:0,VOCAB`` when the model's vocabulary is known."""
    from inspector.core.input_defaults import vocab_size

    def change(path: str, spec: InputSpec) -> InputSpec:
        if spec.fill != "randint" or spec.floating:
            return spec
        vocab = vocab_size(model, spec.name or path)
        return spec.replace(fill=f"randint:0,{vocab}") if vocab else spec

    return inputs.map_specs(change)


IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "WEBP", "GIF")
"""The only formats an image fill decodes (Pillow's names): what the README names.

Pillow otherwise picks a decoder from the file's content, whatever its name,
and some of its decoders run other programs (EPS and PDF-ish files start
Ghostscript on the file) or are rarely exercised; an image from elsewhere
is data, so only these common decoders ever see it."""


def load_image(path: str, shape: tuple[int, ...], arch: str | None = None) -> torch.Tensor:
    """An image file as a normalised tensor of ``shape`` ([N,]C,H,W), like the model's transforms.

    The image is resized to H×W and normalised with the mean and std of the
    model's torchvision weights (ImageNet's when unknown); it is repeated
    over the batch. Only :data:`IMAGE_FORMATS` are decoded, and Pillow's
    pixel limit (``Image.MAX_IMAGE_PIXELS``) holds: a larger image is
    refused, as a decompression bomb would be. Raises :class:`InputError`
    for anything that is not such an image.
    """
    import stat
    import warnings

    from PIL import Image, UnidentifiedImageError

    if len(shape) not in (3, 4):
        raise InputError(f"an image fill needs a shape [N,C,H,W] or [C,H,W], got {list(shape)}")
    channels, height, width = shape[-3:]
    if channels not in (1, 3):
        raise InputError(f"an image has 1 or 3 channels; the shape asks for {channels}")
    accepted = ", ".join(IMAGE_FORMATS)
    try:
        # Opening a FIFO or a device would wait for a writer that never comes.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError(f"{path} is not a regular file; an image fill reads an image file ({accepted})")
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it; past the limit is refused here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=IMAGE_FORMATS) as image:
                image = image.convert("RGB" if channels == 3 else "L").resize((width, height), Image.Resampling.BILINEAR)
                data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    except FileNotFoundError:
        raise InputError(f"no such image file: {path}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"{path} is refused: its pixel count exceeds the limit of {Image.MAX_IMAGE_PIXELS} pixels "
            "(a decompression bomb, or a very large image); use a smaller image"
        ) from None
    except UnidentifiedImageError:
        raise InputError(f"{path} is not an image that can be read; accepted formats: {accepted}") from None
    except InputError:
        raise
    except Exception as error:  # noqa: BLE001 - a decoder given a damaged file raises OSError, SyntaxError, ValueError, struct.error...
        raise InputError(f"{path} is not an image that can be read ({_one_line(error)}); accepted formats: {accepted}") from None
    tensor = data.reshape(height, width, channels).permute(2, 0, 1).float() / 255.0
    mean, std = _normalisation(arch)
    if channels == 3:
        tensor = (tensor - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    if len(shape) == 4:
        tensor = tensor.unsqueeze(0).expand(shape[0], -1, -1, -1).contiguous()
    return tensor


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _normalisation(arch: str | None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std of the model's own preprocessing, from its weights' metadata (no download)."""
    if arch:
        try:
            import torchvision.models as tvm

            transforms = tvm.get_model_weights(arch).DEFAULT.transforms()
            mean = tuple(float(v) for v in getattr(transforms, "mean", IMAGENET_MEAN))
            std = tuple(float(v) for v in getattr(transforms, "std", IMAGENET_STD))
            if len(mean) == 3 and len(std) == 3:
                return mean, std
        except (ValueError, KeyError, AttributeError, TypeError):
            pass
    return IMAGENET_MEAN, IMAGENET_STD


def available_memory(device: torch.device) -> int | None:
    """Bytes free for a new tensor on ``device``, when it can be known."""
    from inspector.core.common import free_memory

    return free_memory(device)


def check_fits(spec: InputSpec | ModelInput, device: torch.device | str) -> None:
    """Refuse up front an input that alone would not fit in the memory left.

    Activations need several times the input, so this is a floor; a run can
    still fail later, and that failure becomes a message too.
    """
    device = torch.device(device)
    if device.type == "meta":
        return
    specs = as_model_input(spec).specs()
    for leaf in specs:
        if leaf.numel > MAX_ELEMENTS:
            raise InputError(f"an input of shape {list(leaf.shape)} is too large to allocate")
    nbytes = sum(leaf.nbytes for leaf in specs)
    free = available_memory(device)
    if free is not None and nbytes * 4 > free:
        shapes = ", ".join(str(list(leaf.shape)) for leaf in specs)
        raise InputError(
            f"an input of shape {shapes} ({nbytes / 2**30:.1f} GiB, and several times that "
            f"for activations) does not fit in the {free / 2**30:.1f} GiB free on {device}; use a smaller shape"
        )


# --------------------------------------------------------------------------- defaults (see input_defaults)


def natural_input(model: nn.Module, arch: str | None = None, task: str | None = None) -> InputSpec | None:
    """The first tensor of the model's natural input (:func:`natural_inputs`), or None when none is known."""
    from inspector.core.input_defaults import natural_inputs

    try:
        found = natural_inputs(model, arch, task)
    except InputError:
        return None
    return found.first_spec() if found is not None else None


def guess_from_first_layer(model: nn.Module) -> InputSpec | None:
    """The guess from the model's first layer (see :func:`inspector.core.input_defaults.guess_input`)."""
    from inspector.core.input_defaults import guess_input

    found = guess_input(model)
    return found.first_spec() if found is not None else None
