"""The QF predictor at work: the quality of an image, from its pixels alone.

An image's answer averages the log-probabilities of up to `count` patches spread over it, on
its own 8x8 block grid (found first, so crops work). The network looks at pixels only, so it
serves images without quantization tables (PNG copies, screenshots, video frames) and images
compressed more than once; for a JPEG file the tables themselves give the quality
(`degradations.jpeg_quality`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..archs.qf_labels import ABOVE, nearest_class
from ..archs.qf_net import QFNet, dct_basis
from ..data.images import read_png
from ..data.prepared import compressed_file, keys, spread
from ..degradations.jpeg import decode_jpeg, jpeg_compress
from .qf_answer import (
    GENTLE_TAIL,
    QFPrediction,
    as_rgb,
    gentle_answer,
    grid_crop,
    grid_phase,
    predictor_patches,
)

ABOVE_TESTS = (90,)  # QFs the class "above" is tried with, beside uncompressed images


class GridSparsity(torch.nn.Module):
    """(1, 1, H, W) luma -> (H - 7, W - 7): the mean log(1 + |AC|) of the 8x8 DCT of the block
    at every pixel (`grid_offset`); a module, so that the ONNX export carries it too."""

    def __init__(self):
        super().__init__()
        self.register_buffer("basis", dct_basis()[1:])  # the 63 AC basis images

    def forward(self, luma: torch.Tensor) -> torch.Tensor:
        return torch.log1p(F.conv2d(luma, self.basis).abs()).mean(dim=1)[0]


_SPARSITY = GridSparsity()


@torch.inference_mode()
def grid_offset(image: np.ndarray, region: int = 512) -> tuple[int, int]:
    """Where the 8x8 block grid of a decoded JPEG starts, (dy, dx) in 0..7.

    On its own grid a JPEG's blocks have sparse DCTs: quantization set most AC coefficients
    to zero, and decoding keeps them near it. Blocks straddling the grid mix two blocks and
    are not sparse. The offset is the phase with the smallest mean log(1 + |AC|), over a
    central region of at most `region` pixels square (`qf_answer.grid_crop`). (Blockiness,
    the jump in pixels across block borders, fades as the QF rises, and some photographs have
    structure of their own at the period of 8 rows: it was wrong for 19 of 756 LIVE1 and
    Classic5 images, this for none.) A crop of a JPEG has its grid shifted; an uncropped one
    gives (0, 0).
    """
    crop = grid_crop(image, region)
    if crop is None:
        return 0, 0
    return grid_phase(_SPARSITY(torch.from_numpy(crop)[None, None]).numpy())


@torch.inference_mode()
def predict(
    net: QFNet,
    image: np.ndarray,
    count: int = 32,
    patch: int = 64,
    device: torch.device | str = "cpu",
    higher_is_gentler: bool = True,
) -> QFPrediction:
    """The QF of an (H, W, 3) or (H, W) uint8 image: mean log-probability over its patches
    (`qf_answer.predictor_patches`, on the image's block grid, so crops work too)."""
    patches, offset = predictor_patches(image, grid_offset(as_rgb(image)), patch, count)
    batch = torch.from_numpy(patches).permute(0, 3, 1, 2).float().to(device) / 255
    log_p = F.log_softmax(net(batch).float(), dim=1).mean(dim=0)
    probabilities = torch.softmax(log_p / net.temperature, dim=0).cpu().numpy()
    named = {q: float(p) for q, p in zip(net.labels, probabilities, strict=True)}
    return QFPrediction(gentle_answer(named, GENTLE_TAIL, higher_is_gentler), named, offset)


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
    images: int = 0,
) -> tuple[np.ndarray, list, list]:
    """(probabilities (n, labels), target labels, QFs) of every image of a prepared set (or
    of `images` of them, spread over their names) at every QF of `qualities` (default:
    `test_qualities` without the QFs between classes), and with `crops` of each image's four
    quarters as well. The predictor sees decoded pixels only (the files' tables would give the
    answer away); QFs the set has no files for are compressed here (JPEG)."""
    names = spread(keys(folder), images)
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
    images: int = 0,
) -> tuple[list, list]:
    """(predicted, target) labels of every image of a prepared set (or of `images` of them)
    at every QF of `test_qualities` (see `set_probabilities`); an image between two classes
    should get the nearer one."""
    probabilities, targets, _ = set_probabilities(
        net, folder, count, device, progress, test_qualities(net, between), images=images
    )
    labels = net.labels
    predicted = [gentle_answer(dict(zip(labels, row, strict=True))) for row in probabilities]
    return predicted, targets
