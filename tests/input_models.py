"""Small models whose forward takes something other than one image tensor: the input corpus.

Each stands for a family the tool must feed: siamese pairs, a diffusion
step ``(x, t)``, a graph layer ``(x, adj)``, a keyword-only forward, a dict,
token ids with a mask, sequence models (LSTM, attention, transformer
first), a waveform, a Conv2d-subclass stem, a head registered before the
stem, a lazy first layer, and a forward that differentiates. The factory
functions are the ``tests.input_models:NAME`` callables of the CLI tests.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Siamese(nn.Module):
    """One encoder applied to two inputs; the distance between their codes."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return F.pairwise_distance(self.encoder(x1), self.encoder(x2))


class DiffusionStep(nn.Module):
    """A denoiser step: the image and an integer timestep looked up in an embedding."""

    def __init__(self, steps: int = 100) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(3, 8, 3, padding=1)
        self.time = nn.Embedding(steps, 8)
        self.conv_out = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x) + self.time(t)[:, :, None, None]
        return self.conv_out(F.silu(h))


class GraphLayer(nn.Module):
    """A graph convolution: node features ``[N, F]`` mixed by an adjacency ``[N, N]``."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(6, 5)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        return adj @ self.lin(x)


class KeywordOnly(nn.Module):
    """A forward that takes its input by keyword only."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, *, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features)


class DictInput(nn.Module):
    """A forward that takes one dict (an image and a mask) and returns a dict."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        features = self.conv(batch["image"]) * batch["mask"][:, None]
        return {"features": features, "pooled": features.mean(dim=(2, 3))}


class TokensWithMask(nn.Module):
    """Token ids through an embedding, averaged under an attention mask."""

    def __init__(self, vocab: int = 50) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.head = nn.Linear(8, 2)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.embed(input_ids)
        if attention_mask is not None:
            h = h * attention_mask[..., None].to(h.dtype)
        return self.head(h.mean(dim=1))


class LSTMFirst(nn.Module):
    """An LSTM on ``[N, T, 6]`` (batch first), the last step to a head."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(6, 10, batch_first=True)
        self.head = nn.Linear(10, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class AttentionFirst(nn.Module):
    """Self-attention on ``[T, N, 8]`` (sequence first, torch's default)."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2)
        self.norm = nn.LayerNorm(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.attention(x, x, x)
        return self.norm(h + x)


class TransformerFirst(nn.Module):
    """A transformer encoder layer on ``[N, T, 8]`` (batch first)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x).mean(dim=1))


class Waveform(nn.Module):
    """Raw audio ``[N, 1, samples]`` through a strided Conv1d, as speech front-ends do."""

    def __init__(self) -> None:
        super().__init__()
        self.frontend = nn.Conv1d(1, 4, 400, stride=160)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(F.relu(self.frontend(x))).flatten(1))


class StdConv2d(nn.Conv2d):
    """A Conv2d with weight standardisation, like timm's StdConv2d: a subclass, not the class itself."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None, training=True, eps=1e-6)
        return F.conv2d(x, weight.reshape_as(self.weight), self.bias, self.stride, self.padding)


class SubclassStem(nn.Module):
    """A stem made of a Conv2d subclass on 2 channels."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = StdConv2d(2, 8, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.stem(x)).flatten(1))


class HeadFirst(nn.Module):
    """The head is registered before the stem: registration order says Linear(8), execution says Conv2d(3)."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(8, 2)
        self.stem = nn.Conv2d(3, 8, 3, stride=4)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.stem(x)).flatten(1))


class LazyNet(nn.Module):
    """A LazyLinear first: its input size is only known once it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.LazyLinear(4)
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.fc(x)))


class EnergyGradient(nn.Module):
    """Returns the force ``-dE/dx`` of a learned energy: its forward needs autograd."""

    def __init__(self) -> None:
        super().__init__()
        self.energy = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        (gradient,) = torch.autograd.grad(self.energy(x).sum(), x)
        return -gradient


class Chatty(HeadFirst):
    """Prints from its forward, as many research models do; the guess runs it on meta before any report."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        print(f"forward on {tuple(x.shape)}")
        return super().forward(x)


def siamese() -> nn.Module:
    torch.manual_seed(0)
    return Siamese()


def diffusion_step() -> nn.Module:
    torch.manual_seed(0)
    return DiffusionStep()


def graph_layer() -> nn.Module:
    torch.manual_seed(0)
    return GraphLayer()


def keyword_only() -> nn.Module:
    torch.manual_seed(0)
    return KeywordOnly()


def dict_input() -> nn.Module:
    torch.manual_seed(0)
    return DictInput()


def tokens_with_mask() -> nn.Module:
    torch.manual_seed(0)
    return TokensWithMask()


def lstm_first() -> nn.Module:
    torch.manual_seed(0)
    return LSTMFirst()


def attention_first() -> nn.Module:
    torch.manual_seed(0)
    return AttentionFirst()


def transformer_first() -> nn.Module:
    torch.manual_seed(0)
    return TransformerFirst()


def waveform() -> nn.Module:
    torch.manual_seed(0)
    return Waveform()


def subclass_stem() -> nn.Module:
    torch.manual_seed(0)
    return SubclassStem()


def head_first() -> nn.Module:
    torch.manual_seed(0)
    return HeadFirst()


def chatty() -> nn.Module:
    torch.manual_seed(0)
    return Chatty()


def lazy_net() -> nn.Module:
    torch.manual_seed(0)
    return LazyNet()


def energy_gradient() -> nn.Module:
    torch.manual_seed(0)
    return EnergyGradient()


HELD: dict[str, nn.Module] = {}
"""Models the CLI tests built through a callable, kept so that the test can look at them after the run."""


def held_resnet18() -> nn.Module:
    import torchvision

    torch.manual_seed(0)
    HELD["resnet18"] = torchvision.models.resnet18()
    return HELD["resnet18"]
