"""NoGAN's loss: LPIPS (Zhang et al. 2018) plus L1, as Mameli et al. train their generator.

LPIPS compares deep features of two images through linear layers calibrated on people's
judgements. The `lpips` package ships those linear layers; its backbone (AlexNet or VGG-16) is
torchvision's ImageNet network, read here from the file the pretrained manifest names
(`pretrained.weights_for`), never downloaded. Without it the loss stops with an error naming
the file, unless a fallback is chosen: `random_<backbone>`, the same network with seeded random
weights, whose name (`LpipsLoss.name`) must travel with every result, as for the GAN's VGG-19.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..metrics.lpips import lpips_network as lpips_network
from .pixel import WeightedLoss


class LpipsLoss(nn.Module):
    """A weighted sum of LPIPS and pixel losses (`losses.pixel`: mse, l1, ssim) of (N, 3, H, W)
    images in [-1, 1]: `{"lpips": 1, "l1": 1}` is NoGAN's; `{"mse": 1}` and `{"ssim": 1}` are
    Table I's other rows of the same generator, which need no LPIPS network at all."""

    def __init__(
        self,
        backbone: str = "vgg",
        weights: Path | None = None,
        fallback: str | None = None,
        terms: Mapping[str, float] | None = None,
        seed: int = 0,
    ):
        super().__init__()
        terms = dict(terms or {"lpips": 1.0, "l1": 1.0})
        self.lpips_weight = terms.pop("lpips", 0.0)
        self.pixel = WeightedLoss(terms) if terms else None
        self.lpips, lpips_name = (
            lpips_network(backbone, weights, fallback, seed) if self.lpips_weight else (None, "")
        )
        names = ([lpips_name] if self.lpips else []) + list(terms)
        self.name = " + ".join(names)  # e.g. "random_alex_lpips + l1": travels with results

    def forward(self, pred: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"loss": the weighted sum, and each term (detached)}."""
        total, found = 0.0, {}
        if self.lpips is not None:
            perceptual = self.lpips(pred, gt).mean()
            total, found["lpips"] = self.lpips_weight * perceptual, perceptual.detach()
        if self.pixel is not None:
            pixel, terms = self.pixel((pred + 1) / 2, (gt + 1) / 2)  # pixel losses take [0, 1]
            total = total + pixel
            found |= {k: torch.tensor(v) for k, v in terms.items()}
        return {"loss": total} | found
