"""The GAN's binary cross-entropy over sub-patch decisions, for both players.

Decisions are probabilities (N, 1, h, w) from `archs.discriminator.Discriminator`, one per
judged sub-patch; every loss is a mean over all of them.
"""

from __future__ import annotations

import torch

_EPS = 1e-6  # probabilities are kept in [eps, 1 - eps] inside the logarithms


def _bce(probabilities: torch.Tensor, target: float) -> torch.Tensor:
    """Binary cross-entropy of probabilities against a constant label, mean over sub-patches."""
    p = probabilities.float().clamp(_EPS, 1 - _EPS)
    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-log D(I | I_C) - log(1 - D(G(I_C) | I_C)) over every sub-patch of the batch."""
    return _bce(real, 1.0) + _bce(fake, 0.0)


def adversarial_loss(fake: torch.Tensor) -> torch.Tensor:
    """The generator's l_adv = -log D(G(I_C) | I_C), mean over every sub-patch."""
    return _bce(fake, 1.0)


def accuracy(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Share of sub-patches the discriminator gets right (originals > 0.5, restored < 0.5)."""
    right = (real > 0.5).float().sum() + (fake < 0.5).float().sum()
    return float(right / (real.numel() + fake.numel()))
