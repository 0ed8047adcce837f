"""The inputs of a `restore` run: the image and video files among the files and folders given
(folders searched recursively), each with its output name, and every other input with why it
is not taken (a broken link, a folder link, not an image, a format Pillow cannot read, an
interrupted video restore's segments)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

from .choice import RestoreError
from .outputs import unique_names
from .report import SKIPPED, FileResult
from .video import H264_OUTPUT, VIDEO_SUFFIXES, VideoOutput, is_video

IMAGE_SUFFIXES = {
    ".jpg",
    ".jpeg",
    ".jpe",
    ".jfif",
    ".png",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
    ".pnm",
    ".gif",
}
# Formats people meet that Pillow cannot decode: named, with what to do.
UNSUPPORTED = {
    ".heic": "HEIC",
    ".heif": "HEIF",
    ".avif": "AVIF",
    ".jxl": "JPEG XL",
    ".dng": "DNG raw",
    ".cr2": "Canon raw",
    ".cr3": "Canon raw",
    ".nef": "Nikon raw",
    ".arw": "Sony raw",
    ".raf": "Fujifilm raw",
    ".orf": "Olympus raw",
    ".rw2": "Panasonic raw",
    ".svg": "SVG",
}


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
        return (
            f"{UNSUPPORTED[suffix]} images cannot be read (Pillow has no decoder for "
            "them): convert it to PNG or JPEG first"
        )
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
        skipped.append(
            FileResult(folder, error=f"cannot list the folder ({err.strerror})", status=SKIPPED)
        )
        return found
    for entry in entries:
        path = Path(entry.path)
        problem = _link_problem(path)
        if problem:
            skipped.append(FileResult(path, error=problem, status=SKIPPED))
        elif entry.is_dir(follow_symlinks=False) and _segments_folder(path):
            reason = "an interrupted video restore's segments, kept for its rerun (not an input)"
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
    return (
        path.name.startswith(".")
        and path.name.endswith(".segments")
        and (path / "manifest.json").is_file()
    )


def collect_inputs(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    video: VideoOutput = H264_OUTPUT,
    image_suffix: str = ".png",
) -> tuple[list[tuple[Path, Path]], list[FileResult]]:
    """(file, output name relative to OUTDIR) for every image and video among the inputs, and a
    result with the reason for every input that is not one. Folders are searched recursively;
    their files keep their place below them. Names are unique (`unique_names`): `image_suffix`
    for images, `video`'s suffix for videos."""
    out_dir = Path(out_dir).resolve()
    files, skipped = [], []
    for item in map(Path, inputs):
        problem = _link_problem(item)
        if problem:
            skipped.append(FileResult(item, error=problem, status=SKIPPED))
        elif item.is_dir():
            if item.resolve() == out_dir:
                raise RestoreError(
                    f"{item} is both an input and the output folder; choose "
                    "another output folder (-o)"
                )
            before = len(skipped)
            found = _walk(item, out_dir, skipped)
            if not found and len(skipped) == before:
                skipped.append(
                    FileResult(
                        item,
                        status=SKIPPED,
                        error="folder holds no image or "
                        f"video files ({', '.join(sorted(IMAGE_SUFFIXES))}, "
                        f"{', '.join(sorted(VIDEO_SUFFIXES))})",
                    )
                )
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
    suffixes = [video.suffix(p) if is_video(p) else image_suffix for p, _ in files]
    names = unique_names([rel for _, rel in files], taken, suffixes)
    return [(path, name) for (path, _), name in zip(files, names, strict=True)], skipped
