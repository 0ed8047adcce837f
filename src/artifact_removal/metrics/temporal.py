"""Temporal consistency of a restored clip against its original (lower is better for both).

- Flicker error: the mean over frames t >= 1 and pixels of |(p_t - p_{t-1}) - (g_t - g_{t-1})|,
  on 8-bit RGB values. A restoration that changes from frame to frame where the original does
  not (flicker, crawling texture) raises it; a still frame's noise does not.
- tOF (Chu et al., "Learning temporal coherence via self-supervision for GAN-based video
  generation", TecoGAN, 2020): the mean over frames t >= 1 and pixels of the length of the
  difference between the optical flow from p_{t-1} to p_t and from g_{t-1} to g_t. Flow is
  OpenCV's Farneback on 8-bit luma (BT.601), with the parameters stated in FARNEBACK.

Frames are (T, H, W, 3) uint8 arrays, T >= 2, the restoration and the original of equal shape.
"""

from __future__ import annotations

import numpy as np

# pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags: OpenCV's documented example
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)


def _check(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape or pred.ndim != 4 or pred.shape[3] != 3 or len(pred) < 2:
        raise ValueError(
            f"need two (T >= 2, H, W, 3) clips of one shape, got {pred.shape} and {gt.shape}"
        )


def flicker_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean |(p_t - p_{t-1}) - (g_t - g_{t-1})| over t >= 1, 8-bit RGB levels."""
    _check(pred, gt)
    total = 0.0
    for t in range(1, len(pred)):  # frame pairs one at a time: memory of one frame, not a clip
        dp = pred[t].astype(np.int16) - pred[t - 1]
        dg = gt[t].astype(np.int16) - gt[t - 1]
        total += float(np.abs(dp - dg).mean())
    return total / (len(pred) - 1)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """8-bit BT.601 luma (full range), as OpenCV's RGB-to-gray conversion."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def optical_flow(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """(H, W, 2) Farneback flow from one RGB uint8 frame to the next, in pixels."""
    import cv2

    return cv2.calcOpticalFlowFarneback(_luma(previous), _luma(current), None, *FARNEBACK)


def tof(pred: np.ndarray, gt: np.ndarray) -> float:
    """tOF: mean over t >= 1 and pixels of |flow(p_{t-1}, p_t) - flow(g_{t-1}, g_t)|, pixels."""
    _check(pred, gt)
    total = 0.0
    for t in range(1, len(pred)):
        diff = optical_flow(pred[t - 1], pred[t]) - optical_flow(gt[t - 1], gt[t])
        total += float(np.sqrt((diff**2).sum(axis=2)).mean())
    return total / (len(pred) - 1)
