"""What writing a restored video costs: PSNR lost by encoding the restored frames, and sizes.

Held-out clips (photographs of a benchmark set panned by a virtual camera) are encoded by
libx264 at its defaults at a few CRFs, restored by `restore_files` into lossless FFV1 (the
restored frames exactly), and those frames written again as `restore` writes H.264
(`restore.video.restore_video` with an identity restorer) at several output CRFs, in 4:4:4
and in 4:2:0 chroma. The cost
of writing is PSNR(original, restored frames) - PSNR(original, written video), RGB, dB; the
size is the written file's over the input's.

    python benchmarks/video_output.py --images ../shared/data/LIVE1_color --method video_ssim
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from artifact_removal.degradations.h264 import decode_clip
from artifact_removal.metrics.full_reference import psnr
from artifact_removal.restore.run import restore_files
from artifact_removal.restore.video import VideoOutput, restore_video

sys.path.insert(0, str(Path(__file__).parent))
from sweep import clips, held_out_images, x264_default

INPUT_CRFS = (23, 35, 45)
OUTPUT_CRFS = (16, 10, 8, 6, 4, 0)
OFFSETS = (0, 3, 6, 9, 12)  # --relative: output CRF = input CRF - offset
CHROMA = ("444", "420")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=Path("../shared/data/LIVE1_color"))
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--frames", type=int, default=36)
    parser.add_argument("--size", type=int, nargs=2, default=(240, 352), metavar=("H", "W"))
    parser.add_argument("--method", default="video_ssim",
                        help="a video method, or 'input': the decoded input itself, what "
                        "writing costs without training anything")  # fmt: skip
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--relative", action="store_true",
                        help="output CRFs relative to the input's: its CRF - offset")  # fmt: skip
    args = parser.parse_args(argv)
    truth = clips(held_out_images(args.images, args.clips), args.frames, tuple(args.size), 25, 26)
    rows = []
    with tempfile.TemporaryDirectory(prefix="video-output-") as tmp:
        work = Path(tmp)
        for name, gt in truth.items():
            for crf in INPUT_CRFS:
                source = work / f"{name}_crf{crf}.mp4"
                source.write_bytes(x264_default(gt, crf, 25))
                if args.method == "input":
                    lossless = source
                else:
                    report = restore_files([source], work / "ffv1", method=args.method,
                                           quality=crf, video=VideoOutput("ffv1"),
                                           progress=False)  # fmt: skip
                    lossless = report.results[0].output
                restored = decode_clip(lossless).frames
                base = psnr(gt, restored, "rgb")
                outs = [max(crf - d, 0) for d in OFFSETS] if args.relative else OUTPUT_CRFS
                for chroma, out_crf in ((c, q) for c in CHROMA for q in outs):
                    target = work / f"{name}_crf{crf}_out{out_crf}_{chroma}.mp4"
                    restore_video(lossless, target, lambda f: f, {"benchmark": 1},
                                  VideoOutput("h264", out_crf, args.preset, chroma),
                                  progress=False)  # fmt: skip
                    written = decode_clip(target).frames
                    rows.append({"clip": name, "input_crf": crf, "chroma": chroma,
                                 "output_crf": out_crf if not args.relative
                                 else f"-{crf - out_crf}",
                                 "restored": base, "cost": base - psnr(gt, written, "rgb"),
                                 "size": target.stat().st_size
                                 / source.stat().st_size})  # fmt: skip
                print(f"  {name} CRF {crf}: restored {base:.2f} dB", flush=True)
    table = pd.DataFrame(rows)
    summary = table.pivot_table(index=["chroma", "output_crf"], columns="input_crf",
                                values=["cost", "size"], aggfunc="mean")  # fmt: skip
    worst = table.groupby(["chroma", "output_crf"]).cost.max().rename("worst cost")
    print(pd.concat([summary, worst], axis=1).round(3).to_string())
    print(
        f"cost: dB of RGB PSNR lost by writing (mean over {len(truth)} clips); size: output "
        f"bytes / input bytes; preset {args.preset}; {np.mean(table.restored):.2f} dB restored"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
