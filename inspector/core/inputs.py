"""The sample input: its description (:class:`InputSpec`) and the tensors it makes.

Every model gets a natural default: the input the model as built accepts
(224×224 images for most classifiers, 299 for inception_v3, 16-frame clips for
video models, a list of images for detection, two images for optical flow),
or for a file or callable a guess from its first layer.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from inspector.core.errors import InputError
from inspector.core.tree import type_name

FILLS = ("randn", "rand", "zeros", "ones")
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
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_ELEMENTS = 2**34


@dataclass
class InputSpec:
    """What the sample input is: its shape, dtype, how it is filled, and the seed."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    fill: str = "randn"
    """randn, rand, zeros, ones, or ``image:PATH``."""
    seed: int = 0
    layout: str = "tensor"
    """How the model takes it: ``tensor`` (one argument), ``images`` (a list of
    ``[C, H, W]`` images, as torchvision's detection models take), or ``pair``
    (two tensors of ``shape``, as the optical-flow models take)."""

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


def check_fill(fill: str) -> None:
    if fill in FILLS:
        return
    if fill.startswith("image:") and len(fill) > len("image:"):
        return
    raise InputError(f"unknown fill {fill!r}; choose one of {', '.join(FILLS)} or image:PATH")


# --------------------------------------------------------------------------- defaults


def natural_input(model: nn.Module, arch: str | None = None, task: str | None = None) -> InputSpec | None:
    """The input the model as built accepts, or None when nothing can be guessed."""
    if arch is not None:
        if task == "video":
            # 16-frame clips at the crop size of the model's own transforms:
            # 112 for the ResNet-3D family, 224 for S3D, MViT and Swin3D
            # (MViT's positional encoding only fits its own size).
            size = _crop_size(arch) or 112
            return InputSpec((1, 3, 16, size, size))
        if task == "detection":
            return InputSpec((1, 3, 224, 224), layout="images")
        if task == "optical_flow":
            return InputSpec((1, 3, 224, 224), layout="pair")
        if arch == "inception_v3":
            return InputSpec((1, 3, 299, 299))
        size = getattr(model, "image_size", None)
        if isinstance(size, int):
            return InputSpec((1, 3, size, size))
        return InputSpec((1, 3, 224, 224))
    return guess_from_first_layer(model)


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


def guess_from_first_layer(model: nn.Module) -> InputSpec | None:
    """The spec's guess: the first Conv1d/2d/3d or Linear decides the shape."""
    for _, module in model.named_modules():
        kind = type_name(module)
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
            continue
        if kind == "Conv2d":
            return InputSpec((1, _in_channels(module, weight), 224, 224))
        if kind == "Conv1d":
            return InputSpec((1, _in_channels(module, weight), 128))
        if kind == "Conv3d":
            return InputSpec((1, _in_channels(module, weight), 16, 112, 112))
        if kind == "Linear":
            return InputSpec((1, int(weight.shape[1])))
    return None


def _in_channels(module: nn.Module, weight: torch.Tensor) -> int:
    channels = getattr(module, "in_channels", None)
    if isinstance(channels, int):
        return channels
    groups = getattr(module, "groups", 1)
    return int(weight.shape[1]) * (groups if isinstance(groups, int) else 1)


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



def make_inputs(spec: InputSpec, device: torch.device | str = "cpu", *, arch: str | None = None) -> tuple[Any, ...]:
    """The positional arguments the model is called with, on ``device``.

    The same spec and seed always give the same values, whatever the device:
    values are drawn on the CPU and then moved.
    """
    dtype = parse_dtype(spec.dtype)
    check_fill(spec.fill)
    if spec.numel > MAX_ELEMENTS:
        raise InputError(f"an input of shape {list(spec.shape)} is too large to allocate")
    device = torch.device(device)
    if spec.layout == "images" and len(spec.shape) not in (3, 4):
        raise InputError(f"a detection model takes images [N,C,H,W] or [C,H,W], got {list(spec.shape)}")
    generator = torch.Generator().manual_seed(check_seed(spec.seed))
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
        return (list(batch.unbind(0)),)
    return tuple(tensors)


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
    if not dtype.is_floating_point:
        if spec.fill == "rand":
            return torch.randint(0, 2, shape, generator=generator).to(device=device, dtype=dtype)
        return torch.randint(0, 10, shape, generator=generator).to(device=device, dtype=dtype)
    draw = torch.randn if spec.fill == "randn" else torch.rand
    return draw(shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)


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
                image = image.convert("RGB" if channels == 3 else "L").resize((width, height), Image.BILINEAR)
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
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "cpu":
        try:
            with open("/proc/meminfo", encoding="ascii") as meminfo:
                for line in meminfo:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
    return None


def check_fits(spec: InputSpec, device: torch.device | str) -> None:
    """Refuse up front an input that alone would not fit in the memory left.

    Activations need several times the input, so this is a floor; a run can
    still fail later, and that failure becomes a message too.
    """
    device = torch.device(device)
    if device.type == "meta":
        return
    if spec.numel > MAX_ELEMENTS:
        raise InputError(f"an input of shape {list(spec.shape)} is too large to allocate")
    free = available_memory(device)
    if free is not None and spec.nbytes * 4 > free:
        raise InputError(
            f"an input of shape {list(spec.shape)} ({spec.nbytes / 2**30:.1f} GiB, and several times that "
            f"for activations) does not fit in the {free / 2**30:.1f} GiB free on {device}; use a smaller shape"
        )
