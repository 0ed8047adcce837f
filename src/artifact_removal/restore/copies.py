"""Inputs left as they are, copied byte for byte, and the list that says so.

An image that `restore` does not restore (of better quality than its generators were trained
for) and that goes out in its own format is copied as it is: the same bytes, so an archive's
checksums still hold. No record fits inside such a file without changing it, so each output
folder that holds copies lists them in a hidden file of its own, `.artifact-removal.json`:
for each copy's name, the record of what made it (`restore.records`: its input's hash and the
run's settings) and the hash of the bytes written. A rerun reads the list to skip the copies it
finished, and a copy whose bytes changed since is no longer taken for this run's (an edit is
never overwritten unasked). The list is written atomically, by the run that holds the output
folder's lock, after the copies it names.
"""

from __future__ import annotations

import filecmp
import functools
import json
import os
from pathlib import Path

from ..fileio import sha256, write_atomic

NAME = ".artifact-removal.json"
FORMAT = 1


def copy_as_is(source: Path, target: Path, replace: bool = True) -> None:
    """`source`'s bytes at `target`, written atomically. A `target` that holds these bytes
    already is left as it is (a retried task whose copy was written before it died)."""
    if not replace and target.is_file() and filecmp.cmp(source, target, shallow=False):
        return
    write_atomic(target, Path(source).read_bytes(), replace=replace)


def listed(path: str | Path) -> dict | None:
    """The entry of a file in its folder's list of copies (`record`, `sha256`), or None."""
    path = Path(path)
    return _read(path.parent).get(path.name)


def copy_record(path: str | Path) -> dict | None:
    """The record of a copy its folder's list names, while its bytes are still those written;
    None for any other file."""
    entry = listed(path)
    if not entry or not isinstance(entry.get("record"), dict):
        return None
    try:
        same = sha256(path) == entry.get("sha256")
    except OSError:
        return None
    return entry["record"] if same else None


class CopyList:
    """The copies a run made, added as the run finishes them and written to each folder's list
    (`flush`: merged with what the list holds, names whose file is gone dropped)."""

    def __init__(self, every: int = 64):
        self.pending: dict[Path, dict[str, dict]] = {}
        self.every = every
        self.count = 0

    def add(self, path: Path, record: dict) -> None:
        """Note a copy just written at `path`, made by `record`; written out every `every`
        copies and at `flush`."""
        self.pending.setdefault(path.parent, {})[path.name] = {
            "record": record,
            "sha256": sha256(path),
        }
        self.count += 1
        if self.count >= self.every:
            self.flush()

    def flush(self) -> None:
        """Write every folder's list that has new copies."""
        for folder, entries in self.pending.items():
            merged = {
                name: entry
                for name, entry in (_read(folder) | entries).items()
                if (folder / name).is_file()
            }
            data = {"format": FORMAT, "written_by": "artifact-removal restore", "copies": merged}
            write_atomic(folder / NAME, json.dumps(data, indent=1, sort_keys=True) + "\n")
        self.pending.clear()
        self.count = 0


def _read(folder: Path) -> dict[str, dict]:
    """A folder's list of copies (name: entry); empty when there is none or it is damaged.
    Read once per size and modification time (a folder's files are looked up one by one)."""
    path = os.path.join(folder, NAME)
    try:
        stat = os.stat(path)
    except OSError:
        return {}
    return _parsed(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _parsed(path: str, size: int, mtime_ns: int) -> dict[str, dict]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    copies = data.get("copies") if isinstance(data, dict) else None
    return copies if isinstance(copies, dict) else {}
