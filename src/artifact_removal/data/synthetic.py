"""Synthetic training images: the dead-leaves model.

A dead-leaves image is a stack of opaque discs dropped at random, each hiding what lies under
it. With radii drawn from a density proportional to r^-3 it is scale invariant and has the
edge and occlusion statistics of natural photographs (Lee, Mumford and Huang, "Occlusion
models for natural images", IJCV 2001). Networks trained for restoration on such images come
close to those trained on photographs (Achddou, Gousseau and Ladjal, "Synthetic images as a
regularity prior for image restoration neural networks", SSVM 2021).

Here they stretch a corpus of a dozen photographs: they add edges at every scale, orientation
and contrast, coloured from the photographs themselves, and they are only ever used for
training (never in the validation or test split). Each image takes a few colours of the
photographs and shows each at many brightnesses, so that most edges change brightness more
than colour, as in photographs: with a new colour on every leaf, a network learns to sharpen
colour at every edge, and the chroma of real images suffers.
"""

from __future__ import annotations

import numpy as np
from skimage.draw import disk


def dead_leaves(
    rng: np.random.Generator,
    palette: np.ndarray,
    size: int = 512,
    r_min: float = 1.5,
    r_max: float = 160.0,
    coverage: float = 4.0,
    hues: int | None = None,
) -> np.ndarray:
    """One (size, size, 3) uint8 dead-leaves image.

    `palette` is (N, 3) uint8 colours to draw from; with `hues`, only that many of them,
    each scaled by a random brightness per disc. Discs are painted back to front, so the last
    ones lie on top; `coverage` is the expected number of discs over a pixel (4 leaves about
    2% of the background showing). Each disc gets a gentle linear shading so that areas are
    not perfectly flat. Drawn at twice the size and averaged down, so that edges are
    anti-aliased as a camera's would be.
    """
    scale = 2
    side = size * scale
    lo, hi = r_min * scale, r_max * scale
    # mean disc area for p(r) ~ r^-3 on [lo, hi]: pi E[r^2] = pi ln(hi/lo) / ((lo^-2 - hi^-2) / 2)
    mean_area = np.pi * np.log(hi / lo) / (0.5 * (lo**-2 - hi**-2))
    margin = hi / 2  # centres a little outside the frame too, so that borders are covered
    count = int(coverage * (side + 2 * margin) ** 2 / mean_area)
    u = rng.random(count)
    radii = 1 / np.sqrt((1 - u) / lo**2 + u / hi**2)  # inverse CDF of p(r) ~ r^-3
    centres = rng.uniform(-margin, side + margin, (count, 2))
    if hues:  # a few colours of the palette, each at many brightnesses
        base = palette[rng.integers(len(palette), size=hues)].astype(np.float32)
        colours = base[rng.integers(hues, size=count)] * rng.lognormal(0.0, 0.35, (count, 1))
    else:
        colours = palette[rng.integers(len(palette), size=count)].astype(np.float32)
    slopes = rng.normal(0.0, 0.04, (count, 2)) / radii[:, None] * 255  # shading, per pixel
    canvas = np.empty((side, side, 3), np.float32)
    canvas[:] = palette[rng.integers(len(palette))]
    for r, (cy, cx), colour, (gy, gx) in zip(radii, centres, colours, slopes, strict=True):
        rows, cols = disk((cy, cx), r, shape=(side, side))
        if rows.size:
            shade = (rows - cy) * gy + (cols - cx) * gx
            canvas[rows, cols] = colour + shade[:, None]
    small = canvas.reshape(size, scale, size, scale, 3).mean(axis=(1, 3))
    return np.clip(np.round(small), 0, 255).astype(np.uint8)


def palette_of(images: list[np.ndarray], rng: np.random.Generator, per_image: int = 20000):
    """(N, 3) uint8 colours sampled from the colour pixels of `images` (gray ones are skipped)."""
    picks = []
    for image in images:
        if image.ndim == 3 and not (image == image[..., :1]).all():
            flat = image.reshape(-1, 3)
            picks.append(flat[rng.integers(len(flat), size=per_image)])
    if not picks:  # a gray corpus: gray leaves
        gray = np.concatenate([(im if im.ndim == 2 else im[..., 0]).ravel() for im in images])
        values = gray[rng.integers(len(gray), size=per_image)]
        return np.repeat(values[:, None], 3, axis=1)
    return np.concatenate(picks)
