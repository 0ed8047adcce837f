"""Where the outputs of a `restore` run go, and whether they may be written: names unique by
construction (`unique_names`), never a path that a symbolic link in the output folder leads
elsewhere, and for an output that exists already (`plan_outputs`): this run's result (done,
when it is whole; restored again when it was damaged), kept, replaced, or a conflict that stops
the run before anything is written."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from itertools import chain, count
from pathlib import Path

from ..inference.choice import RestoreError
from ..inference.setups import Setup, file_digest
from .kinds import is_video
from .records import is_whole, record_of
from .report import DONE, KEPT, SKIPPED, FileResult, shown


def unique_names(
    relatives: Sequence[Path], taken: Iterable[Path] = (), suffixes: Sequence[str] | None = None
) -> list[Path]:
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
        name = next(
            c
            for c in candidates
            if key(c) not in files
            and key(c) not in folders
            and not any(key(q) in files for q in c.parents)
        )
        files.add(key(name))
        folders |= {key(q) for q in name.parents}
        names.append(name)
    return names


def plan_outputs(
    files: Sequence[tuple[Path, Path]],
    out_dir: Path,
    setups: dict[str, Setup],
    overwrite: bool,
    skip_existing: bool,
) -> tuple[list[tuple[Path, Path, dict, bool]], list[FileResult], list[Path]]:
    """(input, output, record, replace) for each input to restore, a result for each of the
    others (done by an earlier run with the same input and settings, kept with
    `skip_existing`, or not written, with why), and the outputs of an earlier run with the same
    input and settings that are damaged (cut short, a wrong CRC), which are restored again. An
    existing output that is not this run's stops the run before anything is written
    (RestoreError), unless `overwrite` or `skip_existing` says what to do with it; a folder in
    an output's place is never replaced."""
    todo, settled, conflicts, damaged = [], [], [], []
    sources = {p.resolve() for p, _ in files}
    for path, name in files:
        target = out_dir / name
        setup = setups["video" if is_video(path) else "image"]
        try:
            record = {"source": file_digest(path), "settings": setup.settings_id}
        except OSError as err:
            settled.append(FileResult(path, error=f"cannot be read ({err.strerror})"))
            continue
        problem = _path_problem(out_dir, name, sources)
        if problem:
            settled.append(FileResult(path, status=SKIPPED, error=problem))
            continue
        if not os.path.lexists(target):
            todo.append((path, target, record, False))
        elif target.is_dir() and not target.is_symlink():  # never replaced, even on request
            if not (overwrite or skip_existing):
                conflicts.append(target)
                continue
            reason = f"{target} is in the way and is a folder, not a file; left as it is"
            settled.append(FileResult(path, status=SKIPPED, error=reason))
        elif target.is_file() and record_of(target) == record and not overwrite:
            if is_whole(target):
                settled.append(FileResult(path, target, status=DONE))
            else:
                damaged.append(target)
                todo.append((path, target, record, True))
        elif _copy_of(path, target):  # copied by a run stopped before it listed the copy
            todo.append((path, target, record, True))
        elif skip_existing and (target.is_symlink() or not target.is_file()):
            reason = f"{target} is in the way and is not a file (a symbolic link or a device)"
            settled.append(FileResult(path, status=SKIPPED, error=f"{reason}; left as it is"))
        elif skip_existing:
            settled.append(FileResult(path, target, status=KEPT))
        elif overwrite:
            todo.append((path, target, record, True))
        else:
            conflicts.append(target)
    if conflicts:
        _refuse(conflicts)
    return todo, settled, damaged


def _copy_of(source: Path, target: Path) -> bool:
    """Whether `target` is a plain file with `source`'s bytes (replacing it loses nothing)."""
    import filecmp

    try:
        return (
            target.is_file()
            and not target.is_symlink()
            and target.stat().st_size == source.stat().st_size
            and filecmp.cmp(source, target, shallow=False)
        )
    except OSError:
        return False


def _refuse(conflicts: list[Path]) -> None:
    """Stop the run: outputs in the way that are not this run's, listed."""
    listed = "\n  ".join(
        shown(p) + (" (a folder: never replaced)" if p.is_dir() and not p.is_symlink() else "")
        for p in conflicts[:10]
    )
    more = f"\n  ... and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
    raise RestoreError(
        f"{len(conflicts)} output file(s) already exist and are not what this run would "
        f"write (another input, other settings, or not written by restore):\n  {listed}{more}"
        "\nNothing was written. Use --overwrite to replace them, --skip-existing to keep "
        "them, or choose another output folder (-o)"
    )


def _path_problem(out_dir: Path, name: Path, sources: set[Path]) -> str | None:
    """Why the output `out_dir/name` must not be written, or None: a symbolic link to a folder
    inside the output folder would take it elsewhere (outside, or onto an input); a file is
    where a folder should be. (A symbolic link at the output's own name is replaced, never
    followed.)"""
    target = out_dir / name
    where = target.parent.resolve() / target.name
    if not where.is_relative_to(out_dir.resolve()) or where in sources:
        return (
            f"its output {target} leads to {where} through a symbolic link in the "
            "output folder; not written (remove the link)"
        )
    for folder in (out_dir / q for q in reversed(name.parents) if q != Path(".")):
        if os.path.lexists(folder) and not folder.is_dir():
            return f"{folder} is a file where its output folder should be; not written"
    return None
