"""Degradations: H.264 video through PyAV's bundled FFmpeg and libx264 (pinned with `av`).

A clip goes in as RGB frames and comes back as the decoder sees it: (T, H, W, 3) uint8 frames
and each frame's picture type (I, P or B). The encoder works in yuv420p (BT.601, limited
range, tagged so; converted by `degradations.yuv`, not by FFmpeg), so the colour conversion and
the chroma subsampling are part of the degradation, as 4:2:0 is for JPEG. x264 runs on a fixed
number of threads and is given Y'CbCr converted in numpy: its bytes then depend on the settings
only, not on the machine's core count or on the process (FFmpeg's RGB converter inside the
encoder made the same clip come out differently from one run to the next).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice
from pathlib import Path
from typing import get_args

import numpy as np

from ..config.schema import X264Preset
from .yuv import YUVSpace, frame_to_rgb, rgb_to_frame

PRESETS = get_args(X264Preset)  # x264's speed presets, fastest first


@dataclass(frozen=True)
class H264:
    """libx264 settings: constant rate factor (0 = lossless .. 51), speed preset, keyframe
    interval (GOP, frames), B-frames between references, encoder threads."""

    crf: int
    preset: str = "medium"
    gop: int = 12
    bframes: int = 2
    threads: int = 1

    def __post_init__(self):
        if not isinstance(self.crf, int | np.integer) or not 0 <= self.crf <= 51:
            raise ValueError(f"H.264 CRF must be an integer in 0..51, got {self.crf!r}")
        if self.preset not in PRESETS:
            raise ValueError(
                f"x264 preset must be one of {', '.join(PRESETS)}, not {self.preset!r}"
            )
        if not isinstance(self.gop, int) or self.gop < 1:
            raise ValueError(f"GOP must be a positive number of frames, got {self.gop!r}")
        if not isinstance(self.bframes, int) or not 0 <= self.bframes <= 16:
            raise ValueError(f"B-frames must be an integer in 0..16, got {self.bframes!r}")
        if not isinstance(self.threads, int) or self.threads < 1:
            raise ValueError(f"threads must be a positive integer, got {self.threads!r}")

    def options(self) -> dict[str, str]:
        """The encoder's options, as FFmpeg's libx264 wrapper takes them."""
        return {
            "crf": str(self.crf),
            "preset": self.preset,
            "g": str(self.gop),
            "bf": str(self.bframes),
            "threads": str(self.threads),
            "x264-params": f"keyint_min={self.gop}:scenecut=0",
        }


@dataclass(frozen=True)
class Clip:
    """Decoded video: `frames` (T, H, W, 3) uint8 RGB, their picture types, the frame rate."""

    frames: np.ndarray
    picture_types: tuple[str, ...]
    fps: Fraction


@dataclass(frozen=True)
class CompressedClip(Clip):
    """A clip after H.264: what the decoder returns, and the MP4 bytes that made it."""

    data: bytes = b""

    @property
    def bits_per_pixel(self) -> float:
        """File size in bits over the number of pixels of all frames."""
        t, h, w = self.frames.shape[:3]
        return 8 * len(self.data) / (t * h * w)


def _check_frames(frames: np.ndarray) -> None:
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3 or not len(frames):
        raise ValueError(f"expected (T, H, W, 3) uint8 frames, got {frames.shape} {frames.dtype}")


def _even(frames: np.ndarray) -> np.ndarray:
    """Frames padded by edge replication to even height and width, as yuv420p needs."""
    _, h, w, _ = frames.shape
    if h % 2 == 0 and w % 2 == 0:
        return frames
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def encode_h264(frames: np.ndarray, settings: H264, fps: Fraction | int = 25) -> bytes:
    """MP4 bytes of (T, H, W, 3) uint8 RGB frames; odd sizes are padded to even by edge
    replication (`h264_compress` crops the padding off again)."""
    import av

    _check_frames(frames)
    frames = _even(frames)
    fps = Fraction(fps)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options=settings.options())
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = 1 / fps
        for name, value in YUVSpace().codes.items():  # BT.601, limited: said in the stream
            setattr(stream.codec_context, name, value)
        for t, rgb in enumerate(frames):
            frame = rgb_to_frame(rgb, YUVSpace(), "420")
            frame.pts = t
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def decode_clip(source: bytes | str | Path) -> Clip:
    """Every frame of a file's (or bytes') first video stream, RGB, with picture types."""
    import av
    from av.video.frame import PictureType

    frames, types = [], []
    with av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source)) as container:
        stream = container.streams.video[0]
        fps = stream.average_rate or stream.guessed_rate or Fraction(25)
        for frame in container.decode(stream):
            frames.append(frame_to_rgb(frame))
            types.append(PictureType(frame.pict_type).name)
    if not frames:
        raise ValueError("the video stream has no frames")
    return Clip(np.stack(frames), tuple(types), Fraction(fps))


def h264_compress(frames: np.ndarray, settings: H264, fps: Fraction | int = 25) -> CompressedClip:
    """Compress and decode a clip: the frames as a viewer of the H.264 stream sees them."""
    data = encode_h264(frames, settings, fps)
    clip = decode_clip(data)
    h, w = frames.shape[1:3]
    if len(clip.frames) != len(frames):
        raise RuntimeError(f"the encoder returned {len(clip.frames)} frames of {len(frames)}")
    return CompressedClip(clip.frames[:, :h, :w], clip.picture_types, clip.fps, data)


@dataclass(frozen=True)
class StreamQuality:
    """The CRF (or constant QP) an x264 encoder wrote into the stream it made: a video's
    counterpart of a JPEG's quantization tables."""

    quality: int
    mode: str  # crf | cqp
    kind = "x264 settings"  # what told the quality, in messages

    def __str__(self) -> str:
        return f"{self.mode.upper()} {self.quality}"


def x264_quality(path: str | Path) -> StreamQuality | None:
    """The rate control of a video's first stream when x264 made it: libx264 writes its settings
    as text in an SEI message of the first frame ("x264 - core ... options: ... rc=crf ...
    crf=23.0 ..."). None for other encoders, and for rates that are not constant quality (a
    target bitrate)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            data = bytes(stream.codec_context.extradata or b"")
            for packet in islice(container.demux(stream), 2):
                data += bytes(packet)
    except (av.FFmpegError, IndexError, OSError):
        return None
    start = data.find(b"x264 - core")
    if start < 0:
        return None
    text = data[start : data.find(b"\x00", start) if b"\x00" in data[start:] else None]
    options = dict(o.split("=", 1) for o in text.decode("latin-1").split() if "=" in o)
    try:
        if options.get("rc") == "crf":
            return StreamQuality(round(float(options["crf"])), "crf")
        if options.get("rc") == "cqp":
            return StreamQuality(int(options["qp"]), "cqp")
    except (KeyError, ValueError):
        pass
    return None
