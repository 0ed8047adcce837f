"""The QF predictor at work: the quality of an image, from its pixels alone.

An image's answer averages the log-probabilities of up to `count` patches spread over it, on
its own 8x8 block grid (found first, so crops work). The network looks at pixels only, so it
serves images without quantization tables (PNG copies, screenshots, video frames) and images
compressed more than once; for a JPEG file the tables themselves give the quality
(`degradations.jpeg_quality`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..archs.qf_net import ABOVE, QFNet, dct_basis, label_name
from ..data.images import read_png
from ..data.prepared import compressed_file, keys
from ..degradations.jpeg import decode_jpeg, jpeg_compress

ABOVE_TESTS = (90,)  # QFs the class "above" is tried with, beside uncompressed images


def _as_rgb(pixels: np.ndarray) -> np.ndarray:
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


@torch.inference_mode()
def grid_offset(image: np.ndarray, region: int = 512) -> tuple[int, int]:
    """Where the 8x8 block grid of a decoded JPEG starts, (dy, dx) in 0..7.

    On its own grid a JPEG's blocks have sparse DCTs: quantization set most AC coefficients
    to zero, and decoding keeps them near it. Blocks straddling the grid mix two blocks and
    are not sparse. The offset is the phase with the smallest mean log(1 + |AC|), over a
    central region of at most `region` pixels square. (Blockiness, the jump in pixels across
    block borders, fades as the QF rises, and some photographs have structure of their own
    at the period of 8 rows: it was wrong for 19 of 756 LIVE1 and Classic5 images, this for
    none.) A crop of a JPEG has its grid shifted; an uncropped one gives (0, 0).
    """
    luma = (
        image.astype(np.float32)
        if image.ndim == 2
        else image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    )
    height, width = luma.shape
    if height < 16 or width < 16:
        return 0, 0
    h, w = min(height, region + 7), min(width, region + 7)
    y0, x0 = (height - h) // 16 * 8, (width - w) // 16 * 8  # on the image's own phase
    crop = torch.from_numpy(np.ascontiguousarray(luma[y0 : y0 + h, x0 : x0 + w]))[None, None]
    ac = F.conv2d(crop, dct_basis()[1:])  # the 63 AC coefficients of the block at every pixel
    sparsity = torch.log1p(ac.abs()).mean(dim=1)[0].numpy()
    scores = np.array([[sparsity[dy::8, dx::8].mean() for dx in range(8)] for dy in range(8)])
    dy, dx = np.unravel_index(int(scores.argmin()), scores.shape)
    return int(dy), int(dx)


@dataclass(frozen=True)
class QFPrediction:
    """The predicted QF of an image (`ABOVE`: above the ensemble's QFs, or never compressed),
    the probability of every label, and the block grid used."""

    quality: int
    probabilities: dict[int, float]
    offset: tuple[int, int] = (0, 0)

    @property
    def label(self) -> str:
        """The answer in words: '30', or 'above 60' for `ABOVE`."""
        return label_name(self.quality, tuple(self.probabilities))

    @property
    def confidence(self) -> float:
        """The probability of the predicted class."""
        return self.probabilities[self.quality]


@torch.inference_mode()
def predict(net: QFNet, image: np.ndarray, count: int = 32, patch: int = 64,
            device: torch.device | str = "cpu") -> QFPrediction:  # fmt: skip
    """The QF of an (H, W, 3) or (H, W) uint8 image: mean log-probability over its patches.

    Patches are taken on the image's block grid (`grid_offset`), so crops work too.
    """
    rgb = _as_rgb(image)
    dy, dx = grid_offset(rgb)
    if rgb.shape[0] - dy >= patch and rgb.shape[1] - dx >= patch:
        rgb = rgb[dy:, dx:]
    else:
        dy = dx = 0
    if rgb.shape[0] < patch or rgb.shape[1] < patch:  # too small: pad by reflection
        pad_y, pad_x = max(patch - rgb.shape[0], 0), max(patch - rgb.shape[1], 0)
        rgb = np.pad(rgb, ((0, pad_y), (0, pad_x), (0, 0)), mode="symmetric")
    crops = [rgb[y : y + patch, x : x + patch] for y, x in patch_grid(rgb.shape, patch, count)]
    batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().to(device) / 255
    log_p = F.log_softmax(net(batch).float(), dim=1).mean(dim=0)
    probabilities = torch.softmax(log_p, dim=0).cpu().numpy()
    labels = net.labels
    return QFPrediction(
        labels[int(probabilities.argmax())],
        {q: float(p) for q, p in zip(labels, probabilities, strict=True)},
        (dy, dx),
    )


def predict_set(net: QFNet, folder: Path, count: int = 32, device: torch.device | str = "cpu",
                progress: bool = True) -> tuple[list[int], list[int]]:  # fmt: skip
    """(predicted, target) labels of every image of a prepared set at every QF of the net.

    The predictor sees decoded pixels only (the files' tables would give the answer away).
    With the class `ABOVE`, its targets are each image compressed at `ABOVE_TESTS` QFs and
    the image itself, never compressed.
    """
    names = keys(folder)
    jobs = [(q, k) for q in net.classes for k in names]
    if net.above:
        jobs += [(q, k) for q in (*ABOVE_TESTS, None) for k in names]
    predicted, target = [], []
    for quality, key in tqdm(jobs, desc=f"qf predictor on {Path(folder).name}",
                             disable=not progress, leave=False):  # fmt: skip
        if quality in net.classes:  # a JPEG, or a video frame through H.264 (as PNG)
            path = compressed_file(Path(folder), quality, key)
            pixels = read_png(path) if path.suffix == ".png" else decode_jpeg(path.read_bytes())
        else:
            pixels = read_png(Path(folder) / "gt" / f"{key}.png")
            if quality is not None:
                pixels = jpeg_compress(pixels, quality).pixels
        predicted.append(predict(net, pixels, count, device=device).quality)
        target.append(quality if quality in net.classes else ABOVE)
    return predicted, target
