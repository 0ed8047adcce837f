"""What writing a restoration as JPEG costs: the quality of `restore --format auto`'s JPEG outputs.

`restore` writes a JPEG input back as a JPEG (4:4:4, at `--image-quality`, 95 unless given).
Held-out photographs (a benchmark set, never in the training corpus; LIVE1 colour by default)
are saved by Pillow at each QF, restored by `restore_files` (the function behind the command)
into lossless PNGs, and each restoration is then written as `restore` writes a JPEG output
(`restore.image_files.write_image_record`) at several qualities. For each method, QF and
output quality: the PSNR-Y gain over the input JPEG that survives the second encoding, as dB
and as a share of the lossless gain, and the output's bytes against the input's.

Run inside a project after `make repro`, e.g.

    python benchmarks/jpeg_output.py --images ../shared/data/LIVE1_color --count 10

It prints a Markdown table (keep it in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from artifact_removal.data.images import read_image
from artifact_removal.metrics.full_reference import psnr
from artifact_removal.restore.image_files import write_image_record
from artifact_removal.restore.options import ImageOutput
from artifact_removal.restore.run import restore_files

OUTPUT_QUALITIES = (85, 90, 95, 98, 100)


def held_out(folder: Path, count: int) -> dict[str, np.ndarray]:
    """`count` images of a benchmark folder, spread over its sorted names: name -> RGB uint8."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".bmp"))
    if not files:
        raise SystemExit(f"error: no PNG or BMP images in {folder}")
    picked = [files[round(i)] for i in np.linspace(0, len(files) - 1, min(count, len(files)))]
    return {p.stem: read_image(p).pixels for p in picked}


def measure(images: dict, method: str, quality: int, work: Path) -> list[dict]:
    """One row per image and output quality: PSNR-Y of the input, of the lossless restoration
    and of its JPEG outputs, and the bytes of each."""
    folder = work / f"q{quality}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, pixels in images.items():
        Image.fromarray(pixels).save(folder / f"{name}.jpg", quality=quality)
    out = work / f"{method}_q{quality}"
    report = restore_files([folder], out, method=method, quality=quality, progress=False,
                           image=ImageOutput("png"), overwrite=True)  # fmt: skip
    if report.failed:
        raise SystemExit(report.summary())
    rows = []
    for name, original in images.items():
        jpeg = folder / f"{name}.jpg"
        restored = read_image(out / f"{name}.png").pixels
        base = psnr(original, read_image(jpeg).pixels, "y")
        row = {"method": method, "QF": quality, "image": name, "input_bytes": jpeg.stat().st_size,
               "gain_png": psnr(original, restored, "y") - base}  # fmt: skip
        for q in OUTPUT_QUALITIES:
            target = work / "encoded" / f"{name}_{q}.jpg"
            target.parent.mkdir(exist_ok=True)
            write_image_record(target, restored, ImageOutput("jpeg", q), 8, False, {})
            row[f"gain_{q}"] = psnr(original, read_image(target).pixels, "y") - base
            row[f"bytes_{q}"] = target.stat().st_size
        rows.append(row)
    return rows


def summary(table: pd.DataFrame) -> str:
    """Per method and QF: the lossless gain, then for each output quality the gain kept (dB,
    and share of the lossless gain) and the output's size against the input's."""
    lines = [
        "| method | QF | gain PNG (dB) | "
        + " | ".join(f"JPEG {q}: gain, kept, size" for q in OUTPUT_QUALITIES)
        + " |",
        "|---|---|---|" + "---|" * len(OUTPUT_QUALITIES),
    ]
    for (method, quality), rows in table.groupby(["method", "QF"], sort=True):
        png = rows.gain_png.mean()
        cells = []
        for q in OUTPUT_QUALITIES:
            gain = rows[f"gain_{q}"].mean()
            size = (rows[f"bytes_{q}"] / rows.input_bytes).mean()
            cells.append(f"{gain:+.2f}, {gain / png:.0%}, {size:.1f}x")
        lines.append(f"| {method} | {quality} | {png:+.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=Path("../shared/data/LIVE1_color"))
    parser.add_argument("--count", type=int, default=10, help="images, spread over the set")
    parser.add_argument("--methods", nargs="+", default=["ssim", "gan"])
    parser.add_argument("--qualities", nargs="+", type=int, default=[10, 20, 30, 40])
    parser.add_argument("--csv", type=Path, help="write the per-image rows here too")
    args = parser.parse_args()
    images = held_out(args.images, args.count)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for method in args.methods:
            for quality in args.qualities:
                rows += measure(images, method, quality, Path(work))
    table = pd.DataFrame(rows)
    if args.csv:
        table.to_csv(args.csv, index=False)
    print(f"{len(images)} images of {args.images}, PSNR-Y gain over the input JPEG (mean)")
    print(summary(table))


if __name__ == "__main__":
    main()
