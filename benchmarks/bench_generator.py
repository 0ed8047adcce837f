"""Benchmark the generator presets: training throughput and restoration speed.

Prints a Markdown table and appends it, with the machine it came from, to
benchmarks/RESULTS.md. Measures every preset in one run, so the ratios between presets and
between modes (eager, channels_last, torch.compile; float32, bf16 on CUDA) are comparable;
absolute times on shared machines are noise.

    python benchmarks/bench_generator.py                 # CPU or GPU, whatever torch sees
    python benchmarks/bench_generator.py --presets paper --modes eager,channels_last
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from artifact_removal.archs.generator import PRESETS, build_generator, count_parameters
from artifact_removal.runtime import select_device

RESULTS = Path(__file__).with_name("RESULTS.md")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device: torch.device, repeats: int) -> float:
    """Seconds per call: one warm-up call, then the mean of `repeats`."""
    fn()
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / repeats


def _prepare(preset: str, mode: str, device: torch.device):
    """A generator set up for `mode`: eager | channels_last | compiled (+ _bf16 on CUDA)."""
    net = build_generator(preset).to(device)
    layout = torch.contiguous_format
    if mode.startswith(("channels_last", "compiled")):
        net, layout = net.to(memory_format=torch.channels_last), torch.channels_last
    forward = torch.compile(net) if mode.startswith("compiled") else net
    amp = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if mode.endswith("_bf16")
        else contextlib.nullcontext()
    )
    return net, forward, layout, amp


def bench(preset: str, mode: str, device: torch.device, batch: int, repeats: int) -> dict:
    """Patches of 128x128 per second in training, frames of 1280x720 per second restoring."""
    net, forward, layout, amp = _prepare(preset, mode, device)
    optimizer = torch.optim.Adam(net.parameters(), 1e-4)
    x = torch.rand(batch, 3, 128, 128, device=device).contiguous(memory_format=layout)

    def train_step():
        with amp:
            loss = (forward(x).float() - x).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    frame = torch.rand(1, 3, 720, 1280, device=device).contiguous(memory_format=layout)

    @torch.inference_mode()
    def restore():
        with amp:
            forward(frame)

    step_s = _timed(train_step, device, repeats)
    frame_s = _timed(restore, device, repeats)
    return {"preset": preset, "mode": mode, "params": count_parameters(net),
            "train_patches_s": batch / step_s, "restore_fps_720p": 1 / frame_s}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--modes", default=None, help="default: all that apply to the device")
    parser.add_argument("--batch", type=int, default=None, help="default: 16 CPU, 256 CUDA")
    parser.add_argument("--repeats", type=int, default=None, help="default: 2 CPU, 20 CUDA")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    device = select_device(args.device)
    cuda = device.type == "cuda"
    modes = args.modes.split(",") if args.modes else (
        ["eager", "channels_last", "compiled", "channels_last_bf16", "compiled_bf16"]
        if cuda else ["eager", "channels_last", "compiled"]
    )  # fmt: skip
    batch = args.batch or (256 if cuda else 16)
    repeats = args.repeats or (20 if cuda else 2)
    rows = [bench(p, m, device, batch, repeats) for p in args.presets.split(",") for m in modes]
    machine = (
        torch.cuda.get_device_name(device)
        if cuda
        else f"CPU: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine}, torch {torch.__version__}",
        "",
        f"Training: batch {batch} of 128x128 patches, Adam, MSE. Restoring: one 1280x720 frame.",
        "",
        "| preset | params | mode | train patches/s | restore frames/s (720p) |",
        "|---|---:|---|---:|---:|",
        *(f"| {r['preset']} | {r['params']:,} | {r['mode']} | {r['train_patches_s']:.1f} | "
          f"{r['restore_fps_720p']:.3f} |" for r in rows),
        "",
    ]  # fmt: skip
    print("\n".join(lines))
    if not args.no_save:
        with RESULTS.open("a") as f:
            f.write("\n".join(lines) + "\n")


def append_results(heading: str, lines: list[str]) -> None:
    """Append a run's lines to RESULTS.md under `heading` (added once, at the end)."""
    text = RESULTS.read_text().rstrip("\n")
    if heading not in text:
        text += f"\n\n{heading}\n"
    RESULTS.write_text(text + "\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
