"""The raw corpus in `data/raw` (tracked by `data.dvc`), and the papers' test sets beside it.

`data.corpus` chooses it:
- `bsds500` (the default): BSDS500's photographs in `train/`, `val/` and `test/` folders, the
  split the project ships (`sources.py`), from a local copy or the public sources; on a machine
  with neither, the embedded corpus, said at the start and end of `make repro` and at the top
  of every report.
- `embedded`: on purpose, the 13 sample photographs that ship inside scikit-image's wheel,
  byte-identical copies whose checksums are fixed below (the tests' and the tiny profile's).
- `own`: whatever `data.dvc` tracks, checked out or pulled by DVC (docs/reproducibility.md,
  "Your own data").

`make repro` runs `ensure_corpus` before DVC: a bad copy is named before any stage runs.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path

from ..config import read_yaml
from ..fileio import write_atomic
from . import sources
from .prepared import MISSING

# file in skimage/data -> md5 (scikit-image 0.26.0). Colour photographs, three of them
# JPEG-sourced (as MS-COCO is), and gray photographs and textures (converted to RGB later).
DEFAULT_FILES = {
    "astronaut.png": "97066e0a8baf4cd0be9859f9825aa3a2",
    "brick.png": "b4177b840b8d017fd04c0fe8c9dafc61",
    "camera.png": "f8b13d2cdd5ba56cf4ba2321bb7222f0",
    "chelsea.png": "0f1b4a59504988622035d850dc0555ac",
    "coffee.png": "f24210802e8d0690e0c1c2302f907cc4",
    "coins.png": "83d5e6ca6fb2724cdb5cf64cf891f7a8",
    "grass.png": "406db280a14db26d04b65c3c3d0c188f",
    "gravel.png": "1ae4f1e9e7988a5279ee2b3b0bd24e1f",
    "hubble_deep_field.jpg": "bfc42613c8edb720cf7d1343693787a4",
    "ihc.png": "003cf07f958b143d4366a93657de6fd0",
    "moon.png": "932cb5c7a6a594c2c78e55643abf6e71",
    "motorcycle_left.png": "4fa7de5269c6431eabc5c1cce0649c11",
    "rocket.jpg": "511130d2072cc744a1fa5015bc23557a",
}
# What DVC records in data.dvc for exactly these files.
DEFAULT_DIR_MD5 = "65d0857918ed7e15b683331a3ac93b7f.dir"


BSDS500_DIR_MD5 = "c45914ac944c2ebffa96c9f39ea4b66b.dir"
CORPORA = ("bsds500", "embedded", "own")
FALLBACK_NOTE = "figures are weaker than BSDS500's"


class CorpusError(RuntimeError):
    """The raw corpus is missing and cannot be built or fetched, or a copy is not what it says."""


def _md5(path: Path) -> str:
    """Hex MD5 of a file's bytes."""
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_default_corpus(raw_dir: str | Path) -> list[Path]:
    """Copy the default photographs into `raw_dir`, checking each file's checksum."""
    source = Path(str(files("skimage") / "data"))
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, expected in DEFAULT_FILES.items():
        origin = source / name
        if not origin.is_file():
            raise CorpusError(
                f"{origin}: missing from scikit-image; install the pinned version "
                "from requirements.txt"
            )
        if _md5(origin) != expected:
            raise CorpusError(
                f"{origin}: checksum differs from scikit-image 0.26.0's; install "
                "the pinned version from requirements.txt"
            )
        write_atomic(raw_dir / name, origin.read_bytes())
        written.append(raw_dir / name)
    return written


def tracked_dir_md5(dvc_file: str | Path) -> str | None:
    """The directory hash that a `.dvc` file records for its single output."""
    outs = (read_yaml(dvc_file) or {}).get("outs") or [{}]
    return outs[0].get("md5")


@dataclass(frozen=True)
class CorpusState:
    """What `data/raw` holds after `ensure_corpus`, how it got there, and what was missing."""

    corpus: str  # bsds500 | embedded | own
    action: str  # e.g. "present", "built from a local copy (../shared/data)"
    missing: str = ""  # why BSDS500 was asked for and not used; "" otherwise

    @property
    def fallback(self) -> bool:
        return bool(self.missing)

    def lines(self) -> list[str]:
        """What `make repro` says about the corpus, at its start and at its end."""
        names = {
            "bsds500": "BSDS500 (400 training photographs, 32 validation, CBSD68's 68 as test)",
            "embedded": "the embedded corpus (13 photographs from scikit-image)",
            "own": "the corpus data.dvc tracks",
        }
        said = [f"corpus: {names[self.corpus]}: {self.action}"]
        if self.fallback:
            said += [
                f"warning: BSDS500 was not found: {self.missing}.",
                f"warning: training on the embedded corpus instead: the {FALLBACK_NOTE}.",
                f"warning: to get BSDS500, {sources.HOW_TO_GET}.",
            ]
        return said


def ensure_corpus(
    raw_dir: str | Path = "data/raw",
    dvc_file: str | Path = "data.dvc",
    corpus: str = "own",
    local_copy: str | None = None,
    root: str | Path = ".",
) -> CorpusState:
    """Make `raw_dir` hold the corpus `corpus` names (see the module's doc), recorded in
    `dvc_file`. Files in `raw_dir` that are neither corpus are never replaced."""
    if corpus not in CORPORA:
        raise CorpusError(f"data.corpus: {corpus!r} is not one of {', '.join(CORPORA)}")
    raw_dir, dvc_file, root = Path(raw_dir), Path(dvc_file), Path(root)
    if corpus == "own":
        return CorpusState("own", _own_corpus(raw_dir, dvc_file))
    held = holds(raw_dir)
    if held == "other":
        raise CorpusError(
            f"{raw_dir} holds files of neither BSDS500 nor the embedded corpus; they are left "
            f"as they are. To train on them, set data.corpus: own and record them with "
            f"`dvc commit --force {dvc_file}`; for data.corpus: {corpus}, move them elsewhere."
        )
    state = _bsds500(raw_dir, held, local_copy, root) if corpus == "bsds500" else None
    if state is None or state.fallback:
        missing = state.missing if state else ""
        action = "present" if held == "embedded" else "built from scikit-image's wheel"
        if held != "embedded":
            sources.build_folder(raw_dir, [], lambda entry: b"")
            write_default_corpus(raw_dir)
        state = CorpusState("embedded", action, missing)
    wanted = BSDS500_DIR_MD5 if state.corpus == "bsds500" else DEFAULT_DIR_MD5
    if not dvc_file.is_file() or tracked_dir_md5(dvc_file) != wanted or held != state.corpus:
        _dvc("commit", "--force", str(dvc_file))
    return state


def holds(raw_dir: Path) -> str:
    """What a raw folder holds: "none", "embedded", "bsds500" (each checked file by file) or
    "other"."""
    if not raw_dir.is_dir() or not any(raw_dir.iterdir()):
        return "none"
    names = sorted(p.relative_to(raw_dir).as_posix() for p in raw_dir.rglob("*") if p.is_file())
    if names == sorted(DEFAULT_FILES) and all(
        _md5(raw_dir / name) == md5 for name, md5 in DEFAULT_FILES.items()
    ):
        return "embedded"
    try:
        sources.check_copy(raw_dir, _as_built(sources.bsds500_manifest()), "BSDS500")
    except sources.SourceError:
        return "other"
    return "bsds500"


def _as_built(entries: list[sources.Entry]) -> list[sources.Entry]:
    """The manifest's entries as they lie in `data/raw` (by their split here)."""
    return [replace(e, source=e.target) for e in entries]


def _bsds500(raw_dir: Path, held: str, local_copy: str | None, root: Path) -> CorpusState:
    """BSDS500 into `raw_dir` from a local copy or the public sources; a state with `missing`
    set when neither has it. A bad local copy stops everything (CorpusError)."""
    if held == "bsds500":
        return CorpusState("bsds500", "present")
    entries = sources.bsds500_manifest()
    folder, named = sources.local_copy_root(local_copy, root)
    looked = [named]
    if folder is not None:
        images = sources.bsds500_images(folder / sources.COPY_FOLDERS["bsds500"])
        if images is None:
            looked = [
                f"{folder / sources.COPY_FOLDERS['bsds500']} (from {named}) holds no "
                "train/, val/ and test/ folders"
            ]
        else:
            try:
                sources.check_copy(images, entries, "BSDS500")
            except sources.SourceError as err:
                raise CorpusError(str(err)) from None
            sources.build_folder(raw_dir, entries, lambda e: (images / e.source).read_bytes())
            return CorpusState("bsds500", f"copied from {images} ({named}), every file checked")
    if not sources.online():
        return CorpusState("bsds500", "", "; ".join([*looked, "offline"]))
    base = sources.BSDS500_URL
    try:
        sources.fetch(f"{base}/{entries[0].source}", timeout=10)
    except sources.SourceError as err:
        return CorpusState("bsds500", "", "; ".join([*looked, sources.unreached(base, err)]))
    try:
        sources.build_folder(
            raw_dir,
            entries,
            lambda e: sources.fetch_checked(f"{base}/{e.source}", [e.sha256]),
        )
    except sources.SourceError as err:
        raise CorpusError(f"downloading BSDS500 failed (nothing was written): {err}") from None
    return CorpusState("bsds500", f"downloaded from {base}, every file checked")


def _own_corpus(raw_dir: Path, dvc_file: Path) -> str:
    """The corpus `dvc_file` tracks: present, built (the embedded one), checked out or pulled."""
    if raw_dir.is_dir() and any(raw_dir.iterdir()):
        return "present"
    if not dvc_file.is_file():
        raise CorpusError(
            f"{dvc_file} is missing: restore it (`git checkout {dvc_file}`) or "
            f'track your own corpus as docs/reproducibility.md shows ("Your own data")'
        )
    tracked = tracked_dir_md5(dvc_file)
    if tracked == DEFAULT_DIR_MD5:
        write_default_corpus(raw_dir)
        _dvc("commit", "--force", str(dvc_file))
        return "built"
    if _dvc("checkout", str(dvc_file), check=False) == 0 and raw_dir.is_dir():
        return "checked out"
    if _dvc("pull", str(dvc_file), check=False) == 0 and raw_dir.is_dir():
        return "pulled"
    raise CorpusError(
        f"{raw_dir} is missing and {dvc_file} tracks a corpus other than the embedded default "
        f"(md5 {tracked}), which is neither in the DVC cache nor on a reachable remote. "
        f"Configure the remote that holds it and run `dvc pull {dvc_file}`, or put your images "
        f"in {raw_dir} and record them with `dvc commit --force {dvc_file}`."
    )


def _dvc(*args: str, check: bool = True) -> int:
    """Run a DVC command with the current interpreter; quiet, analytics off."""
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args, "--quiet"],
        check=False,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )
    if check and done.returncode:
        raise CorpusError(f"`dvc {' '.join(args)}` failed with exit code {done.returncode}")
    return done.returncode


TEST_SETS_DIR = "data/testsets"  # where `ensure_test_sets` puts the papers' test sets


def ensure_test_sets(
    extra_sets: dict[str, str], local_copy: str | None = None, root: str | Path = "."
) -> list[str]:
    """Build each of the papers' test sets that `data.extra_sets` names in `data/testsets/NAME`
    (LIVE1 colour and gray, Classic5), from a local copy or the public sources, every file
    checked; other extra sets are the user's folders, left as they are. Returns what was done."""
    root = Path(root)
    manifests = sources.test_set_manifests()
    done = []
    for name, folder in extra_sets.items():
        if name not in manifests or Path(folder).as_posix() != f"{TEST_SETS_DIR}/{name}":
            continue
        entries, target = manifests[name], root / TEST_SETS_DIR / name
        if target.is_dir() and sorted(p.name for p in target.iterdir()) == sorted(
            e.target for e in entries
        ):
            done.append(f"{name}: present")
            continue
        try:
            done.append(f"{name}: {_build_test_set(name, entries, target, local_copy, root)}")
        except _Unavailable as err:
            why = f"{err}\n{HOW_TO_GET_DATA}\n".encode()
            sources.build_folder(
                target, [sources.Entry(MISSING, "", MISSING)], lambda e, why=why: why
            )
            done.append(
                f"{name}: warning: not found ({err}); the tables leave it out and rest on the "
                "corpus' held-out split"
            )
    return done


class _Unavailable(Exception):
    """A test set with neither a local copy nor a reachable public source."""


def _build_test_set(
    name: str, entries: list[sources.Entry], target: Path, local_copy: str | None, root: Path
) -> str:
    folder, named = sources.local_copy_root(local_copy, root)
    looked = named if folder is None else f"no {sources.COPY_FOLDERS[name]}/ in {folder}"
    if folder is not None and (folder / sources.COPY_FOLDERS[name]).is_dir():
        copy = folder / sources.COPY_FOLDERS[name]
        try:
            sources.check_copy(copy, entries, name)
        except sources.SourceError as err:
            raise CorpusError(str(err)) from None
        sources.build_folder(
            target, entries, lambda e: sources.as_stored((copy / e.source).read_bytes())
        )
        return f"copied from {copy} ({named}), every file checked"
    if not sources.online():
        raise _Unavailable(f"{looked}, and offline")
    base = sources.TESTSETS_URL
    try:
        sources.fetch(f"{base}/{entries[0].public}", timeout=10)
    except sources.SourceError as err:
        raise _Unavailable(f"{looked}; {sources.unreached(base, err)}") from None
    try:
        sources.build_folder(
            target,
            entries,
            lambda e: sources.as_stored(
                sources.fetch_checked(f"{base}/{e.public}", [e.source_sha256])
            ),
        )
    except sources.SourceError as err:
        raise CorpusError(
            f"data.extra_sets.{name}: downloading it failed (nothing was written): {err}"
        ) from None
    return f"downloaded from {base}, every file checked"


def corpus_record(asked: str, raw_dir: str | Path) -> dict[str, str]:
    """What the prepare stage records of its corpus (`corpus.json`): what `data.corpus` asked
    for, what `raw_dir` holds, and what was missing when BSDS500 was asked for and not there."""
    held = holds(Path(raw_dir))
    record = {"asked": asked, "holds": "own" if held == "other" else held, "missing": ""}
    if asked == "bsds500" and held != "bsds500":
        record["missing"] = (
            "no verified copy of BSDS500 was found (data.local_copy, "
            f"${sources.ENV_LOCAL_COPY}) and its public sources were not reached when "
            "`make repro` built data/raw"
        )
        record["how"] = HOW_TO_GET_DATA
        record["weaker"] = f"The {FALLBACK_NOTE}."
    return record


HOW_TO_GET_DATA = f"To get the data, {sources.HOW_TO_GET}."
