"""Benchmark the memory of `restore` on very large images: is it bounded by the tile?

Each size runs the whole command (`restore_files` on a JPEG file: decode, quality from the
tables, tiled restoration, PNG written) in a fresh Python process, one after the other in one
run, with the `tiny` generator (random weights, seeded: memory does not depend on training) on
the CPU. Measured per size: the growth of the process's peak resident set over what it held
after a warm-up (imports, network, a small restore), in bytes per pixel of the image, and the
seconds. With memory set by the tile, bytes per pixel stay flat as the image grows: the input
and output pixels (3 + 3 bytes), the decoder's and encoder's copies, and a band of
accumulators whose size depends on the width only.

    python benchmarks/restore_memory.py                       # 2500x2250, 5000x4500, 10000x9000
    python benchmarks/restore_memory.py --sizes 4000x3000 --no-append
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from artifact_removal.archs.generator import build_generator
from artifact_removal.runtime import seed_everything

sys.path.insert(0, str(Path(__file__).parent))
from bench_restore import QUALITY, RESULTS, _peak_rss_bytes, parse_size, sample_jpeg

SIZES = ((2500, 2250), (5000, 4500), (10000, 9000))


def child(width: int, height: int, work: Path) -> None:
    """Restore one width x height JPEG in this process; print the measurements as JSON."""
    from artifact_removal.checkpoints import save_atomic
    from artifact_removal.inference.releases import generator_release
    from artifact_removal.restore.options import ImageOutput
    from artifact_removal.restore.run import restore_files

    seed_everything(0)
    models = work / "models"
    if not models.exists():
        release = generator_release(build_generator("tiny")) | {"quality": QUALITY,
                                                                "method": "ssim"}  # fmt: skip
        save_atomic(release, models / f"q{QUALITY}.pt")
    small = work / "small" / "warm.jpg"
    small.parent.mkdir(exist_ok=True)
    small.write_bytes(sample_jpeg(256, 256))
    common = {"method": "ssim", "device": "cpu", "models_dir": models, "progress": False,
              "image": ImageOutput("png")}  # fmt: skip
    restore_files([small], work / "warm_out", **common)
    source = work / f"photo_{width}x{height}.jpg"
    before = _peak_rss_bytes()
    start = time.perf_counter()
    report = restore_files([source], work / f"out_{width}x{height}", **common)
    seconds = time.perf_counter() - start
    if report.failed:
        raise RuntimeError(report.summary())
    peak = max(_peak_rss_bytes() - before, 0)
    print(json.dumps({"seconds": seconds, "peak_bytes": peak, "baseline_bytes": before}))


def measure(width: int, height: int, work: Path) -> dict:
    """One size in a fresh process: its JSON line, or the error it died with."""
    source = work / f"photo_{width}x{height}.jpg"
    if not source.exists():
        source.write_bytes(sample_jpeg(width, height))
    command = [sys.executable, __file__, "--child", f"{width}x{height}", "--work", str(work)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail[:120]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(f"{w}x{h}" for w, h in SIZES),
                        help="WIDTHxHEIGHT,... (default: %(default)s)")  # fmt: skip
    parser.add_argument("--no-append", action="store_true", help="print only")
    parser.add_argument("--child", type=parse_size, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, Path(args.work))
        return
    sizes = [parse_size(s) for s in args.sizes.split(",") if s]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"### {stamp}, CPU: {platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}",
        "",
        f"`restore_files` on one JPEG (QF {QUALITY}), generator `tiny`, tiles of 512, overlap "
        "64; memory: peak RSS growth over the warmed-up process.",
        "",
        "| size | megapixels | peak growth (MiB) | bytes per pixel | seconds |",
        "|---|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in sizes:
            result = measure(width, height, Path(tmp))
            pixels = width * height
            if "error" in result:
                row = f"| {width}x{height} | {pixels / 1e6:.1f} | {result['error']} | | |"
            else:
                peak = result["peak_bytes"]
                row = (f"| {width}x{height} | {pixels / 1e6:.1f} | {peak / 2**20:.0f} | "
                       f"{peak / pixels:.1f} | {result['seconds']:.1f} |")  # fmt: skip
            lines.append(row)
            print(row, flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_append:
        with RESULTS.open("a") as f:
            f.write("\n" + text)
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
