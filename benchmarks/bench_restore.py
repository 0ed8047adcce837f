"""Benchmark restoring one 12-megapixel image: whole versus overlapping tiles.

For each generator preset, every way of restoring runs in a fresh process of its own, one
after the other in one run, so that peak memory is that way's own and the ratios between
them are comparable (absolute times on shared machines are noise). Measured:

- seconds for the restoration (after a warm-up on a small image);
- peak memory it added: on the CPU the growth of the process's peak resident set over what
  it held before (the image, the network), on CUDA `torch.cuda.max_memory_allocated`;
- the largest difference from the whole-image result, in 8-bit levels, and the share of
  pixels that differ at all (rounding at the tiles' cross-fades);
- `file`: the whole command, `restore_files` on a JPEG file (decode, quality from the
  tables, tiled restoration, PNG written), for the time a user waits.

The generators have random weights (seeded): speed and memory do not depend on training.

    python benchmarks/bench_restore.py                      # CPU or GPU, what torch sees
    python benchmarks/bench_restore.py --presets tiny --size 4000x3000 --no-append
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from artifact_removal.archs.generator import build_generator, count_parameters
from artifact_removal.inference.tiles import restore_tiled, tile_count
from artifact_removal.inference.torch_backend import restore_float
from artifact_removal.runtime import seed_everything, select_device

RESULTS = Path(__file__).with_name("RESULTS.md")
WAYS = ("whole", "tiled_512", "tiled_1024", "file")
QUALITY = 20


def sample_jpeg(width: int, height: int, seed: int = 0) -> bytes:
    """A photograph-like width x height JPEG file's bytes at QF 20: dead leaves (edges at
    every scale) enlarged to the size, so that nothing repeats exactly."""
    from io import BytesIO

    from PIL import Image

    from artifact_removal.data.synthetic import dead_leaves

    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (64, 3), dtype=np.uint8)
    side = max(width, height)
    leaves = dead_leaves(rng, palette, size=(side + 3) // 4, hues=6)
    image = Image.fromarray(leaves).resize((side, side), Image.Resampling.BICUBIC)
    image = image.crop((0, 0, width, height))
    buffer = BytesIO()
    image.save(buffer, format="JPEG", quality=QUALITY)
    return buffer.getvalue()


def _peak_rss_bytes() -> int:
    """The process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(args: argparse.Namespace) -> None:
    """Run one way of restoring in this process and print its measurements as JSON."""
    from PIL import Image

    from artifact_removal.checkpoints import save_atomic
    from artifact_removal.inference.releases import generator_release
    from artifact_removal.restore.options import ImageOutput
    from artifact_removal.restore.run import restore_files

    device = select_device(args.device)
    seed_everything(0)
    torch.set_grad_enabled(False)
    net = build_generator(args.preset).to(device).eval()
    width, height = args.width, args.height
    work = Path(args.work)
    source = work / "photo.jpg"
    if not source.exists():
        source.write_bytes(sample_jpeg(width, height))
    image = np.asarray(Image.open(source).convert("RGB"))
    whole = 8 * ((max(width, height) + 7) // 8)
    tile = {"whole": whole, "tiled_1024": 1024}.get(args.way, 512)  # file: the CLI's 512

    def restorer(rgb: np.ndarray) -> np.ndarray:
        return restore_float(net, rgb, device)

    if args.way == "file":
        models = work / f"models_{args.preset}"
        release = generator_release(net) | {"quality": QUALITY, "method": "ssim"}
        save_atomic(release, models / f"q{QUALITY}.pt")

        def run() -> np.ndarray:
            report = restore_files(
                [source], work / f"out_{args.preset}", method="ssim", device=args.device,
                models_dir=models, progress=False, image=ImageOutput("png"),
            )  # fmt: skip
            if report.failed:
                raise RuntimeError(report.summary())
            return np.asarray(Image.open(work / f"out_{args.preset}" / "photo.png"))
    else:

        def run() -> np.ndarray:
            return restore_tiled(restorer, image, tile=tile, overlap=64)

    restore_tiled(restorer, image[:256, :256], tile=tile, overlap=64)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = _peak_rss_bytes()
    start = time.perf_counter()
    out = run()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() - before
    else:
        peak = max(_peak_rss_bytes() - before, 0)
    np.save(work / f"{args.preset}_{args.way}.npy", out)
    tiles = tile_count(image.shape, tile, 64)
    print(json.dumps({"seconds": seconds, "peak_bytes": peak, "tiles": tiles}))


def measure(preset: str, way: str, args: argparse.Namespace, work: Path) -> dict:
    """One way, in a fresh Python process; its JSON line, or the error it died with."""
    command = [sys.executable, __file__, "--child", "--preset", preset, "--way", way,
               "--device", args.device, "--size", f"{args.width}x{args.height}",
               "--work", str(work)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail[:120]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(work: Path, preset: str, way: str) -> tuple[int, float] | None:
    """Largest difference from the whole-image result and the share of differing pixels."""
    whole, other = work / f"{preset}_whole.npy", work / f"{preset}_{way}.npy"
    if not (whole.exists() and other.exists()):
        return None
    a, b = np.load(whole).astype(np.int16), np.load(other).astype(np.int16)
    diff = np.abs(a - b)
    return int(diff.max()), float((diff > 0).mean())


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size: expected WIDTHxHEIGHT, got {text!r}") from None
    return width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,paper")
    parser.add_argument("--ways", default=",".join(WAYS))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--size", type=parse_size, default=(4000, 3000), help="WIDTHxHEIGHT")
    parser.add_argument("--no-append", action="store_true", help="print only")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--preset", help=argparse.SUPPRESS)
    parser.add_argument("--way", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.width, args.height = args.size
    if args.child:
        child(args)
        return
    device = select_device(args.device)
    ways = [w for w in args.ways.split(",") if w]
    unknown = set(ways) - set(WAYS)
    if unknown:
        parser.error(f"unknown ways {sorted(unknown)}; choose from {list(WAYS)}")
    if "whole" in ways:  # the reference for the others' ratios and differences
        ways = ["whole", *[w for w in ways if w != "whole"]]
    where = (
        f"CUDA: {torch.cuda.get_device_name(device)}"
        if device.type == "cuda"
        else f"CPU: {platform.machine()}, {torch.get_num_threads()} threads"
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    megapixels = args.width * args.height / 1e6
    memory = "peak CUDA memory allocated" if device.type == "cuda" else "peak RSS growth"
    lines = [
        f"### {stamp}, {where}, torch {torch.__version__}",
        "",
        f"One {args.width}x{args.height} image ({megapixels:.1f} MP, JPEG QF {QUALITY}); "
        f"overlap 64; memory: {memory}. Ratios are to `whole` of the same preset.",
        "",
        "| preset | params | way | tiles | seconds | x whole | peak memory MiB | x whole "
        "| max diff | pixels differing |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for preset in args.presets.split(","):
            params = count_parameters(build_generator(preset))
            base = None
            for way in ways:
                row = measure(preset, way, args, work)
                if "error" in row:
                    line = f"| {preset} | {params:,} | {way} | | {row['error']} | | | | | |"
                else:
                    base = base or (row if way == "whole" else None)
                    mib = row["peak_bytes"] / 2**20
                    t_ratio = f"{row['seconds'] / base['seconds']:.2f}" if base else ""
                    m_ratio = (
                        f"{row['peak_bytes'] / base['peak_bytes']:.3f}"
                        if base and base["peak_bytes"]
                        else ""
                    )
                    diff = compare(work, preset, way) if way != "whole" else None
                    d_max, d_share = (f"{diff[0]}", f"{diff[1]:.4%}") if diff else ("", "")
                    line = (
                        f"| {preset} | {params:,} | {way} | {row['tiles']} | "
                        f"{row['seconds']:.1f} | {t_ratio} | {mib:,.0f} | {m_ratio} | "
                        f"{d_max} | {d_share} |"
                    )
                lines.append(line)
                print(line, flush=True)
    if not args.no_append:
        with open(RESULTS, "a") as f:
            f.write("\n" + "\n".join(lines) + "\n")
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
