"""A video's CRF, told two ways, on clips the project did not make (issue 26): the CRF read from
the stream's H.264 QPs (`inference.crf_reading`, stage crf_reading) and the CRF predictor (a CNN
on one frame half a second in, as `restore` uses it).

Held-out photographs (a benchmark set, never in the training corpus; LIVE1 colour by default)
are filmed by a virtual camera (`data.video.camera_motion`, the motions in turn) and encoded by
libx264 at CRFs from 20 to 47, each clip and CRF with x264 settings drawn from presets
ultrafast..veryslow, GOP lengths 12..250, 0..3 B-frames and tunes none/film/grain (seeded), and
once more at x264's own defaults at the sweep's CRFs. Both answers are compared with the true
CRF: the share within 3 steps (issue 26's target: 90% of clips), the mean absolute error and
the mean signed error (negative: a gentler CRF than the truth, the safer side).

Run inside a project after `dvc repro` (it reads the project's fit and CRF predictor):

    python benchmarks/crf_reading.py --images ../shared/data/LIVE1_color \
        --out benchmarks/crf_reading
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from artifact_removal.config import find_project_root, load_params, resolve_path
from artifact_removal.data.video import camera_motion
from artifact_removal.inference.crf_reading import QPFit
from artifact_removal.inference.qf import predict
from artifact_removal.inference.releases import load_predictor
from artifact_removal.restore.one_video import sample_frame

sys.path.insert(0, str(Path(__file__).parent))
from sweep import CRFS, held_out_images, x264_default

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
           "veryslow")  # fmt: skip
GOPS = (12, 25, 50, 120, 250)
BFRAMES = (0, 1, 2, 3)
TUNES = ("", "film", "grain")
MOTIONS = ("pan", "zoom", "shake")


def drawn_options(rng: np.random.Generator) -> dict:
    options = {"preset": str(rng.choice(PRESETS)), "g": str(rng.choice(GOPS)),
               "bf": str(rng.choice(BFRAMES))}  # fmt: skip
    tune = str(rng.choice(TUNES))
    return options | ({"tune": tune} if tune else {})


def summary(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per group: clips, and for the reading and the CNN the share within 3, MAE, mean error."""
    rows = []
    for key, group in [*table.groupby(by), ("all", table)]:
        row = {by: key, "clips": len(group)}
        for name in ("reading", "cnn"):
            error = group[name] - group["crf"]
            row |= {f"{name}_within_3": round(float((error.abs() <= 3).mean()), 3),
                    f"{name}_mae": round(float(error.abs().mean()), 2),
                    f"{name}_bias": round(float(error.mean()), 2)}  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=Path("../shared/data/LIVE1_color"))
    parser.add_argument("--count", type=int, default=12, help="photographs taken from it")
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--size", type=int, nargs=2, default=(240, 352), metavar=("H", "W"))
    parser.add_argument("--crfs", type=int, nargs="+", default=list(range(20, 48, 3)))
    parser.add_argument("--seed", type=int, default=26)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/crf_reading"))
    args = parser.parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")
    root = find_project_root(Path.cwd())
    params = load_params(root / "params.yaml")
    reading = QPFit.load(resolve_path(params.crf_reading.out, root))
    predictor = load_predictor(resolve_path(params.video.predictor_dir, root) / "predictor.pt")
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="crf-reading-") as tmp:
        clip_file = Path(tmp) / "clip.mp4"
        images = held_out_images(args.images, args.count)
        for i, (name, still) in enumerate(images.items()):
            motion = MOTIONS[i % len(MOTIONS)]
            frames = camera_motion(still, tuple(args.size), args.frames, motion, args.seed + i)
            runs = [(crf, drawn_options(rng), "drawn") for crf in args.crfs]
            runs += [(crf, {}, "x264 defaults") for crf in CRFS]
            for crf, options, kind in runs:
                clip_file.write_bytes(x264_default(frames, crf, 25, options))
                read = reading.read(clip_file)
                cnn = predict(predictor, sample_frame(clip_file), higher_is_gentler=False)
                rows.append({"clip": f"{name}_{motion}", "kind": kind, "crf": crf,
                             "options": " ".join(f"{k}={v}" for k, v in options.items()),
                             "qp": read.qp if read else np.nan,
                             "reading": read.quality if read else np.nan,
                             "cnn": cnn.quality, "cnn_confidence": cnn.confidence})  # fmt: skip
            print(f"  {name} ({motion}): {len(runs)} streams", flush=True)
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "streams.csv", index=False, float_format="%.3f")
    pd.set_option("display.width", 200)
    for kind, group in table.groupby("kind"):
        result = summary(group, "crf")
        result.to_csv(args.out / f"summary_{kind.replace(' ', '_')}.csv", index=False)
        print(f"\n{kind}: {len(group)} streams of {group['clip'].nunique()} clips")
        print(result.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
