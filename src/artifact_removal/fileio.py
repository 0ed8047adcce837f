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

import errno
import hashlib
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
    # the name's start only: a long target name must not make the temporary one too long
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".part", dir=path.parent)
    try:
        os.fchmod(handle, 0o666 & ~_UMASK)  # what open() would give, not mkstemp's 0600
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
            _place_new(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


def _place_new(tmp: str, path: Path) -> None:
    """Move `tmp` to `path` only if nothing is there: a hard link fails if `path` exists, even
    as a dangling symlink. File systems without hard links (FAT, exFAT, some network mounts)
    get a check, then a rename: safe against any writer that holds the folder's lock."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in _NO_LINKS:
            raise
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        os.replace(tmp, path)
    else:
        os.unlink(tmp)


_NO_LINKS = {
    errno.EPERM,
    errno.ENOTSUP,
    errno.EOPNOTSUPP,
    errno.EXDEV,
    errno.EMLINK,
    errno.ENOSYS,
    errno.EACCES,
}


def _umask() -> int:
    """The process's umask (read by setting it and putting it back, once, at import)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


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


def sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    """An exclusive lock on a folder, taken without waiting: an advisory `flock` on the folder
    itself (no lock file is left in it), and a shared one on each folder above it, so that a
    run writing into `out` and one writing into `out/sub` exclude each other too, while runs
    in sibling folders do not. The operating system releases the locks when the process ends,
    however it ends, so a killed run never leaves a folder locked.

        with FolderLock(out_dir, "restore"):
            ...
    """

    def __init__(self, folder: str | Path, purpose: str):
        self.folder, self.purpose = Path(folder), purpose
        self._fds: list[int] = []

    def __enter__(self) -> FolderLock:
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        here = self.folder.resolve()
        try:
            self._lock(here, fcntl.LOCK_EX)
            for above in here.parents:
                self._lock(above, fcntl.LOCK_SH, required=False)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _lock(self, folder: Path, kind: int, required: bool = True) -> None:
        import fcntl

        try:
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            if required:
                raise
            return  # a folder above that this user may not open: nobody else locks it either
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            where = "" if folder == self.folder.resolve() else f" (through {folder})"
            raise FolderBusy(
                f"{self.folder} is in use by another {self.purpose}{where}; wait for it to "
                "finish, or choose another output folder"
            ) from None
        except OSError as err:
            os.close(fd)
            if required:
                raise FolderBusy(
                    f"cannot lock {folder} ({err.strerror}); choose an output "
                    "folder on a local disk"
                ) from None
            return
        self._fds.append(fd)

    def __exit__(self, *exc) -> None:
        while self._fds:
            os.close(self._fds.pop())  # closing releases the flock
