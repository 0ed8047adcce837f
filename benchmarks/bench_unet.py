"""Benchmark NoGAN's generators against Galteri's: seconds per 720p frame, side by side.

The NoGAN paper (Mameli et al., ICPR 2020) reports 0.27 s per frame with a ResNet encoder and
0.12 s with MobileNetV3 on a Titan X: 2.25 times faster. This measures, in one run, the
MobileNetV3-Large and -Small U-Nets, the ResNet-34 U-Net and the Galteri generator's presets
on one 1280x720 frame (random weights: speed does not depend on training), in float32 on the
CPU, and also in bf16 autocast with channels_last on CUDA. Compare ratios within a run.

    python benchmarks/bench_unet.py                  # appends to benchmarks/RESULTS.md
    python benchmarks/bench_unet.py --repeats 2 --no-append
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import torch

from artifact_removal.archs.generator import build_generator, count_parameters
from artifact_removal.archs.unet import UNet, UNetConfig
from artifact_removal.runtime import select_device

sys.path.insert(0, str(Path(__file__).parent))
from bench_generator import _timed, append_results

NETWORKS = {
    "U-Net, MobileNetV3-Large": lambda: UNet(UNetConfig("mobilenet_v3_large")),
    "U-Net, MobileNetV3-Small": lambda: UNet(UNetConfig("mobilenet_v3_small")),
    "U-Net, ResNet-34": lambda: UNet(UNetConfig("resnet34")),
    "U-Net, MobileNetV3-Large, one skip (public code)": lambda: UNet(UNetConfig(skips=1)),
    "Galteri generator (paper)": lambda: build_generator("paper"),
    "Galteri generator (fast)": lambda: build_generator("fast"),
}


def seconds_per_frame(make, device: torch.device, repeats: int) -> tuple[int, float]:
    """(parameters, seconds per 1280x720 frame) of a network in eval mode."""
    torch.manual_seed(0)
    net = make().to(device).eval()
    frame = torch.rand(1, 3, 720, 1280, device=device)  # [0, 1]
    amp = contextlib.nullcontext()
    if device.type == "cuda":
        net, frame = net.to(memory_format=torch.channels_last), frame.contiguous(
            memory_format=torch.channels_last)  # fmt: skip
        amp = torch.autocast("cuda", dtype=torch.bfloat16)

    def run():
        with torch.inference_mode(), amp:
            net(frame)

    return count_parameters(net), _timed(run, device, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args()
    device = select_device(args.device)
    rows = {name: seconds_per_frame(make, device, args.repeats) for name, make in NETWORKS.items()}
    reference = rows["U-Net, ResNet-34"][1]
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"CPU {platform.machine()}, {torch.get_num_threads()} threads")  # fmt: skip
    mode = "bf16 autocast, channels_last" if device.type == "cuda" else "float32"
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {where}, torch {torch.__version__}, {mode}",
        "",
        "One 1280x720 frame, random weights, mean of "
        f"{args.repeats} after a warm-up (`bench_unet.py`). Paper (Titan X): ResNet 0.27 s, "
        "MobileNetV3 0.12 s, 2.25x.",
        "",
        "| network | parameters | s / frame | ResNet-34 U-Net / this |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {p:,} | {t:.3f} | {reference / t:.2f}x |" for name, (p, t) in rows.items()),
        "",
    ]
    print("\n".join(lines))
    if not args.no_append:
        append_results("## NoGAN's U-Net against the Galteri generator: time per 720p frame "
                       "(issue 16)", lines)  # fmt: skip


if __name__ == "__main__":
    main()
