"""The record every output of `restore` carries (a hash of its input and of the settings that
made it), read back from any output, and whether an output is whole: a rerun skips only the
outputs that are this run's result and undamaged, and an input folder's files that carry a
record are known as earlier outputs.

Images keep their record in a PNG text chunk (`png`), a JPEG comment or a WebP XMP chunk
(`image_files`); videos in the container's metadata (`video_mux`). What a file is, its
content says (`kinds`).
"""

from __future__ import annotations

from pathlib import Path

from .image_files import read_output_record
from .kinds import is_video
from .png import SIGNATURE
from .png import is_whole as png_is_whole
from .video_mux import read_video_record


def record_of(path: str | Path) -> dict | None:
    """The record of an output that `restore` wrote (image or video); None for any other
    file."""
    return read_video_record(path) if is_video(path) else read_output_record(path)


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
