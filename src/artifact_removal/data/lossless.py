"""Lossless clips: a user's clip read as 8-bit RGB frames, and frames written as FFV1.

A user's own clips go in as lossless video (Y4M, FFV1, raw, PNG/UT Video/HuffYUV in a
container) or a folder of PNG frames; `read_clip` decodes them to 8-bit RGB and says what it
had to convert (10-bit to 8-bit, a variable frame rate taken frame by frame) or why it cannot
use them (lossy, damaged, no video stream, no frames).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..degradations.h264 import x264_quality
from ..degradations.yuv import frame_to_rgb

LOSSLESS_CODECS = {
    "rawvideo",
    "ffv1",
    "png",
    "utvideo",
    "huffyuv",
    "ffvhuff",
    "qtrle",
    "v210",
    "r210",
    "yuv4",
}


class ClipError(ValueError):
    """A clip that cannot be used, with the reason (the caller names the file)."""


@dataclass(frozen=True)
class LoadedClip:
    """A user's clip: (T, H, W, 3) uint8 RGB frames, the frame rate, what was converted."""

    frames: np.ndarray
    fps: Fraction
    notes: tuple[str, ...] = ()


def read_clip(
    path: str | Path, max_frames: int | None = None, fps: Fraction = Fraction(25)
) -> LoadedClip:
    """A lossless clip (a video file, or a folder of PNG frames at `fps`), as 8-bit RGB; at
    most `max_frames` frames. ClipError says why a clip cannot be used."""
    path = Path(path)
    if path.is_dir():
        return _read_png_folder(path, max_frames, fps)
    if not path.exists():
        raise ClipError("not found")
    import av

    notes = []
    lossless_h264 = (quality := x264_quality(path)) is not None and quality.quality == 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ClipError("has no video stream")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            seconds = (
                float(stream.duration * stream.time_base)
                if stream.duration
                else container.duration / 1e6
                if container.duration
                else None
            )
            if codec == "h264" and lossless_h264:
                notes.append(f"H.264 at x264's {quality} (lossless): taken as a clean clip")
            elif codec not in LOSSLESS_CODECS:
                kinds = ", ".join(sorted(LOSSLESS_CODECS))
                raise ClipError(
                    f"is {codec}, a lossy codec: a clean clip must be lossless "
                    f"({kinds}, or PNG frames)"
                )
            rate = stream.average_rate or stream.guessed_rate or fps
            frames, stamps = [], []
            for frame in container.decode(stream):
                if any(c.bits > 8 for c in frame.format.components):
                    note = f"{frame.format.name} ({max(c.bits for c in frame.format.components)}"
                    note += "-bit) converted to 8-bit RGB"
                    if note not in notes:
                        notes.append(note)
                frames.append(frame_to_rgb(frame))
                stamps.append(frame.time)
                if max_frames and len(frames) >= max_frames:
                    break
    except ClipError:
        raise
    except (av.FFmpegError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ClipError(
            f"cannot be read as a video: damaged, truncated, or not a video ({reason})"
        ) from None
    if len(frames) < 2:
        raise ClipError(f"has {len(frames)} frame(s); a clip needs at least 2")
    if problem := truncation(
        stream.frames,
        seconds,
        len(frames),
        stamps,
        float(rate),
        complete=not (max_frames and len(frames) >= max_frames),
    ):
        raise ClipError(f"truncated: {problem} (repair or re-export it)")
    gaps = np.diff([s for s in stamps if s is not None])
    if len(gaps) and gaps.max() - gaps.min() > 0.5 / float(rate):
        notes.append(
            f"variable frame rate ({1 / gaps.max():.2f} to {1 / gaps.min():.2f} fps): "
            f"taken frame by frame at its average {float(rate):.3f} fps"
        )
    return LoadedClip(np.stack(frames), Fraction(rate), tuple(notes))


def truncation(
    promised: int | None,
    seconds: float | None,
    decoded: int,
    stamps: list,
    fps: float,
    complete: bool = True,
) -> str | None:
    """Why a decoded stream looks cut short, or None: fewer frames than the container's count
    (less 5%), or, without a count, frames that stop well before its duration (a variable
    frame rate is judged by the timestamps, not by duration x rate). `complete`: the whole
    stream was read."""
    if not complete:
        return None
    if promised:
        if decoded < 0.95 * promised - 1:
            return f"its container promises {promised} frames, only {decoded} could be decoded"
        return None
    last = max((s for s in stamps if s is not None), default=None)
    if seconds and last is not None and last + 2 / fps < 0.9 * seconds:
        return (
            f"its container says {seconds:.2f} s, its frames stop at {last:.2f} s "
            f"({decoded} frames)"
        )
    return None


def _read_png_folder(folder: Path, max_frames: int | None, fps: Fraction) -> LoadedClip:
    """PNG frames in name order; all of one size."""
    from .images import ImageReadError, read_image

    names = sorted(folder.glob("*.png"))[:max_frames]
    if len(names) < 2:
        raise ClipError(f"holds {len(names)} PNG frame(s); a clip needs at least 2")
    frames, notes = [], []
    for name in names:
        try:
            loaded = read_image(name)
        except ImageReadError as err:
            raise ClipError(f"frame {name.name}: {err.reason}") from None
        if frames and loaded.pixels.shape != frames[0].shape:
            raise ClipError(
                f"frame {name.name} is {loaded.pixels.shape[1]}x"
                f"{loaded.pixels.shape[0]}, the first "
                f"{frames[0].shape[1]}x{frames[0].shape[0]}"
            )
        frames.append(loaded.pixels)
        notes += [n for n in loaded.notes if n not in notes]
    return LoadedClip(np.stack(frames), fps, tuple(notes))


def write_lossless(path: str | Path, frames: np.ndarray, fps: Fraction) -> Path:
    """(T, H, W, 3) uint8 frames as FFV1 (RGB, bit-exact) in Matroska, atomically."""
    import av

    from ..fileio import write_atomic

    def write(file) -> None:
        with av.open(file, mode="w", format="matroska") as container:
            stream = container.add_stream("ffv1", rate=fps)
            stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "bgr0"
            for t, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                frame.pts = t
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))

    return write_atomic(path, write)
