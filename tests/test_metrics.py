"""Metrics: known answers and the published JPEG rows on LIVE1 (when the sets are present)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from artifact_removal.degradations import jpeg_compress
from artifact_removal.images import read_image
from artifact_removal.metrics import psnr, rgb_to_y, ssim

from .conftest import SHARED_DATA


def test_psnr_of_a_known_mse():
    gt = np.full((8, 8, 3), 100, np.uint8)
    assert psnr(gt, gt + 1) == pytest.approx(10 * math.log10(255**2))
    assert psnr(gt, gt + 2) == pytest.approx(10 * math.log10(255**2 / 4))
    assert psnr(gt, gt) == math.inf


def test_y_reference_values():
    colours = np.array(
        [[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8
    )
    assert rgb_to_y(colours)[0] == pytest.approx([16, 235, 81.481, 144.553, 40.966])
    gray = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert np.array_equal(rgb_to_y(gray), gray)


def test_psnr_on_y_ignores_chroma_only_changes():
    gt = np.full((4, 4, 3), 128, np.uint8)
    shifted = gt.copy()
    shifted[..., 0] += 10
    shifted[..., 2] -= 26  # 65.481*10 - 24.966*26 is nearly 0: same luma
    assert psnr(gt, shifted, "y") > psnr(gt, shifted, "rgb") + 15


def test_ssim_matches_scikit_image_with_the_literature_settings(photo):
    pred = jpeg_compress(photo, 10).pixels
    reference = structural_similarity(
        photo,
        pred,
        data_range=255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        channel_axis=-1,
    )
    assert ssim(photo, pred) == pytest.approx(reference)
    assert ssim(photo, photo) == pytest.approx(1.0)
    assert 0 < ssim(photo, pred, "y") < 1


def test_crop_border_and_shape_errors(photo):
    pred = photo.copy()
    pred[:2] = 0
    assert psnr(photo, pred, crop_border=2) == math.inf
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(photo, photo[1:])
    with pytest.raises(ValueError, match="channel"):
        ssim(photo, photo, "cbcr")


def _jpeg_rows(folder, keep_gray, quality=10):
    files = sorted(folder.glob("*.png"))
    scores = {"psnr": [], "psnr_y": [], "ssim_y": []}
    for path in files:
        gt = read_image(path, keep_gray=keep_gray).pixels
        pred = jpeg_compress(gt, quality).pixels
        scores["psnr"].append(psnr(gt, pred))
        scores["psnr_y"].append(psnr(gt, pred, "y"))
        scores["ssim_y"].append(ssim(gt, pred, "y"))
    return len(files), {k: float(np.mean(v)) for k, v in scores.items()}


@pytest.mark.skipif(not (SHARED_DATA / "LIVE1_gray").is_dir(), reason="benchmark sets absent")
def test_live1_jpeg_rows_match_the_literature():
    count, gray = _jpeg_rows(SHARED_DATA / "LIVE1_gray", keep_gray=True)
    assert count == 29
    assert gray["psnr"] == pytest.approx(27.77, abs=0.005)  # published JPEG row, QF 10
    assert gray["ssim_y"] == pytest.approx(0.773, abs=0.0005)
    _, colour = _jpeg_rows(SHARED_DATA / "LIVE1_color", keep_gray=False)
    assert colour["psnr"] == pytest.approx(25.69, abs=0.005)
