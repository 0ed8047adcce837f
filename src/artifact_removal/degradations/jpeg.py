"""Degradations: the one JPEG codec of the project (Pillow's libjpeg, pinned)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

SUBSAMPLING = ("4:4:4", "4:2:2", "4:2:0")


@dataclass(frozen=True)
class Compressed:
    """A decoded JPEG: `pixels` (H, W[, 3]) uint8 and the size of the file that made them."""

    pixels: np.ndarray
    data: bytes

    @property
    def bits_per_pixel(self) -> float:
        """File size in bits over the number of pixels."""
        return 8 * len(self.data) / (self.pixels.shape[0] * self.pixels.shape[1])


def encode_jpeg(image: np.ndarray, quality: int, subsampling: str = "4:2:0") -> bytes:
    """JPEG bytes of an (H, W, 3) RGB or (H, W) gray uint8 image, IJG quality 1..100.

    Baseline, not optimised, standard IJG tables scaled by `quality`; gray images are
    written as one-channel JPEGs (as the literature's gray benchmarks are).
    """
    if not isinstance(quality, int | np.integer) or not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be an integer in 1..100, got {quality!r}")
    if subsampling not in SUBSAMPLING:
        raise ValueError(f"chroma subsampling must be one of {SUBSAMPLING}, got {subsampling!r}")
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.shape[2:] not in ((), (3,)):
        raise ValueError(
            f"expected an (H, W, 3) or (H, W) uint8 image, got {image.shape} {image.dtype}"
        )
    buffer = io.BytesIO()
    Image.fromarray(image).save(
        buffer,
        format="JPEG",
        quality=int(quality),
        subsampling=subsampling,
        optimize=False,
        progressive=False,
    )
    return buffer.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    """Pixels of JPEG bytes: (H, W, 3) RGB or (H, W) gray, uint8."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB") if im.mode not in ("RGB", "L") else im).copy()


def jpeg_compress(image: np.ndarray, quality: int, subsampling: str = "4:2:0") -> Compressed:
    """Compress and decode a whole image: I_C = C(I, QF), as a codec sees it."""
    data = encode_jpeg(image, quality, subsampling)
    return Compressed(decode_jpeg(data), data)


def chroma_subsampling_of(data: bytes) -> str:
    """The chroma subsampling of JPEG bytes as 'J:a:b' ('gray' for one-channel files)."""
    from PIL import JpegImagePlugin

    with Image.open(io.BytesIO(data)) as im:
        if im.mode == "L":
            return "gray"
        return {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}.get(JpegImagePlugin.get_sampling(im), "other")


def downscaled_jpeg(
    image: np.ndarray, quality: int, factor: int, subsampling: str = "4:2:0"
) -> np.ndarray:
    """Super-resolution + artifact removal's input (Mameli et al. 2020, Table II): the image
    downscaled `factor` times (bilinear), JPEG-compressed at `quality`, and resized back up
    (bilinear) to its own size, so that the network keeps the output size."""
    height, width = image.shape[:2]
    small = Image.fromarray(image).resize(
        (max(1, width // factor), max(1, height // factor)), Image.Resampling.BILINEAR
    )
    decoded = jpeg_compress(np.asarray(small), quality, subsampling).pixels
    return np.asarray(Image.fromarray(decoded).resize((width, height), Image.Resampling.BILINEAR))
