"""The README's before/after: a held-out photograph at a low QF, restored by `restore` as a user
runs it (no options: the committed release and its default), beside the JPEG and the original.

A photograph of a benchmark set (never in the training corpus) is saved by Pillow at --quality,
restored with `restore_files`' defaults, and the busiest --crop square of it is shown in three
panels, magnified --zoom times with square pixels (JPEG's 8x8 blocks stay visible), each titled
with the whole image's PSNR-Y against the original.

    python benchmarks/readme_crop.py --image parrots --quality 10 --out docs/images/restore.png
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).parent))
from sweep import decoded, held_out_images, jpeg_bytes

from artifact_removal.data.images import busiest_crop
from artifact_removal.metrics.full_reference import psnr
from artifact_removal.restore.options import ImageOutput
from artifact_removal.restore.run import restore_files


def panel(pixels: np.ndarray, corner: tuple[int, int], size: int, zoom: int, title: str):
    """The crop at `corner`, magnified with square pixels, a title strip above it."""
    y, x = corner
    crop = Image.fromarray(pixels[y : y + size, x : x + size])
    crop = crop.resize((size * zoom, size * zoom), Image.Resampling.NEAREST)
    out = Image.new("RGB", (crop.width, crop.height + 22), "white")
    out.paste(crop, (0, 22))
    ImageDraw.Draw(out).text((4, 5), title, fill="black")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=Path("../shared/data/LIVE1_color"))
    parser.add_argument("--image", default="parrots", help="which photograph of --images")
    parser.add_argument("--quality", type=int, default=10)
    parser.add_argument("--crop", type=int, default=96)
    parser.add_argument("--zoom", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("docs/images/restore.png"))
    args = parser.parse_args(argv)
    images = held_out_images(args.images, 10**6)
    if args.image not in images:
        raise SystemExit(f"error: no {args.image} in {args.images}: {', '.join(images)}")
    original = images[args.image]
    with tempfile.TemporaryDirectory(prefix="readme-crop-") as tmp:
        source = Path(tmp) / f"{args.image}.jpg"
        source.write_bytes(jpeg_bytes(original, args.quality))
        report = restore_files(
            [source], Path(tmp) / "out", progress=False, image=ImageOutput("png")
        )
        (result,) = report.results
        if result.status != "restored":
            raise SystemExit(f"error: {result.source} was {result.status}: {result.notes}")
        jpeg, restored = decoded(source), decoded(result.output)
    corner = busiest_crop(original, args.crop)
    before, after = psnr(original, jpeg, "y"), psnr(original, restored, "y")
    panels = [
        panel(jpeg, corner, args.crop, args.zoom, f"JPEG QF {args.quality}: {before:.2f} dB"),
        panel(restored, corner, args.crop, args.zoom, f"restored: {after:.2f} dB"),
        panel(original, corner, args.crop, args.zoom, "original"),
    ]
    sheet = Image.new("RGB", (sum(p.width for p in panels) + 8 * 2, panels[0].height), "white")
    x = 0
    for p in panels:
        sheet.paste(p, (x, 0))
        x += p.width + 8
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"{args.image} at QF {args.quality}: PSNR-Y {before:.2f} -> {after:.2f} dB "
          f"({after - before:+.2f}); {report.used}")  # fmt: skip
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
