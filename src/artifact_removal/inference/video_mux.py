"""Writing a video file from encoded packets: a restore's segments joined with the source's
audio, a video copied unchanged, and the record of what made it, kept in its metadata."""

from __future__ import annotations

import heapq
import json
from fractions import Fraction
from pathlib import Path

from ..fileio import write_atomic
from .video_probe import VideoError, VideoInfo, probe

FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
# where the output says what made it: the container's comment tag (MP4's ©cmt, a Matroska tag)
RECORD_KEY, RECORD_PREFIX = "comment", "artifact-removal "


def copy_video(
    source: str | Path,
    target: str | Path,
    record: dict,
    replace: bool = True,
    info: VideoInfo | None = None,
) -> int:
    """Write `target` with the video and audio packets of `source` unchanged (a video that is
    better left as it is), `record` in its metadata; returns the number of frames."""
    source, target = Path(source), Path(target)
    info = info or probe(source)
    return _join([source], source, target, record, replace, info.rotation, info.fps)


def _packets(path: Path, stream_index: int | None, kind: str):
    """Demuxed packets of one stream (the first video stream, or audio stream `stream_index`),
    without the empty flush packets."""
    import av

    with av.open(str(path)) as container:
        stream = (
            container.streams.video[0] if kind == "video" else container.streams.audio[stream_index]
        )
        for packet in container.demux(stream):
            if packet.size:
                yield packet


def _join(
    segments: list[Path],
    source: Path,
    target: Path,
    record: dict,
    replace: bool,
    rotation: int = 0,
    fps: Fraction | None = None,
) -> int:
    """Write `target` from the segments' video packets and the source's audio packets,
    interleaved by time, with `record` in its metadata, the source's display `rotation` and
    its average frame rate `fps` (Matroska stores it as the track's default duration: without
    it a reader guesses the rate from the segments' time base); returns the number of
    frames."""
    import av

    if not segments:
        raise VideoError("no frames were decoded")
    fmt = FORMATS[target.suffix.lower()]
    written = 0

    def write(file) -> None:
        nonlocal written
        with (
            av.open(str(segments[0])) as first,
            av.open(str(source)) as src,
            av.open(file, mode="w", format=fmt) as out,
        ):
            out.metadata[RECORD_KEY] = RECORD_PREFIX + json.dumps(record, sort_keys=True)
            video = out.add_stream_from_template(first.streams.video[0])
            if fps:
                video.codec_context.framerate = fps
            if rotation:  # frames are restored as stored; players turn them as the input's
                video.set_display_rotation(rotation)
            audio = [out.add_stream_from_template(a) for a in src.streams.audio]
            sources = [(video, (p for s in segments for p in _packets(s, None, "video")))]
            sources += [(stream, _packets(source, k, "audio")) for k, stream in enumerate(audio)]
            queue = []  # (time in seconds, order, packet, output stream)
            order = 0

            def push(out_stream, packets) -> None:
                nonlocal order
                packet = next(packets, None)
                if packet is not None:
                    when = (packet.dts if packet.dts is not None else packet.pts) or 0
                    heapq.heappush(
                        queue, (when * packet.time_base, order, packet, out_stream, packets)
                    )
                    order += 1

            for out_stream, packets in sources:
                push(out_stream, packets)
            while queue:
                _, _, packet, out_stream, packets = heapq.heappop(queue)
                packet.stream = out_stream
                out.mux(packet)
                if out_stream is video:
                    written += 1
                push(out_stream, packets)

    write_atomic(target, write, replace=replace)
    return written


def read_video_record(path: str | Path) -> dict | None:
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
