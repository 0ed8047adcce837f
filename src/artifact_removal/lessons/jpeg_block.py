"""One 8x8 block through baseline JPEG by hand, beside libjpeg's own result (notebook 01).

The steps of the luma channel (Wallace, "The JPEG still picture compression standard", 1991):
level shift by 128, the 2-D DCT-II, division by the quantization table that the quality factor
scales (`degradations.jpeg_quality.ijg_tables`, the IJG formula), rounding (the only lossy
step), then the decoder's way back: multiplication by the table, the inverse DCT, the level
shift and rounding to 8 bits. The codec's column is a real libjpeg encode of the same 8x8 gray
image through Pillow; its integer DCT differs from the float one here by at most a level or so.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from scipy.fft import dctn, idctn

from ..degradations.jpeg_quality import ijg_tables


@dataclass(frozen=True)
class BlockSteps:
    """Every intermediate of one 8x8 luma block at one QF (float64 unless said)."""

    quality: int
    block: np.ndarray  # (8, 8) uint8, the original pixels
    coefficients: np.ndarray  # DCT of block - 128
    table: np.ndarray  # (8, 8) int, the quantization table at `quality`
    quantized: np.ndarray  # (8, 8) int, round(coefficients / table): what the file stores
    decoded: np.ndarray  # (8, 8) uint8, the block rebuilt from `quantized`
    codec: np.ndarray  # (8, 8) uint8, libjpeg's decoded block

    @property
    def zeros(self) -> int:
        """How many of the 64 stored coefficients are 0 (the entropy coder's gain)."""
        return int((self.quantized == 0).sum())

    @property
    def error(self) -> np.ndarray:
        """decoded - block, in levels (int)."""
        return self.decoded.astype(int) - self.block.astype(int)


def busiest_block(gray: np.ndarray) -> tuple[int, int]:
    """(row, column) of the 8x8 block on the JPEG grid with the largest pixel variance."""
    h, w = (s // 8 * 8 for s in gray.shape)
    blocks = gray[:h, :w].reshape(h // 8, 8, w // 8, 8).astype(float)
    variance = blocks.var(axis=(1, 3))
    row, col = np.unravel_index(np.argmax(variance), variance.shape)
    return int(row) * 8, int(col) * 8


def codec_block(block: np.ndarray, quality: int) -> np.ndarray:
    """The block as libjpeg encodes and decodes it: an 8x8 gray JPEG at `quality`."""
    buffer = io.BytesIO()
    Image.fromarray(block, "L").save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())))


def encode_block(block: np.ndarray, quality: int) -> BlockSteps:
    """The steps of JPEG for one (8, 8) uint8 luma block at `quality` (1..100)."""
    if block.shape != (8, 8) or block.dtype != np.uint8:
        raise ValueError(f"a block is (8, 8) uint8, not {block.shape} {block.dtype}")
    table = ijg_tables(quality)[0].astype(int)
    coefficients = dctn(block.astype(float) - 128, norm="ortho")
    quantized = np.round(coefficients / table).astype(int)
    rebuilt = idctn(quantized * table, norm="ortho") + 128
    decoded = np.clip(np.round(rebuilt), 0, 255).astype(np.uint8)
    codec = codec_block(block, quality)
    return BlockSteps(quality, block, coefficients, table, quantized, decoded, codec)


def value_grid(
    ax, values: np.ndarray, title: str, fmt: str, cmap: str, vmin=None, vmax=None
) -> None:
    """A small 2-D array as coloured cells with each value written in it."""
    shown = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    for (i, j), value in np.ndenumerate(values):
        red, green, blue, _ = shown.cmap(shown.norm(value))
        ink = "black" if 0.3 * red + 0.6 * green + 0.1 * blue > 0.5 else "white"
        ax.text(j, i, format(value, fmt), ha="center", va="center", fontsize=6.5, color=ink)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def block_figure(steps: BlockSteps) -> plt.Figure:
    """The block, its coefficients, the table, what is stored, the two decodes, the error."""
    fig, axes = plt.subplots(2, 4, figsize=(13, 6.8))
    gray = {"cmap": "gray", "vmin": 0, "vmax": 255}
    limit = np.abs(steps.coefficients).max()
    value_grid(axes[0, 0], steps.block, "original block", "d", **gray)
    value_grid(axes[0, 1], steps.coefficients, "DCT of block - 128", ".0f", "RdBu", -limit, limit)
    value_grid(axes[0, 2], steps.table, f"quantization table, QF {steps.quality}", "d", "Blues")
    stored = f"stored: round(DCT / table), {steps.zeros} zeros"
    value_grid(axes[0, 3], steps.quantized, stored, "d", "RdBu", -4, 4)
    value_grid(axes[1, 0], steps.decoded, "decoded by hand", "d", **gray)
    value_grid(axes[1, 1], steps.codec, "decoded by libjpeg", "d", **gray)
    value_grid(axes[1, 2], steps.error, "error: by hand - original", "+d", "RdBu", -40, 40)
    difference = steps.decoded.astype(int) - steps.codec.astype(int)
    value_grid(axes[1, 3], difference, "by hand - libjpeg", "+d", "RdBu", -4, 4)
    fig.tight_layout()
    plt.close(fig)
    return fig
