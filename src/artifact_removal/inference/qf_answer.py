"""The QF predictor's answer, without torch: the patches it looks at, on the image's own 8x8
grid, and its answer from their probabilities. `inference.qf` runs the PyTorch network on them,
`inference.onnx_backend` an ONNX export of it; both give the same answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..archs.qf_labels import label_name

JFIF_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # what libjpeg quantises


def as_rgb(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) pixels; gray images as three equal channels."""
    return np.repeat(pixels[:, :, None], 3, axis=2) if pixels.ndim == 2 else pixels


def patch_grid(shape: tuple[int, ...], patch: int, count: int) -> list[tuple[int, int]]:
    """Up to `count` top-left corners of patches on the 8x8 grid, spread evenly over an image.

    Images smaller than a patch give one corner (the image is then padded, see `predict`).
    """
    height, width = shape[:2]
    ys = list(range(0, max(height - patch, 0) + 1, patch)) or [0]
    xs = list(range(0, max(width - patch, 0) + 1, patch)) or [0]
    corners = [(y, x) for y in ys for x in xs]
    if len(corners) <= count:
        return corners
    pick = np.linspace(0, len(corners) - 1, count).round().astype(int)
    return [corners[i] for i in pick]


def grid_crop(image: np.ndarray, region: int = 512) -> np.ndarray | None:
    """The luma of a central region of at most `region` (+7) pixels square, on the image's own
    phase, where `grid_offset` looks for the block grid; None for an image under 16 pixels."""
    luma = image.astype(np.float32) if image.ndim == 2 else image.astype(np.float32) @ JFIF_LUMA
    height, width = luma.shape
    if height < 16 or width < 16:
        return None
    h, w = min(height, region + 7), min(width, region + 7)
    y0, x0 = (height - h) // 16 * 8, (width - w) // 16 * 8
    return np.ascontiguousarray(luma[y0 : y0 + h, x0 : x0 + w])


def grid_phase(sparsity: np.ndarray) -> tuple[int, int]:
    """(dy, dx) in 0..7 whose blocks have the sparsest DCTs: `sparsity` is the mean
    log(1 + |AC|) of the 8x8 block at every pixel of `grid_crop`."""
    scores = np.array([[sparsity[dy::8, dx::8].mean() for dx in range(8)] for dy in range(8)])
    dy, dx = np.unravel_index(int(scores.argmin()), scores.shape)
    return int(dy), int(dx)


def predictor_patches(
    image: np.ndarray, offset: tuple[int, int], patch: int = 64, count: int = 32
) -> tuple[np.ndarray, tuple[int, int]]:
    """(N, patch, patch, 3) uint8 patches spread over an image on its block grid (`offset`,
    from `grid_offset`), and the offset used ((0, 0) when the image is too small to shift)."""
    rgb = as_rgb(image)
    dy, dx = offset
    if rgb.shape[0] - dy >= patch and rgb.shape[1] - dx >= patch:
        rgb = rgb[dy:, dx:]
    else:
        dy = dx = 0
    if rgb.shape[0] < patch or rgb.shape[1] < patch:  # too small: pad by reflection
        pad_y, pad_x = max(patch - rgb.shape[0], 0), max(patch - rgb.shape[1], 0)
        rgb = np.pad(rgb, ((0, pad_y), (0, pad_x), (0, 0)), mode="symmetric")
    crops = [rgb[y : y + patch, x : x + patch] for y, x in patch_grid(rgb.shape, patch, count)]
    return np.stack(crops), (dy, dx)


# The answer is the gentlest label (highest QF) with at least this much probability at or
# above it: a sure prediction is its most probable label, an unsure one leans to the gentler
# generator (one too strong smooths what it cannot restore; one too gentle leaves artifacts).
GENTLE_TAIL = 0.2


@dataclass(frozen=True)
class QFPrediction:
    """The predicted QF of an image (`ABOVE`: above the ensemble's QFs, or never compressed),
    the (calibrated) probability of every label, and the block grid used."""

    quality: int
    probabilities: dict[int, float]
    offset: tuple[int, int] = (0, 0)

    @property
    def label(self) -> str:
        """The answer in words: '30', or 'above 60' for `ABOVE`."""
        return label_name(self.quality, tuple(self.probabilities))

    @property
    def confidence(self) -> float:
        """The probability that the QF is the answer's class or a neighbouring one (classes
        finer than the ensemble's QFs share an image between neighbours)."""
        labels = sorted(self.probabilities)
        i = labels.index(self.quality)
        return float(sum(self.probabilities[q] for q in labels[max(i - 1, 0) : i + 2]))


def gentle_answer(
    probabilities: dict[int, float], tail: float = GENTLE_TAIL, higher_is_gentler: bool = True
) -> int:
    """The gentlest label with at least `tail` of the probability on its gentle side: the
    highest for JPEG QFs, the lowest for H.264 CRFs (`higher_is_gentler` False)."""
    beyond = 0.0
    for label in sorted(probabilities, reverse=higher_is_gentler):
        beyond += probabilities[label]
        if beyond >= tail:
            return label
    return sorted(probabilities, reverse=not higher_is_gentler)[0]
