"""Time a training recipe and score what it trains: one method's generator for one QF, with
parameters changed, scored on prepared sets (its PSNR gain over JPEG, RGB and Y, and its NIQE).

The recipe retuning of issue 41 is measured with it, one point of the curve per call:

    python benchmarks/recipe_curve.py --quality 10 train_ssim.steps=2100
    python benchmarks/recipe_curve.py --quality 10 train_ssim.generator=very_fast \\
        train_ssim.lr=0.002 --append benchmarks/RESULTS.md

Each call trains into build/recipes/<name>/ (its own params file, models and reports, named by
the changes), so the pipeline's models, reports and dvc.lock stay as they are; a killed call
resumes from its checkpoint (in that folder too) when called again with the same changes. The
sets default to LIVE1 colour and gray (`data.extra_sets`, prepared by `dvc repro prepare_set`).

Every point goes into benchmarks/recipe_curve.csv (`--log`; with the points measured before
the script kept them, transcribed from RESULTS.md), and

    python benchmarks/recipe_curve.py --plot

draws them (benchmarks/recipe_curve.png): the gain against the minutes of training, beside the
issue's target and the published small models.
"""

from __future__ import annotations

import argparse
import csv
import platform
import re
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import yaml
from score_generator import score

from artifact_removal.config import find_project_root, load_params
from artifact_removal.data.prepared import DataError, keys, set_folder
from artifact_removal.methods import get as get_method
from artifact_removal.runtime import select_device
from artifact_removal.training.engine import train
from artifact_removal.training.run import Run

LOG = Path("benchmarks/recipe_curve.csv")  # in the project
FIELDS = ("method", "quality", "recipe", "minutes", "timed_alone", "live1_color_rgb",
          "live1_gray_y", "when", "cpu", "note")  # fmt: skip
TARGET_DB = 1.0  # issue 41: ssim at least +1.0 dB at QF 10 on LIVE1 colour RGB and LIVE1 gray


def changed(params: dict, changes: list[str]) -> dict:
    """`params` with each `dotted.key=value` of `changes` set (the value read as YAML)."""
    for change in changes:
        key, sep, value = change.partition("=")
        if not sep:
            raise ValueError(f"{change!r}: give a change as section.key=value")
        *path, last = key.split(".")
        node = params
        for part in path:
            if not isinstance(node.get(part), dict):
                raise ValueError(f"{change!r}: params.yaml has no section {key.rsplit('.', 1)[0]}")
            node = node[part]
        if last not in node:
            raise ValueError(f"{change!r}: params.yaml has no key {key}")
        node[last] = yaml.safe_load(value)
    return params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("changes", nargs="*", help="section.key=value, e.g. train_ssim.steps=2100")
    parser.add_argument("--method", default="ssim")
    parser.add_argument("--quality", type=int, default=10)
    parser.add_argument("--set", action="append", dest="sets", help="prepared set (repeatable)")
    parser.add_argument("--append", type=Path, default=None, help="Markdown file for the row")
    parser.add_argument(
        "--tag", default="", help="added to the folder name and the row, e.g. avx2-cap"
    )
    parser.add_argument(
        "--log", type=Path, default=None, help=f"CSV of the points (the project's {LOG})"
    )
    parser.add_argument(
        "--alone",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="whether nothing else ran beside it (the minutes compare)",
    )
    parser.add_argument("--note", default="", help="said beside the point in the log")
    parser.add_argument("--plot", action="store_true", help="only draw the log's points")
    args = parser.parse_args(argv)
    root = find_project_root(None)
    args.log = args.log or root / LOG
    if args.plot:
        out = args.log.with_suffix(".png")
        plot(args.log, out)
        print(f"wrote {out}")
        return 0
    name = re.sub(r"[^A-Za-z0-9_.=+-]+", "_", "+".join(args.changes) or "default")
    if args.tag:
        name += "_" + re.sub(r"[^A-Za-z0-9_.=+-]+", "_", args.tag)
    folder = root / "build" / "recipes" / f"{args.method}_q{args.quality}_{name}"
    section = get_method(args.method).section
    try:
        raw = changed(yaml.safe_load((root / "params.yaml").read_text()), args.changes)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    raw[section]["models_dir"] = str(folder / "models")
    raw["reports"]["dir"] = str(folder / "reports")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    params = load_params(folder / "params.yaml")

    sets = args.sets or ["live1_color", "live1_gray"]
    try:
        folders = {s: set_folder(params, root, s) for s in sets}
        names = {s: keys(f) for s, f in folders.items()}
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    run = Run.from_params(params, args.method, args.quality, root)
    run = replace(run, checkpoint=folder / "checkpoint.pt")  # not the pipeline's
    start = time.perf_counter()
    train(run, select_device(params.device))
    minutes = (time.perf_counter() - start) / 60
    gains, measured = [], {}
    for s, f in folders.items():
        means = score(run.release, f, names[s], args.quality, niqe=True).mean()
        rgb = means["pred_psnr_rgb"] - means["jpeg_psnr_rgb"]
        y = means["pred_psnr_y"] - means["jpeg_psnr_y"]
        said = f"{s} ({len(names[s])}): RGB {rgb:+.2f}, Y {y:+.2f}, NIQE {means['pred_niqe']:.2f}"
        gains.append(said)
        measured[s] = rgb if s == "live1_color" else y
    stamp = f"{datetime.now(UTC):%Y-%m-%d}, {platform.processor() or platform.machine()}"
    recipe = " ".join(args.changes) or "(params.yaml)"
    if args.tag:
        recipe += f" [{args.tag}]"
    row = f"| {args.method} q{args.quality} {recipe} | {minutes:.1f} min | {'; '.join(gains)} "
    row += f"| {stamp} |"
    print(row)
    if args.append:
        with args.append.open("a") as out:
            out.write(row + "\n")
    point = {
        "method": args.method, "quality": args.quality, "recipe": recipe,
        "minutes": f"{minutes:.1f}", "timed_alone": str(args.alone).lower(),
        "live1_color_rgb": _rounded(measured.get("live1_color")),
        "live1_gray_y": _rounded(measured.get("live1_gray")),
        "when": f"{datetime.now(UTC):%Y-%m-%d}", "cpu": platform.processor() or platform.machine(),
        "note": args.note,
    }  # fmt: skip
    new = not args.log.is_file()
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with args.log.open("a", newline="") as out:
        writer = csv.DictWriter(out, FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(point)
    return 0


def _rounded(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def plot(log: Path, out: Path) -> None:
    """The log's points: the gain over JPEG at QF 10 (LIVE1 colour RGB, LIVE1 gray Y) against
    the minutes of training on 2 CPU cores; hollow markers for minutes taken beside other work
    (not comparable); the issue's target and the published ARCNN and DnCNN-3 (LIVE1 gray)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from artifact_removal.stages.published_tables import published_rows

    points = pd.read_csv(log)
    points = points[(points["method"] == "ssim") & (points["quality"] == 10)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    published = published_rows("live1_gray", 10).set_index("method")["psnr_y"]
    for ax, column, title in (
        (axes[0], "live1_color_rgb", "LIVE1 colour (29), PSNR-RGB gain"),
        (axes[1], "live1_gray_y", "LIVE1 gray (29), PSNR-Y gain"),
    ):
        steps = points[points["recipe"].str.contains("steps|params.yaml", regex=True)]
        steps = steps.assign(
            n=steps["recipe"].str.extract(r"steps=(\d+)")[0].fillna("700").astype(int)
        ).sort_values("n")
        curve = steps.groupby("n").first()
        ax.plot(curve["minutes"], curve[column], "-", color="tab:blue", lw=1,
                label="tiny generator, more steps")  # fmt: skip
        labelled = set()
        for _, row in points.iterrows():
            alone = str(row["timed_alone"]).lower() == "true"
            ax.plot(row["minutes"], row[column], "o", ms=6, color="tab:blue",
                    mfc="tab:blue" if alone else "white")  # fmt: skip
            label = _label(row["recipe"])
            if label in labelled:
                continue  # a repeat: one label per recipe
            labelled.add(label)
            below = label.startswith("default")
            ax.annotate(label, (row["minutes"], row[column]), textcoords="offset points",
                        xytext=(6, -12 if below else 4), fontsize=7)  # fmt: skip
        ax.axhline(TARGET_DB, color="tab:red", ls="--", lw=1, label="issue 41's target")
        if column == "live1_gray_y":
            jpeg = published["jpeg"]
            for name, colour in (("arcnn", "tab:green"), ("dncnn3", "tab:purple")):
                ax.axhline(published[name] - jpeg, color=colour, ls=":", lw=1,
                           label=f"{name.upper()}, published")  # fmt: skip
        ax.set(title=title, xlabel="minutes of training for one QF (2 CPU cores)")
        ax.set_xlim(0, max(points["minutes"]) * 1.35)
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("dB over JPEG, QF 10")
    fig.suptitle("train_ssim@10 on BSDS500 (hollow: timed beside other work)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def _label(recipe: str) -> str:
    """A point's short label: its changes without the section names."""
    if recipe.startswith("(params.yaml)"):
        return "default (700 steps)"
    return re.sub(r"\b\w+\.(?=\w+=)", "", recipe)


if __name__ == "__main__":
    sys.exit(main())
