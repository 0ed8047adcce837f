"""The embedded default corpus: natural photographs that ship inside scikit-image's wheel.

A fresh, offline machine has no MS-COCO. `make repro` therefore fills `data/raw` with
byte-identical copies of scikit-image's bundled sample photographs, whose checksums are fixed
below, so that `data.dvc` (which records exactly these files) is valid and `dvc status` is clean.
A user who tracks their own corpus in `data.dvc` gets it from DVC instead (see the README).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

from ..config import read_yaml
from ..fileio import write_atomic

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


class CorpusError(RuntimeError):
    """The raw corpus is missing and cannot be built or fetched."""


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


def ensure_corpus(raw_dir: str | Path = "data/raw", dvc_file: str | Path = "data.dvc") -> str:
    """Make `raw_dir` present and cached; returns what was done ("present", "built", ...)."""
    raw_dir, dvc_file = Path(raw_dir), Path(dvc_file)
    if raw_dir.is_dir() and any(raw_dir.iterdir()):
        return "present"
    if not dvc_file.is_file():
        raise CorpusError(
            f"{dvc_file} is missing: restore it (`git checkout {dvc_file}`) or "
            f"track your own corpus as the README shows"
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
