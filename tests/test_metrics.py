"""Metrics: known answers and the published JPEG rows on LIVE1 (when the sets are present)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from artifact_removal.data.images import read_image
from artifact_removal.degradations.jpeg import jpeg_compress
from artifact_removal.metrics.full_reference import (
    blocking_effect_factor,
    psnr,
    psnr_b,
    rgb_to_y,
    ssim,
)
from artifact_removal.metrics.lpips import ALEXNET_FILE, Lpips, lpips_network
from artifact_removal.pretrained import MANIFEST, MissingWeightsError, weights_for

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
    scores = {"psnr": [], "psnr_y": [], "ssim_y": [], "psnrb_y": []}
    for path in files:
        gt = read_image(path, keep_gray=keep_gray).pixels
        pred = jpeg_compress(gt, quality).pixels
        scores["psnr"].append(psnr(gt, pred))
        scores["psnr_y"].append(psnr(gt, pred, "y"))
        scores["ssim_y"].append(ssim(gt, pred, "y"))
        scores["psnrb_y"].append(psnr_b(gt, pred, "y"))
    return len(files), {k: float(np.mean(v)) for k, v in scores.items()}


@pytest.mark.skipif(not (SHARED_DATA / "LIVE1_gray").is_dir(), reason="benchmark sets absent")
def test_live1_jpeg_rows_match_the_literature():
    count, gray = _jpeg_rows(SHARED_DATA / "LIVE1_gray", keep_gray=True)
    assert count == 29
    assert gray["psnr"] == pytest.approx(27.77, abs=0.005)  # published JPEG row, QF 10
    assert gray["ssim_y"] == pytest.approx(0.773, abs=0.0005)
    # 25.33 published: that script counts one border pair too few on sides not divisible by 8
    assert gray["psnrb_y"] == pytest.approx(25.339, abs=0.001)
    _, colour = _jpeg_rows(SHARED_DATA / "LIVE1_color", keep_gray=False)
    assert colour["psnr"] == pytest.approx(25.69, abs=0.005)


def _blocks(values: tuple[int, int], size: int = 16) -> np.ndarray:
    """A checkerboard of 8x8 blocks, flat inside each block."""
    yy, xx = np.mgrid[:size, :size] // 8
    return np.where((yy + xx) % 2, values[1], values[0]).astype(np.uint8)


def test_blocking_effect_factor_known_answer():
    # 16x16, four flat blocks 10 apart: every pair across a border differs by 10, none inside.
    # D_B = 100, D_B^c = 0, eta = log2(8) / log2(16) = 3/4, so BEF = 75.
    assert blocking_effect_factor(_blocks((0, 10))) == pytest.approx(75)
    smooth = np.tile(np.arange(16, dtype=np.uint8) * 3, (16, 1))  # equal steps everywhere
    assert blocking_effect_factor(smooth) == 0


def test_psnr_b_adds_the_bef_of_the_image_under_test():
    blocky = _blocks((100, 110))
    flat = np.full((16, 16), 105, np.uint8)
    mse = 25.0
    assert psnr_b(flat, blocky) == pytest.approx(10 * math.log10(255**2 / (mse + 75)))
    assert psnr_b(blocky, flat) == pytest.approx(psnr(blocky, flat))  # gt's blocks do not count
    assert psnr_b(flat, flat) == math.inf
    colour = np.repeat(blocky[:, :, None], 3, axis=2)
    assert psnr_b(np.repeat(flat[:, :, None], 3, axis=2), colour, "rgb") == pytest.approx(
        psnr_b(flat, blocky)
    )


def test_psnr_b_keeps_the_block_grid_after_a_border_crop():
    image = np.zeros((32, 32), np.uint8)
    image[:, 16:] = 40  # one vertical block border at x = 16
    assert blocking_effect_factor(image[4:-4, 4:-4], offset=4) > 0
    assert blocking_effect_factor(image[4:-4, 4:-4], offset=0) == 0  # misaligned grid
    assert psnr_b(image, image, crop_border=4) < math.inf


def test_lpips_is_unavailable_without_the_imagenet_backbone(tmp_path, monkeypatch, photo):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    metric = Lpips.load(weights_for("alexnet", None))
    assert not metric.available
    assert ALEXNET_FILE in metric.reason and str(tmp_path / "hub" / "checkpoints") in metric.reason
    with pytest.raises(RuntimeError, match=ALEXNET_FILE):
        metric(photo, photo)
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / ALEXNET_FILE).write_bytes(b"not the weights")
    assert weights_for("alexnet", None) is None  # not torchvision's file: its hash differs


def test_lpips_takes_the_file_the_manifest_names_or_stops(tmp_path, monkeypatch):
    """In a project, models/pretrained.yaml decides; a file that changed since is an error."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / MANIFEST).parent.mkdir(parents=True)
    (tmp_path / MANIFEST).write_text("vgg19: absent\nalexnet: absent\n")
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / ALEXNET_FILE).write_bytes(b"weights")
    assert weights_for("alexnet", tmp_path) is None  # recorded as absent: not used
    (tmp_path / MANIFEST).write_text(f"alexnet: {ALEXNET_FILE} sha256:{'0' * 64}\n")
    with pytest.raises(MissingWeightsError, match="artifact-removal pretrained"):
        weights_for("alexnet", tmp_path)


def test_lpips_plumbing_with_a_random_backbone(photo, gray_photo):
    # plumbing only: never a reported score
    metric = Lpips(lpips_network("alex", None, "random_alex")[0])
    pred = jpeg_compress(photo, 10).pixels
    assert metric(photo, photo) == pytest.approx(0, abs=1e-6)
    assert metric(photo, pred) == pytest.approx(metric(pred, photo), rel=1e-4)
    assert metric(photo, pred) > 0
    assert metric(gray_photo, jpeg_compress(gray_photo, 10).pixels) > 0


def test_lpips_reads_the_alexnet_file_it_is_given(tmp_path, monkeypatch):
    """The metric's AlexNet is the file `pretrained.weights_for` names (as for NoGAN's loss),
    read offline: nothing is downloaded, and torchvision does not look for weights itself.

    (A random stand-in file here; `pretrained.weights_for` refuses it by its hash.)
    """
    import torchvision

    stand_in = torchvision.models.alexnet().state_dict()
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(stand_in, checkpoints / ALEXNET_FILE)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: pytest.fail("downloading"))
    net = Lpips.load(checkpoints / ALEXNET_FILE).net
    assert torch.equal(net.net.slice1[0].weight, stand_in["features.0.weight"])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert weights_for("alexnet", None) is None  # not torchvision's file: refused
