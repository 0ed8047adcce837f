"""The IJG quality of a JPEG file, read from its quantization tables.

libjpeg (and so Pillow, OpenCV, ImageMagick and most software) makes its tables by scaling the
example tables of the JPEG standard (ITU-T T.81, Annex K, tables K.1 and K.2) with one factor
derived from the quality: 5000 / Q below 50, 200 - 2 Q from 50. Comparing a file's tables with
those of every quality from 1 to 100 gives its quality exactly when it was written that way, and
the nearest quality otherwise (cameras and some editors use tables of their own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

# ITU-T T.81 Annex K, table K.1 (luminance) and K.2 (chrominance), in natural (row) order.
STANDARD_LUMA = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ]
)
STANDARD_CHROMA = np.full((8, 8), 99)
STANDARD_CHROMA[:4, :4] = [
    [17, 18, 24, 47],
    [18, 21, 26, 66],
    [24, 26, 56, 99],
    [47, 66, 99, 99],
]


def ijg_tables(quality: int, baseline: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The (luma, chroma) 8x8 tables libjpeg writes at `quality` (1..100), natural order."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, not {quality}")
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    top = 255 if baseline else 32767
    return tuple(
        np.clip((base * scale + 50) // 100, 1, top) for base in (STANDARD_LUMA, STANDARD_CHROMA)
    )


_ALL = {q: ijg_tables(q) for q in range(1, 101)}


@dataclass(frozen=True)
class TableQuality:
    """The IJG quality nearest to a file's tables.

    `exact` is True when the tables are libjpeg's at `quality`; otherwise `error` is the mean
    absolute difference of the table entries from the nearest quality's, and the quality is an
    estimate.
    """

    quality: int
    exact: bool
    error: float
    kind = "tables"  # what told the quality, in messages

    def __str__(self) -> str:
        return f"{self.quality}" if self.exact else f"about {self.quality} (non-IJG tables)"


def quality_from_tables(tables: Mapping[int, Sequence[int]]) -> TableQuality:
    """The quality whose libjpeg tables are nearest to `tables` ({0: luma, 1: chroma, ...}).

    Tables are 64 entries in natural order, as Pillow gives them; a third or fourth table (rare)
    is ignored, and a gray JPEG's single table is compared with the luma table only.
    """
    if 0 not in tables:
        raise ValueError("no luminance quantization table (table 0)")
    given = [np.asarray(tables[i], dtype=np.int64).reshape(8, 8) for i in (0, 1) if i in tables]
    best, best_error = 0, np.inf
    for quality, standard in _ALL.items():
        error = float(
            np.mean([np.abs(t - s).mean() for t, s in zip(given, standard, strict=False)])
        )
        if error < best_error:
            best, best_error = quality, error
    return TableQuality(best, best_error == 0, best_error)


def jpeg_quality(path: str | Path | BinaryIO) -> TableQuality | None:
    """The IJG quality of the JPEG file (or open binary file) `path`; None for other formats.

    Unreadable files raise the same errors as Pillow; `images.read_image` reports them.
    """
    with Image.open(path) as image:
        tables = getattr(image, "quantization", None) if image.format == "JPEG" else None
        return quality_from_tables(tables) if tables else None
