"""Writing files so that nothing is lost: one atomic write, folder locks, leftovers.

Every file this package writes (restored images, checkpoints, releases, metrics, tables,
figures, reports) goes through `write_atomic`:

- the bytes go to a temporary file of a unique name, created exclusively in the target's own
  folder (`.NAME.XXXXXXXX.part`; `O_EXCL` refuses an existing file or a planted symlink, so a
  write never follows a link and two writers never share a temporary file);
- the file is flushed and fsynced, then renamed over the target in one step (a reader sees the
  old file or the new one, never a mix), or linked to it when the target must not be replaced;
- on any failure the temporary file is removed.

`FolderLock` lets one process at a time write into a folder (restore uses it for its output
folder); `remove_leftovers` deletes the temporary files of a run that was killed.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# The temporary names `write_atomic` creates: mkstemp's eight random characters.
TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.part$")

Writer = Callable[[BinaryIO], object]


def write_atomic(path: str | Path, content: bytes | str | Writer, replace: bool = True) -> Path:
    """Write `content` (bytes, text, or a function that writes into a binary file) to `path`
    atomically; see the module docstring. The folder is created.

    With `replace=False` an existing `path` is left alone and `FileExistsError` is raised
    (checked in the same step that puts the new file in place, so two writers cannot both win).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            if isinstance(content, str):
                f.write(content.encode("utf-8"))
            elif isinstance(content, bytes | bytearray | memoryview):
                f.write(content)
            else:
                content(f)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if `path` exists, even as a dangling symlink
            os.unlink(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


def _sync_folder(folder: Path) -> None:
    """fsync a folder, so the rename itself survives a power cut (where the OS allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(path: str | Path, text: str) -> Path:
    """A text file (UTF-8), atomically."""
    return write_atomic(path, text)


def write_json(path: str | Path, data: object) -> Path:
    """Pretty JSON ending in a newline, atomically."""
    return write_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_csv(path: str | Path, table, **options) -> Path:
    """A pandas table as CSV (`options` go to `DataFrame.to_csv`), atomically."""
    return write_atomic(path, table.to_csv(**options))


def write_figure(path: str | Path, figure, **options) -> Path:
    """A matplotlib figure (`options` go to `savefig`; the format from the suffix)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", **options)
    return write_atomic(path, buffer.getvalue())


def remove_leftovers(folder: str | Path) -> list[Path]:
    """Delete the temporary files (`.NAME.XXXXXXXX.part`) that killed writers left in `folder`
    and below; symlinks of such names are removed, never followed. Only call this while no
    other process writes there (hold a `FolderLock`). Returns what was removed."""
    removed = []
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            if TEMP_NAME.match(name):
                path = Path(dirpath) / name
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


class FolderBusy(RuntimeError):
    """Another process holds the lock of a folder."""


class FolderLock:
    """An exclusive lock on a folder: an advisory `flock` on the folder itself (no lock file is
    left in it), taken without waiting. The operating system releases it when the process
    ends, however it ends, so a killed run never leaves a folder locked.

        with FolderLock(out_dir, "restore"):
            ...
    """

    def __init__(self, folder: str | Path, purpose: str):
        self.folder, self.purpose = Path(folder), purpose
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderBusy(
                f"{self.folder} is in use by another {self.purpose}; wait for it to finish, "
                "or choose another output folder"
            ) from None
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None
