"""A preparation's input files: a folder scanned into candidates (hidden files and name clashes
skipped, with a record saying why) and split into train, val and test, seeded and stratified."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .images import colour_kind
from .prepared import DataError


@dataclass(frozen=True)
class InputRecord:
    """What happened to one input file."""

    set: str
    file: str
    status: str  # used | converted | skipped
    detail: str = ""


@dataclass(frozen=True)
class Candidate:
    """An input file, the key its outputs are named by, and its stratum for the split."""

    path: Path
    key: str
    stratum: str = ""


def scan_folder(folder: str | Path, set_name: str) -> tuple[list[Candidate], list[InputRecord]]:
    """Every file below `folder`, sorted, as candidates; hidden files and name clashes skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found (set '{set_name}')")
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    if not paths:
        raise DataError(f"{folder}: folder is empty (set '{set_name}'); put images in it")
    candidates, skipped, seen = [], [], {}
    for path in paths:
        relative = path.relative_to(folder).as_posix()
        key = relative.rsplit(".", 1)[0].replace("/", "__") if "." in path.name else relative
        if any(part.startswith(".") for part in Path(relative).parts):
            skipped.append(InputRecord(set_name, str(path), "skipped", "hidden file"))
        elif key in seen:
            skipped.append(
                InputRecord(
                    set_name,
                    str(path),
                    "skipped",
                    f"same name as {seen[key]} (outputs would clash)",
                )
            )
        else:
            seen[key] = relative
            candidates.append(Candidate(path, key, colour_kind(path)))
    return candidates, skipped


def split_candidates(
    candidates: Sequence[Candidate], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[Candidate]]:
    """Deterministic train/val/test split, stratified (colour and gray photographs apart).

    Within each stratum the sorted keys are permuted by the seed and cut by the fractions, so
    the split is the same on every machine and both kinds of image reach every split. Each
    non-zero fraction gets at least one image of a stratum that has three or more.
    """
    split: dict[str, list[Candidate]] = {"train": [], "val": [], "test": []}
    rng = np.random.default_rng(seed)
    for stratum in sorted({c.stratum for c in candidates}):
        ordered = sorted((c for c in candidates if c.stratum == stratum), key=lambda c: c.key)
        order = rng.permutation(len(ordered))
        n_test = _split_count(len(ordered), test_fraction)
        n_val = _split_count(len(ordered), val_fraction)
        split["test"] += [ordered[i] for i in order[:n_test]]
        split["val"] += [ordered[i] for i in order[n_test : n_test + n_val]]
        split["train"] += [ordered[i] for i in order[n_test + n_val :]]
    return {name: sorted(part, key=lambda c: c.key) for name, part in split.items()}


def _split_count(n: int, fraction: float) -> int:
    """round(n * fraction), at least one when the fraction is non-zero and n >= 3."""
    if fraction <= 0:
        return 0
    return max(round(n * fraction), 1 if n >= 3 else 0)
