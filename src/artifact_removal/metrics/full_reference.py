"""Full-reference metrics with the conventions of the JPEG-artifact literature.

Images are uint8 arrays, (H, W, 3) RGB or (H, W) gray, values 0..255. Every function takes its
convention as arguments: `channel` ("rgb" or "y") and `crop_border` (pixels dropped on each side).
PSNR-B counts the pairs of neighbours across block borders exactly; the script behind the
published tables counts one border too few on sides that are not a multiple of 8, which reads
about 0.01 dB lower on LIVE1 (JPEG at QF 10, gray: 25.33 there, 25.34 here).
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


def blocking_effect_factor(image: np.ndarray, block: int = 8, offset: int = 0) -> float:
    """Yim and Bovik's BEF of one (H, W) channel: how much more neighbours differ across blocks.

    Squared differences of horizontal and vertical neighbours are averaged separately on
    pairs that straddle a block border and on all other pairs; BEF is their difference times
    eta = log2(block) / log2(min(H, W)), and 0 when the borders are no rougher. `offset` is
    how far the image's first row and column lie from the block grid (after a border crop).
    """
    image = image.astype(np.float64)
    h, w = image.shape
    dh = np.diff(image, axis=1) ** 2  # (H, W-1): pair (x, x+1)
    dv = np.diff(image, axis=0) ** 2  # (H-1, W): pair (y, y+1)
    on_h = (np.arange(1, w) + offset) % block == 0
    on_v = (np.arange(1, h) + offset) % block == 0
    across = dh[:, on_h].sum() + dv[on_v].sum()
    n_across = h * on_h.sum() + w * on_v.sum()
    within = dh[:, ~on_h].sum() + dv[~on_v].sum()
    n_within = h * (~on_h).sum() + w * (~on_v).sum()
    if n_across == 0 or n_within == 0:
        return 0.0
    d_across, d_within = across / n_across, within / n_within
    if d_across <= d_within:
        return 0.0
    return float(np.log2(block) / np.log2(min(h, w)) * (d_across - d_within))


def psnr_b(gt: np.ndarray, pred: np.ndarray, channel: Channel = "y", crop_border: int = 0) -> float:
    """PSNR-B in dB (Yim and Bovik, IEEE TIP 2011): MSE plus the BEF of `pred`, never of `gt`.

    The blocking-effect factor is measured on the image under test (compressed or restored)
    on the 8x8 grid of the uncropped image; on RGB it is averaged over the three channels.
    """
    a, b = _prepare(gt, pred, channel, crop_border)
    planes = b[..., None] if b.ndim == 2 else b
    bef = np.mean(
        [blocking_effect_factor(planes[..., c], 8, crop_border) for c in range(planes.shape[-1])]
    )
    mse_b = float(np.mean((a - b) ** 2)) + bef
    return float("inf") if mse_b == 0 else float(10 * np.log10(255.0**2 / mse_b))
