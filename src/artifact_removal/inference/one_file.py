"""Restoring one input of a `restore` run: an image (`restore_image_file`: read it and choose
its generators, restore it in tiles, write the output; three steps that `inference.overlap`
runs in threads beside each other) or a video (`restore_video_file`). An input of better
quality than the generators were trained for is copied as it is; why a file failed is said
in words in its result."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..archs.qf_labels import ABOVE
from ..data.images import ImageReadError, LoadedImage, read_image
from ..degradations.codecs import codec_of
from ..degradations.h264 import x264_quality
from ..degradations.jpeg_quality import TableQuality, jpeg_quality
from ..degradations.yuv import frame_to_rgb
from .choice import INPUT, QualityChoice, QualityUnknown, RestoreError, ensemble_weights
from .ensemble import Ensemble
from .image_files import copy_jpeg_record, write_image_record
from .options import RestoreOptions
from .report import COPIED, FAILED, SKIPPED, FileResult
from .tiles import Restorer, restore_tiled, tile_count
from .video import H264_OUTPUT, VideoOutput, copy_video, restore_video
from .video_probe import VideoError, probe


@dataclass(frozen=True)
class Videos:
    """How `restore_files` treats videos: output encoding, segments, batch."""

    output: VideoOutput
    segment_frames: int
    batch: int


def _pixel_count(path: Path) -> int | None:
    """Width x height from the file's header (nothing decoded); None when unreadable."""
    import warnings

    from PIL import Image

    guard, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # the size only, no decoding
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size[0] * image.size[1]
    except Exception:  # a damaged file is reported when it is decoded
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = guard


@dataclass
class ImageJob:
    """One image of a run, through its three steps: `prepare_image` (read it, find its QF,
    choose its generators), `restore_prepared` (the network) and `write_prepared` (encode and
    write the output). `result` is settled by whichever step fails; `pixels` is the decoded
    input, `restored` the network's output (None: left as it is)."""

    path: Path
    target: Path
    record: dict
    replace: bool
    result: FileResult
    loaded: LoadedImage | None = None
    restored: np.ndarray | None = None

    @property
    def settled(self) -> bool:
        """True when a step failed or skipped the file: nothing more is done with it."""
        return self.result.error is not None


def prepare_image(
    ensemble: Ensemble,
    path: Path,
    target: Path,
    record: dict,
    replace: bool,
    override: int | None,
    options: RestoreOptions,
) -> ImageJob:
    """Read an image and choose its generators (the QF step: tables, else the predictor)."""
    job = ImageJob(path, target, record, replace, FileResult(path))
    result = job.result
    try:
        pixels_in_file = _pixel_count(path)
        limit = options.max_megapixels
        if pixels_in_file is not None and pixels_in_file > limit * 1e6:
            result.status = SKIPPED
            result.error = (
                f"too large: {pixels_in_file / 1e6:.1f} megapixels, over the limit "
                f"of {limit:g} (--max-megapixels)"
            )
            return job
        job.loaded = read_image(path, keep_gray=True)
        pixels = job.loaded.pixels
        result.size, result.notes = pixels.shape[:2], job.loaded.notes
        result.choice = ensemble.choose(
            pixels, override, jpeg_quality(path), beyond=options.restore_uncompressed
        )
    except Exception as err:
        mark_failed(result, err, target)
    return job


def restore_prepared(ensemble: Ensemble, job: ImageJob, options: RestoreOptions) -> ImageJob:
    """The network's step: the image restored in tiles (float for 16-bit output), unless it
    is left as it is or an earlier step settled it."""
    if job.settled or job.result.choice.passed_through:
        return job
    try:
        restorer = ensemble.restorer(job.result.choice.generators)
        job.restored = _restore(
            restorer, job.loaded.pixels, options.tile, options.overlap, options.bits
        )
    except Exception as err:
        mark_failed(job.result, err, job.target)
    return job


def write_prepared(ensemble: Ensemble, job: ImageJob, options: RestoreOptions) -> FileResult:
    """Write the output in `options.image`'s format: the restoration, or the input itself
    with a note (a JPEG input into a JPEG output byte for byte)."""
    result, bits, output = job.result, options.bits, options.image
    if job.settled:
        return result
    try:
        loaded, choice = job.loaded, result.choice
        icc = any("ICC" in n for n in loaded.notes)
        if choice.passed_through:
            if output.format == "jpeg" and isinstance(choice.tables, TableQuality):
                copy_jpeg_record(job.path, job.target, job.record, job.replace)  # no re-encoding
                # the file's own bytes: none of the reading's conversions (profile, rotation)
                result.notes = (
                    _why_copied(choice, ensemble),
                    "the JPEG's data unchanged, its record added as a comment",
                )
            else:
                result.notes += (_why_copied(choice, ensemble),)
                deep = loaded.pixels if bits == 8 else loaded.pixels.astype(np.float32)
                write_image_record(
                    job.target, deep, output, bits, icc, job.record, job.replace, loaded.exif
                )
            result.status, result.output = COPIED, job.target
            return result
        write_image_record(
            job.target, job.restored, output, bits, icc, job.record, job.replace, loaded.exif
        )
        result.output = job.target
    except Exception as err:
        mark_failed(result, err, job.target)
    return result


def restore_image_file(
    ensemble: Ensemble,
    path: Path,
    target: Path,
    record: dict,
    replace: bool,
    override: int | None,
    options: RestoreOptions,
) -> FileResult:
    """Read, choose, restore (or copy) and write one image, the three steps one after the
    other; failures go into the result."""
    job = prepare_image(ensemble, path, target, record, replace, override, options)
    return write_prepared(ensemble, restore_prepared(ensemble, job, options), options)


def _why_copied(choice: QualityChoice, ensemble: Ensemble) -> str:
    """Why an input is copied as it is, and how to restore it all the same."""
    trained = sorted(ensemble.paths)
    codec = codec_of(ensemble.codec)
    video, unit = codec.video, codec.unit
    force = (
        f"--restore-uncompressed restores it with the gentlest generator (q{ensemble.gentlest()})"
    )
    if choice.override is None and choice.tables is None and choice.cnn.quality == ABOVE:
        return (
            "no sign of JPEG compression: no quantization tables, and the QF predictor says "
            f"{choice.cnn.label} ({choice.cnn.confidence:.0%}); {force}"
        )
    source = (
        "given"
        if choice.override is not None
        else choice.tables.kind
        if choice.tables is not None
        else f"the {unit} predictor"
    )
    if ensemble.ladder is not None and ensemble_weights(
        choice.used, trained, ensemble.combine, ensemble.pass_through
    ) != {INPUT: 1.0}:
        return (
            f"at {unit} {choice.used:g} ({source}) the input itself restored the "
            "validation split better than any generator (the measured ladder, stage "
            f"ladder); {force}"
        )
    side = "below" if video else "above"
    return (
        f"{unit} {choice.used:g} ({source}) is {side} the {unit}s its generators are trained "
        f"for ({trained[0]}..{trained[-1]}): restoring would take more than it gives; "
        f"{force}"
    )


def _is_ffmpeg_error(err: Exception) -> bool:
    """An error of FFmpeg's, raised through PyAV (its text is FFmpeg's, not a sentence)."""
    import av

    return isinstance(err, av.FFmpegError)


def mark_failed(result: FileResult, err: Exception, target: Path) -> None:
    """Record why one file failed in its result; an error that concerns the whole run (a
    RestoreError) or one this module does not expect goes up."""
    if isinstance(err, RestoreError):
        raise err
    if isinstance(err, ImageReadError):
        result.error = err.reason
    elif isinstance(err, QualityUnknown | VideoError):
        result.error = str(err)
    elif isinstance(err, FileExistsError):
        result.error = f"{target} appeared while this run was writing it; left as it is"
    elif isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        result.error = (
            f"no space left to write {target.name} in {target.parent} "
            f"({os.strerror(err.errno)}); nothing half-written is left, and what "
            "was finished is kept: free some space and run again"
        )
    elif _is_ffmpeg_error(err):
        reason = getattr(err, "strerror", None) or str(err)
        result.error = (
            f"cannot be decoded ({reason}): the file is damaged, or not a video "
            "that this FFmpeg reads"
        )
    elif isinstance(err, OSError | MemoryError | RuntimeError | ValueError):
        result.error = f"{err.__class__.__name__}: {err}"
    else:
        raise err
    result.status = FAILED


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
    """Restore one video (`inference.video.restore_video`); failures go into the result. Its
    quality is the override, or the predictor's answer on a frame half a second in (the CRF
    predictor for methods trained on H.264). A video better than the generators were trained
    for is copied, its packets unchanged (`inference.video.copy_video`). Its other streams
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
                _why_copied(result.choice, ensemble),
                *video_notes(info, videos.output, copied=True),
            )
            return result
        restore_frames = frame_restorer(ensemble, result.choice.generators, tile, overlap)
        done = restore_video(
            path,
            target,
            restore_frames,
            record,
            videos.output,
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
            *video_notes(info, videos.output),
        )
    except Exception as err:
        mark_failed(result, err, target)
    return result


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
    if output.codec == "h264" and output.chroma == "420" and (info.width % 2 or info.height % 2):
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


def _restore(restorer: Restorer, pixels: np.ndarray, tile: int, overlap: int, bits: int):
    """Tiled restoration; float pixels for 16-bit output, uint8 otherwise."""
    total = tile_count(pixels.shape, tile, overlap)
    with tqdm(total=total, desc="tiles", unit="tile", leave=False, disable=total < 4) as bar:
        return restore_tiled(restorer, pixels, tile, overlap, bar.update, rounded=bits == 8)
