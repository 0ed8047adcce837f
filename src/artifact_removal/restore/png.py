"""Restored images as PNG files that say where they came from.

Each PNG that `restore` writes carries a text chunk (`artifact-removal`, JSON) with a hash of
the input file and of the settings that made it (method, quality option, generator files, tile,
bit depth). A rerun reads it back to recognise finished outputs (and skip them) and to tell them
from files that belong to something else (and leave those alone). The chunk comes before the
image data, so reading it needs the first few kilobytes only.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..fileio import write_atomic

KEYWORD = b"artifact-removal"
SIGNATURE = b"\x89PNG\r\n\x1a\n"


def srgb_profile() -> bytes:
    """LittleCMS's sRGB ICC profile, with its creation date set to 2000-01-01 00:00: the
    profile stamps the time it was made, which would make two runs' outputs differ in bytes.
    (The profile ID, an MD5 that would cover the date, is left unset, as LittleCMS leaves it.)"""
    from PIL import ImageCms

    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)
    return bytes(profile)


def record_json(record: dict) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def write_png_record(
    path: Path,
    pixels: np.ndarray,
    bits: int,
    icc: bool,
    record: dict,
    replace: bool = True,
    exif: bytes = b"",
) -> None:
    """Write (H, W, 3) or (H, W) pixels as a PNG with `record` in its text chunk, atomically
    (`fileio.write_atomic`; with `replace=False` an existing file is never replaced), and the
    input's `exif` (as Pillow's `Exif.tobytes()` gives it) in an eXIf chunk.

    8-bit: Pillow, streamed to the file, from uint8 or [0, 255] floats, with an sRGB ICC
    profile when `icc`. 16-bit: OpenCV, from [0, 255] floats.
    """
    if bits == 8:
        from PIL import Image, PngImagePlugin

        if pixels.dtype != np.uint8:
            pixels = np.rint(pixels).clip(0, 255).astype(np.uint8)
        info = PngImagePlugin.PngInfo()
        info.add_text(KEYWORD.decode(), record_json(record))
        profile = srgb_profile() if icc else None
        image = Image.fromarray(pixels)
        options = {"pnginfo": info, "icc_profile": profile} | ({"exif": exif} if exif else {})
        write_atomic(path, lambda f: image.save(f, format="PNG", **options), replace=replace)
    elif bits == 16:
        import cv2

        deep = np.rint(pixels.astype(np.float64) * 257).clip(0, 65535).astype(np.uint16)
        ok, encoded = cv2.imencode(".png", deep if deep.ndim == 2 else deep[:, :, ::-1])
        if not ok:
            raise OSError("OpenCV could not encode a 16-bit PNG")
        png = with_record(encoded.tobytes(), record)
        if exif:  # PNG's eXIf chunk holds the TIFF structure, without JPEG's "Exif\0\0"
            png = _after_header(png, _chunk(b"eXIf", exif.removeprefix(b"Exif\0\0")))
        write_atomic(path, png, replace=replace)
    else:
        raise ValueError(f"bits must be 8 or 16, not {bits}")


def _chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC of type and data."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def with_record(png: bytes, record: dict) -> bytes:
    """`png` with a tEXt chunk holding `record` as JSON, inserted after the header chunk."""
    text = record_json(record).encode("latin-1")
    return _after_header(png, _chunk(b"tEXt", KEYWORD + b"\0" + text))


def _after_header(png: bytes, chunk: bytes) -> bytes:
    """`png` with `chunk` inserted right after its header chunk (IHDR)."""
    if not png.startswith(SIGNATURE):
        raise ValueError("not PNG data")
    end_of_header = len(SIGNATURE) + 8 + struct.unpack(">I", png[8:12])[0] + 4
    return png[:end_of_header] + chunk + png[end_of_header:]


def chunk_heads(f: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(length, type) of each chunk of an open PNG file, its position at the chunk's data; none
    when the file is not a PNG, and no more where it ends short of a chunk's head."""
    if f.read(len(SIGNATURE)) != SIGNATURE:
        return
    while len(head := f.read(8)) == 8:
        yield struct.unpack(">I4s", head)


def is_whole(path: str | Path) -> bool:
    """Whether a PNG file is whole: every chunk complete with a right CRC, up to its IEND
    chunk (a cut or damaged file is not; the image data is not decompressed)."""
    try:
        with open(path, "rb") as f:
            for length, kind in chunk_heads(f):
                body, crc = f.read(length), f.read(4)
                if len(body) < length or len(crc) < 4:
                    return False
                if struct.unpack(">I", crc)[0] != zlib.crc32(kind + body):
                    return False
                if kind == b"IEND":
                    return True
    except OSError:
        return False
    return False
