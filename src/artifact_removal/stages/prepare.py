"""The prepare stages' reports: metrics for DVC, the JPEG baseline table, figures."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..config import Params, resolve_path
from ..data.images import colourfulness, read_png
from ..data.prepare import PreparedData, members, prepare_extra_set, summarize_jpeg
from ..data.prepared import load_compressed, quality_dir
from ..fileio import write_json, write_text
from .plots import image_row, qf_ladder, save_figure


def prepare_metrics(prepared: PreparedData) -> dict:
    """The DVC metrics of the prepare stage: counts and pixels, and JPEG itself per QF.

    `jpeg` maps each QF ('q10') to the held-out split (test) and its mean bpp, PSNR and SSIM;
    the training and validation images are left to images.csv, the extra evaluation sets to
    the evaluate stage.
    """
    corpus = prepared.report["set"].isin(members("corpus"))
    status = prepared.report.loc[corpus, "status"].value_counts()
    sizes = prepared.images.drop_duplicates(["set", "key"])
    train = sizes[sizes["set"] == "train"]
    metrics = {
        "corpus": {s: int(status.get(s, 0)) for s in ("used", "converted", "skipped")},
        "images": {name: len(keys) for name, keys in prepared.splits.items()},
        # one number, not one per split: `dvc metrics show` stays narrow (images.csv has all)
        "train_megapixels": round(float((train.height * train.width).sum()) / 1e6, 3),
        "jpeg": {},
    }
    table = summarize_jpeg(prepared.images).drop(columns="images")
    for (set_name, quality), row in table.iterrows():
        if set_name not in ("train", "val"):
            entry = metrics["jpeg"].setdefault(quality_dir(quality), {})
            entry[set_name] = {k: round(float(v), 4) for k, v in row.items()}
    return metrics


def write_metrics(metrics: dict, metrics_dir: str | Path) -> None:
    """`prepare.json` (counts) and one `jpeg/q<QF>.json` per QF, so that `dvc metrics show`
    prints the JPEG baseline as a table with a row per QF."""
    metrics_dir = Path(metrics_dir)
    shutil.rmtree(metrics_dir / "jpeg", ignore_errors=True)
    write_json(metrics_dir / "prepare.json", {k: v for k, v in metrics.items() if k != "jpeg"})
    for quality, sets in metrics["jpeg"].items():
        write_json(metrics_dir / "jpeg" / f"{quality}.json", sets)


def jpeg_table_markdown(prepared: PreparedData) -> str:
    """The JPEG baseline per set and QF as Markdown, with its conventions stated."""
    table = summarize_jpeg(prepared.images).reset_index()
    table = table[[c for c in table if not table[c].isna().all()]]
    return (
        "# JPEG itself at each quality factor\n\n"
        "Pillow/libjpeg baseline JPEG, standard IJG tables, 4:2:0 chroma unless the params say\n"
        "otherwise; whole images compressed. Means over images. PSNR in dB on 8-bit values\n"
        "(data range 255), on RGB and on Y (BT.601, 16..235; gray images: their own values);\n"
        "SSIM with a Gaussian window (sigma 1.5, population covariance); no border crop.\n\n"
        + table.to_markdown(index=False, floatfmt=".4f", missingval="")
        + "\n"
    )


def training_additions(prepared: PreparedData):
    """A figure of what the train split adds to the photographs: colour variants, dead leaves.

    None when the params add neither.
    """
    gt_dir = prepared.out_dir / "sets" / "train" / "gt"
    keys = prepared.splits.get("train", [])
    variants = [k for k in keys if "~" in k]
    leaves = [k for k in keys if k.startswith("dead_leaves_") and "~" not in k]
    shown = []
    if variants:
        photo = variants[0].split("~")[0]
        shown += [photo, *[k for k in variants if k.split("~")[0] == photo][:2]]
    shown += leaves[:2]
    if not shown:
        return None
    titles = [k.replace("~", " ~") for k in shown]
    return image_row([read_png(gt_dir / f"{k}.png") for k in shown], titles)


def write_prepare_reports(prepared: PreparedData, params: Params, root: str | Path) -> dict:
    """Metrics JSON, Markdown table and QF-ladder figure of the prepare stage."""
    reports = resolve_path(params.reports.dir, root)
    metrics = prepare_metrics(prepared)
    write_metrics(metrics, resolve_path(params.reports.metrics_dir, root))
    write_text(reports / "jpeg_baseline.md", jpeg_table_markdown(prepared))
    set_name = next(s for s in ("test", "val", "train") if prepared.splits.get(s))
    folder = prepared.out_dir / "sets" / set_name
    candidates = [
        load_compressed(folder, key, params.degradation.qualities)
        for key in prepared.splits[set_name][:8]  # a few: the test split may be large
    ]
    index = int(np.argmax([colourfulness(gt) for gt, _ in candidates]))
    (gt, jpegs), key = candidates[index], prepared.splits[set_name][index]
    figure = qf_ladder(gt, jpegs, params.reports.figure_crop, f"{set_name}/{key}")
    save_figure(figure, reports / "figures" / "qf_ladder.png")
    return {"metrics": metrics, "figure": figure}


def print_report(prepared: PreparedData) -> None:
    """How many files were used, converted or skipped; each one that was not used as it came."""
    report = prepared.report
    print(report["status"].value_counts().to_string())
    for row in report[report["status"] != "used"].itertuples():
        print(f"  {row.status}: {row.file}: {row.detail}")


def prepare_set_command(params: Params, name: str, root: Path) -> PreparedData:
    """Prepare one extra evaluation set and say what became of its files."""
    prepared = prepare_extra_set(params, name, root)
    print_report(prepared)
    if prepared.images.empty:
        print(f"warning: {name} is missing; the evaluation leaves it out")
    else:
        print(summarize_jpeg(prepared.images).round(4).to_string())
    print(f"{name}: {prepared.out_dir}")
    return prepared


def main(argv: list[str] | None = None) -> int:
    """The stage prepare_set@NAME: `python -m artifact_removal.stages.prepare NAME`."""
    import argparse
    import sys

    from ..config import ConfigError, find_project_root, load_params
    from ..data.prepared import DataError

    parser = argparse.ArgumentParser(prog="python -m artifact_removal.stages.prepare")
    parser.add_argument("name", help="a name in data.extra_sets")
    args = parser.parse_args(argv)
    try:
        prepare_set_command(load_params(), args.name, find_project_root())
    except (ConfigError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
