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
"""

from __future__ import annotations

import argparse
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
from artifact_removal.training.engine import Run, train


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
    parser.add_argument("--quality", type=int, required=True)
    parser.add_argument("--set", action="append", dest="sets", help="prepared set (repeatable)")
    parser.add_argument("--append", type=Path, default=None, help="Markdown file for the row")
    parser.add_argument(
        "--tag", default="", help="added to the folder name and the row, e.g. avx2-cap"
    )
    args = parser.parse_args(argv)

    root = find_project_root(None)
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
    gains = []
    for s, f in folders.items():
        means = score(run.release, f, names[s], args.quality, niqe=True).mean()
        rgb = means["pred_psnr_rgb"] - means["jpeg_psnr_rgb"]
        y = means["pred_psnr_y"] - means["jpeg_psnr_y"]
        said = f"{s} ({len(names[s])}): RGB {rgb:+.2f}, Y {y:+.2f}, NIQE {means['pred_niqe']:.2f}"
        gains.append(said)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
