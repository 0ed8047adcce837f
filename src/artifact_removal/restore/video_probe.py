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
    duration: float | None = None  # seconds, of the video stream; None when nothing says
    video_streams: int = 1
    other_streams: int = 0  # data (timecode, telemetry) and attachments (fonts): not kept

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
            duration = _duration(stream, container)
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
                sum(s.type not in ("video", "audio", "subtitle") for s in container.streams),
            )
    except VideoError:
        raise
    except (av.FFmpegError, StopIteration, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise VideoError(
            f"cannot be read as a video: damaged, truncated, or not a video ({reason})"
        ) from None


def _duration(stream, container) -> float | None:
    """The video stream's duration in seconds: its track's DURATION tag (Matroska writes one
    per track; its stream duration may be the file's), else its own (MP4, MOV), else the
    container's, which counts every stream (a sound that runs on past the picture makes it
    longer); None when nothing says."""
    tag = {k.upper(): v for k, v in stream.metadata.items()}.get("DURATION", "")
    hours, _, rest = tag.partition(":")
    minutes, _, seconds = rest.partition(":")
    try:
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        pass
    if stream.duration:
        return float(stream.duration * stream.time_base)
    return container.duration / 1e6 if container.duration else None
