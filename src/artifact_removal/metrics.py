"""Full-reference metrics with the conventions of the JPEG-artifact literature.

Images are uint8 arrays, (H, W, 3) RGB or (H, W) gray, values 0..255. Every function takes its
convention as arguments: `channel` ("rgb" or "y") and `crop_border` (pixels dropped on each side).
Y is BT.601 YCbCr as MATLAB's `rgb2ycbcr` (16..235), kept in floating point; for a gray image Y
is its own values, as gray benchmark sets are scored. SSIM uses a Gaussian window
(sigma 1.5) with population covariance and no downsampling, which reproduces the published
JPEG rows (LIVE1 gray QF 10: 27.77 dB, 0.773).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

Channel = Literal["rgb", "y"]
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255.0


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) 0..255 RGB -> (H, W) float64 BT.601 luma in 16..235; (H, W) gray is returned."""
    if image.ndim == 2:
        return image.astype(np.float64)
    return 16.0 + image.astype(np.float64) @ _Y_WEIGHTS


def _prepare(gt: np.ndarray, pred: np.ndarray, channel: Channel, crop_border: int):
    """Check shapes, crop borders, select the channel; both arrays as float64."""
    if gt.shape != pred.shape:
        raise ValueError(f"images differ in shape: {gt.shape} and {pred.shape}")
    if channel not in ("rgb", "y"):
        raise ValueError(f"channel must be 'rgb' or 'y', got {channel!r}")
    if crop_border:
        gt = gt[crop_border:-crop_border, crop_border:-crop_border]
        pred = pred[crop_border:-crop_border, crop_border:-crop_border]
    if channel == "y":
        return rgb_to_y(gt), rgb_to_y(pred)
    return gt.astype(np.float64), pred.astype(np.float64)


def psnr(gt: np.ndarray, pred: np.ndarray, channel: Channel = "rgb", crop_border: int = 0) -> float:
    """PSNR in dB with a data range of 255 (MSE over all pixels and channels)."""
    a, b = _prepare(gt, pred, channel, crop_border)
    if np.array_equal(a, b):
        return float("inf")
    return float(peak_signal_noise_ratio(a, b, data_range=255))


def ssim(gt: np.ndarray, pred: np.ndarray, channel: Channel = "rgb", crop_border: int = 0) -> float:
    """SSIM (Gaussian window, sigma 1.5, population covariance), mean over channels."""
    a, b = _prepare(gt, pred, channel, crop_border)
    return float(
        structural_similarity(
            a,
            b,
            data_range=255,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            channel_axis=-1 if a.ndim == 3 else None,
        )
    )
