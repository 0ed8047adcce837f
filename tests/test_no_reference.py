"""No-reference metrics: known values on scikit-image's photographs, errors, the model file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from skimage import data as skdata

from artifact_removal.degradations.jpeg import jpeg_compress
from artifact_removal.metrics.no_reference import (
    NIQE_FILE,
    MissingModelError,
    brisque,
    cache_dir,
    fetch_niqe_model,
    load_niqe_model,
    niqe,
)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skdata.astronaut()


def test_niqe_of_the_astronaut_matches_the_literature(astronaut):
    # about 3.06 with the standard model in the literature's implementations
    assert niqe(astronaut) == pytest.approx(3.06, abs=0.015)


def test_niqe_and_brisque_rise_with_compression(astronaut):
    jpeg = jpeg_compress(astronaut, 5).pixels
    assert niqe(jpeg) > niqe(astronaut) + 2
    assert brisque(jpeg) > brisque(astronaut) + 20


def test_brisque_of_the_astronaut_matches_the_package(astronaut):
    assert brisque(astronaut) == pytest.approx(10.8, abs=0.05)


def test_gray_images_are_scored(gray_photo):
    camera = skdata.camera()
    assert 2 < niqe(camera) < 6
    assert np.isfinite(brisque(gray_photo))
    rgb = np.repeat(camera[:, :, None], 3, axis=2)
    assert niqe(rgb) == pytest.approx(niqe(camera), abs=0.02)  # rgb2gray rounds 0.9999 * v


def test_images_too_small_are_refused():
    with pytest.raises(ValueError, match="96x96"):
        niqe(np.zeros((90, 150, 3), np.uint8))
    assert np.isfinite(niqe(skdata.camera()[:100, :100]))  # one block: no covariance of its own
    with pytest.raises(ValueError, match="16x16"):
        brisque(np.zeros((8, 8), np.uint8))


def test_a_missing_or_wrong_niqe_model_says_how_to_get_it(tmp_path):
    with pytest.raises(MissingModelError, match="fetch-models") as err:
        load_niqe_model(tmp_path / NIQE_FILE)
    assert str(tmp_path) in str(err.value)
    (tmp_path / "other.npz").write_bytes(b"something else")
    with pytest.raises(MissingModelError, match="sha256"):
        load_niqe_model(tmp_path / "other.npz")


def test_fetch_keeps_a_valid_model_without_downloading(tmp_path, monkeypatch):
    target = tmp_path / NIQE_FILE
    shutil.copy(cache_dir() / NIQE_FILE, target)
    monkeypatch.setattr("subprocess.run", lambda *a, **k: pytest.fail("tried to download"))
    assert fetch_niqe_model(target) == target
