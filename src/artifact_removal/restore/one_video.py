"""Restoring one video of a `restore` run (`restore_video_file`): its quality and generators
(`choose_video`), its frames restored in batches (`frame_restorer`, through
`restore.video.restore_video`), or its packets copied when it is of better quality than the
generators were trained for; what the output does not keep of the input is said in its notes
(`video_notes`). Why a file failed is said in words in its result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..degradations.codecs import codec_of
from ..degradations.h264 import x264_quality
from ..degradations.yuv import frame_to_rgb
from ..inference.ensemble import Ensemble
from ..inference.tiles import restore_tiled
from .options import AUTO
from .report import COPIED, FileResult, mark_failed, why_copied
from .video import H264_OUTPUT, VideoOutput, copy_video, restore_video
from .video_probe import VideoError, probe


@dataclass(frozen=True)
class Videos:
    """How `restore_files` treats videos: output encoding, segments, batch."""

    output: VideoOutput
    segment_frames: int
    batch: int


def restore_video_file(
    ensemble: Ensemble,
    path: Path,
    target: Path,
    record: dict,
    replace: bool,
    override: int | None,
    tile: int,
    overlap: int,
    videos: Videos,
    progress: bool,
    beyond: bool = False,
) -> FileResult:
    """Restore one video (`restore.video.restore_video`); failures go into the result. Its
    quality is the override, or the predictor's answer on a frame half a second in (the CRF
    predictor for methods trained on H.264). A video better than the generators were trained
    for is copied, its packets unchanged (`restore.video.copy_video`). Its other streams
    (audio, more video, subtitles) are copied unchanged; one the output cannot hold, or a file
    cut short, fails it with nothing written."""
    result = FileResult(path)
    try:
        info = choose_video(ensemble, path, override, beyond, result)
        if result.choice.passed_through:
            frames = copy_video(path, target, record, replace, info)
            result.output, result.status = target, COPIED
            result.notes = (
                f"video, {frames} frames",
                why_copied(result.choice, ensemble),
                *video_notes(info, videos.output, copied=True),
            )
            return result
        restore_frames = frame_restorer(ensemble, result.choice.generators, tile, overlap)
        output = videos.output.for_input(input_crf(ensemble, path, result.choice))
        done = restore_video(
            path,
            target,
            restore_frames,
            record,
            output,
            videos.segment_frames,
            videos.batch,
            progress,
            replace,
            info,
        )
        result.output = target
        reused = (
            f", {done.reused} of {done.segments} segments kept from an interrupted run"
            if done.reused
            else ""
        )
        speed = f", {done.fps:.2f} frames/s" if done.restored else ""  # none: all were kept
        result.notes = (
            f"video, {done.frames} frames{speed}{reused}",
            *video_notes(info, output),
        )
    except Exception as err:
        mark_failed(result, err, target)
    return result


def input_crf(ensemble: Ensemble, path: Path, choice) -> float | None:
    """The CRF a video was written at, which `--crf auto` writes below: the choice's level for
    a method trained on H.264 (x264's settings, the QPs' reading, the CRF predictor or
    --quality); for an image method (its level is a JPEG QF), x264's settings alone."""
    if codec_of(ensemble.codec).video:
        return choice.used
    stream = x264_quality(path)
    return float(stream.quality) if stream is not None and stream.mode == "crf" else None


def choose_video(
    ensemble: Ensemble, path: Path, override: int | None, beyond: bool, result: FileResult
):
    """What a video holds (`probe`), and its quality and generators, into `result`: the
    override, else x264's CRF in the stream, else the CRF its H.264 QPs read as, else the
    predictor on a frame half a second in."""
    info = probe(path)
    result.size = (info.height, info.width)
    # x264's CRF tells the generators of an H.264 method, not an image method's QF; from
    # other encoders the stream's QPs read as a CRF
    stream = x264_quality(path) if codec_of(ensemble.codec).video else None
    if stream is None and ensemble.reading is not None:
        stream = ensemble.reading.read(path)
    result.choice = ensemble.choose(sample_frame(path), override, stream, beyond)
    return info


def frame_restorer(ensemble: Ensemble, generators: dict, tile: int, overlap: int):
    """Batches of frames (N, H, W, 3) uint8 -> their restorations: the batch at once when a
    frame fits a tile, else frame by frame in tiles."""
    restorer = ensemble.restorer(generators)

    def restore_frames(frames: np.ndarray) -> np.ndarray:
        if frames.shape[1] <= tile and frames.shape[2] <= tile:  # the batch at once
            return np.rint(restorer(frames)).clip(0, 255).astype(np.uint8)
        return np.stack([restore_tiled(restorer, f, tile, overlap) for f in frames])

    return restore_frames


def video_notes(info, output: VideoOutput = H264_OUTPUT, copied: bool = False) -> tuple[str, ...]:
    """What a restored (or `copied`) video does not keep of its input (bit depth beyond 8),
    what it carries unchanged (subtitles, more video streams than the first) and how it is
    written otherwise than asked, said once per video."""
    import av

    bits = (
        max(c.bits for c in av.VideoFormat(info.pix_fmt).components) if info.pix_fmt != "?" else 8
    )
    notes = [f"{info.pix_fmt} ({bits}-bit) restored in 8 bits"] if bits > 8 and not copied else []
    if info.subtitle_streams:
        notes.append(f"{info.subtitle_streams} subtitle stream(s) copied unchanged")
    if info.video_streams > 1:
        notes.append(
            f"{info.video_streams - 1} more video stream(s) copied unchanged, not restored"
            + ("" if copied else " (only the first is)")
        )
    if info.other_streams:
        notes.append(
            f"{info.other_streams} data or attachment stream(s) (timecode, telemetry, fonts) "
            "not copied"
        )
    if copied:
        return tuple(notes)
    odd = bool(info.width % 2 or info.height % 2)
    if output.codec == "h264" and output.crf != AUTO:
        chroma = "444" if odd else output.chroma  # 4:2:0 needs an even size
        notes.append(f"written as H.264 at CRF {output.crf}, {':'.join(chroma)}")
    if output.codec == "h264" and output.chroma == "420" and odd:
        notes.append(
            f"written in 4:4:4, not 4:2:0: {info.width}x{info.height} is odd, and "
            "4:2:0 needs an even width and height (some players cannot play 4:4:4)"
        )
    return tuple(notes)


def sample_frame(path: Path, seconds: float = 0.5) -> np.ndarray:
    """The frame half a second into a video (or its last, if shorter), RGB uint8: what the
    predictor looks at. Not the first: a keyframe is coded better than the frames after it."""
    import av

    last = None
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            last = frame
            if frame.time is not None and frame.time >= seconds:
                break
    if last is None:
        raise VideoError("its video stream has no frames")
    return frame_to_rgb(last)
