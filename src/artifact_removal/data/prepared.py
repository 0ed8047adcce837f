"""The prepared data on disk, and reading it back.

The corpus (stage `prepare`) and each extra evaluation set (stage `prepare_set@NAME`) are
prepared into folders of the same layout:

    <set>/gt/<key>.png        the image as used (8-bit RGB; gray kept in gray extra sets)
    <set>/q<QF>/<key>.jpg     the whole image compressed at each QF (patches come later)

The video stage's frames use the same layout with decoded frames as PNG (`q<CRF>/<key>.png`).

The corpus' splits are `data.prepared_dir/sets/{train,val,test}`, beside its patch index
(`patches/<split>_<size>.csv`); an extra set NAME is `data.sets_dir/NAME`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import SPLITS, resolve_path
from ..degradations.jpeg import Compressed, decode_jpeg
from .images import read_png

if TYPE_CHECKING:
    from ..config import Params


# What a test set's folder holds when `make repro` could not get it: why, then how to get it.
MISSING = "MISSING.txt"


class DataError(RuntimeError):
    """A corpus or evaluation set that cannot be prepared or read; says which and why."""


def quality_dir(quality: int) -> str:
    """Folder name of a quality: 5 -> 'q05', 100 -> 'q100'."""
    return f"q{quality:02d}"


def set_folder(params: Params, root: Path, name: str) -> Path:
    """The prepared folder of a split of the corpus or of an extra evaluation set."""
    if name in SPLITS:
        return resolve_path(params.data.prepared_dir, root) / "sets" / name
    if name in params.data.extra_sets:
        return resolve_path(params.data.sets_dir, root) / name
    raise DataError(f"unknown set {name!r}: one of {[*SPLITS, *params.data.extra_sets]}")


def evaluation_folders(params: Params, root: Path) -> dict[str, Path]:
    """The prepared folder of every set the evaluation scores (test, then the extra sets); a
    test set that `make repro` could not get is left out (`corpus.missing_test_sets` says)."""
    folders = {name: set_folder(params, root, name) for name in params.test_sets}
    return {name: f for name, f in folders.items() if not (f / MISSING).is_file()}


def scored_sets(params: Params, root: Path) -> tuple[str, ...]:
    """The names of the sets the evaluation scores: the held-out split and every extra set
    that `make repro` could get (`evaluation_folders`)."""
    return tuple(evaluation_folders(params, root))


def keys(folder: Path) -> list[str]:
    """The image names of a prepared set, sorted; an error when there are none."""
    found = sorted(p.stem for p in (Path(folder) / "gt").glob("*.png"))
    if not found:
        raise DataError(f"{folder}/gt: no prepared images; run the stage that prepares it")
    return found


def spread(items: Sequence, count: int) -> list:
    """`count` of `items` evenly spaced over them, the first and the last included (all of them
    when `count` is 0 or at least their number): the images a costly measurement takes."""
    if count == 0 or count >= len(items):
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


def files(folder: Path, qualities: Iterable[int], gt: bool = True) -> list[Path]:
    """The files of a prepared set at these QFs (and its originals): what a reader depends on."""
    subfolders = [quality_dir(q) for q in qualities] + (["gt"] if gt else [])
    return sorted(p for sub in subfolders for p in (Path(folder) / sub).glob("*.*"))


def load_compressed(folder: Path, key: str, qualities: Sequence[int]):
    """The gt pixels of one prepared image and its JPEG at each QF (pixels and bytes)."""
    folder = Path(folder)
    gt = read_png(folder / "gt" / f"{key}.png")
    jpegs = {}
    for quality in qualities:
        path = compressed_file(folder, quality, key)
        data = path.read_bytes()
        pixels = read_png(path) if path.suffix == ".png" else decode_jpeg(data)
        jpegs[quality] = Compressed(pixels, data)
    return gt, jpegs


def compressed_file(folder: Path, quality: int, key: str) -> Path:
    """The compressed copy of an image at a quality: its JPEG file, or, for a video frame,
    the decoded frame as PNG (the video stage's layout, `data/video.py`)."""
    jpeg = Path(folder) / quality_dir(quality) / f"{key}.jpg"
    return jpeg if jpeg.exists() else jpeg.with_suffix(".png")


def load_pairs(folder: Path, quality: int, limit: int = 8) -> list:
    """Up to `limit` whole (gt, lq) uint8 image pairs of a prepared set, in key order."""
    names = sorted(p.stem for p in (Path(folder) / "gt").glob("*.png"))[:limit]
    pairs = [load_compressed(folder, key, [quality]) for key in names]
    return [(gt, jpegs[quality].pixels) for gt, jpegs in pairs]


def missing_test_sets(folders: dict[str, Path]) -> dict[str, list[str]]:
    """{name: [why, how to get it]} of the sets among `folders` (raw or prepared) that `make
    repro` could not get: the lines of their `MISSING.txt`."""
    return {
        name: (Path(folder) / MISSING).read_text().splitlines()
        for name, folder in folders.items()
        if (Path(folder) / MISSING).is_file()
    }


CORPUS_RECORD = "corpus.json"  # below data.prepared_dir: what the prepare stage trained from


def corpus_record_of(prepared_dir: str | Path) -> dict:
    """The prepare stage's record of its corpus (`data.corpus.corpus_record`: what it holds,
    what was missing, how to get it); empty before the stage has run."""
    path = Path(prepared_dir) / CORPUS_RECORD
    return json.loads(path.read_text()) if path.is_file() else {}


HELD_OUT = {  # what the corpus' test split is, by what `corpus.json` says data/raw holds
    "bsds500": "CBSD68, BSDS500's held-out photographs",
    "embedded": "the embedded corpus' held-out split",
}


def set_title(name: str, folder: Path) -> str:
    """A set's name as the tables head it: the corpus' `test` split says what it is (CBSD68
    when the corpus is BSDS500), an extra set keeps its name."""
    if name not in SPLITS:
        return name
    held = corpus_record_of(Path(folder).parent.parent).get("holds")  # <prepared>/sets/<split>
    what = HELD_OUT.get(held, "the corpus' held-out split")
    return f"{name} ({what})"


def corpus_note(prepared_dir: Path, missing_sets: dict[str, list[str]] | None = None) -> str | None:
    """The warning every report carries when the corpus fell back to the embedded one (the
    prepare stage's `corpus.json`) or a test set is missing; None when neither."""
    said = corpus_record_of(prepared_dir)
    notes, how = [], [said.get("how", "")]
    if said.get("missing"):
        notes += [
            f"**Trained on the embedded corpus, not BSDS500**: {said['missing']}.",
            said.get("weaker", ""),
        ]
    if missing_sets:
        reasons = "; ".join(dict.fromkeys(lines[0] for lines in missing_sets.values()))
        notes.append(
            f"**Not scored on {', '.join(sorted(missing_sets))}**: {reasons}. The tables rest "
            "on the corpus' own held-out split."
        )
        how += [line for lines in missing_sets.values() for line in lines[1:]]
    if not notes:
        return None
    return " ".join(filter(None, [*notes, *dict.fromkeys(how)]))
