"""Benchmark the memory of restoring a video: does it depend on the batch, or on the segment?

Each run is the whole `artifact-removal restore CLIP -o OUT` command with its default settings
(video_ssim and the CRF predictor from this project's `models/`, H.264 CRF 6 4:4:4 output,
`--batch 4`) in a fresh Python process, on an H.264 clip made here (a moving texture, CRF 30,
4:2:0, no sound), and once per `--segment-frames` value. Measured: the process's peak resident
set (everything: Python, torch, the networks, the decoder and the encoder), the frames per
second, and the peak's growth from the shortest segments to the longest. With segments that
stream (decoded, restored and encoded a batch at a time) the peak does not grow with the
segment; when a whole segment was decoded before it was encoded (issue 27), it grew by the
segment's frames times their size.

Run from the project's root after `make repro` (it needs the trained video models):

    python benchmarks/video_memory.py                          # 360p, 720p, 1080p; 24 and 240
    python benchmarks/video_memory.py --sizes 1920x1080 --frames 48 --no-append
    python benchmarks/video_memory.py --src /tmp/old/src --no-append   # another checkout's code
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_generator import append_results

SIZES = ((640, 360), (1280, 720), (1920, 1080))
SEGMENTS = (24, 240)
CHILD = """
import json, resource, sys, time
from artifact_removal.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
print(json.dumps({"code": code, "seconds": time.perf_counter() - start,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_clip(path: Path, width: int, height: int, frames: int) -> Path:
    """An H.264 MP4 (CRF 30, 4:2:0, 25 frames/s) of a textured pattern that moves."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    texture = rng.normal(0, 14, (height, width + 4 * frames, 3))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "30", "preset": "fast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            base = np.stack([(x + 6 * t) % 256, (y + 3 * t) % 256, (x // 2 + y) % 256], axis=2)
            rgb = np.clip(base + texture[:, 4 * t : 4 * t + width], 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = t
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def measure(clip: Path, out: Path, segment_frames: int, src: Path | None) -> dict:
    """One `restore` in a fresh process: its exit code, seconds and peak resident set."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = f"{src}{os.pathsep}{env.get('PYTHONPATH', '')}"
    command = [sys.executable, "-c", CHILD, "restore", str(clip), "-o", str(out),
               "--segment-frames", str(segment_frames)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"code"')]
    if done.returncode or not lines or json.loads(lines[-1])["code"]:
        raise SystemExit(f"restore failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=[f"{w}x{h}" for w, h in SIZES])
    parser.add_argument("--segments", nargs="+", type=int, default=list(SEGMENTS))
    parser.add_argument("--frames", type=int, default=0,
                        help="frames per clip (default: the longest segment)")  # fmt: skip
    parser.add_argument("--src", type=Path, help="import artifact_removal from this folder")
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args(argv)
    frames = args.frames or max(args.segments)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for size in args.sizes:
            width, height = (int(v) for v in size.lower().split("x"))
            clip = make_clip(work / f"clip_{width}x{height}.mp4", width, height, frames)
            peaks = {}
            for segment in args.segments:
                found = measure(clip, work / f"out_{size}_{segment}", segment, args.src)
                peaks[segment] = found["peak_mib"]
                growth = peaks[segment] - peaks[args.segments[0]]
                rows.append(f"| {width}x{height} | {frames} | {segment} | "
                            f"{found['peak_mib']:.0f} | {growth:+.0f} | "
                            f"{frames / found['seconds']:.2f} |")  # fmt: skip
                print(rows[-1], flush=True)
    code = "this checkout" if args.src is None else f"`{args.src}`"
    machine = platform.processor() or platform.machine()
    lines = [
        f"`benchmarks/video_memory.py` ({datetime.now(UTC):%Y-%m-%d}, {machine}, "
        f"{os.cpu_count()} CPUs, code: {code}): the whole `restore` command with default "
        "settings in a fresh process per row; peak RSS of the process.",
        "",
        "| size | frames | --segment-frames | peak MiB | vs shortest segments | frames/s |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    table = "\n".join(lines)
    print(table)
    if not args.no_append:
        append_results("## Video restore memory: streamed segments (issue 27)", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
