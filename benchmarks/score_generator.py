"""Score a released generator on a prepared set: restored versus JPEG, PSNR (RGB, Y), SSIM (Y).

The set is one the prepare stage wrote, e.g. an extra evaluation set named in
`data.extra_sets`. With the standard sets beside this project:

    python -m artifact_removal profile profiles/benchmarks.yaml
    python -m artifact_removal prepare-set live1_color
    python benchmarks/score_generator.py models/ssim/q10.pt live1_color --quality 10

Prints one row per image and the means; `--append FILE` adds the means to a Markdown file.
"""

from __future__ import annotations

import argparse
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from artifact_removal.config import find_project_root, load_params
from artifact_removal.data.prepared import DataError, keys, load_compressed, set_folder
from artifact_removal.inference.releases import load_generator
from artifact_removal.inference.torch_backend import restore_array
from artifact_removal.metrics.no_reference import niqe_or_nan
from artifact_removal.training.supervised import evaluate_pairs


def score(
    model: Path, folder: Path, names: list[str], quality: int, niqe: bool = False
) -> pd.DataFrame:
    """Per image of a prepared set: JPEG's and the restored image's PSNR (RGB, Y), SSIM (Y),
    and with `niqe` the restored image's NIQE (`pred_niqe`)."""
    net, cpu = load_generator(model), torch.device("cpu")
    rows = []
    for key in tqdm(names, desc=f"score {folder.name} q{quality}", unit="img"):
        gt, jpegs = load_compressed(folder, key, [quality])
        scores = evaluate_pairs(net, [(gt, jpegs[quality].pixels)], cpu)
        if niqe:
            scores["pred_niqe"] = niqe_or_nan(restore_array(net, jpegs[quality].pixels, cpu))
        rows.append({"image": key} | scores)
    return pd.DataFrame(rows).set_index("image")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="release file, e.g. models/ssim/q10.pt")
    parser.add_argument("set", help="prepared set: test, val or an extra set's name")
    parser.add_argument("--quality", type=int, required=True)
    parser.add_argument("--params", type=Path, default=None)
    parser.add_argument("--append", type=Path, default=None, help="Markdown file for the means")
    args = parser.parse_args(argv)

    root = find_project_root(args.params.parent if args.params else None)
    params = load_params(args.params or root / "params.yaml")
    try:
        folder = set_folder(params, root, args.set)
        names = keys(folder)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table = score(args.model, folder, names, args.quality)
    means = table.mean()
    print(table.round(3).to_string())
    print(means.round(3).to_string())
    summary = (
        f"| {args.model} | {args.set} | {args.quality} | {len(names)} "
        f"| {means['jpeg_psnr_rgb']:.2f} | {means['pred_psnr_rgb']:.2f} "
        f"| {means['pred_psnr_rgb'] - means['jpeg_psnr_rgb']:+.2f} "
        f"| {means['jpeg_psnr_y']:.2f} | {means['pred_psnr_y']:.2f} "
        f"| {means['jpeg_ssim_y']:.4f} | {means['pred_ssim_y']:.4f} |"
    )
    print(summary)
    if args.append:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        with args.append.open("a") as out:
            out.write(f"{summary[:-1]}| {stamp}, {platform.machine()} |\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
