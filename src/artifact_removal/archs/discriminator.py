"""Galteri et al.'s conditional sub-patch discriminator.

The discriminator (ICCV 2017 / TMM 2019) sees a candidate image together with the compressed
image it was restored from (concatenated on channels) and decides, for every pixel it can see,
whether the candidate is an original. Its convolutions have stride 1 and no padding, so each
layer trims one pixel on every side; LeakyReLU follows each; the number of filters doubles every
two layers; there is no fully connected layer. A 1x1 convolution and a sigmoid give a decision
per pixel, and the decisions are averaged over each `sub_patch` x `sub_patch` region of the
input: a 128x128 patch gets 8x8 verdicts of 16x16 sub-patches, and binary cross-entropy runs
over all of them (`losses.adversarial`). Judging small regions is what drives out mosquito noise.

Images are (N, 3, H, W) in [-1, 1], H and W multiples of `sub_patch`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Filters of the first layers, number of 3x3 layers, side of the judged sub-patches."""

    channels: int = 64
    layers: int = 6
    sub_patch: int = 16
    negative_slope: float = 0.2


class Discriminator(nn.Module):
    """Probability that each sub-patch of `candidate` is an original, given `compressed`."""

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        if not 0 < config.layers < config.sub_patch:
            raise ValueError(f"layers must be 1..{config.sub_patch - 1} (each trims a pixel)")
        self.config = config
        body, width = [], 6  # candidate and compressed, RGB each
        for i in range(config.layers):
            filters = config.channels * 2 ** (i // 2)
            body += [nn.Conv2d(width, filters, 3), nn.LeakyReLU(config.negative_slope, True)]
            width = filters
        body.append(nn.Conv2d(width, 1, 1))  # one decision per pixel
        self.body = nn.Sequential(*body)

    def forward(self, candidate: torch.Tensor, compressed: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) twice, in [0, 1] -> (N, 1, H / s, W / s) probabilities, s = sub_patch
        (the layers see both in [-1, 1])."""
        s, trim = self.config.sub_patch, self.config.layers
        h, w = candidate.shape[-2:]
        if h % s or w % s or compressed.shape != candidate.shape:
            raise ValueError(
                f"discriminator: inputs must share a shape with sides divisible by {s}, "
                f"got {tuple(candidate.shape)} and {tuple(compressed.shape)}"
            )
        signed = torch.cat([candidate * 2 - 1, compressed * 2 - 1], 1)
        decisions = torch.sigmoid(self.body(signed).float())
        # Put each decision back at the pixel it is centred on; average those in each region.
        placed = F.pad(decisions, (trim,) * 4)  # (N, 1, H, W), zeros where nothing was decided
        seen = F.pad(torch.ones_like(decisions[:1]), (trim,) * 4)
        return F.avg_pool2d(placed, s) / F.avg_pool2d(seen, s)  # (N, 1, H/s, W/s)


def discriminator_args(net: Discriminator) -> dict:
    """The keyword arguments that rebuild `net` (for checkpoints)."""
    return asdict(net.config)
