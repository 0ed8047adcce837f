"""Dead-leaves images: deterministic, coloured from the palette, edges at every scale."""

from __future__ import annotations

import numpy as np

from artifact_removal.data.synthetic import dead_leaves, palette_of


def _red_and_blue() -> np.ndarray:
    return np.array([[220, 0, 0], [0, 0, 220]], np.uint8)


def test_same_seed_same_image():
    first = dead_leaves(np.random.default_rng(3), _red_and_blue(), size=96)
    again = dead_leaves(np.random.default_rng(3), _red_and_blue(), size=96)
    other = dead_leaves(np.random.default_rng(4), _red_and_blue(), size=96)
    assert first.shape == (96, 96, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_colours_come_from_the_palette():
    image = dead_leaves(np.random.default_rng(0), _red_and_blue(), size=128).astype(float)
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    assert green.mean() < 15  # only the shading adds a little of every channel
    assert (red > 150).mean() > 0.2 and (blue > 150).mean() > 0.2
    assert ((red > 150) & (blue > 150)).mean() < 0.02  # leaves are opaque: no mixing


def test_few_hues_change_brightness_more_than_colour():
    palette = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200]], np.uint8)
    image = dead_leaves(np.random.default_rng(2), palette, size=128, hues=1).astype(float)
    chroma = image / np.maximum(image.sum(axis=2, keepdims=True), 1)  # brightness removed
    dominant = np.bincount(chroma.argmax(axis=2).ravel(), minlength=3) / chroma[..., 0].size
    assert dominant.max() > 0.95  # one hue, leaves told apart by brightness
    brightness = image.sum(axis=2)
    assert brightness.std() > 40


def test_edges_at_every_scale():
    """Scale invariance: edge density about the same at full and at quarter resolution."""
    gray = dead_leaves(np.random.default_rng(1), _red_and_blue(), size=256)[..., 0].astype(float)
    quarter = gray.reshape(64, 4, 64, 4).mean(axis=(1, 3))

    def edge_fraction(image):
        return (np.abs(np.diff(image, axis=1)) > 60).mean()

    fine, coarse = edge_fraction(gray), edge_fraction(quarter)
    assert fine > 0.02 and 0.3 < coarse / fine < 3


def test_palette_skips_gray_images_and_falls_back_to_gray():
    rng = np.random.default_rng(0)
    colour = np.zeros((8, 8, 3), np.uint8) + np.array([10, 200, 30], np.uint8)
    gray = np.full((8, 8, 3), 77, np.uint8)
    palette = palette_of([colour, gray], rng, per_image=50)
    assert palette.shape == (50, 3) and (palette == [10, 200, 30]).all()
    only_gray = palette_of([gray, np.full((8, 8), 99, np.uint8)], rng, per_image=50)
    assert (only_gray[:, 0] == only_gray[:, 1]).all() and set(only_gray[:, 0]) <= {77, 99}
