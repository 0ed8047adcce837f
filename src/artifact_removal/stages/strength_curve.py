"""The perception-distortion curve of the strength dial (`inference.strength`), for evaluate.

Blau and Michaeli (CVPR 2018) showed that distortion (PSNR) and perceptual quality (how
natural an image looks, here NIQE) cannot both be optimal: a restoration trades one for the
other. The papers' two generators are the two ends of that trade for a QF, the SSIM one at
low distortion and the GAN one at better NIQE. Interpolating their weights walks between
them; this module scores each step on a test set and draws the curve.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from ..config import Params, resolve_path
from ..data.prepared import scored_sets, spread
from ..fileio import write_text
from ..inference.gallery import JPEG, ORIGINAL, Gallery
from ..metrics.full_reference import psnr
from .evaluate import no_reference_scores
from .strength import STRENGTHS, Dial, dialled


def strength_curve(
    gallery: Gallery,
    set_name: str,
    quality: int,
    crop_border: int = 0,
    strengths: tuple[float, ...] = STRENGTHS,
    progress: bool = True,
    images: int = 0,
) -> pd.DataFrame:
    """Mean PSNR (Y and RGB) and NIQE over a set's images at JPEG `quality`, for each dialled
    method at each strength, and for JPEG and the originals (strength NaN), over every image of
    the set or over `images` of them spread over their names; the column `images` says how
    many."""
    rows = []
    keys = spread(gallery.keys(set_name), images)
    pairs = dialled(gallery, quality)
    jobs = [(m, s, s0, k) for m, s0 in pairs for s in strengths for k in keys]
    dial = Dial(gallery)
    for key in keys:
        gt = gallery.image(set_name, key, 0, ORIGINAL)
        for name, image in ((ORIGINAL, gt), (JPEG, gallery.image(set_name, key, quality, JPEG))):
            rows.append(_scores(gt, image, crop_border) | {"method": name, "key": key})
    for method, strength, start, key in tqdm(
        jobs, desc="strength", unit="image", disable=not progress
    ):
        gt = gallery.image(set_name, key, 0, ORIGINAL)
        restored = dial.image(set_name, key, quality, method, strength)
        scores = _scores(gt, restored, crop_border)
        rows.append(scores | {"method": method, "start": start, "strength": strength, "key": key})
    frame = pd.DataFrame(rows)
    if "strength" not in frame:
        frame["strength"] = np.nan
    if "start" not in frame:
        frame["start"] = None
    means = (
        frame.groupby(["method", "strength"], dropna=False, sort=False)
        .agg(
            start=("start", "first"),
            psnr_y=("psnr_y", "mean"),
            psnr_rgb=("psnr_rgb", "mean"),
            niqe=("niqe", "mean"),
            images=("key", "nunique"),
        )
        .reset_index()
    )
    means.insert(0, "quality", quality)
    means.insert(0, "set", set_name)
    return means


def _scores(gt: np.ndarray, image: np.ndarray, crop_border: int) -> dict[str, float]:
    """PSNR on Y and RGB (the original against itself: NaN) and NIQE."""
    same = image is gt
    return {
        "psnr_y": float("nan") if same else psnr(gt, image, "y", crop_border),
        "psnr_rgb": float("nan") if same else psnr(gt, image, "rgb", crop_border),
        "niqe": no_reference_scores(image, crop_border)["niqe"],
    }


def labelled(rows: pd.DataFrame, curve: pd.DataFrame, apart: float = 0.07) -> pd.DataFrame:
    """The points of one line whose strength is written beside them: the two ends, then each
    other point at least `apart` (a fraction of the plot's span on either axis) from every
    labelled one of the line, so that its labels do not overlap one another."""
    span = {c: float(np.ptp(curve[c].dropna())) or 1.0 for c in ("niqe", "psnr_y") if c in curve}
    order = [rows.index[0], rows.index[-1], *rows.index[1:-1]]
    kept: list = []
    for i in order:
        near = any(
            abs(rows.at[i, "niqe"] - rows.at[j, "niqe"]) / span["niqe"] < apart
            and abs(rows.at[i, "psnr_y"] - rows.at[j, "psnr_y"]) / span["psnr_y"] < apart
            for j in kept
        )
        if not near:
            kept.append(i)
    return rows.loc[sorted(kept, key=list(rows.index).index)]


def strength_figure(curve: pd.DataFrame, title: str = "") -> Figure:
    """PSNR-Y against NIQE: a line per dialled method through its strengths (each point
    labelled), JPEG as a cross, the originals' NIQE as a dashed line. Up is less distortion,
    left is more natural."""
    fig, ax = plt.subplots(figsize=(5.6, 4))
    for method, rows in curve.dropna(subset=["strength"]).groupby("method", sort=False):
        rows = rows.sort_values("strength")
        ax.plot(
            rows["niqe"], rows["psnr_y"], "o-", ms=4, label=f"{rows['start'].iloc[0]} -> {method}"
        )
        for _, row in labelled(rows, curve).iterrows():
            ax.annotate(
                f"{row.strength:g}",
                (row.niqe, row.psnr_y),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=7,
            )
    jpeg = curve[curve["method"] == JPEG]
    if len(jpeg):
        ax.plot(jpeg["niqe"], jpeg["psnr_y"], "kx", ms=8, label="JPEG")
    original = curve[curve["method"] == ORIGINAL]
    if len(original) and np.isfinite(original["niqe"]).any():
        ax.axvline(original["niqe"].mean(), color="black", ls="--", lw=1, label="originals' NIQE")
    ax.set(xlabel="NIQE (lower: more natural)", ylabel="PSNR-Y, dB (higher: less distortion)")
    ax.legend(fontsize=8)
    images = int(curve["images"].max()) if len(curve) else 0
    ax.set_title(f"{title} ({images} images)" if title else f"{images} images", fontsize=9)
    fig.tight_layout()
    return fig


def write_strength_curves(
    gallery: Gallery, params: Params, root: str | Path, progress: bool = True
) -> dict[str, tuple[pd.DataFrame, Figure]]:
    """Each test set's curve at the figure QF: `tables/<set>_strength.csv` and
    `figures/<set>_strength.png` under the evaluation's folder; returned by set."""
    from .plots import save_figure

    out_dir, quality = resolve_path(params.evaluate.out_dir, root), params.evaluate.figure_quality
    found = {}
    for set_name in scored_sets(params, Path(root)):
        curve = strength_curve(
            gallery,
            set_name,
            quality,
            params.evaluate.crop_border,
            progress=progress,
            images=params.evaluate.sampled_images,
        )
        (out_dir / "tables").mkdir(parents=True, exist_ok=True)
        write_text(out_dir / "tables" / f"{set_name}_strength.csv", curve.to_csv(index=False))
        figure = strength_figure(curve, f"{set_name}, JPEG QF {quality}")
        save_figure(figure, out_dir / "figures" / f"{set_name}_strength.png")
        found[set_name] = curve, figure
    return found
