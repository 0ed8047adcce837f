"""Restoring a user's own files: `artifact-removal restore INPUT... -o OUTDIR`.

Images keep their format (a JPEG becomes a JPEG, a WebP a WebP, the rest PNGs; or all PNG,
JPEG or WebP: `image`); videos (by suffix: .mp4, .mkv, .mov, ...) become videos, restored
frame by frame with their sound kept, in resumable segments (`restore.video`).

A video's quality is the CRF its x264 settings say, else the CRF its H.264 QPs read as
(`inference.crf_reading`), else the CRF predictor's answer from a frame.

For each image: read it safely (EXIF orientation applied, ICC profiles converted to sRGB, see
`data.images.read_image`), decide its JPEG quality (the file's quantization tables when it has
them, the QF predictor's answer from the pixels, or the user's number), pick the generator
trained for that QF or combine the two nearest as the method's registry entry says
(`inference.ensemble`), restore it in overlapping tiles, and write a PNG (8-bit, or 16-bit on
request), a JPEG or a WebP (`restore.image_files`).

Nothing is lost and nothing is silent:

- Output names are unique by construction: a folder's files keep their place below it, and a
  name already taken (by another input, or by an input itself) gets the next free one of
  `a.png`, `a.jpg.png`, `a-2.png`, ... so no output is ever written twice.
- The output folder is locked while a restore writes into it (`fileio.FolderLock`): a second
  restore into the same folder is refused at once with a message, never interleaved.
- Every PNG is written atomically (`fileio.write_atomic`) and records a hash of its input and of
  the settings (`restore.png`): a rerun skips the outputs it already finished and removes
  the temporary files of a run that was killed. An existing file that is not this run's result
  stops the run before anything is written, unless `overwrite` or `skip_existing` says what to
  do with it.
- Every input that is not restored is listed with its reason (unreadable, not an image,
  symbolic link not followed, too large, ...), and the command's exit code says so.
- An image with no sign of JPEG compression (no quantization tables, and the QF predictor says
  it is above every trained QF) is copied through unchanged, with a note, unless
  `restore_uncompressed` asks for the gentlest generator. A copy in the input's own format is
  the input's bytes (`restore.copies`), listed with its record in its folder's
  `.artifact-removal.json`.

The run is here (`restore_files`); its parts are modules of their own: `restore.inputs`
finds and checks the inputs, `inference.setups` what restores them, `restore.outputs` names
the outputs and settles those that exist, `restore.one_image` and `restore.one_video`
restore one image or video, and `restore.report` says what became of each input.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..fileio import FolderBusy, FolderLock, remove_leftovers
from ..inference.choice import RestoreError
from ..inference.setups import find_project, setups_for
from ..inference.strength import check_strength
from .copies import CopyList
from .inputs import collect_inputs
from .kinds import is_video
from .one_video import Videos
from .options import AUTO, RestoreOptions, check_tiles, pixel_limit
from .outputs import plan_outputs
from .overlap import restore_in_order
from .report import FileResult, RestoreReport, shown


def restore_files(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    out_dir: str | Path,
    options: RestoreOptions | None = None,
    *,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    announce: Callable[[str], None] | None = None,
    **settings: Any,
) -> RestoreReport:
    """Restore images and videos, files and folders, into `out_dir`; see the module docstring.

    `inputs` is one path (a str or Path: a file or a folder) or a sequence of them.

    `method` is a registered method, or "auto": `DEFAULT_METHODS` for images and for videos.
    `strength` (0..1, None: the method's own) dials a method fine-tuned from another between
    the two (`inference.strength`). `quality` is "auto" or a JPEG QF (H.264 CRF for the video
    methods), 1..100; `models_dir` holds `q<QF>.pt` generators of the method (default: the
    project's); `predictor` is the QF (or CRF) predictor's file (default: the project's). An
    input of better quality than any generator was trained for is copied with a note, unless
    `restore_uncompressed` gives it to the gentlest generator. An existing output that is not
    this run's result stops the run (RestoreError) unless `overwrite` (replace it) or
    `skip_existing` (keep it). Images over `max_megapixels` are not restored. Videos are
    encoded as `video` says, restored `batch` frames at a time, in segments of
    `segment_frames` frames (a rerun finishes an interrupted one). `announce` is called
    before the first file with what restores them (`Ensemble.describe`); `log` after each
    file. Returns a report; inputs not restored are in `report.failed`.

    `options` (`restore.options.RestoreOptions`, default: its defaults) may be given, or
    changed, field by field as keywords: `restore_files(inputs, out, method="ssim")`.
    """
    inputs = _as_paths(inputs)
    o = dataclasses.replace(options or RestoreOptions(), **settings)
    method, tile, overlap, bits, video = o.method, o.tile, o.overlap, o.bits, o.video
    models_dir, predictor = o.models_dir, o.predictor
    segment_frames, batch = o.segment_frames, o.batch
    override = _parse_quality(o.quality)
    strength = check_strength(o.strength)
    if bits not in (8, 16):
        raise RestoreError(f"bits must be 8 or 16, not {bits}")
    if bits == 16 and o.image.format not in ("png", AUTO):
        raise RestoreError(f"{o.image.format} outputs are 8-bit; --bits 16 needs --format png")
    check_tiles(tile, overlap)
    if o.overwrite and o.skip_existing:
        raise RestoreError("choose one of overwrite and skip-existing")
    if not o.max_megapixels > 0:
        raise RestoreError(f"max megapixels must be positive, not {o.max_megapixels}")
    if o.ray and Path(o.ray).exists():
        raise RestoreError(
            f"--ray took {o.ray!r}, an input, for the Ray cluster's address: put --ray after "
            "the inputs (... -o OUT --ray), or write --ray=ADDRESS"
        )
    if o.io_workers < 0:
        raise RestoreError(f"io workers must be 0 or more, not {o.io_workers}")
    if segment_frames < 1 or batch < 1:
        raise RestoreError(
            f"segment frames ({segment_frames}) and batch ({batch}) must be at least 1"
        )
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RestoreError(f"{out_dir} is a file; the output (-o) is a folder for the outputs")
    files, skipped = collect_inputs(inputs, out_dir, video, o.image, bits)
    kinds = sorted({"video" if is_video(p) else "image" for p, _ in files}) or ["image"]
    if method == AUTO and len(kinds) > 1 and (models_dir or predictor):
        raise RestoreError(
            "--models and --predictor name one method's files, and these inputs "
            "are images and videos, restored by two methods: give --method, or "
            "restore the images and the videos in two runs"
        )
    if o.backend == "onnxruntime" and (strength is not None or predictor):
        raise RestoreError(
            "with the onnxruntime backend the export folder (--models) holds the generators "
            "and the predictor; --strength and --predictor need the torch backend"
        )
    project = find_project()
    setups = setups_for(o, kinds, project)
    videos = Videos(video, segment_frames, batch)
    made = _output_folders(out_dir)
    try:
        with FolderLock(out_dir, "artifact-removal restore"), _pillow_limit(o.max_megapixels):
            try:
                return _restore_locked(files, skipped, out_dir, setups, o, override, progress,
                                       log, announce, videos, project)  # fmt: skip
            finally:  # a run that stopped before writing anything leaves no empty folders
                _remove_if_empty(made)
    except FolderBusy as err:  # the folder is another run's: it stays as it is
        raise RestoreError(str(err)) from None


def _as_paths(inputs) -> list[Path]:
    """The inputs as a list of paths: one path (str or Path) or a sequence of them."""
    if isinstance(inputs, str | os.PathLike):
        return [Path(inputs)]
    if isinstance(inputs, bytes) or not isinstance(inputs, Iterable):
        raise RestoreError(
            f"inputs must be a path (str or Path) or a list of paths, not {type(inputs).__name__}"
        )
    inputs = list(inputs)
    bad = [item for item in inputs if not isinstance(item, str | os.PathLike)]
    if bad:
        raise RestoreError(f"inputs must be paths (str or Path), not {bad[0]!r}")
    if not inputs:
        raise RestoreError("no inputs given: name image or video files, or folders")
    return [Path(item) for item in inputs]


def _output_folders(out_dir: Path) -> list[Path]:
    """Make the output folder and the folders above it that are missing; returns those this
    run made, innermost first. A path that cannot be a folder is a RestoreError that says
    why."""
    missing = [p for p in (out_dir, *out_dir.parents) if not os.path.lexists(p)]
    if out_dir.is_dir():
        return []
    try:
        out_dir.mkdir(parents=True)
    except OSError as err:
        where = f" ({err.filename})" if err.filename and str(err.filename) != str(out_dir) else ""
        raise RestoreError(
            f"cannot make the output folder {out_dir}: {err.strerror}{where}"
        ) from None
    return missing


@contextlib.contextmanager
def _pillow_limit(max_megapixels: float) -> Iterator[None]:
    """Pillow's decompression-bomb guard set to the run's --max-megapixels while it runs (what
    is over it is refused before decoding, in `one_image.prepare_image`; earlier outputs are
    checked within it), then put back."""
    from PIL import Image

    guard = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = pixel_limit(max_megapixels)
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = guard


def _remove_if_empty(folders: list[Path]) -> None:
    """Remove the `folders` (innermost first) that nothing was written into."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty: something was written
            return


def _restore_locked(
    files: list,
    skipped: list,
    out_dir: Path,
    setups: dict,
    o: RestoreOptions,
    override: int | None,
    progress: bool,
    log: Callable[[str], None] | None,
    announce: Callable[[str], None] | None,
    videos: Videos,
    project: Path | None,
) -> RestoreReport:
    """The run, with the output folder locked and Pillow's pixel limit the run's
    (`_pillow_limit`): what exists already is settled (`plan_outputs`), then the rest
    restored."""
    report = RestoreReport(skipped, removed=remove_leftovers(out_dir))
    todo, settled, report.damaged = plan_outputs(
        files, out_dir, setups, o.overwrite, o.skip_existing
    )
    report.results += settled
    needed = {"video" if is_video(path) else "image" for path, *_ in todo}
    # every generator file is loaded (and so checked) before the first file
    used = [
        ("" if kind == "image" or len(needed) == 1 else "videos with ")
        + setups[kind].ensemble.describe(setups[kind].method)
        + (f" ({setups[kind].note})" if setups[kind].note else "")
        for kind in sorted(needed)
    ]
    report.used = "; ".join(used)
    if used and announce:
        announce("restoring with " + "\n  and ".join(used))
        if "image" in needed:
            announce(o.image.describe(o.bits))
        if "video" in needed:
            archive = o.video.codec == "h264" and not o.video.archive
            cost = " (about 3 times the input's bytes, and 0.4 to 0.8 dB of PSNR; --archive: "
            announce(f"writing each video as {o.video.describe()}"
                     + (f"{cost}near-lossless, 14 to 76 times)" if archive and o.video.crf == "auto"
                        else ""))  # fmt: skip
    records = {target: record for _, target, record, _ in todo}
    copies = CopyList()  # the inputs copied as they are, listed in their folders
    with tqdm(total=len(todo), desc="restore", unit="file", disable=not progress) as bar:

        def finish(result: FileResult) -> None:
            if result.as_is:
                copies.add(result.output, records[result.output])
            report.results.append(result)
            if log:
                log(f"{shown(result.source)}: {result.error or result.status}")
            bar.update(1)

        try:
            if o.ray is None:
                restore_in_order(todo, setups, o, override, videos, progress, finish)
            else:
                from .on_ray import restore_on_ray

                restore_on_ray(todo, setups, o, project, override, finish)
                report.removed += remove_leftovers(out_dir)  # of workers that died
        finally:  # the copies made so far, listed even when the run stops
            copies.flush()
    return report


def _parse_quality(quality: int | str) -> int | None:
    """None for "auto", else a QF in 1..100."""
    if isinstance(quality, str):
        if quality == "auto":
            return None
        if not quality.isdigit():
            raise RestoreError(f"quality must be 'auto' or a number from 1 to 100, not {quality!r}")
        quality = int(quality)
    if not 1 <= quality <= 100:
        raise RestoreError(f"quality must be 'auto' or a number from 1 to 100, not {quality}")
    return quality
