"""Benchmark video restoration: frames per second at 720p for each generator preset, the
network alone and a whole file (decode, restore, encode, audio copied), side by side.

The 2020 paper (Galteri et al., Table 2) gives 42 FPS for "Very fast", 20 for "Fast" and 4 for
the TMM 2019 generator at 720p on their GPU. This measures, in one run, every preset of the
Galteri generator (random weights: speed does not depend on training) on 1280x720 frames:
`restore` is the network on a batch of frames (`--batch`); `file` is `restore_video` on an
H.264 MP4 with an AAC track (decode with PyAV, the same network, libx264 CRF 16 encode, audio
copy, segments written and joined). float32 on the CPU; bf16 autocast and channels_last on
CUDA. Compare ratios within a run.

    python benchmarks/bench_video.py                  # appends to benchmarks/RESULTS.md
    python benchmarks/bench_video.py --frames 4 --no-append
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import torch

from artifact_removal.archs.generator import PRESETS, build_generator, count_parameters
from artifact_removal.inference.torch_backend import restore_float
from artifact_removal.restore.video import restore_video
from artifact_removal.runtime import select_device

sys.path.insert(0, str(Path(__file__).parent))
from bench_generator import append_results

PAPER_FPS = {"very_fast": 42, "fast": 20, "paper": 4}  # Table 2; "paper" = the TMM 2019 generator


def clip_720p(path: Path, frames: int) -> Path:
    """An H.264 MP4 of `frames` 1280x720 frames (a moving gradient with noise) and a tone."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:720, 0:1280]
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25, options={"crf": "30", "preset": "fast"})
        video.width, video.height, video.pix_fmt = 1280, 720, "yuv420p"
        sound = container.add_stream("aac", rate=48000)
        for t in range(frames):
            base = np.stack([(x + 8 * t) % 256, (y + 4 * t) % 256, (x + y) % 256], axis=2)
            rgb = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = t
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        samples = int(frames / 25 * 48000)
        tone = np.sin(np.arange(samples) * 2 * np.pi * 440 / 48000).astype(np.float32) * 0.2
        for start in range(0, samples, 1024):
            chunk = np.ascontiguousarray(tone[None, start : start + 1024])
            audio = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            audio.sample_rate, audio.pts = 48000, start
            container.mux(sound.encode(audio))
        container.mux(sound.encode(None))
    return path


def measure(preset: str, device: torch.device, clip: Path, frames: int, batch: int) -> dict:
    """FPS of the network alone and of a whole file, for one preset."""
    torch.manual_seed(0)
    net = build_generator(preset).to(device).eval()
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    batch_frames = np.random.default_rng(1).integers(0, 256, (batch, 720, 1280, 3), np.uint8)
    restore_float(net, batch_frames[:1], device)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start, done = time.perf_counter(), 0
    while done < frames:
        restore_float(net, batch_frames, device)
        done += batch
    if device.type == "cuda":
        torch.cuda.synchronize()
    network = done / (time.perf_counter() - start)

    def restore(chunk: np.ndarray) -> np.ndarray:
        return np.rint(restore_float(net, chunk, device)).clip(0, 255).astype(np.uint8)

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = restore_video(clip, Path(folder) / "out.mp4", restore, {"bench": preset},
                               batch=batch, progress=False)  # fmt: skip
        whole = result.frames / (time.perf_counter() - start)
    return {"parameters": count_parameters(net), "network": network, "file": whole}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--frames", type=int, default=4, help="frames per measurement")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args()
    device = select_device(args.device)
    with tempfile.TemporaryDirectory() as folder:
        clip = clip_720p(Path(folder) / "clip.mp4", args.frames)
        rows = {p: measure(p, device, clip, args.frames, args.batch) for p in PRESETS}
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"CPU {platform.machine()}, {torch.get_num_threads()} threads")  # fmt: skip
    mode = "bf16 autocast, channels_last" if device.type == "cuda" else "float32"
    slowest = rows["paper"]["network"]
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {where}, torch {torch.__version__}, {mode}",
        "",
        f"1280x720, {args.frames} frames per measurement, batch {args.batch}, random weights "
        "(`bench_video.py`); file = decode + restore + encode (libx264 CRF 16) + audio copy. "
        "Paper (their GPU): very fast 42, fast 20, TMM 2019 generator 4 FPS.",
        "",
        "| preset | parameters | FPS, network | FPS, whole file | network / paper preset's "
        "| paper FPS |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {p} | {r['parameters']:,} | {r['network']:.2f} | {r['file']:.2f} | "
          f"{r['network'] / slowest:.1f}x | {PAPER_FPS.get(p, '')} |"
          for p, r in rows.items()),
        "",
    ]  # fmt: skip
    print("\n".join(lines))
    if not args.no_append:
        append_results("## Video: frames per second at 720p, per generator preset (issue 17)",
                       lines)  # fmt: skip


if __name__ == "__main__":
    main()
