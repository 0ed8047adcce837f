"""Benchmark: a folder of 12-megapixel JPEGs restored one step after the other, and with the
CPU's steps beside the network (`restore --io-workers`, `restore.overlap`).

A folder of `--count` photograph-like JPEGs (`bench_restore.sample_jpeg`, QF 20) is restored
by `restore_files` with each setting in turn, `--rounds` times, in one process, into fresh
folders; the outputs of every setting are compared byte for byte with the first's. Reported:
images per second of each (median over rounds) and the ratio to one step after the other.
The generator has random (seeded) weights: time does not depend on training.

    python benchmarks/overlap_speed.py                       # appends to RESULTS.md
    python benchmarks/overlap_speed.py --preset fast --count 3 --no-append
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from bench_restore import sample_jpeg

from artifact_removal.archs.generator import build_generator
from artifact_removal.archs.qf_net import QFNet
from artifact_removal.checkpoints import save_atomic
from artifact_removal.inference.releases import generator_release, predictor_release
from artifact_removal.restore.options import ImageOutput
from artifact_removal.restore.run import restore_files

RESULTS = Path(__file__).with_name("RESULTS.md")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny", help="generator preset (default: tiny)")
    parser.add_argument("--count", type=int, default=4, help="images in the folder")
    parser.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        torch.manual_seed(0)
        release = generator_release(build_generator(args.preset).eval())
        save_atomic(release | {"quality": 20, "method": "ssim"}, folder / "models/q20.pt")
        predictor = predictor_release(QFNet((10, 20, 40), 8).eval())
        save_atomic(predictor | {"method": "qf_predictor"}, folder / "models/predictor.pt")
        for i in range(args.count):
            (folder / "in").mkdir(exist_ok=True)
            (folder / "in" / f"p{i}.jpg").write_bytes(sample_jpeg(width, height, seed=i))
        common = {"method": "ssim", "models_dir": folder / "models", "device": args.device,
                  "image": ImageOutput("png"),
                  "predictor": folder / "models/predictor.pt", "progress": False}  # fmt: skip
        restore_files([folder / "in" / "p0.jpg"], folder / "warm-up", **common)  # first calls
        seconds: dict[int, list[float]] = {w: [] for w in args.workers}
        outputs: dict[int, dict[str, bytes]] = {}
        for round_ in range(args.rounds):
            for workers in args.workers:
                out = folder / f"out_{round_}_{workers}"
                start = time.perf_counter()
                report = restore_files([folder / "in"], out, io_workers=workers, **common)
                seconds[workers].append(time.perf_counter() - start)
                assert not report.failed, report.summary()
                outputs[workers] = {p.name: p.read_bytes() for p in sorted(out.glob("*.png"))}
                print(f"round {round_}, io_workers {workers}: {seconds[workers][-1]:.1f} s",
                      flush=True)  # fmt: skip
    first = outputs[args.workers[0]]
    same = all(outputs[w] == first for w in args.workers)
    base = statistics.median(seconds[args.workers[0]])
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"\n## A folder of {width}x{height} JPEGs: reading and writing beside the network "
        f"(issue 30), {when}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, device {args.device}\n\n"
        f"`benchmarks/overlap_speed.py --preset {args.preset}`: {args.count} images (QF 20), "
        f"median of {args.rounds} rounds after a warm-up, settings in turns in one process; "
        f"outputs byte for byte the same for every setting: {'yes' if same else 'NO'}.\n\n"
        "| io_workers | seconds | images/s | speed-up |\n|---:|---:|---:|---:|\n"
    )
    for workers in args.workers:
        median = statistics.median(seconds[workers])
        text += f"| {workers} | {median:.1f} | {args.count / median:.3f} | {base / median:.2f} |\n"
    print(text)
    if not args.no_append:
        with RESULTS.open("a") as results:
            results.write(text)


if __name__ == "__main__":
    main()
