"""Restoring an image in overlapping tiles, with any restorer (a PyTorch generator, an ONNX
session, a blend of them): numpy only, no torch.

A generator's output at a pixel depends on the input within its receptive field (about 64
pixels for the paper generator); tiles that overlap by more than that and are blended with
linear ramps give the whole-image result to within rounding, with working memory set by the
tile and the image's width, not its height (beyond the input and output pixels themselves).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# A map from an (h, w, 3) uint8 window (or an (n, h, w, 3) batch of frames) to its float32
# restoration in [0, 255], of the same shape.
Restorer = Callable[[np.ndarray], np.ndarray]


def weighted(
    run: Callable[[object, np.ndarray], np.ndarray],
    nets: Sequence[object | None],
    weights: Sequence[float],
) -> Restorer:
    """A restorer giving the weighted mean of several networks' outputs (weights sum to 1),
    each network's output being `run(net, rgb)`; a network None stands for the input itself,
    unchanged."""
    if len(nets) != len(weights) or not nets or abs(sum(weights) - 1) > 1e-6:
        raise ValueError(f"need one weight per generator, summing to 1, not {list(weights)}")

    def output(net, rgb: np.ndarray) -> np.ndarray:
        return rgb.astype(np.float32) if net is None else run(net, rgb)

    def restorer(rgb: np.ndarray) -> np.ndarray:
        out = weights[0] * output(nets[0], rgb)
        for net, weight in zip(nets[1:], weights[1:], strict=True):
            out += weight * output(net, rgb)
        return out

    return restorer


def to_uint8(image: np.ndarray, gray: bool) -> np.ndarray:
    """Round float [0, 255] pixels; gray images come back as the mean of the three channels."""
    if gray:
        return np.rint(image.mean(axis=2)).clip(0, 255).astype(np.uint8)
    return np.rint(image).clip(0, 255).astype(np.uint8)


def tile_starts(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """(start, stop) of each tile's core along an axis of `length`; cores cut it without gaps.

    Cores are `tile` long and start at multiples of 8 (the JPEG block grid, and even, so that
    the generator's stride-2 grid is the whole image's); the last core takes the remainder.
    """
    if tile % 8 or overlap % 8 or tile <= 0 or overlap <= 0:
        raise ValueError(f"tile ({tile}) and overlap ({overlap}) must be positive multiples of 8")
    cuts = list(range(0, length, tile))
    if len(cuts) > 1 and length - cuts[-1] < overlap:  # too thin a last core: merge it
        cuts.pop()
    return [(a, b) for a, b in zip(cuts, [*cuts[1:], length], strict=True)]


def _ramp(core: tuple[int, int], window: tuple[int, int], length: int, overlap: int) -> np.ndarray:
    """Weights along one axis of a window: 1 on the core, falling linearly to 0 across the
    overlap, except at the image's own edges, where there is no neighbour to blend with."""
    (a, b), (lo, hi) = core, window
    pos = np.arange(lo, hi, dtype=np.float32) + 0.5
    weight = np.ones(hi - lo, dtype=np.float32)
    if a > 0:
        weight = np.minimum(weight, np.clip((pos - (a - overlap)) / (2 * overlap), 0, 1))
    if b < length:
        weight = np.minimum(weight, np.clip(((b + overlap) - pos) / (2 * overlap), 0, 1))
    return weight


def restore_tiled(
    restorer: Restorer,
    image: np.ndarray,
    tile: int = 512,
    overlap: int = 64,
    progress: Callable[[int], None] | None = None,
    rounded: bool = True,
) -> np.ndarray:
    """Restore an (H, W, 3) or (H, W) uint8 image in overlapping tiles; same shape back,
    uint8, or float32 in [0, 255] when not `rounded` (for 16-bit output).

    Each tile's core is restored with `overlap` pixels of context on every side, and
    neighbouring tiles are cross-faded over the overlap. Tiles go one band of rows at a time:
    the float sums of a band are turned into output rows as soon as no later tile touches
    them. Memory beyond the input and the output: one window of at most (tile + 2 overlap)^2
    pixels through the network and two float32 accumulators of (tile + 2 overlap) rows.
    `progress(n)` is called after each tile.
    """
    gray = image.ndim == 2
    height, width = image.shape[:2]
    rows, cols = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    if len(rows) == 1 and len(cols) == 1:
        rgb = np.repeat(image[:, :, None], 3, axis=2) if gray else image
        out = restorer(rgb)
        if progress:
            progress(1)
        return _finish(out, gray, rounded)
    out = np.empty(image.shape, np.uint8 if rounded else np.float32)
    carry_total = carry_weight = None  # sums of rows shared with the next band
    for k, ry in enumerate(rows):
        wy = (max(ry[0] - overlap, 0), min(ry[1] + overlap, height))
        total = np.zeros((wy[1] - wy[0], width, 3), np.float32)
        weights = np.zeros((wy[1] - wy[0], width, 1), np.float32)
        if carry_total is not None:
            total[: len(carry_total)] += carry_total
            weights[: len(carry_weight)] += carry_weight
        ramp_y = _ramp(ry, wy, height, overlap)
        for rx in cols:
            wx = (max(rx[0] - overlap, 0), min(rx[1] + overlap, width))
            window = image[wy[0] : wy[1], wx[0] : wx[1]]
            if gray:
                window = np.repeat(window[:, :, None], 3, axis=2)
            weight = (ramp_y[:, None] * _ramp(rx, wx, width, overlap)[None, :])[..., None]
            total[:, wx[0] : wx[1]] += weight * restorer(np.ascontiguousarray(window))
            weights[:, wx[0] : wx[1]] += weight
            if progress:
                progress(1)
        # rows before the next band's window are final; the rest is carried into it
        done = max(rows[k + 1][0] - overlap, 0) - wy[0] if k + 1 < len(rows) else len(total)
        out[wy[0] : wy[0] + done] = _finish(total[:done] / weights[:done], gray, rounded)
        carry_total, carry_weight = total[done:], weights[done:]
    return out


def _finish(image: np.ndarray, gray: bool, rounded: bool) -> np.ndarray:
    """uint8 (rounded) or float32 pixels; gray images as the mean of the three channels."""
    if rounded:
        return to_uint8(image, gray)
    return image.mean(axis=2).astype(np.float32) if gray else image.astype(np.float32)


def tile_count(shape: tuple[int, ...], tile: int, overlap: int) -> int:
    """How many tiles `restore_tiled` uses for an image of `shape`."""
    return len(tile_starts(shape[0], tile, overlap)) * len(tile_starts(shape[1], tile, overlap))
