"""Where the standard photographs come from, checked file by file against the manifests the
project ships (`manifests/*.csv`: every file's name and SHA-256).

- BSDS500 (Arbelaez et al., TPAMI 2011), the default training corpus: its `train/` and `test/`
  folders (400 photographs) train, the 32 photographs of `val/` outside CBSD68 validate, and
  the 68 of CBSD68 (all in `val/`) are the corpus' held-out test split; they never train.
  Stored as the original JPEG files, byte for byte.
- The papers' test sets, LIVE1 (colour, and FBCNN's gray Y) and Classic5, stored as PNG.

Each comes from, in order: a local copy (the folder named by $ARTIFACT_REMOVAL_DATA, else
`data.local_copy`, holding `BSDS500/`, `LIVE1_color/`, `LIVE1_gray/`, `classic5/` as
`../shared/data` does on the project's machines), then the public sources (the GitHub
repositories at the commits below). A copy with a missing, changed or extra file is refused with
every problem named; nothing is written, and nothing of the copy is touched.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
from PIL import Image

from .images import write_png

ENV_LOCAL_COPY = "ARTIFACT_REMOVAL_DATA"  # a folder holding BSDS500/, LIVE1_color/, ...
ENV_OFFLINE = "ARTIFACT_REMOVAL_OFFLINE"  # "1": never try the public sources
BSDS500_COMMIT = "a04b7c6c3a9f0ace74bf205c72a43d32e1c72722"
FBCNN_COMMIT = "54d1831927506b3247e2d4d245abb4f4dab1a1cd"
# Public sources; the environment variables point them elsewhere (a mirror, a test's server).
BSDS500_URL = os.environ.get(
    "ARTIFACT_REMOVAL_BSDS500_URL",
    f"https://raw.githubusercontent.com/BIDS/BSDS500/{BSDS500_COMMIT}/BSDS500/data/images",
)
TESTSETS_URL = os.environ.get(
    "ARTIFACT_REMOVAL_TESTSETS_URL",
    f"https://raw.githubusercontent.com/jiaxi-jiang/FBCNN/{FBCNN_COMMIT}/testsets",
)
# The folder of each set inside a local copy (as in ../shared/data).
COPY_FOLDERS = {
    "bsds500": "BSDS500",
    "live1_color": "LIVE1_color",
    "live1_gray": "LIVE1_gray",
    "classic5": "classic5",
}
# Layouts of BSDS500 that a local copy may have below its folder: ../shared/data's, the
# GitHub mirror's and Berkeley's BSR archive's.
BSDS500_LAYOUTS = ("", "data/images", "BSDS500/data/images", "BSR/BSDS500/data/images")
SPLITS_OF_BSDS500 = ("train", "val", "test")
IGNORED = frozenset(
    {"Thumbs.db", "SHA256SUMS", "SOURCE_BMP_SHA256SUMS", "README.md", "LIVE_COPYRIGHT_NOTICE.txt"}
)
HOW_TO_GET = (
    f"put a copy in a folder and name it with ${ENV_LOCAL_COPY} (or data.local_copy in "
    "params.yaml): BSDS500/{train,val,test}/*.jpg from github.com/BIDS/BSDS500 (commit "
    f"{BSDS500_COMMIT[:7]}, BSDS500/data/images) or Berkeley's BSR archive; LIVE1_color/, "
    f"LIVE1_gray/ and classic5/ from github.com/jiaxi-jiang/FBCNN (commit {FBCNN_COMMIT[:7]}, "
    "testsets/); or run where they can be downloaded"
)


class SourceError(RuntimeError):
    """A local copy or a download is not the set its manifest describes."""


@dataclass(frozen=True)
class Entry:
    """One file of a manifest: where it is in its source, its digest, where it goes here."""

    source: str  # path inside the set's source folder, e.g. "val/101085.jpg"
    sha256: str
    target: str  # path inside the folder built here, e.g. "test/101085.jpg"
    source_sha256: str = ""  # the public source's file where it differs (a BMP)
    public: str = ""  # path of that file below the public source's URL

    @property
    def split(self) -> str:
        return self.target.split("/", 1)[0]


def _rows(name: str) -> list[dict[str, str]]:
    text = (files("artifact_removal.data") / "manifests" / name).read_text()
    return list(csv.DictReader(io.StringIO(text)))


def bsds500_manifest() -> list[Entry]:
    """BSDS500's 500 files; `target` is train/ (400), val/ (the 32 outside CBSD68) or test/."""
    return [
        Entry(f"{r['folder']}/{r['file']}", r["sha256"], f"{r['split']}/{r['file']}")
        for r in _rows("bsds500.csv")
    ]


def test_set_manifests() -> dict[str, list[Entry]]:
    """The papers' test sets by name: their PNG files, and the public sources' files."""
    sets: dict[str, list[Entry]] = {}
    for r in _rows("testsets.csv"):
        sets.setdefault(r["set"], []).append(
            Entry(r["file"], r["sha256"], r["file"], r["source_sha256"], r["source_file"])
        )
    return sets


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def local_copy_root(configured: str | None, root: Path) -> tuple[Path | None, str]:
    """The folder of local copies ($ARTIFACT_REMOVAL_DATA, else the param, relative to the
    project) and where it was named; or None and why there is none."""
    named, where = os.environ.get(ENV_LOCAL_COPY), f"${ENV_LOCAL_COPY}"
    if not named:
        named, where = configured, "data.local_copy"
    if not named:
        return None, f"no local copy (neither ${ENV_LOCAL_COPY} nor data.local_copy is set)"
    folder = (Path(named) if Path(named).is_absolute() else root / named).resolve()
    if not folder.is_dir():
        return None, f"no local copy ({where} ({named}) names no folder)"
    return folder, f"{where} ({named})"


def bsds500_images(folder: Path) -> Path | None:
    """The folder holding BSDS500's train/, val/ and test/ below a local copy, if any."""
    for layout in BSDS500_LAYOUTS:
        candidate = folder / layout if layout else folder
        if all((candidate / split).is_dir() for split in SPLITS_OF_BSDS500):
            return candidate
    return None


def _listed(folder: Path) -> list[str]:
    """Every file below `folder` that a copy may hold (hidden files and checksum lists aside)."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in IGNORED and not p.name.startswith(".")
    )


def check_copy(folder: Path, entries: list[Entry], what: str) -> None:
    """Every file of `entries` in `folder` with its digest, and no other file; else one
    SourceError naming each problem (a missing file, a changed one, an extra one; a test
    image where training images are). Reads only."""
    problems = []
    by_digest = {e.sha256: e for e in entries}
    expected = {e.source for e in entries}
    for entry in entries:
        path = folder / entry.source
        if not path.is_file():
            problems.append(f"{entry.source}: missing")
        elif (digest := sha256(path)) not in (entry.sha256, entry.source_sha256 or None):
            problems.append(f"{entry.source}: {_not_the_file(path, digest, by_digest)}")
    for extra in (name for name in _listed(folder) if name not in expected):
        problems.append(f"{extra}: {_extra(folder / extra, by_digest)}")
    if problems:
        shown = "\n  ".join(problems[:25]) + (
            f"\n  ... and {len(problems) - 25} more" if len(problems) > 25 else ""
        )
        raise SourceError(
            f"{folder}: not a verified copy of {what} ({len(problems)} problem"
            f"{'s' if len(problems) > 1 else ''}; nothing was copied or deleted):\n  {shown}\n"
            f"Replace the copy with the original files, or remove it to use another source."
        )


def _not_the_file(path: Path, digest: str, by_digest: dict[str, Entry]) -> str:
    if digest in by_digest:
        return f"holds {by_digest[digest].source} (files swapped)"
    return "changed (its SHA-256 differs from the manifest's)" + (
        "" if _decodes(path) else "; not an image"
    )


def _extra(path: Path, by_digest: dict[str, Entry]) -> str:
    entry = by_digest.get(sha256(path))
    if entry is None:
        return "not in the manifest" + ("" if _decodes(path) else " (and not an image)")
    if entry.split == "test":
        return (
            f"a copy of {entry.source}, a CBSD68 test photograph: test images never train "
            "(remove it)"
        )
    return f"a second copy of {entry.source}"


def _decodes(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.load()
        return True
    except Exception:  # any failure to decode means "not an image" here
        return False


def fetch(url: str, timeout: float = 30) -> bytes:
    """The bytes at `url` (http, https or file); SourceError when unreachable."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise SourceError(f"{url}: {getattr(err, 'reason', err)}") from None


def unreached(base: str, err: SourceError) -> str:
    """ "the public source (host) was not reached (why)", without the file's whole URL."""
    host = urllib.parse.urlsplit(base).netloc or base
    return f"the public source ({host}) was not reached ({str(err).rsplit(': ', 1)[-1]})"


def online() -> bool:
    """False when told to stay offline ($ARTIFACT_REMOVAL_OFFLINE=1)."""
    return os.environ.get(ENV_OFFLINE, "") not in ("1", "true", "yes")


def fetch_checked(url: str, expected: Iterable[str]) -> bytes:
    """Download one file and check its SHA-256 against the manifest's."""
    data = fetch(url)
    if hashlib.sha256(data).hexdigest() not in set(expected):
        raise SourceError(f"{url}: not the file the manifest describes (SHA-256 differs)")
    return data


def build_folder(target: Path, entries: list[Entry], read: Callable[[Entry], bytes]) -> None:
    """Write each entry's bytes under a hidden folder beside `target`, then put it in place
    (an earlier `target` is replaced only once the new one is whole)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for entry in entries:
            path = building / entry.target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(read(entry))
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            building.rename(target)
            shutil.rmtree(old)
        else:
            building.rename(target)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def as_stored(data: bytes) -> bytes:
    """A test set's file as stored here: its pixels in a PNG written by `images.write_png`, so
    that a local PNG copy and a public BMP give the same bytes (and the same DVC hash)."""
    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image.convert("L" if image.mode in ("L", "P") else "RGB"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.png"
        write_png(pixels, path)
        return path.read_bytes()
