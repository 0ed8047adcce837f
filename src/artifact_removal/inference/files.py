"""Restoring a user's own files: `artifact-removal restore INPUT... -o OUTDIR`.

For each image: read it safely (EXIF orientation applied, ICC profiles converted to sRGB, see
`data.images.read_image`), decide its JPEG quality (the file's quantization tables when it has
them, the QF predictor's answer from the pixels, or the user's number), pick the generator
trained for that QF or combine the two nearest as the method's registry entry says
(`inference.ensemble`), restore it in overlapping tiles, and write a PNG (8-bit, or 16-bit on
request). A file that fails is reported at the end and does not stop the others.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..config import ConfigError
from ..data.images import ImageReadError, read_image
from ..methods import combine_of
from ..methods import get as get_method
from ..methods import models_dir as models_dir_of
from .ensemble import Ensemble, QualityChoice, QualityUnknown, RestoreError
from .releases import find_releases
from .restore import Restorer, restore_tiled, tile_count

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".tif", ".tiff", ".webp",
                  ".ppm", ".pgm", ".pnm", ".gif"}  # fmt: skip


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
        section = get_method(method).section
        raise RestoreError(
            f"no {method} generators (q<QF>.pt files) in {folder}. Train them in the project "
            f"with `make repro` (or `dvc repro {section}`), or give the folder that holds them "
            "with --models DIR"
        )
    return found


@dataclass
class FileResult:
    """One input: where its restoration went, or why it failed."""

    source: Path
    output: Path | None = None
    choice: QualityChoice | None = None
    notes: tuple[str, ...] = ()
    error: str | None = None
    size: tuple[int, int] | None = None


@dataclass
class RestoreReport:
    """All inputs of a run, in order; `failed` lists those that did not restore."""

    results: list[FileResult] = field(default_factory=list)

    @property
    def failed(self) -> list[FileResult]:
        """The inputs that failed."""
        return [r for r in self.results if r.error]

    def summary(self) -> str:
        """One line per file, failures last, then the totals."""
        lines = [f"{r.source} -> {r.output} [{r.size[1]}x{r.size[0]}] {r.choice.describe()}"
                 + (f" ({'; '.join(r.notes)})" if r.notes else "")
                 for r in self.results if not r.error]  # fmt: skip
        if self.failed:
            lines.append(f"{len(self.failed)} failed:")
            lines += [f"  {r.source}: {r.error}" for r in self.failed]
        lines.append(f"restored {len(self.results) - len(self.failed)} of {len(self.results)}")
        return "\n".join(lines)


def collect_inputs(
    inputs: Iterable[str | Path],
) -> tuple[list[tuple[Path, Path]], list[FileResult]]:
    """(file, output name relative to OUTDIR) for every input; folders are searched
    recursively for image files. Missing paths and empty folders are returned as failures."""
    files, failures = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.rglob("*")
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)  # fmt: skip
            if not found:
                failures.append(FileResult(item, error="folder holds no image files "
                                           f"({', '.join(sorted(IMAGE_SUFFIXES))})"))  # fmt: skip
            files += [(p, p.relative_to(item).with_suffix(".png")) for p in found]
        elif item.is_file():
            files.append((item, Path(item.with_suffix(".png").name)))
        else:
            failures.append(FileResult(item, error="no such file or folder"))
    seen: dict[Path, int] = {}
    unique = []
    for path, name in files:  # a.jpg and a.png in one folder: a.png and a.png.png
        if name in seen:
            name = name.with_name(f"{path.name}.png")
        seen[name] = 1
        unique.append((path, name))
    return unique, failures


def write_output(pixels: np.ndarray, path: Path, bits: int, icc: bool) -> None:
    """8-bit PNG (Pillow; an sRGB ICC profile when the input had a profile) or 16-bit PNG
    (OpenCV), written to a temporary name and renamed, so no half-written file is left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        _encode(pixels, tmp, bits, icc)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _encode(pixels: np.ndarray, tmp: Path, bits: int, icc: bool) -> None:
    """The PNG bytes into `tmp`."""
    if bits == 8:
        from PIL import Image, ImageCms

        image = Image.fromarray(np.rint(pixels).clip(0, 255).astype(np.uint8))
        profile = (
            ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes() if icc else None
        )
        image.save(tmp, format="PNG", icc_profile=profile)
    else:
        import cv2

        deep = np.rint(pixels.astype(np.float64) * 257).clip(0, 65535).astype(np.uint16)
        ok, data = cv2.imencode(".png", deep if deep.ndim == 2 else deep[:, :, ::-1])
        if not ok:
            raise OSError("OpenCV could not encode a 16-bit PNG")
        tmp.write_bytes(data.tobytes())


def restore_files(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    method: str = "gan",
    quality: int | str = "auto",
    device: str = "auto",
    models_dir: str | Path | None = None,
    predictor: str | Path | None = None,
    tile: int = 512,
    overlap: int = 64,
    bits: int = 8,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> RestoreReport:
    """Restore images and folders of images into `out_dir` as PNGs; see the module docstring.

    `quality` is "auto" or a JPEG QF (1..100); `models_dir` holds `q<QF>.pt` generators of
    `method` (default: the project's); `predictor` is the QF predictor's file (default: the
    project's). Returns a report; bad files are in `report.failed`.
    """
    from ..runtime import select_device

    override = _parse_quality(quality)
    if bits not in (8, 16):
        raise RestoreError(f"bits must be 8 or 16, not {bits}")
    if tile % 8 or overlap % 8 or tile < 64:
        raise RestoreError(f"tile ({tile}, at least 64) and overlap ({overlap}) must be "
                           "multiples of 8")  # fmt: skip
    project = find_project()
    paths = find_generators(method, Path(models_dir) if models_dir else None, project)
    if predictor is None and project is not None:
        from ..config import load_params, resolve_path

        qf_dir = resolve_path(load_params(project / "params.yaml").train_qf.models_dir, project)
        predictor = qf_dir / "predictor.pt"
    try:
        torch_device = select_device(device)
    except (ValueError, RuntimeError) as err:
        raise RestoreError(str(err)) from None
    ensemble = Ensemble(paths, combine_of(method), torch_device,
                        Path(predictor) if predictor else None)  # fmt: skip
    files, report_failures = collect_inputs(inputs)
    out_dir = Path(out_dir)
    report = RestoreReport(list(report_failures))
    sources = {p.resolve() for p, _ in files}
    bar = tqdm(total=len(files), desc="restore", unit="image", disable=not progress)
    for path, name in files:
        result = FileResult(path)
        try:
            target = out_dir / name
            if target.resolve() in sources:
                raise ImageReadError(path, f"the output {target} would overwrite an input")
            loaded = read_image(path, keep_gray=True)
            pixels = loaded.pixels
            result.size, result.notes = pixels.shape[:2], loaded.notes
            result.choice = ensemble.choose(path, pixels, override)
            restored = _restore(ensemble.restorer(result.choice.generators), pixels,
                                tile, overlap, bits)  # fmt: skip
            write_output(restored, target, bits, icc=any("ICC" in n for n in loaded.notes))
            result.output = target
        except RestoreError:
            raise
        except ImageReadError as err:
            result.error = err.reason
        except QualityUnknown as err:
            result.error = str(err)
        except (OSError, MemoryError, RuntimeError, ValueError) as err:
            result.error = f"{err.__class__.__name__}: {err}"
        report.results.append(result)
        if log:
            log(f"{path}: {result.error or result.choice.describe()}")
        bar.update(1)
    bar.close()
    return report


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
