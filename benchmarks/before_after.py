"""Before and after issue 26, by eye: a QF-90 photograph and a frame of a held-out clip.

Row 1: a LIVE1 photograph (never in the training corpus) saved by Pillow at QF 90, as a
camera would, restored by `restore` with its defaults. Before issue 26 the QF-60 generator
restored it (the tables said 90, and the ladder stopped at 60); `--restore-uncompressed` does
the same today, so that column is made with it.

Row 2: the same photograph panned into a clip, encoded by libx264 at its defaults with CRF
40, restored by `restore` with its defaults. Before issue 26 the default method was the image
GAN, and the JPEG QF predictor called such frames "above 60": the QF-60 generator restored
every frame; `--method gan --quality 60` does the same today.

Each crop is labelled with its PSNR (RGB, whole image or clip) against the original.

    python benchmarks/before_after.py --out benchmarks/sweep/before_after.png
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from sweep import clips, decoded, held_out_images, jpeg_bytes, x264_default

from artifact_removal.data.images import busiest_crop
from artifact_removal.degradations.h264 import decode_clip
from artifact_removal.metrics.full_reference import psnr
from artifact_removal.restore.options import ImageOutput
from artifact_removal.restore.run import restore_files


def _restored(path: Path, out: Path, **options) -> tuple[np.ndarray, str]:
    """The output of `restore_files` for one input (the input when copied), and its line."""
    report = restore_files([path], out, progress=False, overwrite=True,
                           image=ImageOutput("png"), **options)  # fmt: skip
    (result,) = report.results
    line = result.choice.describe() if result.choice else result.status
    return result.output, f"{result.status}: {line}"


def photo_row(gt: np.ndarray, work: Path) -> list[tuple[str, np.ndarray]]:
    path = work / "photo_q90.jpg"
    path.write_bytes(jpeg_bytes(gt, 90))
    jpeg = decoded(path)
    before, why_before = _restored(path, work / "before", restore_uncompressed=True)
    after, why_after = _restored(path, work / "after")
    print(f"  QF 90, before: {why_before}\n  QF 90, now:    {why_after}")
    return [("original", gt), ("JPEG QF 90", jpeg),
            ("restored before (q60)", decoded(before)),
            ("restored now (default)", decoded(after) if after else jpeg)]  # fmt: skip


def clip_row(truth: np.ndarray, work: Path, fps: int) -> tuple[list, int]:
    path = work / "clip_crf40.mp4"
    path.write_bytes(x264_default(truth, 40, fps))
    h264 = decode_clip(path).frames
    before, why_before = _restored(path, work / "clip_before", method="gan", quality=60)
    after, why_after = _restored(path, work / "clip_after")
    print(f"  CRF 40, before: {why_before}\n  CRF 40, now:    {why_after}")
    return [("original", truth), ("H.264 CRF 40", h264),
            ("restored before (gan q60)", decode_clip(before).frames),
            ("restored now (default)", decode_clip(after).frames)], len(truth) // 2  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=Path("../shared/data/LIVE1_color"))
    parser.add_argument("--image", default="parrots", help="which photograph of --images")
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/sweep/before_after.png"))
    args = parser.parse_args(argv)
    images = held_out_images(args.images, 10_000)
    if args.image not in images:
        raise SystemExit(f"error: no {args.image} in {args.images}")
    gt = images[args.image]
    fps = 12
    truth = clips({args.image: gt}, 36, (240, 352), fps, 26)[args.image]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = [(photo_row(gt, work), None), clip_row(truth, work, fps)]
    fig, axes = plt.subplots(2, 4, figsize=(12, 7.2))
    for r, (panels, frame) in enumerate(rows):
        reference = panels[0][1]
        view = reference if frame is None else reference[frame]
        y, x = busiest_crop(view, args.crop)
        for c, (name, pixels) in enumerate(panels):
            shown = pixels if frame is None else pixels[frame]
            score = "" if c == 0 else f"\n{psnr(reference, pixels, 'rgb'):.2f} dB"
            axes[r, c].imshow(shown[y : y + args.crop, x : x + args.crop], interpolation="nearest")
            axes[r, c].set_title(f"{name}{score}", fontsize=10)
            axes[r, c].axis("off")
    fig.suptitle(f"LIVE1 {args.image}: a QF-90 JPEG (top) and a frame of a panned clip at "
                 "CRF 40 (bottom); PSNR RGB of the whole image or clip", fontsize=11)  # fmt: skip
    fig.tight_layout(h_pad=2.5)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
