"""Stage `crf_reading`: the line from an H.264 stream's QPs to its CRF (`inference.crf_reading`).

A camera moves over each of the corpus' photographs (colour variants apart) for `FRAMES`
frames, as in the video stage's clips but longer; each clip goes through x264 once per class of
`video.predictor_crfs`, each at a CRF drawn from those that count as that class (within
the classes' range) and
with x264 settings drawn from `video.train_encoders` (as the CRF predictor's frames are); each
stream's QP is read and a line fitted to the training clips' CRFs. The validation and test
clips say how well it holds on content it was not fitted on; the fit and those figures go to
`crf_reading.out`, which `restore` reads for H.264 that does not carry x264's settings.

    python -m artifact_removal.stages.crf_reading params.yaml
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..archs.qf_labels import class_cells
from ..config import find_project_root, load_params, resolve_path
from ..data.images import read_png
from ..data.video import ClipError, camera_motion, encoder_settings
from ..degradations.h264 import encode_h264
from ..inference.crf_reading import QPFit, stream_qp

FRAMES = 96  # per clip: beyond x264's look-ahead (40 frames at preset medium) and the 48
# frames read, so that the QPs are those of a long video, not of a clip's last frames, which
# x264's macroblock tree codes coarser (nothing after them refers to them)
SEED_STREAM = 2  # apart from the CRF predictor's draws (1) and the clips' own (0)
OUTLIER = 4  # median absolute deviations off the line: a clip left out of the fit


def fit(qps: Iterable[float], crfs: Iterable[int]) -> tuple[float, float]:
    """Slope and intercept of CRF against QP: least squares, then again without the clips that
    lie more than `OUTLIER` median absolute deviations off the first line (a black sky, where
    AQ has nothing to measure), so that a few clips x264's rules do not explain do not tilt
    it."""
    qps, crfs = np.asarray(list(qps), float), np.asarray(list(crfs), float)
    slope, intercept = np.polyfit(qps, crfs, 1)
    residual = np.abs(crfs - (slope * qps + intercept))
    keep = residual <= OUTLIER * max(float(np.median(residual)), 0.25)
    if keep.sum() >= 2 and not keep.all():
        slope, intercept = np.polyfit(qps[keep], crfs[keep], 1)
    return float(slope), float(intercept)


def errors(fitted: tuple[float, float], qps: Iterable[float], crfs: Iterable[int]) -> dict:
    """How far the line's CRFs fall from the true ones: clips, mean absolute error, the share
    within 3 steps, the largest error."""
    slope, intercept = fitted
    qps, crfs = np.asarray(list(qps), float), np.asarray(list(crfs), float)
    predicted = np.clip(np.round(slope * qps + intercept), 0, 51)
    error = np.abs(predicted - crfs)
    if not error.size:
        return {"clips": 0}
    return {
        "clips": int(error.size),
        "mae": round(float(error.mean()), 3),
        "within_3": round(float((error <= 3).mean()), 4),
        "max": round(float(error.max()), 1),
    }


def still_photographs(params, root: Path) -> list[tuple[str, Path]]:
    """(split, path) of the corpus' photographs (no colour variants, no synthetic images), at
    most `crf_reading.photographs` of each split, spread over their names as the video stage's
    clips are (the fit costs a stream per photograph and class, so it has its own cap)."""
    from ..config import SPLITS
    from ..data.prepared import spread

    sets = resolve_path(params.data.prepared_dir, root) / "sets"
    return [
        (split, still)
        for split, most in zip(SPLITS, params.crf_reading.photographs, strict=True)
        for still in spread(
            sorted(
                p
                for p in (sets / split / "gt").glob("*.png")
                if "~" not in p.stem and not p.stem.startswith("dead_leaves")
            ),
            most,
        )
    ]


def read_clips(params, root: Path, progress: bool = True) -> pd.DataFrame:
    """Every photograph's clip at a CRF of each class: split, clip, CRF, x264 settings, QP."""
    classes = params.video.predictor_crfs
    low, high = min(classes), max(classes)  # the cells at the ends reach to 1 and 51
    cells = {
        label: [c for c in crfs if low <= c <= high]
        for label, crfs in class_cells(classes, 52).items()
    }
    spec = params.video.clips
    stills = still_photographs(params, root)
    rows = []
    with tqdm(
        total=len(stills) * len(cells), desc="crf reading", unit="stream", disable=not progress
    ) as bar:
        for number, (split, still) in enumerate(stills):
            motion = spec.motions[number % len(spec.motions)]
            seed = params.seed * 1000 + 500 + number
            try:
                frames = camera_motion(read_png(still), tuple(spec.size), FRAMES, motion, seed)
            except ClipError as err:
                print(f"{split}/{still.stem}: left out: {err}")
                bar.update(len(cells))
                continue
            for label, crfs in cells.items():
                rng = np.random.default_rng([params.seed, number, label, SEED_STREAM])
                settings = encoder_settings(params, int(rng.choice(crfs)), 3000 + number)
                qp = stream_qp(encode_h264(frames, settings, spec.fps))
                rows.append(
                    {
                        "split": split,
                        "clip": f"{still.stem}_{motion}",
                        "crf": settings.crf,
                        "preset": settings.preset,
                        "gop": settings.gop,
                        "bframes": settings.bframes,
                        "qp": qp,
                    }
                )
                bar.update()
    return pd.DataFrame(rows)


def run(params_path: Path, progress: bool = True) -> QPFit:
    """Read, fit, write `crf_reading.out`; print how the line holds per split."""
    root = find_project_root(params_path.parent)
    params = load_params(params_path)
    table = read_clips(params, root, progress)
    unread = table[table["qp"].isna()]
    if len(unread):
        raise RuntimeError(f"{len(unread)} stream(s) gave no QPs: {unread.to_dict('records')}")
    train = table[table["split"] == "train"]
    line = fit(train["qp"], train["crf"])
    held = table[table["split"] != "train"]
    result = QPFit(
        round(line[0], 6), round(line[1], 6), len(train), errors(line, held["qp"], held["crf"])
    )
    result.save(resolve_path(params.crf_reading.out, root))
    print(
        f"CRF = {result.slope:.4f} * QP + {result.intercept:.4f}, fitted on {len(train)} "
        "streams of the training clips"
    )
    for split, rows in table.groupby("split", sort=False):
        print(f"  {split}: {errors(line, rows['qp'], rows['crf'])}")
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m artifact_removal.stages.crf_reading PARAMS", file=sys.stderr)
        return 2
    run(Path(args[0]).resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
