"""Small models of our own that the tests load, probe and edit.

Each one has a shape or a behaviour a real user's model can have and that the
inspector must handle: a module called twice, tied weights, an in-place op
after an ``nn.Identity``, a forward that raises midway, NaN and inf outputs,
outputs that are not plain tensors, ``.item()`` on data. The factory
functions at the end are the ``tests.models:NAME`` callables of the CLI tests.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


class TinyCNN(nn.Module):
    """conv → BatchNorm → in-place ReLU → pool → head: resnet's stem in miniature."""

    def __init__(self, channels: int = 3, classes: int = 4) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(inplace=True),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.head = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.flatten(self.pool(self.features(x))))


class TinyMLP(nn.Module):
    """Two linear layers on ``[N, 4]``: the cheapest model the CLI can run."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Boom(nn.Module):
    """A layer whose forward always raises, like a shape bug deep in a model."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise ValueError(f"boom on a tensor of shape {list(x.shape)}")


class RaisesMidway(nn.Module):
    """Runs two layers (one a BatchNorm with running stats), then raises inside ``block.boom``."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.bn = nn.BatchNorm1d(6)
        self.block = nn.Sequential(nn.ReLU(), Boom())
        self.after = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after(self.block(self.bn(self.fc(x))))


class NanInf(nn.Module):
    """A linear layer whose output has NaN and ±inf planted at known places."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.poison = Poison()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.poison(self.fc(x))


class Poison(nn.Module):
    """Writes NaN, +inf and -inf into a copy of its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        flat = y.view(-1)
        flat[0] = float("nan")
        flat[1] = float("inf")
        flat[2] = float("-inf")
        flat[3] = float("nan")
        return y


class AllNan(nn.Module):
    """Every output value is NaN: no finite value to take a mean of."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x, float("nan"))


class Structured(nn.Module):
    """Returns a dict holding a tuple, a string, None and an int, as detection heads do."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 5)
        self.split = Split()
        self.argmax = ArgMax()

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        h = self.fc(x)
        first, second, label, nothing = self.split(h)
        return {
            "pair": (first, second),
            "label": label,
            "nothing": nothing,
            "classes": self.argmax(h),
            "count": 3,
        }


class Split(nn.Module):
    """Returns a tuple of two float tensors, a string and None."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, str, None]:
        return x[:, :2], x[:, 2:] * 2.0, "text", None


class ArgMax(nn.Module):
    """An integer (int64) output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.argmax(dim=1)


class BoolOut(nn.Module):
    """A bool output: ``x > 0``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x > 0


class NoTensorOut(nn.Module):
    """A model whose output holds no tensor at all."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> str:
        return f"sum={float(self.fc(x).sum()):.3f}"


class SharedTwice(nn.Module):
    """One Linear registered under two names and called twice, plus a branch that never runs."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Linear(4, 4)
        self.again = self.shared  # the same object under a second name
        self.unused = nn.Linear(4, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.shared(torch.relu(self.shared(x))))


class Tied(nn.Module):
    """An embedding and an output layer that share one weight, as language models do."""

    def __init__(self, vocab: int = 10, dim: int = 6) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.proj = nn.Linear(dim, dim)
        self.decode = nn.Linear(dim, vocab, bias=False)
        self.decode.weight = self.embed.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.decode(torch.tanh(self.proj(self.embed(tokens))))


class CallsItem(nn.Module):
    """Reads a value out of the data with ``.item()``: fine on real tensors, impossible on meta."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)
        scale = h.abs().max().item()
        return h / (scale + 1.0)


class IdentityThenInplace(nn.Module):
    """conv → Identity → in-place ReLU: the ReLU overwrites the very tensor the Identity returned."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.keep = nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.keep(self.conv(x)))


class InplaceThenIdentity(nn.Module):
    """conv → in-place ReLU (a functional call, no module) → Identity."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.keep = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        F.relu(h, inplace=True)
        return self.keep(h)


class Hog(nn.Module):
    """Asks for 4 PiB of activations: more than any address space, so the allocation really fails."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.empty(2**50, dtype=torch.float32)[: x.shape[-1]]


class Greedy(nn.Module):
    """A linear layer, then a layer whose allocation fails inside the run."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.hog = Hog()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hog(self.fc(x))


class Conv1dNet(nn.Module):
    """Starts with a Conv1d on 5 channels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(5, 4, 3)
        self.pool = nn.AdaptiveAvgPool1d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


class Conv3dNet(nn.Module):
    """Starts with a Conv3d on 2 channels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(2, 4, 3)
        self.pool = nn.AdaptiveAvgPool3d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


class GroupedConv2d(nn.Module):
    """A grouped Conv2d first: 6 input channels although the weight has 2 per group."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(6, 6, 3, groups=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class LinearFirst(nn.Module):
    """A Linear with 7 inputs first, wrapped one level down."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(7, 3), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Unguessable(nn.Module):
    """No Conv or Linear anywhere: nothing tells what input it takes."""

    def __init__(self) -> None:
        super().__init__()
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x)


class Nested(nn.Module):
    """Three levels of containers, for edits of a parent and its children."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(4, 4)
        self.blocks = nn.Sequential(
            nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4)),
            nn.Sequential(nn.Linear(4, 4), nn.Tanh()),
        )
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


# --------------------------------------------------------------------------- CLI callables


def tiny_cnn() -> nn.Module:
    """``tests.models:tiny_cnn``: a TinyCNN with seeded weights."""
    torch.manual_seed(0)
    return TinyCNN()


def tiny_mlp() -> nn.Module:
    """``tests.models:tiny_mlp``: a TinyMLP with seeded weights (input [1, 4])."""
    torch.manual_seed(0)
    return TinyMLP()


def frozen_backbone() -> nn.Module:
    """``tests.models:frozen_backbone``: a TinyCNN whose features are frozen, as in fine-tuning."""
    model = tiny_cnn()
    for parameter in model.features.parameters():
        parameter.requires_grad_(False)
    return model


def raises_midway() -> nn.Module:
    """``tests.models:raises_midway``."""
    torch.manual_seed(0)
    return RaisesMidway()


def nan_inf() -> nn.Module:
    """``tests.models:nan_inf``."""
    torch.manual_seed(0)
    return NanInf()


def structured() -> nn.Module:
    """``tests.models:structured``."""
    torch.manual_seed(0)
    return Structured()


def no_tensor_out() -> nn.Module:
    """``tests.models:no_tensor_out``."""
    torch.manual_seed(0)
    return NoTensorOut()


def calls_item() -> nn.Module:
    """``tests.models:calls_item``."""
    torch.manual_seed(0)
    return CallsItem()


def unguessable() -> nn.Module:
    """``tests.models:unguessable``."""
    return Unguessable()


def not_a_module() -> str:
    """``tests.models:not_a_module``: returns a string, which the loader must refuse."""
    return "I am not a model"


def raises_when_built() -> nn.Module:
    """``tests.models:raises_when_built``: the factory itself fails."""
    raise RuntimeError("cannot build this model")


NOT_CALLABLE = 42
"""``tests.models:NOT_CALLABLE``: an attribute that is not callable."""
