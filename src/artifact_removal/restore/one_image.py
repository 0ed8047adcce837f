"""Restoring one image of a `restore` run, in three steps that `restore.overlap` runs in threads
beside each other: `prepare_image` (read it and choose its generators), `restore_prepared`
(the network, in tiles) and `write_prepared` (the output, or the input itself when it is of
better quality than the generators were trained for, byte for byte where it goes out in its
own format); `restore_image_file` runs them one after the other. Why a file failed is said
in words in its result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..data.images import LoadedImage, read_image
from ..degradations.jpeg_quality import jpeg_quality
from ..inference.ensemble import Ensemble
from ..inference.tiles import Restorer, restore_tiled, tile_count
from .copies import NAME as COPIES
from .copies import copy_as_is
from .image_files import write_image_record
from .kinds import still_format
from .options import RestoreOptions
from .report import COPIED, SKIPPED, FileResult, disagreement, mark_failed, why_copied


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
        result.warning = disagreement(result.choice, ensemble)
    except Exception as err:
        mark_failed(result, err, target)
    return job


def restore_prepared(ensemble: Ensemble, job: ImageJob, options: RestoreOptions) -> ImageJob:
    """The network's step: the image restored in tiles (float for 16-bit output), unless it
    is left as it is or an earlier step settled it."""
    if job.settled or job.result.choice.passed_through:
        return job
    try:
        restorer = ensemble.restorer_for(job.result.choice)
        job.restored = _restore(
            restorer, job.loaded.pixels, options.tile, options.overlap, options.bits
        )
    except Exception as err:
        mark_failed(job.result, err, job.target)
    return job


def write_prepared(ensemble: Ensemble, job: ImageJob, options: RestoreOptions) -> FileResult:
    """Write the output in its format (`options.image.for_input`): the restoration, or the
    input itself with a note: byte for byte when it goes out in its own format
    (`copies.copy_as_is`), else its pixels in the format asked for."""
    result, bits = job.result, options.bits
    if job.settled:
        return result
    try:
        loaded, choice = job.loaded, result.choice
        icc = any("ICC" in n for n in loaded.notes)
        own = still_format(job.path)
        output = options.image.for_input(own, bits)
        if choice.passed_through:
            if output.format == own:
                copy_as_is(job.path, job.target, job.replace)  # the file's own bytes
                # none of the reading's conversions (profile, rotation) apply to them
                unchanged = f"its bytes unchanged, its record in {COPIES}"
                result.notes = (why_copied(choice, ensemble), unchanged)
                result.as_is = True
            else:
                result.notes += (why_copied(choice, ensemble),)
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


def _restore(restorer: Restorer, pixels: np.ndarray, tile: int, overlap: int, bits: int):
    """Tiled restoration; float pixels for 16-bit output, uint8 otherwise."""
    total = tile_count(pixels.shape, tile, overlap)
    with tqdm(total=total, desc="tiles", unit="tile", leave=False, disable=total < 4) as bar:
        return restore_tiled(restorer, pixels, tile, overlap, bar.update, rounded=bits == 8)
