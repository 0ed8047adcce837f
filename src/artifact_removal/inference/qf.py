"""The QF predictor at work: the quality of an image, from its pixels alone.

An image's answer averages the log-probabilities of up to `count` patches spread over it, on
its own 8x8 block grid (found first, so crops work). The network looks at pixels only, so it
serves images without quantization tables (PNG copies, screenshots, video frames) and images
compressed more than once; for a JPEG file the tables themselves give the quality
(`degradations.jpeg_quality`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..archs.qf_net import ABOVE, QFNet, dct_basis, label_name, nearest_class
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


@torch.inference_mode()
def predict(
    net: QFNet,
    image: np.ndarray,
    count: int = 32,
    patch: int = 64,
    device: torch.device | str = "cpu",
    higher_is_gentler: bool = True,
) -> QFPrediction:
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
    probabilities = torch.softmax(log_p / net.temperature, dim=0).cpu().numpy()
    named = {q: float(p) for q, p in zip(net.labels, probabilities, strict=True)}
    return QFPrediction(gentle_answer(named, GENTLE_TAIL, higher_is_gentler), named, (dy, dx))


def test_qualities(net: QFNet, between: bool) -> list[int | None]:
    """The QFs a set's images are tried at: every class's, with `between` a QF between each
    two neighbouring classes too, and for the class `ABOVE` `ABOVE_TESTS` and None (never
    compressed)."""
    classes = list(net.classes)
    if between:
        classes += [(a + b) // 2 for a, b in pairwise(classes) if (a + b) // 2 not in (a, b)]
    return sorted(classes) + ([*ABOVE_TESTS, None] if net.above else [])


def target_label(net: QFNet, quality: int | None) -> int:
    """The label an image compressed at `quality` (None: never) should get."""
    if net.above and (quality is None or quality in ABOVE_TESTS):
        return ABOVE
    return nearest_class(quality, net.classes)


def set_probabilities(
    net: QFNet,
    folder: Path,
    count: int = 32,
    device: torch.device | str = "cpu",
    progress: bool = True,
    qualities: Sequence[int | None] | None = None,
    crops: bool = False,
) -> tuple[np.ndarray, list, list]:
    """(probabilities (n, labels), target labels, QFs) of every image of a prepared set at
    every QF of `qualities` (default: `test_qualities` without the QFs between classes), and
    with `crops` of each image's four quarters as well. The predictor sees decoded pixels only
    (the files' tables would give the answer away); QFs the set has no files for are
    compressed here (JPEG)."""
    names = keys(folder)
    qualities = test_qualities(net, False) if qualities is None else qualities
    jobs = [(q, k) for q in qualities for k in names]
    rows, targets, tried = [], [], []
    for quality, key in tqdm(
        jobs, desc=f"qf predictor on {Path(folder).name}", disable=not progress, leave=False
    ):
        path = compressed_file(Path(folder), quality, key) if quality is not None else None
        if path is not None and path.is_file():  # a JPEG, or a video frame through H.264 (PNG)
            pixels = read_png(path) if path.suffix == ".png" else decode_jpeg(path.read_bytes())
        else:
            pixels = read_png(Path(folder) / "gt" / f"{key}.png")
            if quality is not None:
                pixels = jpeg_compress(pixels, quality).pixels
        for part in _quarters(pixels) if crops else [pixels]:
            answer = predict(net, part, count, device=device)
            rows.append([answer.probabilities[q] for q in net.labels])
            targets.append(target_label(net, quality))
            tried.append(quality)
    return np.array(rows), targets, tried


def _quarters(pixels: np.ndarray) -> list[np.ndarray]:
    """The image and its four quarters (cut at multiples of 8 plus 3: off the block grid)."""
    h, w = pixels.shape[:2]
    y, x = h // 16 * 8 + 3, w // 16 * 8 + 3
    return [pixels, pixels[:y, :x], pixels[:y, x:], pixels[y:, :x], pixels[y:, x:]]


def calibration_qualities(net: QFNet) -> list[int | None]:
    """What the confidence is calibrated and checked on: every other QF from 1 to 4 past the
    highest class, and, with the class `ABOVE`, QF 80, 90, 95 and never compressed."""
    qualities: list[int | None] = list(range(1, max(net.classes) + 5, 2))
    return qualities + ([80, 90, 95, None] if net.above else [])


def judged(
    net: QFNet, probabilities: np.ndarray, targets: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """For each row of probabilities: the answer's confidence (`QFPrediction.confidence`) and
    whether the answer is the target's class or a neighbour of it (what the confidence
    claims)."""
    labels = list(net.labels)
    confidence, right = [], []
    for row, target in zip(probabilities, targets, strict=True):
        named = dict(zip(labels, row, strict=True))
        answer = QFPrediction(gentle_answer(named), named)
        confidence.append(answer.confidence)
        right.append(abs(labels.index(answer.quality) - labels.index(target)) <= 1)
    return np.array(confidence), np.array(right)


def predict_set(
    net: QFNet,
    folder: Path,
    count: int = 32,
    device: torch.device | str = "cpu",
    progress: bool = True,
    between: bool = False,
) -> tuple[list, list]:
    """(predicted, target) labels of every image of a prepared set at every QF of
    `test_qualities` (see `set_probabilities`); an image between two classes should get the
    nearer one."""
    probabilities, targets, _ = set_probabilities(
        net, folder, count, device, progress, test_qualities(net, between)
    )
    labels = net.labels
    predicted = [gentle_answer(dict(zip(labels, row, strict=True))) for row in probabilities]
    return predicted, targets
