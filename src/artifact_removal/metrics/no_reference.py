"""No-reference quality: NIQE and BRISQUE, computed offline; lower is better for both.

NIQE (Mittal, Soundararajan and Bovik, IEEE SPL 2013) measures how far the statistics of an
image's normalised luminance lie from those of pristine natural images. The pristine model is
the standard one (mean and covariance of 36 features), which basicsr 1.4.2 ships in its source
distribution on PyPI; `fetch_niqe_model` takes it from there once (`make venv` does) and
checks its hash. The features are computed here, as in the authors' MATLAB release: 96x96
blocks, two scales, luminance as MATLAB's rgb2gray (rounded to 8 bits). scikit-image's
astronaut scores 3.07 (about 3.06 in the literature's implementations; resizing differs).

BRISQUE (Mittal, Moorthy and Bovik, IEEE TIP 2012) maps similar features through an SVR fitted
to people's scores; the `brisque` package ships that model (scores of about 0..100).
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import correlate
from scipy.special import gamma

from ..fileio import write_atomic

NIQE_FILE = "niqe_pris_params.npz"
NIQE_SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"
NIQE_SOURCE = "basicsr==1.4.2"  # its sdist holds basicsr/metrics/niqe_pris_params.npz (Apache-2.0)
NIQE_BLOCK = 96
_SHAPES = np.arange(0.2, 10.0005, 0.001)  # the MATLAB release's grid of GGD shape parameters
_GRAY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140])  # MATLAB's rgb2gray
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # neighbour directions of the paired products


class MissingModelError(RuntimeError):
    """A metric's model file is absent; the message says which file and how to get it."""


def cache_dir() -> Path:
    """Where fetched model files live: $ARTIFACT_REMOVAL_CACHE, else ~/.cache/artifact_removal."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "artifact_removal"
    return Path(os.environ.get("ARTIFACT_REMOVAL_CACHE", default)).expanduser()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_niqe_model(target: Path | None = None) -> Path:
    """Download basicsr's sdist with pip (no install), keep its NIQE model; the path back."""
    target = target or cache_dir() / NIQE_FILE
    if target.is_file() and _sha256(target) == NIQE_SHA256:
        return target
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            NIQE_SOURCE,
            "--no-deps",
            "--no-binary",
            ":all:",
            "--no-build-isolation",
            "--quiet",
            "-d",
            tmp,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        archives = list(Path(tmp).glob("basicsr-*.tar.gz"))
        if not archives:
            raise MissingModelError(
                f"could not download {NIQE_SOURCE} for {NIQE_FILE}: {done.stderr.strip()[-500:]}"
            )
        with tarfile.open(archives[0]) as archive:
            member = next(m for m in archive.getmembers() if m.name.endswith(NIQE_FILE))
            data = archive.extractfile(member).read()
    if hashlib.sha256(data).hexdigest() != NIQE_SHA256:
        raise MissingModelError(f"{NIQE_FILE} from {NIQE_SOURCE} has an unexpected sha256")
    write_atomic(target, data)
    return target


@dataclass(frozen=True)
class NiqeModel:
    """The pristine model: feature mean (36,), covariance (36, 36), 7x7 Gaussian window."""

    mean: np.ndarray
    cov: np.ndarray
    window: np.ndarray


@functools.cache
def load_niqe_model(path: Path | None = None) -> NiqeModel:
    """Read the pristine model; a clear error says how to fetch it when it is missing."""
    path = Path(path) if path else cache_dir() / NIQE_FILE
    if not path.is_file():
        raise MissingModelError(
            f"NIQE needs {NIQE_FILE} in {path.parent}: run `python -m artifact_removal "
            f"fetch-models` (it takes the file from {NIQE_SOURCE} on PyPI), or copy "
            f"basicsr/metrics/{NIQE_FILE} from that source distribution there"
        )
    if _sha256(path) != NIQE_SHA256:
        raise MissingModelError(f"{path} is not the standard NIQE model (its sha256 differs)")
    with np.load(path) as data:
        return NiqeModel(data["mu_pris_param"][0], data["cov_pris_param"], data["gaussian_window"])


def _mscn(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Mean-subtracted, contrast-normalised coefficients (edges replicated), as NIQE defines."""
    mu = correlate(image, window, mode="nearest")
    sigma = np.sqrt(np.abs(correlate(image * image, window, mode="nearest") - mu * mu))
    return (image - mu) / (sigma + 1)


def _aggd_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shape and left and right scales of an asymmetric generalised Gaussian per row of (N, P)."""
    ratio = gamma(2 / _SHAPES) ** 2 / (gamma(1 / _SHAPES) * gamma(3 / _SHAPES))
    neg, pos = np.where(x < 0, x, np.nan), np.where(x > 0, x, np.nan)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a flat block: no sign, NaN features
        left = np.sqrt(np.nanmean(neg * neg, axis=1))
        right = np.sqrt(np.nanmean(pos * pos, axis=1))
        g = left / right
        r = np.mean(np.abs(x), axis=1) ** 2 / np.mean(x * x, axis=1)
    r_norm = r * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    shape = _SHAPES[np.argmin((ratio - r_norm[:, None]) ** 2, axis=1)]
    to_scale = np.sqrt(gamma(1 / shape) / gamma(3 / shape))
    return shape, left * to_scale, right * to_scale


def _block_features(mscn: np.ndarray, block: int) -> np.ndarray:
    """(blocks, 18) NIQE features of each block x block tile of an MSCN map."""
    h, w = mscn.shape
    tiles = mscn.reshape(h // block, block, w // block, block).transpose(0, 2, 1, 3)
    tiles = tiles.reshape(-1, block, block)  # (N, block, block)
    shape, left, right = _aggd_fit(tiles.reshape(len(tiles), -1))
    columns = [shape, (left + right) / 2]
    for shift in _SHIFTS:  # products with a neighbour, wrapping round inside each tile
        pairs = tiles * np.roll(tiles, shift, axis=(1, 2))
        shape, left, right = _aggd_fit(pairs.reshape(len(tiles), -1))
        columns += [shape, (right - left) * gamma(2 / shape) / gamma(1 / shape), left, right]
    return np.stack(columns, axis=1)


def _half_size(image: np.ndarray) -> np.ndarray:
    """Bicubic, antialiased resize to half of each side (as MATLAB's imresize(im, 0.5))."""
    h, w = image.shape
    resized = Image.fromarray(image.astype(np.float32), mode="F").resize(
        (w // 2, h // 2), Image.BICUBIC
    )
    return np.asarray(resized, dtype=np.float64)


def niqe(image: np.ndarray, model: NiqeModel | None = None) -> float:
    """NIQE of one (H, W, 3) or (H, W) uint8 image, on its luminance; lower is more natural."""
    model = model or load_niqe_model()
    y = image.astype(np.float64) if image.ndim == 2 else np.round(image @ _GRAY_WEIGHTS)
    rows, cols = y.shape[0] // NIQE_BLOCK, y.shape[1] // NIQE_BLOCK
    if rows * cols == 0:
        raise ValueError(
            f"NIQE needs {NIQE_BLOCK}x{NIQE_BLOCK} pixels; image is {y.shape[1]}x{y.shape[0]}"
        )
    y = y[: rows * NIQE_BLOCK, : cols * NIQE_BLOCK]
    scales = [_block_features(_mscn(y, model.window), NIQE_BLOCK)]
    scales.append(_block_features(_mscn(_half_size(y), model.window), NIQE_BLOCK // 2))
    features = np.concatenate(scales, axis=1)
    complete = features[~np.isnan(features).any(axis=1)]  # as MATLAB's nanmean and nancov
    diff = model.mean - np.nanmean(features, axis=0)
    spread_of_image = np.cov(complete, rowvar=False) if len(complete) > 1 else 0 * model.cov
    spread = np.linalg.pinv((model.cov + spread_of_image) / 2)
    return float(np.sqrt(diff @ spread @ diff))


@functools.cache
def _brisque_model():
    """The `brisque` package's SVR model, loaded once (it ships in the wheel)."""
    from brisque import BRISQUE

    return BRISQUE(url=False)


def brisque(image: np.ndarray) -> float:
    """BRISQUE of one (H, W, 3) or (H, W) uint8 image; lower is more natural."""
    rgb = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image
    if min(rgb.shape[:2]) < 16:
        raise ValueError(
            f"BRISQUE needs at least 16x16 pixels; image is {rgb.shape[1]}x{rgb.shape[0]}"
        )
    with warnings.catch_warnings():  # the package converts 1-element arrays with float()
        warnings.simplefilter("ignore", DeprecationWarning)
        return float(_brisque_model().score(rgb))


def niqe_or_nan(image: np.ndarray) -> float:
    """NIQE, or NaN for an image smaller than NIQE's blocks."""
    try:
        return niqe(image)
    except ValueError:
        return float("nan")
