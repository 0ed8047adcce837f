"""Restoring whole images and large ones in overlapping tiles."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from artifact_removal.archs.generator import build_generator
from artifact_removal.inference.tiles import restore_tiled, tile_count, tile_starts
from artifact_removal.inference.torch_backend import blend, restore_array, restore_float

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def net():
    """The paper generator with seeded random weights: its receptive field is the widest."""
    torch.manual_seed(0)
    return build_generator("paper").eval()


@pytest.fixture(scope="module")
def small_net():
    """A small generator (receptive field under 32 px), for speed."""
    torch.manual_seed(0)
    return build_generator("very_fast").eval()


def _large(photo: np.ndarray) -> np.ndarray:
    """A 237x349 image (odd sizes, not multiples of 8) from the photo and its mirror images."""
    wide = np.concatenate([photo, photo[:, ::-1]], axis=1)
    return np.ascontiguousarray(np.concatenate([wide, wide[::-1]], axis=0)[:237, :349])


def test_cores_cover_the_axis_once_on_the_block_grid():
    for length in (1, 7, 128, 300, 437, 1000):
        cores = tile_starts(length, 128, 32)
        assert cores[0][0] == 0 and cores[-1][1] == length
        assert all(a % 8 == 0 and b == c for (a, b), (c, _) in itertools.pairwise(cores))
        assert all(b - a >= min(32, length) for a, b in cores)
    with pytest.raises(ValueError, match="multiples of 8"):
        tile_starts(100, 100, 32)


@pytest.mark.parametrize("preset, tile, overlap", [("paper", 128, 64), ("very_fast", 64, 32)])
def test_tiled_equals_whole_within_rounding(net, small_net, photo, preset, tile, overlap):
    """An overlap as wide as the receptive field leaves only rounding."""
    net = net if preset == "paper" else small_net
    image = _large(photo)
    whole = restore_array(net, image, CPU)
    calls = []
    tiled = restore_tiled(blend([net], [1.0], CPU), image, tile, overlap, calls.append)
    diff = np.abs(tiled.astype(int) - whole.astype(int))
    assert tiled.shape == image.shape and tiled.dtype == np.uint8
    assert len(calls) == tile_count(image.shape, tile, overlap) > 1
    assert diff.max() <= 1 and diff.mean() < 0.05


def test_gray_images_come_back_gray(small_net, gray_photo):
    tiled = restore_tiled(blend([small_net], [1.0], CPU), gray_photo, 64, 32)
    whole = restore_array(small_net, gray_photo, CPU)
    assert tiled.shape == gray_photo.shape
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1


def test_one_tile_is_the_whole_image(small_net, photo):
    whole = restore_array(small_net, photo, CPU)
    assert np.array_equal(restore_tiled(blend([small_net], [1.0], CPU), photo, 512, 64), whole)


def test_blend_is_the_weighted_mean_of_the_generators(photo):
    torch.manual_seed(1)
    a, b = build_generator("tiny").eval(), build_generator("tiny").eval()
    mixed = blend([a, b], [0.25, 0.75], CPU)(photo)
    expected = 0.25 * restore_float(a, photo, CPU) + 0.75 * restore_float(b, photo, CPU)
    assert np.allclose(mixed, expected, atol=1e-4)
    with pytest.raises(ValueError, match="summing to 1"):
        blend([a, b], [0.5, 0.6], CPU)
