"""The record every output of `restore` carries (a hash of its input and of the settings that
made it), read back from any output, and whether an output is whole: a rerun skips only the
outputs that are this run's result and undamaged, and an input folder's files that carry a
record are known as earlier outputs.

Images keep their record in a PNG text chunk (written by `png`), a JPEG comment or a WebP XMP
chunk (`image_files`); videos in the container's metadata (`video_mux`); an input copied as it
is, in its folder's list of copies (`copies`). Every format's record is read here. What a
file is, its content says (`kinds`).
"""

from __future__ import annotations

import json
from pathlib import Path

from .copies import copy_record
from .image_files import JPEG_START, PREFIX
from .kinds import is_video
from .png import KEYWORD, SIGNATURE, chunk_heads
from .png import is_whole as png_is_whole
from .video_mux import RECORD_KEY, RECORD_PREFIX


def record_of(path: str | Path) -> dict | None:
    """The record of an output that `restore` wrote (image or video), or of an input it copied
    as it is (its folder's list of copies: `restore.copies`); None for any other file."""
    if is_video(path):
        return video_record(path)
    return image_record(path) or copy_record(path)


def png_record(path: str | Path) -> dict | None:
    """The record of a PNG written by `restore`; None for any other file (or none at all).
    Reads the chunks before the image data only."""
    try:
        with open(path, "rb") as f:
            for length, kind in chunk_heads(f):
                if kind in (b"IDAT", b"IEND") or length > 1 << 24:
                    return None
                if kind != b"tEXt":
                    f.seek(length + 4, 1)
                    continue
                body = f.read(length)
                f.seek(4, 1)
                if body.startswith(KEYWORD + b"\0"):
                    found = json.loads(body[len(KEYWORD) + 1 :].decode("latin-1"))
                    return found if isinstance(found, dict) else None
    except (OSError, ValueError):
        return None
    return None


def image_record(path: str | Path) -> dict | None:
    """The record of an image `restore` wrote (PNG, JPEG or WebP); None for any other file."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    if head.startswith(SIGNATURE):
        return png_record(path)
    if not (head.startswith(JPEG_START) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")):
        return None
    from PIL import Image

    try:
        with Image.open(path) as image:  # the header only: nothing is decoded
            if image.format == "JPEG":  # every comment: the file may carry others besides ours
                tags = [body for name, body in image.applist if name == "COM"]
            else:
                tags = [image.info.get("xmp")]
    except Exception:  # damaged or foreign: not ours
        return None
    for tagged in tags:
        if isinstance(tagged, str):
            tagged = tagged.encode()
        if tagged and tagged.startswith(PREFIX):
            try:
                found = json.loads(tagged[len(PREFIX) :])
            except ValueError:
                return None
            return found if isinstance(found, dict) else None
    return None


def video_record(path: str | Path) -> dict | None:
    """The record `restore_video` wrote into a video's metadata, or None (not ours, not a
    video, unreadable)."""
    import av

    try:
        with av.open(str(path)) as container:
            tags = {key.lower(): value for key, value in container.metadata.items()}
            text = tags.get(RECORD_KEY, "")  # Matroska spells it COMMENT
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        return None
    if not text.startswith(RECORD_PREFIX):
        return None
    try:
        return json.loads(text[len(RECORD_PREFIX) :])
    except ValueError:
        return None


def is_whole(path: str | Path) -> bool:
    """Whether an output is whole: a PNG's chunks complete with right CRCs (about 15 ms for 18
    MB), a JPEG or WebP decoded to its end, a video's packets all there (as many frames as its
    container says, up to its video stream's duration)."""
    path = Path(path)
    if is_video(path):
        return _video_is_whole(path)
    with open(path, "rb") as f:
        if f.read(len(SIGNATURE)) == SIGNATURE:
            return png_is_whole(path)
    return _image_decodes(path)


def finished(target: Path, record: dict) -> bool:
    """Whether `target` is already the output of this input with these settings, and whole."""
    return target.is_file() and record_of(target) == record and is_whole(target)


def _image_decodes(path: Path) -> bool:
    """Whether Pillow decodes an image file to its end without error (within the pixel limit
    of the run: its own outputs are the size of inputs it took)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                image.load()
        return True
    except Exception:  # truncated, damaged: Pillow's errors for each way
        return False


def _video_is_whole(path: Path) -> bool:
    """Whether a video's first stream holds the frames its container says, up to the stream's
    duration (demuxed, not decoded: about as cheap as reading the file)."""
    import av

    from .video_mux import check_whole, first_stream_extent
    from .video_probe import VideoError, probe

    try:
        check_whole(probe(path), *first_stream_extent(path))
    except (VideoError, av.FFmpegError, OSError):
        return False
    return True
