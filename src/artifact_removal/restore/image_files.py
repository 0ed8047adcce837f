"""Restored images as PNG, JPEG or WebP files that say where they came from.

Every output carries the record of what made it (`restore.png`): in a PNG's text chunk, a
JPEG's comment (COM) segment, a WebP's XMP chunk, as `artifact-removal {json}`. A rerun reads
it to skip finished outputs and to leave other files alone. JPEG is written in 4:4:4 (the
restored colour, not halved again), WebP lossy (4:2:0: the format has no other) or lossless
at quality 100; both keep the input's EXIF and an sRGB ICC profile.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..fileio import write_atomic
from .options import ImageOutput
from .png import KEYWORD, record_json, srgb_profile, write_png_record

PREFIX = KEYWORD + b" "  # before the JSON, in a JPEG comment or WebP XMP chunk
JPEG_START = b"\xff\xd8"


def write_image_record(
    path: Path,
    pixels: np.ndarray,
    output: ImageOutput,
    bits: int,
    icc: bool,
    record: dict,
    replace: bool = True,
    exif: bytes = b"",
) -> None:
    """Write (H, W, 3) or (H, W) pixels (uint8, or floats in [0, 255]) in `output`'s format
    with `record`, atomically; `replace=False` never replaces an existing file."""
    if output.format == "png":
        write_png_record(path, pixels, bits, icc, record, replace, exif)
        return
    if bits != 8:
        raise ValueError(f"{output.format} outputs are 8-bit; 16 bits needs --format png")
    from PIL import Image

    if pixels.dtype != np.uint8:
        pixels = np.rint(pixels).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    profile = srgb_profile() if icc else None
    tagged = PREFIX + record_json(record).encode()
    options: dict = {"quality": output.quality, "icc_profile": profile}
    options |= {"exif": exif} if exif else {}
    if output.format == "jpeg":
        options |= {"subsampling": 0, "comment": tagged, "format": "JPEG"}
    else:
        lossless = output.quality == 100
        options |= {"lossless": lossless, "xmp": tagged, "format": "WEBP", "method": 4}
    write_atomic(path, lambda f: image.save(f, **options), replace=replace)
