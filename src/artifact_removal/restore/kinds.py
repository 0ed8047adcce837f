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

A file called `.heic`, `.dng` or another name of `UNSUPPORTED` is refused with what to do unless
Pillow reads it as a still format of its own (camera raws are TIFFs with a small preview,
which would be restored in its place), and a HEIF or AVIF file is never taken for a video. A
media file with no video stream of its own (an audio file with a cover picture) is not an
input. Each file is looked at once per size and modification time.
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
STILL_FORMATS = {"JPEG", "MPO", "PNG", "GIF", "BMP", "DIB", "TIFF", "WEBP", "PPM", "AVIF"}
# Pillow formats that are not still images it can decode
NOT_STILL = {"MPEG"}
OVER_LIMIT = "image over Pillow's pixel limit"  # what `_pillow_format` says of one
# FFmpeg demuxers that read images, not videos (the `_pipe` readers: jpeg_pipe, png_pipe, ...)
IMAGE_DEMUXERS = {"image2", "gif", "apng", "tty", "ico", "webp"}
# ISO-BMFF brands (the `ftyp` box that MP4 files start with too) of still images and image
# sequences: HEIF/HEIC (phones), AVIF, Canon's CR3 raw. FFmpeg's MP4 reader opens them and
# finds a "video" stream (one tile, one frame); they are images.
IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
                b"avif", b"avis", b"crx "}  # fmt: skip


def kind_of(path: str | Path) -> str | None:
    """IMAGE or VIDEO for a file, by its content (see the module docstring); None when it is
    not an input (`why_not` says why)."""
    return _looked_at(Path(path))[0]


def is_video(path: str | Path) -> bool:
    """Whether `restore` takes a file as a video (`kind_of`)."""
    return kind_of(path) == VIDEO


# Pillow's formats that `restore --format auto` writes back as they came (`ImageOutput.for_input`)
KEPT_FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp"}


def still_format(path: str | Path) -> str | None:
    """ "jpeg", "png" or "webp" for an image file in one of those formats (by its header, not its
    name: an MPO, a camera's JPEG with a second picture, is a JPEG); None for any other."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return _still_format(str(path), stat.st_size, stat.st_mtime_ns)


def _still_format(path: str, size: int, mtime_ns: int) -> str | None:
    return KEPT_FORMATS.get(_header_format(path, size, mtime_ns))


@functools.lru_cache(maxsize=4096)
def _header_format(path: str, size: int, mtime_ns: int) -> str | None:
    """`_pillow_format` of a file as it is at this size and modification time: each file's
    header is read once, for its kind and for its format."""
    return _pillow_format(Path(path))


def why_not(path: str | Path) -> str:
    """Why a file `kind_of` does not take is not an input."""
    return _looked_at(Path(path))[1] or "not an input"


def _looked_at(path: Path) -> tuple[str | None, str | None]:
    """(kind, why not) of a file, looked at once per size and modification time."""
    try:
        stat = os.stat(path)
    except OSError:
        return _by_suffix(path)
    return _kind(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _kind(path: str, size: int, mtime_ns: int) -> tuple[str | None, str | None]:
    """`_looked_at` of a file as it is at this size and modification time."""
    file = Path(path)
    suffix = file.suffix.lower()
    pillow = _header_format(path, size, mtime_ns)
    if suffix in UNSUPPORTED and pillow in (None, "TIFF"):  # raw files are TIFFs with a preview
        return None, _unsupported(file)
    if pillow in STILL_FORMATS or pillow == OVER_LIMIT:
        return IMAGE, None
    if _image_brand(file):
        return None, _unsupported(file) if suffix in UNSUPPORTED else (
            "a HEIF/AVIF still image that Pillow here cannot decode: convert it to PNG or "
            "JPEG first"
        )
    video = _video_streams(file)
    if video:
        return VIDEO, None
    if pillow is not None and pillow not in NOT_STILL:
        return IMAGE, None
    if video == 0:
        return None, "holds no video stream (an audio file, or a cover picture only)"
    return _by_suffix(file)


def _by_suffix(path: Path) -> tuple[str | None, str | None]:
    """The tie-break for a file neither reader recognises: its suffix."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return IMAGE, None
    if suffix in VIDEO_SUFFIXES:
        return VIDEO, None
    if suffix in UNSUPPORTED:
        return None, _unsupported(path)
    kind = f"suffix '{path.suffix}'" if path.suffix else "no suffix"
    return None, f"not an image or video file ({kind}, and neither Pillow nor FFmpeg recognises it)"


def _unsupported(path: Path) -> str:
    return (
        f"{UNSUPPORTED[path.suffix.lower()]} images cannot be read here (Pillow has no decoder "
        "for them): convert it to PNG or JPEG first"
    )


def _pillow_format(path: Path) -> str | None:
    """The format Pillow recognises in a file's header (nothing is decoded), or None. An image
    over Pillow's pixel limit is still an image (the reader refuses it, saying why)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                return image.format
    except Image.DecompressionBombError:  # raised once the format is known to be an image's
        return OVER_LIMIT
    except Exception:  # not an image Pillow knows, or damaged: the other checks decide
        return None


def _image_brand(path: Path) -> bool:
    """Whether a file starts with an ISO-BMFF `ftyp` box naming an image brand."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    if len(head) < 16 or head[4:8] != b"ftyp":
        return False
    size = min(int.from_bytes(head[:4], "big"), len(head))
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, size - 3, 4)]
    return any(b in IMAGE_BRANDS for b in brands)


def _video_streams(path: Path) -> int | None:
    """How many video streams of its own (not cover pictures) a video container FFmpeg opens
    holds; None when FFmpeg does not open it as a video container."""
    import av
    from av.stream import Disposition

    try:
        with av.open(str(path)) as container:
            names = set(container.format.name.split(","))
            if names & IMAGE_DEMUXERS or any(n.endswith("_pipe") for n in names):
                return None
            return sum(
                not s.disposition & Disposition.attached_pic for s in container.streams.video
            )
    except Exception:  # FFmpeg's many errors for what is not a media file
        return None
