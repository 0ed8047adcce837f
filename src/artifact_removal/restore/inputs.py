"""The inputs of a `restore` run: the image and video files among the files and folders given
(folders searched recursively; what a file is, its content says: `restore.kinds`), each
with its output name, and every other input with why it is not taken (a broken link, a folder
link, not an image, a format Pillow cannot read, an interrupted video restore's segments, a
file in a folder that an earlier restore wrote)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

from ..inference.choice import RestoreError
from .copies import NAME as COPIES
from .kinds import VIDEO, kind_of, still_format, why_not
from .options import AUTO_OUTPUT, H264_OUTPUT, ImageOutput, VideoOutput
from .outputs import unique_names
from .report import EARLIER, SKIPPED, FileResult


def _link_problem(path: Path) -> str | None:
    """Why a symbolic link cannot be followed (broken, a loop, not readable), or None."""
    if not os.path.islink(path):
        return None
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop"
        try:
            return f"broken symbolic link (to {os.readlink(path)})"
        except OSError as unreadable:
            return f"symbolic link that cannot be followed ({unreadable.strerror})"
    return None


def _not_an_input(path: Path) -> str | None:
    """None for an image or video file (`kinds.kind_of`), else why it is not taken."""
    return None if kind_of(path) else why_not(path)


def _written_by_restore(path: Path) -> bool:
    """Whether a file carries the record of an earlier `restore` (it is one of its outputs)."""
    from .records import record_of

    return record_of(path) is not None


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
        if entry.name == COPIES and entry.is_file(follow_symlinks=False):
            continue  # an earlier restore's list of its copies (`restore.copies`)
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
        elif reason := _not_an_input(path):
            skipped.append(FileResult(path, error=reason, status=SKIPPED))
        elif _written_by_restore(path):  # listed, and not a failure: it is no input
            skipped.append(FileResult(path, status=EARLIER))
        else:
            found.append(path)
    return found


def _segments_folder(path: Path) -> bool:
    """A hidden `.NAME.segments` folder that `restore.video` made (its manifest inside)."""
    return (
        path.name.startswith(".")
        and path.name.endswith(".segments")
        and (path / "manifest.json").is_file()
    )


def collect_inputs(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    video: VideoOutput = H264_OUTPUT,
    image: ImageOutput = AUTO_OUTPUT,
    bits: int = 8,
) -> tuple[list[tuple[Path, Path]], list[FileResult]]:
    """(file, output name relative to OUTDIR) for every image and video among the inputs, and a
    result with the reason for every input that is not one. Folders are searched recursively;
    their files keep their place below them. Names are unique (`unique_names`), with `image`'s
    suffix for each image (`ImageOutput.suffix_for`), `video`'s for videos."""
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
                        error="folder holds no image or video files (none that Pillow or "
                        "FFmpeg recognises)",
                    )
                )
            files += [(p, p.relative_to(item)) for p in found]
        elif item.is_file():
            reason = _not_an_input(item)
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
    suffixes = [
        video.suffix(p) if kind_of(p) == VIDEO else image.suffix_for(p, still_format(p), bits)
        for p, _ in files
    ]
    names = unique_names([rel for _, rel in files], taken, suffixes)
    return [(path, name) for (path, _), name in zip(files, names, strict=True)], skipped
