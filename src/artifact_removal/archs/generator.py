"""Networks. The Galteri et al. generator and its smaller presets.

Generator (ICCV 2017 / TMM 2019): a fully convolutional residual network. The first 3x3
convolution has stride 2 and halves the feature maps; residual blocks of two 3x3 convolutions
(1-pixel padding, LeakyReLU) work at half resolution; nearest-neighbour upsampling followed by a
convolution (no transposed convolution, so no checkerboard) restores the size; the output
convolution ends in tanh. With 64 filters and 15 blocks it has 1.148 M parameters and costs about
291 GMAC per 1280x720 frame, 88% of it in the residual blocks.

Inputs and outputs of `forward` are (N, 3, H, W) in [-1, 1]; H and W need not be even (the
input is padded by reflection and the output cropped back).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .registry import architecture


@dataclass(frozen=True)
class GeneratorConfig:
    """Width, depth and output mode of a generator; `residual` adds the input to the output."""

    channels: int = 64
    blocks: int = 15
    residual: bool = False
    negative_slope: float = 0.2


# Presets of the same code. `paper` is the network of the papers; the smaller ones trade
# quality for speed (the 2020 video paper's "fast" and "very fast" networks are smaller
# versions of the same generator; these widths and depths are this project's choice).
# The small presets predict a correction added to the input, which trains in minutes on a CPU.
PRESETS = {
    "paper": GeneratorConfig(64, 15, residual=False),
    "fast": GeneratorConfig(48, 8, residual=True),
    "very_fast": GeneratorConfig(32, 6, residual=True),
    "tiny": GeneratorConfig(16, 2, residual=True),
}


class ResidualBlock(nn.Module):
    """conv3x3 - LeakyReLU - conv3x3, plus the input."""

    def __init__(self, channels: int, negative_slope: float):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.LeakyReLU(negative_slope, inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) -> (N, C, h, w)."""
        return x + self.conv2(self.act(self.conv1(x)))


@architecture("generator", "generator", GeneratorConfig)
class Generator(nn.Module):
    """Galteri et al.'s generator; see the module docstring."""

    def __init__(self, config: GeneratorConfig = PRESETS["paper"]):
        super().__init__()
        self.config = config
        c, slope = config.channels, config.negative_slope
        self.head = nn.Sequential(nn.Conv2d(3, c, 3, stride=2, padding=1), nn.LeakyReLU(slope))
        self.body = nn.Sequential(*(ResidualBlock(c, slope) for _ in range(config.blocks)))
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c, c, 3, padding=1),
            nn.LeakyReLU(slope),
        )
        self.tail = nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) compressed in [0, 1] -> (N, 3, H, W) restored in [0, 1]. The layers
        work in [-1, 1]; the mapping is here, and the output's in float32 (under bf16
        autocast the last step's rounding would cost half a grey level)."""
        lq = image * 2 - 1
        height, width = lq.shape[-2:]
        x = F.pad(lq, (0, width % 2, 0, height % 2), mode="replicate")  # (N, 3, 2h, 2w)
        x = self.head(x)  # (N, C, h, w)
        x = self.up(self.body(x))  # (N, C, 2h, 2w)
        x = self.tail(x)[..., :height, :width]  # (N, 3, H, W)
        if not self.config.residual:
            return (torch.tanh(x).float() + 1) / 2
        out = lq + torch.tanh(x)
        # Clamping in training would cut the gradient wherever the sum leaves [-1, 1], so the
        # network would learn unpenalised offsets in dark and bright areas (a colour cast
        # elsewhere); the loss sees the unclamped sum and only inference clamps it.
        return ((out if self.training else out.clamp(-1, 1)).float() + 1) / 2


def build_generator(preset: str) -> Generator:
    """A generator from a preset name (`paper`, `fast`, `very_fast`, `tiny`)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown generator preset {preset!r}; choose one of {list(PRESETS)}")
    return Generator(PRESETS[preset])


def generator_args(model: Generator) -> dict:
    """The arguments that rebuild `model` (stored in checkpoints)."""
    return asdict(model.config)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
