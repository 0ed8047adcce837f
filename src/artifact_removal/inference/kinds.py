"""What an input file is, an image or a video, decided by its content; the suffix only breaks
ties (a file whose content neither reader recognises, such as a damaged JPEG called `.jpg`,
goes to the reader its suffix names, which then says what is wrong with it).

A JPEG called `clip.mp4` is an image (its quantization tables say its QF) and an MP4 called
`photo.jpg` a video. The order of the checks:

1. Pillow recognises a still-image format by its own signature (`STILL_FORMATS`): an image.
2. FFmpeg (PyAV) opens a container with a video stream that is not an attached picture (the
   cover of an audio file), through a demuxer for video (not one of FFmpeg's image readers,
   which would take a JPEG as a one-frame video): a video.
3. Pillow recognises another format (TGA, ICO, ...; not MPEG, whose header Pillow reads but
   whose frames it cannot decode): an image.
4. The suffix: an image suffix (`IMAGE_SUFFIXES`) or a video suffix (`VIDEO_SUFFIXES`); else
   not an input, with why (`UNSUPPORTED` names the formats people meet that Pillow cannot
   decode).

Each file is looked at once per size and modification time (`kind_of` caches its answer).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

IMAGE, VIDEO = "image", "video"
IMAGE_SUFFIXES = {
    ".jpg",
    ".jpeg",
    ".jpe",
    ".jfif",
    ".png",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
    ".pnm",
    ".gif",
}
VIDEO_SUFFIXES = {
    ".mp4",
    ".m4v",
    ".mov",
    ".mkv",
    ".webm",
    ".avi",
    ".y4m",
    ".mpg",
    ".mpeg",
    ".ts",
    ".m2ts",
    ".mts",
    ".flv",
    ".wmv",
    ".3gp",
    ".ogv",
}
# Formats people meet that Pillow cannot decode: named, with what to do.
UNSUPPORTED = {
    ".heic": "HEIC",
    ".heif": "HEIF",
    ".avif": "AVIF",
    ".jxl": "JPEG XL",
    ".dng": "DNG raw",
    ".cr2": "Canon raw",
    ".cr3": "Canon raw",
    ".nef": "Nikon raw",
    ".arw": "Sony raw",
    ".raf": "Fujifilm raw",
    ".orf": "Olympus raw",
    ".rw2": "Panasonic raw",
    ".svg": "SVG",
}
# Pillow's names of the still formats that start with a signature of their own
STILL_FORMATS = {"JPEG", "MPO", "PNG", "GIF", "BMP", "DIB", "TIFF", "WEBP", "PPM"}
# Pillow formats that are not still images it can decode
NOT_STILL = {"MPEG"}
# FFmpeg demuxers that read images, not videos (the `_pipe` readers: jpeg_pipe, png_pipe, ...)
IMAGE_DEMUXERS = {"image2", "gif", "apng", "tty", "ico", "webp"}


def kind_of(path: str | Path) -> str | None:
    """IMAGE or VIDEO for a file, by its content (see the module docstring); None when
    neither reader recognises it and its suffix names neither."""
    path = Path(path)
    try:
        stat = os.stat(path)
    except OSError:
        return _by_suffix(path)
    return _kind(str(path), stat.st_size, stat.st_mtime_ns)


def is_video(path: str | Path) -> bool:
    """Whether `restore` takes a file as a video (`kind_of`)."""
    return kind_of(path) == VIDEO


def why_not(path: Path) -> str:
    """Why a file `kind_of` did not recognise is not an input."""
    suffix = path.suffix.lower()
    if suffix in UNSUPPORTED:
        return (
            f"{UNSUPPORTED[suffix]} images cannot be read (Pillow has no decoder for "
            "them): convert it to PNG or JPEG first"
        )
    kind = f"suffix '{path.suffix}'" if path.suffix else "no suffix"
    return f"not an image or video file ({kind}, and neither Pillow nor FFmpeg recognises it)"


@functools.lru_cache(maxsize=4096)
def _kind(path: str, size: int, mtime_ns: int) -> str | None:
    """`kind_of` of a file as it is at this size and modification time."""
    pillow = _pillow_format(Path(path))
    if pillow in STILL_FORMATS:
        return IMAGE
    if _holds_video(Path(path)):
        return VIDEO
    if pillow is not None and pillow not in NOT_STILL:
        return IMAGE
    return _by_suffix(Path(path))


def _by_suffix(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return IMAGE if suffix in IMAGE_SUFFIXES else VIDEO if suffix in VIDEO_SUFFIXES else None


def _pillow_format(path: Path) -> str | None:
    """The format Pillow recognises in a file's header (nothing is decoded), or None."""
    import warnings

    from PIL import Image

    guard, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # the header only
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                return image.format
    except Exception:  # not an image Pillow knows, or damaged: the other checks decide
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = guard


def _holds_video(path: Path) -> bool:
    """Whether FFmpeg opens `path` as a video container with a video stream of its own."""
    import av
    from av.stream import Disposition

    try:
        with av.open(str(path)) as container:
            names = set(container.format.name.split(","))
            if names & IMAGE_DEMUXERS or any(n.endswith("_pipe") for n in names):
                return False
            return any(
                not s.disposition & Disposition.attached_pic for s in container.streams.video
            )
    except Exception:  # FFmpeg's many errors for what is not a media file
        return False
