"""Restoring a whole video: decode with PyAV, restore frame by frame, encode, keep the sound.

`restore_video` reads a file's first video stream, restores its frames in batches, and writes a
video of the same frame count (frames stream through: decoded, restored and encoded a batch at
a time, so memory depends on the batch and the frame size, never on the segment's length),
frame timing (every frame keeps its timestamp: frame rate and
time base are the input's, variable frame rates included) and colour metadata, with every other
stream (audio, more video streams, subtitles) copied packet by packet, never re-encoded; a
stream the output's container cannot hold fails the file before any work
(`video_mux.check_carried`). The picture is encoded with H.264 (libx264, CRF 6 in 4:4:4 by
default, no B-frames: writing then costs at most about 0.1 dB of PSNR against the restored
frames, where 4:2:0 costs 0.3 to 0.6 dB even at CRF 0, `benchmarks/video_output.py`) or, on
request, lossless FFV1 in Matroska.
What the input holds is read first (`restore.video_probe.probe`).

Nothing finished is lost. The video is cut into segments of `segment_frames` frames; each is
encoded into its own file, written atomically into a hidden folder beside the output
(`.NAME.segments/`), with a manifest that names the input (its hash) and every setting. A
rerun after an interruption (a closed laptop, `kill -9`) skips the finished segments; a changed
input or setting starts over. When every segment is there, their packets and the input's other
streams are joined into the output (atomically, then the folder is removed); the joined H.264
is exactly the segments' (each segment starts with a keyframe, and without B-frames the decode
order is the display order, so the packets join without re-encoding).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..degradations.yuv import YUVSpace, frame_to_rgb, rgb_to_frame
from ..fileio import write_atomic
from .options import ARCHIVE_OUTPUT, AUTO, VideoOutput
from .options import CHROMA as CHROMA
from .options import CODECS as CODECS
from .options import H264_OUTPUT as H264_OUTPUT
from .video_mux import check_carried, check_whole, join_streams, muxer_options
from .video_mux import copy_video as copy_video
from .video_probe import VideoError, VideoInfo, probe

# x264's threads for restored videos: fixed, so that the bytes depend on the settings only (a
# resumed run's segments are those of an uninterrupted one, on any machine)
X264_THREADS = 4
# x264 holds the frames it looks ahead (40 at preset medium): at 1080p in 4:4:4 that alone
# is about 380 MB. The look-ahead is cut to what fits in this many bytes of picture (at least
# 5 frames, at most x264's 40): 40 up to 540p, 10 at 1080p in 4:4:4 (1.4 GB in all, where 40
# frames took 1.7 GB: benchmarks/video_memory.py). It depends on the frame size and chroma
# only, so the bytes stay the settings'.
X264_LOOKAHEAD_BYTES = 64 * 2**20


def x264_lookahead(width: int, height: int, chroma: str) -> int:
    """Frames x264 looks ahead for restored frames of this size and chroma (444 or 420)."""
    frame = width * height * (3 if chroma == "444" else 1.5)
    return int(min(40, max(5, X264_LOOKAHEAD_BYTES // frame)))


# frames (N, H, W, 3) uint8 -> their restorations, the same shape and dtype
FrameRestorer = Callable[[np.ndarray], np.ndarray]


@dataclass
class VideoResult:
    """How a restore went: frames written, segments reused and restored, speed."""

    frames: int = 0  # in the output
    restored: int = 0  # by this run (the rest came from finished segments)
    segments: int = 0
    reused: int = 0
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        """Frames restored per second by this run (decoding, restoring, encoding)."""
        return self.restored / self.seconds if self.seconds else 0.0


def parts_folder(target: Path) -> Path:
    """The hidden folder that holds a restore's finished segments until they are joined."""
    return target.parent / f".{target.name}.segments"


def _frames(path: Path, skip_before: int) -> Iterator[tuple[object, np.ndarray | None]]:
    """(frame, RGB pixels) of the first video stream; pixels are None (not converted) for the
    first `skip_before` frames, which belong to finished segments."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index < skip_before:
                yield frame, None
            else:
                yield frame, frame_to_rgb(frame)


def _encode_segment(
    file,
    frames: Iterator,
    restore: FrameRestorer,
    info: VideoInfo,
    output: VideoOutput,
    batch: int,
    bar,
) -> int:
    """Restore and encode one segment's (frame, pixels) pairs into an open binary file; returns
    the number of frames. The pairs are drawn from the decoder `batch` at a time, so memory
    holds one batch (and the encoder's look-ahead), however long the segment."""
    import av

    fmt = "matroska" if output.codec == "ffv1" else "mp4"
    space = YUVSpace.of(
        info.colour.get("colorspace"), info.colour.get("color_range"), info.pix_fmt
    )  # the input's own: its tags stay true
    chroma = "444"
    with av.open(file, mode="w", format=fmt, container_options=muxer_options(fmt)) as container:
        if output.codec == "h264":
            even = info.width % 2 == 0 and info.height % 2 == 0
            chroma = "420" if even and output.chroma == "420" else "444"
            stream = container.add_stream(
                "libx264",
                rate=info.fps,
                options={
                    "crf": str(output.crf),
                    "preset": output.preset,
                    "bf": "0",
                    "threads": str(X264_THREADS),
                    "rc-lookahead": str(x264_lookahead(info.width, info.height, chroma)),
                },
            )
            stream.pix_fmt = f"yuv{chroma}p"
        else:
            stream = container.add_stream("ffv1", rate=info.fps, options={"level": "3"})
            stream.pix_fmt = "bgr0"  # RGB, bit-exact (this FFmpeg's FFV1 takes no 8-bit gbrp)
        stream.width, stream.height = info.width, info.height
        stream.codec_context.time_base = info.time_base
        for name, value in info.colour.items():
            setattr(stream.codec_context, name, value)
        if output.codec == "h264" and space.full_range:  # e.g. yuvj420p: say it in the tag
            stream.codec_context.color_range = space.codes["color_range"]
        count = 0
        while chunk := list(islice(frames, batch)):
            count += len(chunk)
            restored = restore(np.stack([pixels for _, pixels in chunk]))
            for (source, _), rgb in zip(chunk, restored, strict=True):
                rgb = np.ascontiguousarray(rgb)
                frame = (
                    rgb_to_frame(rgb, space, chroma)
                    if output.codec == "h264"
                    else av.VideoFrame.from_ndarray(rgb, format="rgb24")
                )
                frame.pts, frame.time_base = source.pts, source.time_base
                frame.duration = source.duration
                container.mux(stream.encode(frame))
            bar.update(len(chunk))
        container.mux(stream.encode(None))
    return count


def finished_prefix(segments: list[Path]) -> int:
    """How many segments from the first on are finished without a gap (a Ray run that was
    stopped may leave later ones finished and earlier ones not: they are written again)."""
    indices = sorted(int(p.name.split("_")[1].split(".")[0]) for p in segments)
    return next((i for i, index in enumerate(indices) if index != i), len(indices))


def finished_parts(parts: Path, manifest: dict) -> list[Path]:
    """The finished segments a rerun may keep: all of them when the manifest matches, none
    (the folder emptied) otherwise. A folder of that name that is a symbolic link, or not a
    folder, is never written through."""
    if parts.is_symlink() or (parts.exists() and not parts.is_dir()):
        raise VideoError(
            f"{parts} is in the way of this video's segments (a symbolic link or "
            "a file, which is never written through): remove it and run "
            "again"
        )
    state = parts / "manifest.json"
    try:
        if json.loads(state.read_text()) == manifest:
            return sorted(parts.glob("segment_*" + manifest["segment_suffix"]))
    except (OSError, ValueError):
        pass
    if parts.exists():
        shutil.rmtree(parts)
    parts.mkdir(parents=True)
    write_atomic(state, json.dumps(manifest, indent=1, sort_keys=True))
    return []


@dataclass
class Segments:
    """What `write_segments` did: frames decoded through its range (its own and the skipped
    ones before it), frames it restored, the time of the last frame decoded, and whether the
    stream ended within its range."""

    decoded: int = 0
    restored: int = 0
    last_time: float | None = None
    ended: bool = False


def video_manifest(record: dict, output: VideoOutput, segment_frames: int, info) -> dict:
    """What a video's finished segments were made with: a rerun keeps them only if it is the
    same (`finished_parts`)."""
    return {
        "record": record,
        "output": output.settings(),
        "segment_frames": segment_frames,
        "segment_suffix": ".mkv" if output.codec == "ffv1" else ".mp4",
        "size": [info.width, info.height],
    }


def write_segments(
    source: Path,
    parts: Path,
    manifest: dict,
    restore: FrameRestorer,
    output: VideoOutput,
    batch: int,
    info: VideoInfo,
    first: int,
    count: int | None,
    bar=None,
) -> Segments:
    """Write segments `first`, `first + 1`, ... (`count` of them, or to the end of the
    stream) of `source` into `parts`, each atomically and only when it is not there yet;
    frames before them are decoded and skipped. The sequential run writes them all in one
    call; a Ray run (`restore.on_ray`) one range per task."""
    import av

    size = manifest["segment_frames"]
    suffix = manifest["segment_suffix"]
    done = Segments()
    frames = _frames(source, first * size)

    def timed(frames):
        for frame, pixels in frames:
            done.decoded += 1
            done.last_time = frame.time if frame.time is not None else done.last_time
            yield frame, pixels

    frames = timed(frames)
    for _ in islice(frames, first * size):
        pass
    index = first
    try:
        while count is None or index < first + count:
            head = next(frames, None)
            if head is None:
                done.ended = True
                break
            segment = chain([head], islice(frames, size - 1))
            path = parts / f"segment_{index:06d}{suffix}"
            if path.is_file():  # finished by an earlier run, or another task
                for _ in segment:
                    pass
            else:
                written = []
                write_atomic(
                    path,
                    lambda f, segment=segment, written=written: written.append(
                        _encode_segment(
                            f,
                            segment,
                            restore,
                            info,
                            output,
                            batch,
                            bar if bar is not None else _NoBar(),
                        )
                    ),
                )
                done.restored += written[0]
            index += 1
    except av.FFmpegError as err:  # the input cannot be decoded on: a rerun cannot finish
        raise VideoError(
            f"cannot be decoded after frame {done.decoded} "
            f"({getattr(err, 'strerror', None) or err}); nothing was written"
        ) from None
    return done


class _NoBar:
    def update(self, n: int) -> None:
        pass


def join_segments(
    source: Path,
    target: Path,
    parts: Path,
    manifest: dict,
    record: dict,
    replace: bool,
    info: VideoInfo,
    decoded: int,
    last_time: float | None,
) -> int:
    """Check the stream was decoded to its end, then join the segments and the source's other
    streams into `target` and remove the segments; returns the frames written."""
    try:
        check_whole(info, decoded, last_time)
    except VideoError:
        shutil.rmtree(parts)  # a cut-short file: say so, write nothing
        raise
    segments = sorted(parts.glob(f"segment_*{manifest['segment_suffix']}"))
    frames = join_streams(segments, source, target, record, replace, info)
    shutil.rmtree(parts)
    return frames


def restore_video(
    source: str | Path,
    target: str | Path,
    restore: FrameRestorer,
    record: dict,
    output: VideoOutput = ARCHIVE_OUTPUT,
    segment_frames: int = 240,
    batch: int = 4,
    progress: bool = True,
    replace: bool = True,
    info: VideoInfo | None = None,
) -> VideoResult:
    """Restore `source` into `target` (see the module docstring). `record` names the input and
    the settings: it goes into the output's metadata (`records.video_record`), and a rerun with
    another record starts over. `restore` maps a batch of frames to their restorations. With
    `replace=False` an existing `target` is never replaced (FileExistsError)."""
    source, target = Path(source), Path(target)
    if output.codec == "h264" and (output.crf == AUTO or output.archive):
        raise ValueError("restore_video writes a concrete encoding: VideoOutput.for_input(level)")
    if segment_frames < 1 or batch < 1:
        raise VideoError(f"segment frames ({segment_frames}) and batch ({batch}) must be >= 1")
    info = info or probe(source)
    check_carried(source, target)  # before any work: a stream the output cannot hold
    manifest = video_manifest(record, output, segment_frames, info)
    parts = parts_folder(target)
    first = finished_prefix(finished_parts(parts, manifest))
    result = VideoResult(reused=first)
    start = time.perf_counter()
    skipped = first * segment_frames
    with tqdm(
        total=info.frames or None,
        initial=skipped,
        desc=source.name[:30],
        unit="frame",
        leave=False,
        disable=not progress,
    ) as bar:
        try:
            written = write_segments(
                source, parts, manifest, restore, output, batch, info, first, None, bar
            )
        except VideoError:
            shutil.rmtree(parts, ignore_errors=True)
            raise
    result.restored = written.restored
    result.segments = len(list(parts.glob(f"segment_*{manifest['segment_suffix']}")))
    result.frames = join_segments(
        source, target, parts, manifest, record, replace, info, written.decoded,
        written.last_time,
    )  # fmt: skip
    result.seconds = time.perf_counter() - start
    return result
