"""Losses: known answers, and SSIM against scikit-image's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from artifact_removal.degradations.jpeg import jpeg_compress
from artifact_removal.losses.pixel import WeightedLoss


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255


def test_mse_and_l1_known_answers():
    gt = torch.zeros(1, 3, 4, 4)
    pred = torch.full((1, 3, 4, 4), 0.5)
    total, terms = WeightedLoss({"mse": 2.0, "l1": 1.0})(pred, gt)
    assert terms == {"mse": 0.25, "l1": 0.5}
    assert float(total) == pytest.approx(2 * 0.25 + 0.5)


def test_ssim_loss_matches_scikit_image(photo):
    lq = jpeg_compress(photo, 10).pixels
    reference = structural_similarity(
        photo, lq, data_range=255, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, channel_axis=-1,
    )  # fmt: skip
    _, terms = WeightedLoss({"ssim": 1.0})(to_tensor(lq)[None], to_tensor(photo)[None])
    assert 1 - terms["ssim"] == pytest.approx(reference, abs=2e-3)


def test_ssim_loss_is_zero_for_identical_images_and_differentiable(photo):
    gt = to_tensor(photo)[None]
    pred = (gt + 0.05 * torch.randn_like(gt)).clamp(0, 1).requires_grad_()
    total, _ = WeightedLoss({"ssim": 1.0})(pred, gt)
    total.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    assert WeightedLoss({"ssim": 1.0})(gt, gt)[1]["ssim"] == pytest.approx(0, abs=1e-6)


def test_unknown_loss_name():
    with pytest.raises(ValueError, match="unknown"):
        WeightedLoss({"perceptual": 1.0})
    with pytest.raises(ValueError):
        WeightedLoss({})
