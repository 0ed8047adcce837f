"""What a video file holds: `probe` checks its first video stream by decoding a frame and
returns its size, frame rate, time base, pixel format, colour tags and other streams
(`VideoInfo`); `VideoError` says why a video cannot be restored."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path


class VideoError(ValueError):
    """A video that cannot be restored, with the reason (the file is named by the caller)."""


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` finds in a file: its first video stream and the number of audio streams."""

    width: int
    height: int
    frames: int | None  # from the container; None when it does not say
    fps: Fraction
    time_base: Fraction
    pix_fmt: str
    codec: str
    audio_streams: int
    colour: dict = field(default_factory=dict)  # range, matrix, primaries, transfer
    rotation: int = 0  # display rotation, degrees counter-clockwise (phones' display matrix)
    subtitle_streams: int = 0
    duration: float | None = None  # seconds, from the container; None when it does not say
    video_streams: int = 1

    def describe(self) -> str:
        count = f"{self.frames} frames" if self.frames else "frame count unknown"
        audio = f", {self.audio_streams} audio stream(s)" if self.audio_streams else ", no audio"
        return (
            f"{self.codec} {self.width}x{self.height} {self.pix_fmt}, {float(self.fps):.3f} "
            f"fps, {count}{audio}"
        )


def probe(path: str | Path) -> VideoInfo:
    """The first video stream of a file, checked by decoding its first frame; VideoError says
    what is wrong (not a video, no video stream, damaged)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError("has no video stream")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            first = next(container.decode(stream), None)
            if first is None:
                raise VideoError("its video stream has no frames")
            fps = stream.average_rate or stream.guessed_rate or stream.base_rate
            if not fps:
                raise VideoError("its frame rate is unknown")
            colour = {
                name: getattr(ctx, name)
                for name in ("color_range", "colorspace", "color_primaries", "color_trc")
            }
            pix_fmt = ctx.format.name if ctx.format else "?"
            duration = (
                float(stream.duration * stream.time_base)
                if stream.duration
                else container.duration / 1e6
                if container.duration
                else None
            )
            return VideoInfo(
                ctx.width,
                ctx.height,
                stream.frames or None,
                Fraction(fps),
                Fraction(stream.time_base),
                pix_fmt,
                ctx.name,
                len(container.streams.audio),
                colour,
                int(first.rotation or 0),
                len(container.streams.subtitles),
                duration,
                len(container.streams.video),
            )
    except VideoError:
        raise
    except (av.FFmpegError, StopIteration, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise VideoError(
            f"cannot be read as a video: damaged, truncated, or not a video ({reason})"
        ) from None
