"""Data preparation: scan a folder, split it, compress every image, index training patches
(the scan and the split are `inputs.py`'s).

Two stages prepare data, so that an evaluation set never touches the training data:

- `prepare_corpus` (stage `prepare`) splits the raw corpus into train, val and test, adds
  the synthetic training images and indexes the training patches, under `data.prepared_dir`:

      sets/<split>/...               each split in the layout of `prepared.py`
      patches/<split>_<size>.csv     top-left corners (y, x) of patches, on the 16-pixel grid
      images.csv                     one row per image and QF: size, bits per pixel, PSNR, SSIM
      report.csv                     every input file: used, converted or skipped, and why
      params.json, splits.json       the parameters the stage read, the split

- `prepare_extra_set` (stage `prepare_set@NAME`) prepares one folder of `data.extra_sets`
  into `data.sets_dir/NAME`, with its own images.csv and report.csv.

`<key>` is the file's path inside its folder without the suffix, with `/` turned into `__`.
Colour variants of a training image (`data.colour_variants`) are keyed `<key>~<order>`, e.g.
`chelsea~gbr`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import fileio
from ..config import SPLITS, resolve_path, section_to_dict
from ..degradations.jpeg import jpeg_compress
from ..metrics.full_reference import psnr, ssim
from .corpus import MISSING, corpus_record
from .images import WORKING_LEVEL, ImageReadError, read_image, write_png
from .inputs import Candidate, InputRecord, scan_folder, split_candidates
from .prepared import CORPUS_RECORD, DataError, quality_dir

if TYPE_CHECKING:
    from ..config import Params

# Where the corpus comes from (make repro's `corpus` command), not how it is prepared.
WHERE_FROM = ("corpus", "local_copy")
# The five reorderings of the R, G, B planes, in the order `data.colour_variants` takes them.
CHANNEL_ORDERS = ("gbr", "brg", "rbg", "bgr", "grb")


def colour_variants(pixels: np.ndarray, count: int) -> list[tuple[str, np.ndarray]]:
    """Up to `count` copies of an RGB image with its planes reordered; none for a gray image.

    A few photographs teach a network their own colours: trained on them alone, it learns
    colour-dependent corrections (a tint) that hurt chroma on other images. Each copy is
    compressed like any image, so the (compressed, original) pairs stay exact; only the
    colours change.
    """
    if count == 0 or pixels.ndim == 2 or (pixels == pixels[..., :1]).all():
        return []
    planes = {"r": 0, "g": 1, "b": 2}
    return [
        (order, np.ascontiguousarray(pixels[..., [planes[c] for c in order]]))
        for order in CHANNEL_ORDERS[:count]
    ]


def prepare_set(
    set_name: str,
    candidates: Iterable[Candidate],
    out_dir: str | Path,  # the set's own folder
    qualities: Sequence[int],
    subsampling: str = "4:2:0",
    min_size: int = 0,
    keep_gray: bool = False,
    measure: bool = True,
    variants: int = 0,
) -> tuple[list[InputRecord], list[dict]]:
    """Decode, check and compress each image of one set; write gt PNGs and JPEGs at every QF.

    Returns a record per file and, per usable image and QF, a row of statistics (size, bits per
    pixel, and with `measure` PSNR/SSIM of JPEG itself on RGB and on Y). `variants` adds that
    many colour variants of each colour image (see `colour_variants`).
    """
    set_dir = Path(out_dir)
    records, rows = [], []
    candidates = list(candidates)
    taken = {cand.key for cand in candidates}
    for cand in tqdm(candidates, desc=f"prepare {set_name}", unit="img", leave=True):
        try:
            image = read_image(cand.path, keep_gray=keep_gray)
        except ImageReadError as err:
            records.append(InputRecord(set_name, str(cand.path), "skipped", err.reason))
            continue
        height, width = image.pixels.shape[:2]
        if min(height, width) < min_size:
            records.append(
                InputRecord(
                    set_name,
                    str(cand.path),
                    "skipped",
                    f"{width}x{height} is smaller than the {min_size}x{min_size} training patch",
                )
            )
            continue
        status = "converted" if image.notes else "used"
        records.append(InputRecord(set_name, str(cand.path), status, "; ".join(image.notes)))
        rows += _write_image(
            image.pixels,
            set_name,
            cand.key,
            set_dir,
            qualities,
            subsampling,
            measure,
            variants,
            taken,
        )
    return records, rows


def _write_image(
    pixels, set_name, key, set_dir, qualities, subsampling, measure, variants, taken
) -> list[dict]:
    """The gt PNG and the JPEGs of one image and of its colour variants; statistics rows."""
    copies = [(key, pixels)] + [
        (f"{key}~{order}", variant)
        for order, variant in colour_variants(pixels, variants)
        if f"{key}~{order}" not in taken  # a file of that name wins over a variant
    ]
    rows = []
    for name, image in copies:
        write_png(image, set_dir / "gt" / f"{name}.png", WORKING_LEVEL)
        rows += _compress_all(image, set_name, name, set_dir, qualities, subsampling, measure)
    return rows


def add_dead_leaves(
    out_dir: Path, count: int, seed: int, qualities: Sequence[int], subsampling: str, variants: int
) -> tuple[list[InputRecord], list[dict]]:
    """`count` dead-leaves images (see `synthetic`) added to the train split, coloured from it.

    Keys `dead_leaves_000`, ...; each image is compressed (with its colour variants) like a
    photograph and listed in the report as generated.
    """
    from .images import read_png
    from .synthetic import dead_leaves, palette_of

    set_dir = out_dir / "sets" / "train"
    rng = np.random.default_rng([seed, 1968])  # 1968: Matheron's dead leaves
    photos = [read_png(p) for p in sorted((set_dir / "gt").glob("*.png")) if "~" not in p.stem]
    palette = palette_of(photos, rng)
    taken = {p.stem for p in (set_dir / "gt").glob("*.png")}
    records, rows = [], []
    for i in tqdm(range(count), desc="dead leaves", unit="img", leave=True):
        key = f"dead_leaves_{i:03d}"
        if key in taken:
            continue  # a photograph of that name wins
        records.append(
            InputRecord(
                "train", f"{key} (synthetic)", "generated", f"dead-leaves model, seed {seed}"
            )
        )
        pixels = dead_leaves(rng, palette, hues=int(rng.integers(2, 7)))  # 2 to 6 colours
        rows += _write_image(
            pixels, "train", key, set_dir, qualities, subsampling, False, variants, taken
        )
    return records, rows


def _compress_all(
    pixels: np.ndarray,
    set_name: str,
    key: str,
    set_dir: Path,
    qualities: Sequence[int],
    subsampling: str,
    measure: bool,
) -> list[dict]:
    """Write the image at every QF and return one statistics row per QF."""
    rows = []
    for quality in qualities:
        jpeg = jpeg_compress(pixels, quality, subsampling)
        target = set_dir / quality_dir(quality) / f"{key}.jpg"
        fileio.write_atomic(target, jpeg.data)
        row = {
            "set": set_name,
            "key": key,
            "quality": quality,
            "height": pixels.shape[0],
            "width": pixels.shape[1],
            "gray": pixels.ndim == 2,
            "bytes": len(jpeg.data),
            "bpp": jpeg.bits_per_pixel,
        }
        if measure:
            row |= {
                f"{metric.__name__}_{ch}": metric(pixels, jpeg.pixels, ch)
                for metric in (psnr, ssim)
                for ch in ("rgb", "y")
            }
        rows.append(row)
    return rows


def patch_index(sizes: pd.DataFrame, patch_size: int, stride: int) -> pd.DataFrame:
    """Top-left corners of all `patch_size` patches every `stride` pixels of each image.

    `sizes` has columns key, height, width; the result has columns key, y, x. Corners lie on
    the 16-pixel grid of JPEG's 4:2:0 MCUs, so every patch sees the block grid the codec used.
    """
    rows = [
        (key, y, x)
        for key, height, width in sizes[["key", "height", "width"]].itertuples(index=False)
        for y in range(0, height - patch_size + 1, stride)
        for x in range(0, width - patch_size + 1, stride)
    ]
    return pd.DataFrame(rows, columns=["key", "y", "x"])


def summarize_jpeg(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean bits per pixel, PSNR and SSIM of JPEG per set and QF (means over images)."""
    columns = [c for c in ("bpp", "psnr_rgb", "psnr_y", "ssim_rgb", "ssim_y") if c in rows]
    table = rows.groupby(["set", "quality"], sort=False)[columns].mean()
    return table.join(rows.groupby(["set", "quality"], sort=False).size().rename("images"))


def check_usable(records: Sequence[InputRecord], set_name: str, folder: str | Path) -> None:
    """Stop with a clear error when a folder gave no usable image, listing the reasons."""
    if any(r.status != "skipped" for r in records if r.set in members(set_name)):
        return
    reasons = sorted(
        {f"{Path(r.file).name}: {r.detail}" for r in records if r.set in members(set_name)}
    )
    shown = "\n  ".join(reasons[:20]) + ("\n  ..." if len(reasons) > 20 else "")
    raise DataError(
        f"{folder}: no usable image (set '{set_name}'); every file was skipped:\n  {shown}"
    )


def _relative(file: str, root: Path) -> str:
    """`file` relative to `root` when it lies inside, else as it is (portable reports)."""
    path = Path(file)
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else file


def members(set_name: str) -> tuple[str, ...]:
    """The record sets that make up `set_name`: 'corpus' is the splits and files skipped
    before splitting."""
    return (*SPLITS, "corpus") if set_name == "corpus" else (set_name,)


def write_json(data: object, path: str | Path) -> None:
    """Pretty JSON ending in a newline, written atomically (folder created)."""
    fileio.write_json(path, data)


@dataclass
class PreparedData:
    """What the prepare stage produced: file records, split, per-image statistics, patches."""

    root: Path
    out_dir: Path
    records: list[InputRecord]
    splits: dict[str, list[str]]
    images: pd.DataFrame
    patches: dict[str, pd.DataFrame]

    @property
    def report(self) -> pd.DataFrame:
        """The input report as a table; files inside the project relative to its root."""
        rows = [asdict(r) | {"file": _relative(r.file, self.root)} for r in self.records]
        return pd.DataFrame(rows, columns=["set", "file", "status", "detail"])


def prepare_corpus(params: Params, root: str | Path) -> PreparedData:
    """The prepare stage's data work for validated `params` (paths relative to `root`).

    Splits the raw corpus, compresses train/val/test at each QF, adds the synthetic training
    images, indexes the training patches and writes the layout of this module's doc.
    """
    data, deg = params.data, params.degradation
    out_dir = resolve_path(data.prepared_dir, root)
    raw_dir = resolve_path(data.raw_dir, root)
    splits, records = corpus_splits(raw_dir, data.val_fraction, data.test_fraction, params.seed)
    _clear(out_dir, ("sets", "patches"))
    rows: list[dict] = []
    for name, members in splits.items():
        recs, stats = prepare_set(
            name,
            members,
            out_dir / "sets" / name,
            deg.qualities,
            deg.chroma_subsampling,
            data.min_size,
            keep_gray=False,
            measure=name != "train",
            variants=data.colour_variants if name == "train" else 0,
        )
        records += recs
        rows += stats
    check_usable(records, "corpus", raw_dir)
    if data.dead_leaves:
        recs, stats = add_dead_leaves(
            out_dir,
            data.dead_leaves,
            params.seed,
            deg.qualities,
            deg.chroma_subsampling,
            data.colour_variants,
        )
        records += recs
        rows += stats
    images = pd.DataFrame(rows)
    index = _index_all(images, data.patches, out_dir)
    prepared = PreparedData(Path(root), out_dir, records, _used_keys(images), images, index)
    _write_tables(prepared, corpus_params(params))
    write_json(corpus_record(data.corpus, raw_dir), out_dir / CORPUS_RECORD)
    return prepared


def corpus_splits(
    raw_dir: Path, val_fraction: float, test_fraction: float, seed: int
) -> tuple[dict[str, list[Candidate]], list[InputRecord]]:
    """The corpus' train, val and test images: its own `train/`, `val/` and `test/` folders
    when it has exactly these (BSDS500 as `data/corpus.py` lays it out), else the files of a
    flat folder split by the fractions (`split_candidates`)."""
    own = sorted(p.name for p in raw_dir.iterdir()) if raw_dir.is_dir() else []
    if own != sorted(SPLITS):
        candidates, records = scan_folder(raw_dir, "corpus")
        return split_candidates(candidates, val_fraction, test_fraction, seed), records
    splits, records = {}, []
    for name in SPLITS:
        splits[name], skipped = scan_folder(raw_dir / name, name)
        records += skipped
    return splits, records


def corpus_params(params: Params) -> dict:
    """The parameters the prepare stage reads (its DVC params), as plain data."""
    data = section_to_dict(params.data)
    shared = {k: v for k, v in data.items() if k not in ("extra_sets", "sets_dir", *WHERE_FROM)}
    return {"seed": params.seed, "degradation": section_to_dict(params.degradation), "data": shared}


def prepare_extra_set(params: Params, name: str, root: str | Path) -> PreparedData:
    """One extra evaluation set (`data.extra_sets[name]`) into `data.sets_dir/name`."""
    if name not in params.data.extra_sets:
        raise DataError(
            f"data.extra_sets has no set {name!r}; it has {list(params.data.extra_sets)}"
        )
    deg = params.degradation
    folder = resolve_path(params.data.extra_sets[name], root)
    out_dir = resolve_path(params.data.sets_dir, root) / name
    _clear(out_dir, ("gt", *(quality_dir(q) for q in deg.qualities)))
    if (folder / MISSING).is_file():  # a test set `make repro` could not get: said, not scored
        out_dir.mkdir(parents=True, exist_ok=True)
        fileio.write_atomic(out_dir / MISSING, (folder / MISSING).read_bytes())
        records = [InputRecord(name, str(folder / MISSING), "skipped", "the set is missing")]
        prepared = PreparedData(Path(root), out_dir, records, {}, pd.DataFrame(), {})
        _write_tables(prepared, {"folder": params.data.extra_sets[name], "missing": True})
        return prepared
    (out_dir / MISSING).unlink(missing_ok=True)
    found, records = scan_folder(folder, name)
    recs, rows = prepare_set(
        name, found, out_dir, deg.qualities, deg.chroma_subsampling, keep_gray=True
    )
    records += recs
    check_usable(records, name, folder)
    images = pd.DataFrame(rows)
    prepared = PreparedData(Path(root), out_dir, records, _used_keys(images), images, {})
    _write_tables(
        prepared, {"folder": params.data.extra_sets[name], "degradation": section_to_dict(deg)}
    )
    return prepared


def _clear(out_dir: Path, subfolders: Sequence[str]) -> None:
    """Remove a previous run's files so that no stale file survives a change of params."""
    for sub in subfolders:
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    for stale in out_dir.glob("q*"):  # QFs no longer in degradation.qualities
        if stale.is_dir():
            shutil.rmtree(stale)


def _used_keys(images: pd.DataFrame) -> dict[str, list[str]]:
    """Keys of the usable images of each set, in order."""
    return {
        name: list(dict.fromkeys(group["key"])) for name, group in images.groupby("set", sort=False)
    }


def _index_all(images: pd.DataFrame, specs, out_dir: Path) -> dict[str, pd.DataFrame]:
    """Patch index of train and val for every patch spec, written as CSV."""
    sizes = images.drop_duplicates(["set", "key"])
    (out_dir / "patches").mkdir(parents=True, exist_ok=True)
    index = {}
    for set_name in ("train", "val"):
        for spec in specs:
            table = patch_index(sizes[sizes["set"] == set_name], spec.size, spec.stride)
            fileio.write_csv(
                out_dir / "patches" / f"{set_name}_{spec.size}.csv", table, index=False
            )
            index[f"{set_name}_{spec.size}"] = table
    return index


def _write_tables(prepared: PreparedData, resolved: dict) -> None:
    """images.csv, report.csv, params.json and splits.json next to the prepared images."""
    fileio.write_csv(
        prepared.out_dir / "images.csv", prepared.images, index=False, float_format="%.6f"
    )
    fileio.write_csv(prepared.out_dir / "report.csv", prepared.report, index=False)
    write_json(resolved, prepared.out_dir / "params.json")
    write_json(prepared.splits, prepared.out_dir / "splits.json")
