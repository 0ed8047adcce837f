"""Writing a video file from encoded packets: a restore's segments joined with the source's
other streams (audio, more video, subtitles: carried unchanged, packet by packet), a video
copied unchanged, and the record of what made it, kept in its metadata. A stream the output's
container cannot hold, or a copy cut short, is refused: nothing is lost silently."""

from __future__ import annotations

import heapq
import io
import json
from pathlib import Path

from ..data.video import truncation
from ..fileio import write_atomic
from .video_probe import VideoError, VideoInfo, probe

FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
NAMES = {"mp4": "MP4", "mov": "MOV", "matroska": "Matroska"}
CARRIED = ("video", "audio", "subtitle")  # kinds of stream that go into the output unchanged
# where the output says what made it: the container's comment tag (MP4's ©cmt, a Matroska tag)
RECORD_KEY, RECORD_PREFIX = "comment", "artifact-removal "


def muxer_options(fmt: str) -> dict[str, str]:
    """Options of FFmpeg's muxer for `fmt`: Matroska without its random segment UID and date
    (`bitexact`), so that the same input and settings give the same bytes; MP4 and MOV are
    written as they always were (they hold neither)."""
    return {"fflags": "+bitexact"} if fmt == "matroska" else {}


def copy_video(
    source: str | Path,
    target: str | Path,
    record: dict,
    replace: bool = True,
    info: VideoInfo | None = None,
) -> int:
    """Write `target` with every stream of `source` unchanged, packet by packet (a video that is
    better left as it is), `record` in its metadata; returns the number of frames. A file cut
    short (fewer video packets, or an earlier last one, than its container says) is refused
    as `restore_video` refuses it: VideoError, nothing written."""
    source, target = Path(source), Path(target)
    info = info or probe(source)
    return join_streams([source], source, target, record, replace, info, copied=True)


def carried(container) -> list:
    """The streams of an open input that go into its output unchanged: every audio, video and
    subtitle stream but the first video stream (the one restored), in the input's order."""
    first = container.streams.video[0].index
    return [s for s in container.streams if s.type in CARRIED and s.index != first]


def _tagged(copy, stream):
    """`copy`, an output stream, with the language, title and disposition (default, forced,
    ...) of `stream`, the input's."""
    for key in ("language", "title"):
        if key in stream.metadata:
            copy.metadata[key] = stream.metadata[key]
    copy.disposition = stream.disposition
    return copy


def _carry(out, stream):
    """A stream of `out` for `stream`'s packets, tagged as it is; ValueError (PyAV's) or
    FFmpegError when `out`'s container cannot hold it."""
    return _tagged(out.add_stream_from_template(stream), stream)


def check_carried(source: Path, target: Path) -> None:
    """VideoError when a stream `carried` from `source` cannot go into `target`'s container
    (tried in memory, one stream at a time): the file is refused before any work rather than
    written without it."""
    import av

    fmt = FORMATS[target.suffix.lower()]
    with av.open(str(source)) as src:
        for stream in carried(src):
            try:
                with av.open(io.BytesIO(), mode="w", format=fmt) as out:
                    _carry(out, stream)
                    out.start_encoding()
            except (ValueError, av.FFmpegError):
                name = stream.codec_context.name if stream.codec_context else "unknown codec"
                raise VideoError(
                    f"its {stream.type} stream #{stream.index} ({name}) cannot be carried into "
                    f"{NAMES[fmt]} ({target.suffix.lower()}), and would be lost; nothing was "
                    "written (FFV1 output is always Matroska, H.264 output keeps an MP4's or "
                    "MOV's own container; or remove that stream from the input first)"
                ) from None


def check_whole(info: VideoInfo, frames: int, last_time: float | None) -> None:
    """VideoError when `frames` read up to `last_time` (seconds) are fewer, or end sooner,
    than the container of `info` promises (`data.video.truncation`): a file cut short."""
    if problem := truncation(info.frames, info.duration, frames, [last_time], float(info.fps)):
        raise VideoError(
            f"truncated: {problem}; nothing was written (repair or re-export the file)"
        )


def first_stream_extent(path: Path) -> tuple[int, float | None]:
    """How many packets the first video stream of a file holds, and the latest presentation
    time among them (seconds): demuxed, not decoded."""
    count, last = 0, None
    for packet in _packets(Path(path)):
        count += 1
        if packet.pts is not None:
            shown = float(packet.pts * packet.time_base)
            last = shown if last is None else max(last, shown)
    return count, last


def _packets(path: Path, index: int | None = None):
    """Demuxed packets of stream `index` (None: the first video stream), without the empty
    flush packets."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0] if index is None else container.streams[index]
        for packet in container.demux(stream):
            if packet.size:
                yield packet


def _interleave(out, sources: list) -> tuple[int, float | None]:
    """Mux the (output stream, packets) `sources` into `out` in time order (ties: in the
    order given); returns how many packets the first source gave, and the latest presentation
    time among them (seconds)."""
    queue = []  # (time in seconds, order, packet, output stream, packets)
    order, count, last = 0, 0, None

    def push(out_stream, packets) -> None:
        nonlocal order
        packet = next(packets, None)
        if packet is not None:
            when = (packet.dts if packet.dts is not None else packet.pts) or 0
            heapq.heappush(queue, (when * packet.time_base, order, packet, out_stream, packets))
            order += 1

    for out_stream, packets in sources:
        push(out_stream, packets)
    first = sources[0][0]
    while queue:
        _, _, packet, out_stream, packets = heapq.heappop(queue)
        if out_stream is first:
            count += 1
            if packet.pts is not None:
                shown = float(packet.pts * packet.time_base)
                last = shown if last is None else max(last, shown)
        packet.stream = out_stream
        out.mux(packet)
        push(out_stream, packets)
    return count, last


def join_streams(
    segments: list[Path],
    source: Path,
    target: Path,
    record: dict,
    replace: bool,
    info: VideoInfo,
    copied: bool = False,
) -> int:
    """Write `target` from the segments' video packets and the source's `carried` streams'
    packets, interleaved by time, with `record` in its metadata, the source's display rotation
    and its average frame rate (Matroska stores it as the track's default duration: without it
    a reader guesses the rate from the segments' time base); returns the number of frames.
    `copied`: the segments are the source itself, checked whole (`check_whole`). A stream
    the output cannot hold, or a check that fails, leaves nothing written."""
    import av

    if not segments:
        raise VideoError("no frames were decoded")
    check_carried(source, target)
    fmt = FORMATS[target.suffix.lower()]
    written = 0

    def write(file) -> None:
        nonlocal written
        with (
            av.open(str(segments[0])) as first,
            av.open(str(source)) as src,
            av.open(file, mode="w", format=fmt, container_options=muxer_options(fmt)) as out,
        ):
            out.metadata[RECORD_KEY] = RECORD_PREFIX + json.dumps(record, sort_keys=True)
            picture = src.streams.video[0]  # restored (or copied) into `video`
            video = _tagged(out.add_stream_from_template(first.streams.video[0]), picture)
            video.codec_context.framerate = info.fps
            if info.rotation:  # frames are restored as stored; players turn them as the input's
                video.set_display_rotation(info.rotation)
            sources = [(video, (p for s in segments for p in _packets(s)))]
            sources += [(_carry(out, s), _packets(source, s.index)) for s in carried(src)]
            written, last = _interleave(out, sources)
            if copied:
                check_whole(info, written, last)

    write_atomic(target, write, replace=replace)
    return written
