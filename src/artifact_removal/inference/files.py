"""Restoring a user's own files: `artifact-removal restore INPUT... -o OUTDIR`.

Images become PNGs; videos (by suffix: .mp4, .mkv, .mov, ...) become videos, restored frame
by frame with their sound kept, in resumable segments (`inference.video`).

A video's quality is the CRF its x264 settings say, else the CRF its H.264 QPs read as
(`inference.crf_reading`), else the CRF predictor's answer from a frame.

For each image: read it safely (EXIF orientation applied, ICC profiles converted to sRGB, see
`data.images.read_image`), decide its JPEG quality (the file's quantization tables when it has
them, the QF predictor's answer from the pixels, or the user's number), pick the generator
trained for that QF or combine the two nearest as the method's registry entry says
(`inference.ensemble`), restore it in overlapping tiles, and write a PNG (8-bit, or 16-bit on
request).

Nothing is lost and nothing is silent:

- Output names are unique by construction: a folder's files keep their place below it, and a
  name already taken (by another input, or by an input itself) gets the next free one of
  `a.png`, `a.jpg.png`, `a-2.png`, ... so no output is ever written twice.
- The output folder is locked while a restore writes into it (`fileio.FolderLock`): a second
  restore into the same folder is refused at once with a message, never interleaved.
- Every PNG is written atomically (`fileio.write_atomic`) and records a hash of its input and of
  the settings (`inference.png`): a rerun skips the outputs it already finished and removes
  the temporary files of a run that was killed. An existing file that is not this run's result
  stops the run before anything is written, unless `overwrite` or `skip_existing` says what to
  do with it.
- Every input that is not restored is listed with its reason (unreadable, not an image,
  symbolic link not followed, too large, ...), and the command's exit code says so.
- An image with no sign of JPEG compression (no quantization tables, and the QF predictor says
  it is above every trained QF) is copied through unchanged, with a note, unless
  `restore_uncompressed` asks for the gentlest generator.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, count
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..archs.qf_net import ABOVE
from ..checkpoints import fingerprint
from ..config import ConfigError
from ..data.images import ImageReadError, read_image
from ..degradations.h264 import x264_quality
from ..degradations.jpeg_quality import jpeg_quality
from ..degradations.yuv import frame_to_rgb
from ..fileio import FolderBusy, FolderLock, remove_leftovers
from ..methods import combine_of
from ..methods import get as get_method
from ..methods import models_dir as models_dir_of
from ..pretrained import sha256
from .crf_reading import QPFit, ReadingError
from .ensemble import (
    INPUT,
    Ensemble,
    QualityChoice,
    QualityUnknown,
    RestoreError,
    ensemble_weights,
)
from .ladder import Ladder, LadderError
from .png import read_record, write_png_record
from .releases import find_releases
from .restore import Restorer, restore_tiled, tile_count
from .video import (
    H264_OUTPUT,
    VIDEO_SUFFIXES,
    VideoError,
    VideoOutput,
    copy_video,
    probe,
    read_video_record,
    restore_video,
)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".tif", ".tiff", ".webp",
                  ".ppm", ".pgm", ".pnm", ".gif"}  # fmt: skip
# Formats people meet that Pillow cannot decode: named, with what to do.
UNSUPPORTED = {
    ".heic": "HEIC", ".heif": "HEIF", ".avif": "AVIF", ".jxl": "JPEG XL", ".dng": "DNG raw",
    ".cr2": "Canon raw", ".cr3": "Canon raw", ".nef": "Nikon raw", ".arw": "Sony raw",
    ".raf": "Fujifilm raw", ".orf": "Olympus raw", ".rw2": "Panasonic raw", ".svg": "SVG",
}  # fmt: skip
MAX_MEGAPIXELS = 100.0


def find_project(start: Path | None = None) -> Path | None:
    """The project whose trained models to use: the folder at or above `start` (default: the
    current folder) with params.yaml and dvc.yaml; None outside a project."""
    from ..config import ConfigError, find_project_root

    try:
        return find_project_root(start)
    except ConfigError:
        return None


def find_generators(method: str, models_dir: Path | None, project: Path | None) -> dict[int, Path]:
    """{QF: release file} of `method`: from `models_dir`, or from the project's release folder."""
    from ..config import load_params, resolve_path

    try:
        get_method(method)
    except ConfigError as err:
        raise RestoreError(str(err)) from None
    if models_dir is None and project is None:
        raise RestoreError(
            f"no generators: {Path.cwd()} is not inside a project (no params.yaml with a "
            "dvc.yaml beside it here or above) and no --models DIR was given. Run the command "
            "inside the project that trained them, or give the folder of q<QF>.pt files"
        )
    folder = models_dir
    if folder is None:
        params = load_params(project / "params.yaml")
        folder = resolve_path(models_dir_of(params, method), project)
    found = find_releases(folder)
    if not found:
        section = get_method(method).stage_name
        raise RestoreError(
            f"no {method} generators (q<QF>.pt files) in {folder}. Train them in the project "
            f"with `make repro` (or `dvc repro {section}`), or give the folder that holds them "
            "with --models DIR"
        )
    return found


RESTORED, DONE, COPIED, KEPT, SKIPPED, FAILED = (
    "restored", "done", "copied", "kept", "not restored", "failed")  # fmt: skip


@dataclass
class FileResult:
    """One input: what became of it (`status`), where its output is, and why when it is not
    restored (`error`)."""

    source: Path
    output: Path | None = None
    choice: QualityChoice | None = None
    notes: tuple[str, ...] = ()
    error: str | None = None
    size: tuple[int, int] | None = None
    status: str = RESTORED

    def __post_init__(self):
        if self.error and self.status == RESTORED:
            self.status = FAILED


@dataclass
class RestoreReport:
    """All inputs of a run, in order. `failed` lists those that were not restored (a failure,
    or a file skipped for a reason); outputs finished by an earlier run, copies of uncompressed
    images and outputs kept with `skip_existing` are not failures."""

    results: list[FileResult] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)  # leftovers of a killed run
    used: str = ""  # the method, generators, loss, QF predictor and device (`Ensemble.describe`)

    @property
    def failed(self) -> list[FileResult]:
        """The inputs that were not restored, failures and skipped files alike."""
        return [r for r in self.results if r.status in (FAILED, SKIPPED)]

    def of(self, status: str) -> list[FileResult]:
        """The results with one status."""
        return [r for r in self.results if r.status == status]

    def summary(self) -> str:
        """One line per file written, then the groups of the others, then the totals."""
        lines = [f"removed {len(self.removed)} unfinished file(s) of an interrupted run"
                 ] if self.removed else []  # fmt: skip
        for r in self.results:
            if r.status == RESTORED:
                notes = f" ({'; '.join(r.notes)})" if r.notes else ""
                lines.append(f"{r.source} -> {r.output} [{r.size[1]}x{r.size[0]}] "
                             f"{r.choice.describe()}{notes}")  # fmt: skip
                if r.choice.unsure:
                    lines.append(f"  warning: {r.choice.unsure}")
            elif r.status == COPIED:
                lines.append(f"{r.source} -> {r.output}: copied without restoring "
                             f"({'; '.join(r.notes)})")  # fmt: skip
        for status, title in ((DONE, "already done by an earlier run with the same input and "
                               "settings, skipped"),
                              (KEPT, "existing outputs kept (--skip-existing)")):  # fmt: skip
            group = self.of(status)
            if group:
                lines.append(f"{len(group)} {title}:")
                lines += [f"  {r.source} -> {r.output}" for r in group[:20]]
                lines += [f"  ... and {len(group) - 20} more"] if len(group) > 20 else []
        if self.failed:
            lines.append(f"{len(self.failed)} not restored:")
            lines += [f"  {r.source}: {r.error}" for r in self.failed]
        counts = [f"{len(self.of(s))} {word}" for s, word in
                  ((DONE, "already done"), (COPIED, "copied"), (KEPT, "kept"),
                   (FAILED, "failed"), (SKIPPED, "skipped")) if self.of(s)]  # fmt: skip
        lines.append(f"restored {len(self.of(RESTORED))} of {len(self.results)} inputs"
                     + (f" ({', '.join(counts)})" if counts else ""))  # fmt: skip
        unsure = [r for r in self.of(RESTORED) if r.choice.unsure]
        for unit, kind in (("QF", "image"), ("CRF", "video")):
            count = sum(r.choice.unit == unit for r in unsure)
            if count:
                lines.append(f"warning: the {unit} predictor was unsure of {count} {kind}(s) "
                             "(above); check them, or give their quality with "
                             "--quality N")  # fmt: skip
        return "\n".join(lines)


def _link_problem(path: Path) -> str | None:
    """Why a symbolic link cannot be followed (broken, a loop), or None."""
    if not os.path.islink(path):
        return None
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"broken symbolic link (to {os.readlink(path)})"
    return None


def _not_an_image(path: Path) -> str | None:
    """None for a file to take as an image (an image suffix, or content Pillow recognises
    whatever the suffix), else why not."""
    from PIL import Image, UnidentifiedImageError

    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES or suffix in VIDEO_SUFFIXES:
        return None
    if suffix in UNSUPPORTED:
        return (f"{UNSUPPORTED[suffix]} images cannot be read (Pillow has no decoder for "
                "them): convert it to PNG or JPEG first")  # fmt: skip
    try:
        with Image.open(path):
            return None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        kind = f"suffix '{path.suffix}'" if path.suffix else "no suffix"
        return f"not an image file ({kind}, and Pillow does not recognise its content)"


def _walk(folder: Path, exclude: Path, skipped: list[FileResult]) -> list[Path]:
    """Image files below `folder`, sorted; what is not taken goes into `skipped` with why.
    Symbolic links to files are followed; to folders they are not (listed), nor is `exclude`
    (the output folder, when it lies inside an input)."""
    found = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as err:
        skipped.append(FileResult(folder, error=f"cannot list the folder ({err.strerror})",
                                  status=SKIPPED))  # fmt: skip
        return found
    for entry in entries:
        path = Path(entry.path)
        problem = _link_problem(path)
        if problem:
            skipped.append(FileResult(path, error=problem, status=SKIPPED))
        elif entry.is_dir(follow_symlinks=False) and _segments_folder(path):
            reason = ("an interrupted video restore's segments, kept for its rerun (not an "
                      "input)")  # fmt: skip
            skipped.append(FileResult(path, error=reason, status=SKIPPED))
        elif entry.is_dir(follow_symlinks=False):
            if path.resolve() != exclude:
                found += _walk(path, exclude, skipped)
        elif entry.is_dir():
            reason = "symbolic link to a folder, not followed (give it as an input to restore it)"
            skipped.append(FileResult(path, error=reason, status=SKIPPED))
        elif not entry.is_file():
            skipped.append(FileResult(path, error="not a regular file", status=SKIPPED))
        elif reason := _not_an_image(path):
            skipped.append(FileResult(path, error=reason, status=SKIPPED))
        else:
            found.append(path)
    return found


def _segments_folder(path: Path) -> bool:
    """A hidden `.NAME.segments` folder that `inference.video` made (its manifest inside)."""
    return (path.name.startswith(".") and path.name.endswith(".segments")
            and (path / "manifest.json").is_file())  # fmt: skip


def is_video(path: Path) -> bool:
    """A file `restore` takes as a video (by its suffix)."""
    return path.suffix.lower() in VIDEO_SUFFIXES


def collect_inputs(
    inputs: Iterable[str | Path], out_dir: str | Path, video: VideoOutput = H264_OUTPUT
) -> tuple[list[tuple[Path, Path]], list[FileResult]]:
    """(file, output name relative to OUTDIR) for every image and video among the inputs, and a
    result with the reason for every input that is not one. Folders are searched recursively;
    their files keep their place below them. Names are unique (`unique_names`): .png for
    images, `video`'s suffix for videos."""
    out_dir = Path(out_dir).resolve()
    files, skipped = [], []
    for item in map(Path, inputs):
        problem = _link_problem(item)
        if problem:
            skipped.append(FileResult(item, error=problem, status=SKIPPED))
        elif item.is_dir():
            if item.resolve() == out_dir:
                raise RestoreError(f"{item} is both an input and the output folder; choose "
                                   "another output folder (-o)")  # fmt: skip
            before = len(skipped)
            found = _walk(item, out_dir, skipped)
            if not found and len(skipped) == before:
                skipped.append(FileResult(item, status=SKIPPED, error="folder holds no image or "
                                          f"video files ({', '.join(sorted(IMAGE_SUFFIXES))}, "
                                          f"{', '.join(sorted(VIDEO_SUFFIXES))})"))  # fmt: skip
            files += [(p, p.relative_to(item)) for p in found]
        elif item.is_file():
            reason = _not_an_image(item)
            if reason:
                skipped.append(FileResult(item, error=reason, status=SKIPPED))
            else:
                files.append((item, Path(item.name)))
        elif item.exists():
            skipped.append(FileResult(item, error="not a regular file", status=SKIPPED))
        else:
            skipped.append(FileResult(item, error="no such file or folder", status=SKIPPED))
    sources = {p.resolve() for p, _ in files}
    taken = {p.relative_to(out_dir) for p in sources if p.is_relative_to(out_dir)}
    suffixes = [video.suffix(p) if is_video(p) else ".png" for p, _ in files]
    names = unique_names([rel for _, rel in files], taken, suffixes)
    return [(path, name) for (path, _), name in zip(files, names, strict=True)], skipped


def unique_names(relatives: Sequence[Path], taken: Iterable[Path] = (),
                 suffixes: Sequence[str] | None = None) -> list[Path]:  # fmt: skip
    """An output name (.png, or each input's `suffixes`) for each input path relative to its
    folder, none used twice and none in `taken` (compared without case, for case-insensitive
    file systems): the first free one of `a.png`, `a.jpg.png`, `a-2.png`, `a-3.png`, ..."""

    def key(path: Path) -> str:
        return path.as_posix().casefold()

    files = {key(p) for p in taken}
    folders = {key(q) for p in taken for q in p.parents}
    names = []
    for rel, suffix in zip(relatives, suffixes or [".png"] * len(relatives), strict=True):
        candidates = chain(
            (rel.with_suffix(suffix), rel.with_name(f"{rel.name}{suffix}")),
            (rel.with_name(f"{rel.stem}-{k}{suffix}") for k in count(2)),
        )
        # free: not a file or folder name already, and no folder above it is a file's name
        name = next(c for c in candidates if key(c) not in files and key(c) not in folders
                    and not any(key(q) in files for q in c.parents))  # fmt: skip
        files.add(key(name))
        folders |= {key(q) for q in name.parents}
        names.append(name)
    return names


def file_digest(path: Path) -> str:
    """A file's sha256 (`pretrained.sha256`), short."""
    return sha256(Path(path))[:16]


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


# What restores each kind of input when no method is given (`method="auto"`): images the GAN
# of the papers, videos the generators trained on H.264 frames. (The image GAN, guided by the
# JPEG QF predictor, made held-out H.264 clips worse: benchmarks/RESULTS.md, "Do no harm".)
AUTO = "auto"
DEFAULT_METHODS = {"image": "gan", "video": "video_ssim"}


def restore_files(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    method: str = AUTO,
    quality: int | str = "auto",
    device: str = "auto",
    models_dir: str | Path | None = None,
    predictor: str | Path | None = None,
    tile: int = 512,
    overlap: int = 64,
    bits: int = 8,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    announce: Callable[[str], None] | None = None,
    overwrite: bool = False,
    skip_existing: bool = False,
    restore_uncompressed: bool = False,
    max_megapixels: float = MAX_MEGAPIXELS,
    video: VideoOutput = H264_OUTPUT,
    segment_frames: int = 240,
    batch: int = 4,
) -> RestoreReport:
    """Restore images and folders of images into `out_dir` as PNGs; see the module docstring.

    `method` is a registered method, or "auto": `DEFAULT_METHODS` for images and for videos.
    `quality` is "auto" or a JPEG QF (H.264 CRF for the video methods), 1..100; `models_dir`
    holds `q<QF>.pt` generators of the method (default: the project's); `predictor` is the QF
    (or CRF) predictor's file (default: the project's). An input of better quality than any
    generator was trained for is copied with a note, unless `restore_uncompressed` gives it
    to the gentlest generator. An existing output that is not this run's result stops the run
    (RestoreError) unless `overwrite` (replace it) or `skip_existing` (keep it). Images over
    `max_megapixels` are not restored. Videos are encoded as `video` says, restored `batch`
    frames at a time, in segments of `segment_frames` frames (a rerun finishes an interrupted
    one). `announce` is called before the first file with what restores them
    (`Ensemble.describe`); `log` after each file. Returns a report; inputs not restored are in
    `report.failed`.
    """
    from ..runtime import select_device

    override = _parse_quality(quality)
    if bits not in (8, 16):
        raise RestoreError(f"bits must be 8 or 16, not {bits}")
    if tile % 8 or overlap % 8 or tile < 64:
        raise RestoreError(f"tile ({tile}, at least 64) and overlap ({overlap}) must be "
                           "multiples of 8")  # fmt: skip
    if overwrite and skip_existing:
        raise RestoreError("choose one of overwrite and skip-existing")
    if not max_megapixels > 0:
        raise RestoreError(f"max megapixels must be positive, not {max_megapixels}")
    if segment_frames < 1 or batch < 1:
        raise RestoreError(f"segment frames ({segment_frames}) and batch ({batch}) must be "
                           "at least 1")  # fmt: skip
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RestoreError(f"{out_dir} is a file; the output (-o) is a folder for the PNGs")
    files, skipped = collect_inputs(inputs, out_dir, video)
    kinds = sorted({"video" if is_video(p) else "image" for p, _ in files}) or ["image"]
    if method == AUTO and len(kinds) > 1 and (models_dir or predictor):
        raise RestoreError("--models and --predictor name one method's files, and these inputs "
                           "are images and videos, restored by two methods: give --method, or "
                           "restore the images and the videos in two runs")  # fmt: skip
    try:
        torch_device = select_device(device)
    except (ValueError, RuntimeError) as err:
        raise RestoreError(str(err)) from None
    project = find_project()
    common = {"quality": override, "bits": bits, "tile": tile, "overlap": overlap,
              "uncompressed": restore_uncompressed}  # fmt: skip
    setups = {kind: _setup(DEFAULT_METHODS[kind] if method == AUTO else method, project,
                           models_dir, predictor, override, torch_device, common)
              for kind in kinds}  # fmt: skip
    if "video" in setups:  # a video's frames: the same settings, its encoding, its segments
        setups["video"].settings_id = fingerprint({
            **setups["video"].settings, "video": video.settings(),
            "segment_frames": segment_frames})  # fmt: skip
    videos = Videos(video, segment_frames, batch)
    try:
        with FolderLock(out_dir, "artifact-removal restore"):
            return _restore_locked(
                files, skipped, out_dir, setups, override, tile, overlap, bits, progress, log,
                announce, overwrite, skip_existing, restore_uncompressed, max_megapixels,
                videos,
            )  # fmt: skip
    except FolderBusy as err:
        raise RestoreError(str(err)) from None


@dataclass
class Setup:
    """What restores one kind of input (images, or videos): the method, its ensemble, the
    settings an output depends on besides its input (recorded in it), and their hash."""

    method: str
    ensemble: Ensemble
    settings: dict
    settings_id: str


def _setup(method: str, project: Path | None, models_dir, predictor, override: int | None,
           device, common: dict) -> Setup:  # fmt: skip
    """The method's generators and predictor (the project's unless given), checked."""
    paths = find_generators(method, Path(models_dir) if models_dir else None, project)
    codec = get_method(method).codec
    video_method = codec != "jpeg"  # trained on H.264 frames, per CRF
    if predictor is None and project is not None:
        from ..config import load_params, resolve_path

        project_params = load_params(project / "params.yaml")
        folder = (project_params.video.predictor_dir if video_method
                  else project_params.train_qf.models_dir)  # fmt: skip
        predictor = resolve_path(folder, project) / "predictor.pt"
    predictor = Path(predictor) if predictor else None
    digests = {q: file_digest(p) for q, p in sorted(paths.items())}
    ladder = _ladder(method, project, digests)
    settings = {  # what an output depends on besides its input; recorded in every output
        "method": method, **common,
        "generators": {str(q): d for q, d in digests.items()},
        "predictor": file_digest(predictor) if predictor and predictor.is_file() else None,
    }  # fmt: skip
    if ladder is not None:
        settings["ladder"] = fingerprint(ladder.levels)
    reading, reading_path = project_reading(project) if video_method else (None, None)
    if reading is not None:
        settings["crf_reading"] = file_digest(reading_path)
    ensemble = Ensemble(paths, combine_of(method), device, predictor, codec, ladder, reading)
    return Setup(method, ensemble, settings, fingerprint(settings))


def _ladder(method: str, project: Path | None, digests: dict[int, str]) -> Ladder | None:
    """The project's measured ladder of `method` when it was measured for these very
    generators (stage ladder), else None: the ensemble's rule decides."""
    if project is None:
        return None
    from ..config import load_params, resolve_path

    params = load_params(project / "params.yaml")
    path = resolve_path(params.ladder.dir, project) / f"{method}.json"
    if method not in params.ladder.methods or not path.is_file():
        return None
    try:
        ladder = Ladder.load(path)
    except LadderError as err:
        raise RestoreError(str(err)) from None
    return ladder if ladder.levels and ladder.matches(digests) else None  # none: the rule


def project_reading(project: Path | None) -> tuple[QPFit | None, Path | None]:
    """The project's line from H.264 QPs to CRF (stage crf_reading) and its file, or None
    when there is none: then the CRF predictor reads streams without x264's settings."""
    if project is None:
        return None, None
    from ..config import load_params, resolve_path

    path = resolve_path(load_params(project / "params.yaml").crf_reading.out, project)
    if not path.is_file():
        return None, None
    try:
        return QPFit.load(path), path
    except ReadingError as err:
        raise RestoreError(str(err)) from None


@dataclass(frozen=True)
class Videos:
    """How `restore_files` treats videos: output encoding, segments, batch."""

    output: VideoOutput
    segment_frames: int
    batch: int


def _restore_locked(files, skipped, out_dir, setups, override, tile, overlap, bits, progress,
                    log, announce, overwrite, skip_existing, restore_uncompressed,
                    max_megapixels, videos) -> RestoreReport:  # fmt: skip
    """The run itself, with the output folder locked."""
    report = RestoreReport(skipped, removed=remove_leftovers(out_dir))
    todo, conflicts = [], []
    sources = {p.resolve() for p, _ in files}
    for path, name in files:
        target = out_dir / name
        setup = setups["video" if is_video(path) else "image"]
        try:
            record = {"source": file_digest(path), "settings": setup.settings_id}
        except OSError as err:
            report.results.append(FileResult(path, error=f"cannot be read ({err.strerror})"))
            continue
        problem = _path_problem(out_dir, name, sources)
        if problem:
            report.results.append(FileResult(path, status=SKIPPED, error=problem))
            continue
        if not os.path.lexists(target):
            todo.append((path, target, record, False))
        elif _read_record(target) == record and not overwrite and target.is_file():
            report.results.append(FileResult(path, target, status=DONE))
        elif skip_existing and (target.is_symlink() or not target.is_file()):
            report.results.append(FileResult(path, status=SKIPPED, error=(
                f"{target} is in the way and is not a file (a folder or a symbolic link); "
                "left as it is")))  # fmt: skip
        elif skip_existing:
            report.results.append(FileResult(path, target, status=KEPT))
        elif overwrite:
            todo.append((path, target, record, True))
        else:
            conflicts.append(target)
    if conflicts:
        shown = "\n  ".join(map(str, conflicts[:10]))
        more = f"\n  ... and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
        raise RestoreError(
            f"{len(conflicts)} output file(s) already exist and are not what this run would "
            f"write (another input, other settings, or not written by restore):\n  {shown}{more}"
            "\nNothing was written. Use --overwrite to replace them, --skip-existing to keep "
            "them, or choose another output folder (-o)"
        )
    needed = {"video" if is_video(path) else "image" for path, *_ in todo}
    # every generator file is loaded (and so checked) before the first file
    used = [("" if kind == "image" or len(needed) == 1 else "videos with ")
            + setups[kind].ensemble.describe(setups[kind].method)
            for kind in sorted(needed)]  # fmt: skip
    report.used = "; ".join(used)
    if used and announce:
        announce("restoring with " + "\n  and ".join(used))
    from PIL import Image

    # Pillow's decompression-bomb guard follows --max-megapixels (what is over it is refused
    # before decoding, in `_restore_one`)
    guard = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max(guard or 0, int(max_megapixels * 1e6))
    try:
        with tqdm(total=len(todo), desc="restore", unit="file", disable=not progress) as bar:
            for path, target, record, replace in todo:
                if is_video(path):
                    result = _restore_video(setups["video"].ensemble, path, target, record,
                                            replace, override, tile, overlap, videos, progress,
                                            restore_uncompressed)  # fmt: skip
                else:
                    result = _restore_one(
                        setups["image"].ensemble, path, target, record, replace, override, tile,
                        overlap, bits, restore_uncompressed, max_megapixels,
                    )  # fmt: skip
                report.results.append(result)
                if log:
                    log(f"{path}: {result.error or result.status}")
                bar.update(1)
    finally:
        Image.MAX_IMAGE_PIXELS = guard
    return report


def _path_problem(out_dir: Path, name: Path, sources: set[Path]) -> str | None:
    """Why the output `out_dir/name` must not be written, or None: a symbolic link to a folder
    inside the output folder would take it elsewhere (outside, or onto an input); a file is
    where a folder should be. (A symbolic link at the output's own name is replaced, never
    followed.)"""
    target = out_dir / name
    where = target.parent.resolve() / target.name
    if not where.is_relative_to(out_dir.resolve()) or where in sources:
        return (f"its output {target} leads to {where} through a symbolic link in the "
                "output folder; not written (remove the link)")  # fmt: skip
    for folder in (out_dir / q for q in reversed(name.parents) if q != Path(".")):
        if os.path.lexists(folder) and not folder.is_dir():
            return f"{folder} is a file where its output folder should be; not written"
    return None


def _restore_one(ensemble: Ensemble, path: Path, target: Path, record: dict, replace: bool,
                 override: int | None, tile: int, overlap: int, bits: int,
                 restore_uncompressed: bool, max_megapixels: float) -> FileResult:  # fmt: skip
    """Read, choose, restore (or copy) and write one image; failures go into the result."""
    result = FileResult(path)
    try:
        pixels_in_file = _pixel_count(path)
        if pixels_in_file is not None and pixels_in_file > max_megapixels * 1e6:
            result.status = SKIPPED
            result.error = (f"too large: {pixels_in_file / 1e6:.1f} megapixels, over the limit "
                            f"of {max_megapixels:g} (--max-megapixels)")  # fmt: skip
            return result
        loaded = read_image(path, keep_gray=True)
        pixels = loaded.pixels
        result.size, result.notes = pixels.shape[:2], loaded.notes
        result.choice = choice = ensemble.choose(pixels, override, jpeg_quality(path),
                                                 beyond=restore_uncompressed)  # fmt: skip
        icc = any("ICC" in n for n in loaded.notes)
        if choice.passed_through:
            result.notes += (_why_copied(choice, ensemble),)
            write_png_record(target, pixels if bits == 8 else pixels.astype(np.float32), bits,
                             icc, record, replace, loaded.exif)  # fmt: skip
            result.status, result.output = COPIED, target
            return result
        restored = _restore(ensemble.restorer(choice.generators), pixels, tile, overlap, bits)
        write_png_record(target, restored, bits, icc, record, replace, loaded.exif)
        result.output = target
    except Exception as err:
        _failed(result, err, target)
    return result


def _why_copied(choice: QualityChoice, ensemble: Ensemble) -> str:
    """Why an input is copied as it is, and how to restore it all the same."""
    trained = sorted(ensemble.paths)
    video = ensemble.codec == "h264"  # CRFs: lower is better
    unit = "CRF" if video else "QF"
    force = (f"--restore-uncompressed restores it with the gentlest generator "
             f"(q{ensemble.gentlest()})")  # fmt: skip
    if choice.override is None and choice.tables is None and choice.cnn.quality == ABOVE:
        return ("no sign of JPEG compression: no quantization tables, and the QF predictor says "
                f"{choice.cnn.label} ({choice.cnn.confidence:.0%}); {force}")  # fmt: skip
    source = ("given" if choice.override is not None else choice.tables.kind
              if choice.tables is not None else f"the {unit} predictor")  # fmt: skip
    if ensemble.ladder is not None and ensemble_weights(
        choice.used, trained, ensemble.combine, ensemble.pass_through
    ) != {INPUT: 1.0}:
        return (f"at {unit} {choice.used:g} ({source}) the input itself restored the "
                "validation split better than any generator (the measured ladder, stage "
                f"ladder); {force}")  # fmt: skip
    side = "below" if video else "above"
    return (f"{unit} {choice.used:g} ({source}) is {side} the {unit}s its generators are trained "
            f"for ({trained[0]}..{trained[-1]}): restoring would take more than it gives; "
            f"{force}")  # fmt: skip


def _is_ffmpeg_error(err: Exception) -> bool:
    """An error of FFmpeg's, raised through PyAV (its text is FFmpeg's, not a sentence)."""
    import av

    return isinstance(err, av.FFmpegError)


def _failed(result: FileResult, err: Exception, target: Path) -> None:
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
        result.error = (f"no space left to write {target.name} in {target.parent} "
                        f"({os.strerror(err.errno)}); nothing half-written is left, and what "
                        "was finished is kept: free some space and run again")  # fmt: skip
    elif _is_ffmpeg_error(err):
        reason = getattr(err, "strerror", None) or str(err)
        result.error = (f"cannot be decoded ({reason}): the file is damaged, or not a video "
                        "that this FFmpeg reads")  # fmt: skip
    elif isinstance(err, OSError | MemoryError | RuntimeError | ValueError):
        result.error = f"{err.__class__.__name__}: {err}"
    else:
        raise err
    result.status = FAILED


def _read_record(target: Path) -> dict | None:
    """What made an existing output: a PNG's text chunk, a video's metadata."""
    return read_video_record(target) if is_video(target) else read_record(target)


def _restore_video(ensemble: Ensemble, path: Path, target: Path, record: dict, replace: bool,
                   override: int | None, tile: int, overlap: int, videos: Videos,
                   progress: bool, beyond: bool = False) -> FileResult:  # fmt: skip
    """Restore one video (`inference.video.restore_video`); failures go into the result. Its
    quality is the override, or the predictor's answer on a frame half a second in (the CRF
    predictor for methods trained on H.264). A video better than the generators were trained
    for is copied, its packets unchanged (`inference.video.copy_video`)."""
    result = FileResult(path)
    try:
        info = probe(path)
        result.size = (info.height, info.width)
        # x264's CRF tells the generators of an H.264 method, not an image method's QF; from
        # other encoders the stream's QPs read as a CRF
        stream = x264_quality(path) if ensemble.codec == "h264" else None
        if stream is None and ensemble.reading is not None:
            stream = ensemble.reading.read(path)
        result.choice = choice = ensemble.choose(_sample_frame(path), override, stream, beyond)
        if choice.passed_through:
            frames = copy_video(path, target, record, replace, info)
            result.output, result.status = target, COPIED
            result.notes = (f"video, {frames} frames", _why_copied(choice, ensemble))
            return result
        restorer = ensemble.restorer(choice.generators)

        def restore_frames(frames: np.ndarray) -> np.ndarray:
            if frames.shape[1] <= tile and frames.shape[2] <= tile:  # the batch at once
                return np.rint(restorer(frames)).clip(0, 255).astype(np.uint8)
            return np.stack([restore_tiled(restorer, f, tile, overlap) for f in frames])

        done = restore_video(path, target, restore_frames, record, videos.output,
                             videos.segment_frames, videos.batch, progress, replace,
                             info)  # fmt: skip
        result.output = target
        reused = (f", {done.reused} of {done.segments} segments kept from an interrupted run"
                  if done.reused else "")  # fmt: skip
        speed = f", {done.fps:.2f} frames/s" if done.restored else ""  # none: all were kept
        result.notes = (f"video, {done.frames} frames{speed}{reused}",
                        *_video_notes(info, videos.output))  # fmt: skip
    except Exception as err:
        _failed(result, err, target)
    return result


def _video_notes(info, output: VideoOutput = H264_OUTPUT) -> tuple[str, ...]:
    """What a restored video does not keep of its input (bit depth beyond 8, subtitles, more
    video streams than the first) or how it is written otherwise than asked, said once per
    video."""
    import av

    bits = (
        max(c.bits for c in av.VideoFormat(info.pix_fmt).components) if info.pix_fmt != "?" else 8
    )
    notes = [f"{info.pix_fmt} ({bits}-bit) restored in 8 bits"] if bits > 8 else []
    if info.subtitle_streams:
        notes.append(f"{info.subtitle_streams} subtitle stream(s) not copied")
    if info.video_streams > 1:
        notes.append(f"{info.video_streams - 1} more video stream(s) not restored nor copied "
                     "(only the first is)")  # fmt: skip
    if output.codec == "h264" and output.chroma == "420" and (info.width % 2 or info.height % 2):
        notes.append(
            f"written in 4:4:4, not 4:2:0: {info.width}x{info.height} is odd, and "
            "4:2:0 needs an even width and height (some players cannot play 4:4:4)"
        )
    return tuple(notes)


def _sample_frame(path: Path, seconds: float = 0.5) -> np.ndarray:
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
