"""The evaluate stage: every trained method at every QF on every test set, and the QF predictor.

JPEG itself is the baseline; the original images' no-reference scores are the target (a
restoration cannot be "more original" than the original, but NIQE and BRISQUE can rate it so).
Scores are per image first (`per_image.csv`), then means per set, QF and method. The test sets
are the corpus' held-out split and every extra set (`data.extra_sets`); the QF predictor is
scored on each of them too, as confusion matrices.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..config import SPLITS, Params, resolve_path
from ..data.prepared import evaluation_folders, quality_dir, scored_sets, set_title
from ..fileio import write_csv, write_json, write_text
from ..inference.gallery import JPEG, ORIGINAL, Gallery, gallery_of
from ..inference.releases import load_predictor
from ..metrics.full_reference import psnr, psnr_b, ssim
from ..metrics.lpips import Lpips
from ..metrics.no_reference import brisque, niqe
from ..pretrained import weights_for
from .published_tables import markdown_table, paper_tables, published_rows
from .published_tables import published_no_reference as published_no_reference

FULL_REFERENCE = ("psnr_rgb", "psnr_y", "ssim_rgb", "ssim_y", "psnrb_y", "lpips")
NO_REFERENCE = ("niqe", "brisque")
LOWER_IS_BETTER = frozenset({"lpips", "niqe", "brisque"})
CONVENTIONS = (
    "PSNR in dB on 8-bit values (data range 255), on RGB and on Y (BT.601 YCbCr, 16..235, as "
    "MATLAB's rgb2ycbcr; gray images: their own values). SSIM with a Gaussian window (sigma 1.5, "
    "population covariance, no downsampling). PSNR-B (Yim and Bovik 2011) on Y, its blocking "
    "factor measured on the image under test. LPIPS: AlexNet, v0.1. NIQE (standard pristine "
    "model, 96x96 blocks) and BRISQUE (the `brisque` package's model) on the whole image; lower "
    "is better for LPIPS, NIQE and BRISQUE. Means over images."
)


def _crop(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border else image


def score(
    gt: np.ndarray, image: np.ndarray, crop_border: int = 0, lpips: Lpips | None = None
) -> dict[str, float]:
    """Every full-reference score of `image` against `gt`, then its no-reference scores."""
    out = {
        "psnr_rgb": psnr(gt, image, "rgb", crop_border),
        "psnr_y": psnr(gt, image, "y", crop_border),
        "ssim_rgb": ssim(gt, image, "rgb", crop_border),
        "ssim_y": ssim(gt, image, "y", crop_border),
        "psnrb_y": psnr_b(gt, image, "y", crop_border),
    }
    if lpips is not None and lpips.available:
        out["lpips"] = lpips(_crop(gt, crop_border), _crop(image, crop_border))
    return out | no_reference_scores(image, crop_border)


def no_reference_scores(image: np.ndarray, crop_border: int = 0) -> dict[str, float]:
    """NIQE and BRISQUE of one uint8 image; NaN (left out of means) where it is too small."""
    image = _crop(image, crop_border)
    out = {}
    for name, metric in (("niqe", niqe), ("brisque", brisque)):
        try:
            out[name] = metric(image)
        except ValueError:  # smaller than the metric's block; the tables count what was scored
            out[name] = float("nan")
    return out


@dataclass
class Evaluation:
    """Per-image scores and how they were obtained."""

    per_image: pd.DataFrame  # set, key, quality, method, then the scores
    lpips_note: str  # "" when LPIPS was computed, else why not
    seconds: float
    crop_border: int
    losses: dict[str, str] = field(default_factory=dict)  # method -> its perceptual loss
    titles: dict[str, str] = field(default_factory=dict)  # set -> its name in the tables


def loss_note(losses: dict[str, str]) -> str:
    """One sentence naming each method's perceptual loss; fallbacks are said to be such."""
    parts = []
    for method, loss in losses.items():
        fallback = (
            " (a fallback with random weights, not the papers' loss)" if ("random" in loss) else ""
        )
        parts.append(f"{method}: {loss}{fallback}")
    return f"Perceptual loss of {'; '.join(parts)}." if parts else ""


def evaluate(
    gallery: Gallery,
    sets: tuple[str, ...],
    qualities: tuple[int, ...],
    crop_border: int = 0,
    lpips: Lpips | None = None,
    progress: bool = True,
    set_qualities: tuple[int, ...] = (),
) -> Evaluation:
    """Score the original, JPEG and every method at every QF on every image of `sets`; the
    sets other than the held-out split only at `set_qualities` when given."""
    start, rows = time.perf_counter(), []
    jobs = [(s, k) for s in sets for k in gallery.keys(s)]
    for set_name, key in tqdm(jobs, desc="evaluate", unit="image", disable=not progress):
        gt = gallery.image(set_name, key, 0, ORIGINAL)
        base = {"set": set_name, "key": key}
        rows.append(
            base | {"quality": 0, "method": ORIGINAL} | no_reference_scores(gt, crop_border)
        )
        kept = qualities if set_name in SPLITS or not set_qualities else set_qualities
        for quality in (q for q in qualities if q in kept):
            for method in gallery.choices[1:]:
                if not gallery.trained(method, quality):
                    continue  # a method is scored at the QFs it is trained for
                image = gallery.image(set_name, key, quality, method)
                values = score(gt, image, crop_border, lpips)
                rows.append(base | {"quality": quality, "method": method} | values)
    note = "" if lpips is not None and lpips.available else (lpips.reason if lpips else "not asked")
    titles = {s: set_title(s, gallery.sets[s]) for s in sets}
    return Evaluation(
        pd.DataFrame(rows), note, time.perf_counter() - start, crop_border, gallery.losses, titles
    )


def summarize(per_image: pd.DataFrame) -> pd.DataFrame:
    """Means over images per set, QF and method; the originals repeated under every QF that
    their set is scored at (an extra set scored at fewer QFs gets no table of originals
    alone)."""
    original = per_image[per_image["method"] == ORIGINAL]
    scored = per_image[per_image["method"] != ORIGINAL]
    parts = [scored]
    for (set_name, quality), _ in scored.groupby(["set", "quality"]):
        parts.append(original[original["set"] == set_name].assign(quality=quality))
    table = pd.concat(parts).drop(columns="key").groupby(["set", "quality", "method"], sort=False)
    summary = table.mean().reset_index()
    methods = list(scored["method"].unique())  # super-resolution rows (`_srN`) last
    methods.sort(key=lambda m: bool(re.search(r"_sr\d+$", m)))
    order = {m: i for i, m in enumerate([ORIGINAL, JPEG, *methods])}
    summary["_order"] = summary["method"].map(order)
    summary = summary.sort_values(["set", "quality", "_order"], kind="stable").drop(
        columns="_order"
    )
    summary = summary.merge(gains(per_image), on=["set", "quality", "method"], how="left")
    columns = [c for c in (*FULL_REFERENCE, *NO_REFERENCE) if c in summary]
    at = columns.index("psnr_y") + 1 if "psnr_y" in columns else len(columns)
    columns[at:at] = [c for c in GAINS if c in summary]
    return summary[["set", "quality", "method", *columns]].reset_index(drop=True)


GAINS = ("gain_rgb", "gain_rgb_ci95", "gain_y", "gain_y_ci95")


def gains(per_image: pd.DataFrame) -> pd.DataFrame:
    """Each method's PSNR gain over JPEG (RGB and Y), image by image, as a mean and the
    half-width of its 95% interval (Student's t over the images' paired differences; 0 for one
    image)."""
    scored = per_image[per_image["method"] != ORIGINAL]
    jpeg = scored[scored["method"] == JPEG].set_index(["set", "quality", "key"])
    rows = []
    for (set_name, quality, method), group in scored.groupby(
        ["set", "quality", "method"], sort=False
    ):
        row = {"set": set_name, "quality": quality, "method": method}
        base = jpeg.loc[[(set_name, quality, k) for k in group["key"]]]
        for channel in ("rgb", "y"):
            column = f"psnr_{channel}"
            if column not in group:
                continue
            diff = group[column].to_numpy() - base[column].to_numpy()
            row[f"gain_{channel}"] = float(diff.mean())
            row[f"gain_{channel}_ci95"] = _half_width(diff)
        rows.append(row)
    return pd.DataFrame(rows, columns=["set", "quality", "method", *GAINS])


def _half_width(values: np.ndarray) -> float:
    """Half-width of the 95% interval of the mean of `values` (Student's t)."""
    if len(values) < 2:
        return 0.0
    from scipy.stats import t

    return float(t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def quality_table(summary: pd.DataFrame, set_name: str, quality: int) -> pd.DataFrame:
    """One set at one QF: a row per method, JPEG's gain added for PSNR on Y."""
    rows = summary[(summary["set"] == set_name) & (summary["quality"] == quality)]
    rows = rows.drop(columns=["set", "quality"]).dropna(axis=1, how="all")
    return rows.reset_index(drop=True)


def table_markdown(
    evaluation: Evaluation, summary: pd.DataFrame, set_name: str, quality: int
) -> str:
    """The Markdown of one set at one QF: our rows, conventions, and published rows if any."""
    table = quality_table(summary, set_name, quality)
    count = evaluation.per_image.query("set == @set_name and method == @ORIGINAL").shape[0]
    lines = [
        f"## {evaluation.titles.get(set_name, set_name)}, JPEG QF {quality} ({count} images)\n",
        markdown_table(with_intervals(table)),
        "",
        f"{CONVENTIONS} Border crop: {evaluation.crop_border} px. gain_rgb, gain_y: PSNR on "
        f"RGB and on Y minus JPEG's, the mean over the {count} images and the half-width of "
        "its 95% interval (Student's t over the images' differences).",
    ]
    if evaluation.losses:
        lines.append(loss_note(evaluation.losses))
    if evaluation.lpips_note:
        lines.append(f"LPIPS unavailable: {evaluation.lpips_note}.")
    published = published_rows(set_name, quality)
    if published is not None:
        lines += [
            "",
            "Published (gray images, their IJG JPEG):",
            "",
            published.to_markdown(index=False, floatfmt=".4f"),
        ]
    if tables := paper_tables(summary, set_name, quality):
        lines += ["", tables]
    return "\n".join(lines) + "\n"


def with_intervals(table: pd.DataFrame) -> pd.DataFrame:
    """The table as shown: each gain as "+0.66 ± 0.12" (mean ± half-width of its 95%
    interval), in place of its two numeric columns."""
    shown = table.copy()
    for channel in ("rgb", "y"):
        gain, ci = f"gain_{channel}", f"gain_{channel}_ci95"
        if gain in shown and ci in shown:
            shown[gain] = [
                "" if pd.isna(g) else f"{g:+.2f} ± {c:.2f}"
                for g, c in zip(shown[gain], shown[ci], strict=True)
            ]
            shown = shown.drop(columns=ci)
    return shown


def metrics_json(summary: pd.DataFrame, set_name: str, quality: int) -> dict:
    """{method: {score: value}} of one set at one QF, rounded, for `dvc metrics show`."""
    table = quality_table(summary, set_name, quality).set_index("method")
    table = table.drop(columns=[c for c in table if c.endswith("_ci95")])  # in the tables only
    return {
        m: {k: round(float(v), 4) for k, v in row.dropna().items()} for m, row in table.iterrows()
    }


def metrics_path(metrics_dir: Path, set_name: str, quality: int, method: str) -> Path:
    """`<set>/q<QF>/<method>.json`: one file per row, so that `dvc metrics show
    metrics/evaluate/<set>` prints a table with a row per QF and method and a column per
    score (a file per set and QF would make one row of every method's every score)."""
    return metrics_dir / set_name / quality_dir(quality) / f"{method}.json"


def write_evaluation(evaluation: Evaluation, out_dir: Path, metrics_dir: Path) -> pd.DataFrame:
    """per_image.csv, a CSV and a Markdown table per set and QF, one metrics JSON each."""
    summary = summarize(evaluation.per_image)
    shutil.rmtree(metrics_dir, ignore_errors=True)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "per_image.csv", evaluation.per_image, index=False, float_format="%.6g")
    write_csv(out_dir / "summary.csv", summary, index=False, float_format="%.6g")
    sections = [
        "# Evaluation\n\nMeans per set, JPEG QF and method; `per_image.csv` has every "
        "image (quality 0: the original).\n"
    ]
    for (set_name, quality), _ in summary.groupby(["set", "quality"], sort=False):
        stem = f"{set_name}_q{quality:02d}"
        table = quality_table(summary, set_name, quality)  # 6 digits: BRISQUE varies at 1e-11
        write_csv(out_dir / f"{stem}.csv", table, index=False, float_format="%.6g")
        text = table_markdown(evaluation, summary, set_name, quality)
        write_text(out_dir / f"{stem}.md", text)
        sections.append(text)
        for method, scores in metrics_json(summary, set_name, quality).items():
            write_json(metrics_path(metrics_dir, set_name, quality, method), scores)
    write_text(out_dir / "summary.md", "\n".join(sections))
    return summary


def run_evaluation(params: Params, root: str | Path, device: torch.device, progress: bool = True):
    """The whole stage: score, write tables and metrics; returns (gallery, evaluation, summary)."""
    root = Path(root)
    gallery = gallery_of(params, root, device)
    for method in gallery.methods:  # fail early, before minutes of scoring, if one is missing
        for quality in gallery.qualities.get(method, params.degradation.qualities):
            gallery.generator(method, quality)
    evaluation = evaluate(
        gallery,
        scored_sets(params, root),
        params.degradation.qualities,
        params.evaluate.crop_border,
        Lpips.load(weights_for("alexnet", root), device),
        progress,
        params.evaluate.set_qualities,
    )
    out_dir = resolve_path(params.evaluate.out_dir, root) / "tables"
    metrics_dir = resolve_path(params.reports.metrics_dir, root) / "evaluate"
    summary = write_evaluation(evaluation, out_dir, metrics_dir)
    return gallery, evaluation, summary


def _crop_notes(evaluation: Evaluation, set_name: str, key: str, quality: int) -> dict:
    """Under each label of the crop figure: PSNR-Y and NIQE of that whole image, and the
    perceptual loss of a method trained with one."""
    per_image = evaluation.per_image
    rows = per_image[(per_image["set"] == set_name) & (per_image["key"] == key)]
    rows = rows[rows["quality"].isin([0, quality])].set_index("method")
    return {
        m: (f"{r.psnr_y:.2f} dB Y, " if np.isfinite(r.psnr_y) else "")
        + f"NIQE {r.niqe:.2f}"
        + (f"\n{evaluation.losses[m]}" if m in evaluation.losses else "")
        for m, r in rows.iterrows()
    }


def evaluation_figures(
    gallery: Gallery,
    evaluation: Evaluation,
    summary: pd.DataFrame,
    params: Params,
    root: str | Path,
) -> dict[str, object]:
    """Per set: metrics against the QF, and one crop across methods; written and returned."""
    from .plots import crops_across_methods, metric_curves, save_figure

    figures_dir = resolve_path(params.evaluate.out_dir, root) / "figures"
    quality, figures = params.evaluate.figure_quality, {}
    for set_name in scored_sets(params, Path(root)):
        rows = summary[summary["set"] == set_name]
        figures[f"{set_name}_curves"] = metric_curves(rows, f"{set_name}: mean over images")
        key = gallery.most_colourful(set_name)
        versions = {
            m: gallery.image(set_name, key, quality, m)
            for m in gallery.choices
            if gallery.trained(m, quality)
        }
        title = f"{set_name}/{key}, JPEG QF {quality}"
        notes = _crop_notes(evaluation, set_name, key, quality)
        figures[f"{set_name}_crops"] = crops_across_methods(
            versions, params.reports.figure_crop, title, notes
        )
    for name, figure in figures.items():
        save_figure(figure, figures_dir / f"{name}.png")
    return figures


def evaluate_predictor(
    params: Params, root: str | Path, device: torch.device, progress: bool = True
) -> dict:
    """The QF predictor on every test set: confusion matrices (CSV, figure) and DVC metrics."""
    from .qf_report import qf_tables, write_confusion

    root = Path(root)
    path = resolve_path(params.train_qf.models_dir, root) / "predictor.pt"
    net = load_predictor(path, device)
    count = params.train_qf.predict_patches
    folders, images = evaluation_folders(params, root), params.evaluate.sampled_images
    tables = qf_tables(net, folders, count, device, progress, images)
    out_dir = resolve_path(params.evaluate.out_dir, root)
    shutil.rmtree(out_dir / "qf", ignore_errors=True)
    metrics = write_confusion(tables, out_dir / "qf", out_dir / "figures" / "qf_confusion.png")
    qf_dir = resolve_path(params.reports.metrics_dir, root) / "qf_predictor"
    shutil.rmtree(qf_dir, ignore_errors=True)
    for set_name, scores in metrics.items():  # a row per test set in `dvc metrics show`
        write_json(qf_dir / f"{set_name}.json", scores)
    return {"tables": tables, "metrics": metrics}


SWEEP = "benchmarks/sweep"  # the do-no-harm sweep's results (benchmarks/sweep.py), in the repo


def sweep_table(root: str | Path) -> pd.DataFrame | None:
    """The do-no-harm sweep of `restore` on held-out images (benchmarks/sweep.py, kept in the
    repository): the mean and worst PSNR-Y gain over the input (dB) per QF, for each method on
    JPEG files and on PNG copies; None when it has not been run."""
    path = Path(root) / SWEEP / "images_summary.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    table["quality"] = table["quality"].map(lambda q: "never" if q == 100 else str(q))
    wide = table.pivot_table(
        index="quality", columns=["method", "form"], values=["gain_y", "worst_y"], sort=False
    )
    return wide.round(2)


def lead_set(sets: Sequence[str]) -> str:
    """The set a report leads with: the first benchmark set (not made by the pipeline), else
    the corpus' held-out split."""
    return next((s for s in sets if s != "test"), sets[0])


def headline(evaluation: Evaluation, summary: pd.DataFrame, set_name: str, quality: int) -> str:
    """The result in a sentence and a short table: each method's PSNR-Y gain over JPEG with
    its 95% interval, SSIM-Y and NIQE (LPIPS when computed), on one set at one QF."""
    table = quality_table(summary, set_name, quality)
    count = evaluation.per_image.query("set == @set_name and method == @ORIGINAL").shape[0]
    title = evaluation.titles.get(set_name, set_name)
    rows = table.set_index("method")
    methods = [m for m in rows.index if m not in (ORIGINAL, JPEG)]
    if not methods or "gain_y" not in rows:
        return f"**{title}, JPEG QF {quality}:** no trained method is scored at this QF.\n"
    faithful = rows.loc[methods, "gain_y"].idxmax()
    parts = [
        f"**{title}, {count} images at JPEG QF {quality}.** Closest to the originals: "
        f"**{faithful}**, {rows.at[faithful, 'gain_y']:+.2f} ± "
        f"{rows.at[faithful, 'gain_y_ci95']:.2f} dB PSNR-Y over JPEG (95% interval)."
    ]
    if "niqe" in rows and rows.loc[methods, "niqe"].notna().any():
        natural = rows.loc[methods, "niqe"].idxmin()
        others = [
            f"{name} {rows.at[row, 'niqe']:.2f}"
            for name, row in (("JPEG", JPEG), ("the originals", ORIGINAL))
            if row in rows.index and pd.notna(rows.at[row, "niqe"])
        ]
        parts.append(
            f"Most natural: **{natural}**, NIQE {rows.at[natural, 'niqe']:.2f}"
            + (f" ({', '.join(others)}; lower is more natural)" if others else "")
            + f", at {rows.at[natural, 'gain_y']:+.2f} dB."
        )
    columns = [
        c for c in ("psnr_y", "gain_y", "gain_y_ci95", "ssim_y", "lpips", "niqe") if c in table
    ]
    shown = with_intervals(table[["method", *columns]].dropna(axis=1, how="all"))
    return (
        " ".join(parts)
        + "\n\n"
        + markdown_table(shown)
        + "\n\nBelow: the same crop of every version, then how this was measured, every set and "
        "QF, the perception-distortion dial, the QF predictor and the do-no-harm sweep.\n"
    )


def first_screen(params_path: str | Path):
    """The report's first screen: the whole evaluation run, then its result shown before
    anything else (`headline` on the lead set, and the crop across methods). Returns what the
    rest of the report reads: params, root, device, sets, gallery, evaluation, summary,
    figures."""
    from IPython.display import Markdown, display

    from ..config import find_project_root, load_params
    from ..runtime import select_device

    params = load_params(params_path)
    root = find_project_root()
    device = select_device(params.device)
    sets = scored_sets(params, root)
    gallery, evaluation, summary = run_evaluation(params, root, device)
    figures = evaluation_figures(gallery, evaluation, summary, params, root)
    lead = lead_set(sets)
    display(Markdown(headline(evaluation, summary, lead, params.evaluate.figure_quality)))
    display(figures[f"{lead}_crops"])
    return params, root, device, sets, gallery, evaluation, summary, figures
