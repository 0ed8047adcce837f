"""Losses by name with weights: `{"ssim": 1.0}`, `{"mse": 1.0}`, `{"l1": 0.5, "ssim": 0.5}`.

Inputs are (N, 3, H, W) in [0, 1]. SSIM comes from pytorch-msssim (Gaussian window 11,
sigma 1.5, as the metric) and enters as 1 - SSIM.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from pytorch_msssim import ssim as _ssim
from torch import nn


def ssim_loss(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """1 - SSIM over RGB, mean over the batch; inputs (N, 3, H, W) in [0, 1]."""
    return 1 - _ssim(pred.float(), gt.float(), data_range=1.0, size_average=True)


LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss, "ssim": ssim_loss}


class WeightedLoss(nn.Module):
    """Sum of named losses times their weights; also returns each term for logging."""

    def __init__(self, weights: Mapping[str, float]):
        super().__init__()
        unknown = set(weights) - set(LOSSES)
        if unknown or not weights:
            raise ValueError(f"losses: unknown {sorted(unknown)}; choose from {sorted(LOSSES)}")
        self.weights = dict(weights)

    def forward(self, pred: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """(total, {name: value}) for (N, 3, H, W) tensors in [0, 1]."""
        terms = {name: LOSSES[name](pred, gt) for name in self.weights}
        total = sum(self.weights[name] * value for name, value in terms.items())
        return total, {name: float(value.detach()) for name, value in terms.items()}
