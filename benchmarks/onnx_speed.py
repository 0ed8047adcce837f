"""Benchmark: a generator through ONNX Runtime against the same generator through PyTorch.

Each network (the Galteri generator's presets, NoGAN's U-Net) is exported as
`artifact-removal export` does (`inference.export`), then both runtimes restore the same
inputs in turns, in one process: a 512x512 tile (what `restore` feeds the network) and a
1280x720 frame. Reported: the median seconds of each over `--repeats` runs after a warm-up,
their ratio (PyTorch / ONNX Runtime: above 1, ONNX Runtime is faster), and the largest
difference of the outputs in 8-bit levels. Random (seeded) weights: speed does not depend on
training. Both use the machine's cores as they do by default (torch's intra-op threads,
ONNX Runtime's).

    python benchmarks/onnx_speed.py                 # appends its table to RESULTS.md
    python benchmarks/onnx_speed.py --nets tiny --no-append
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from artifact_removal.archs.generator import build_generator
from artifact_removal.inference.export import _onnx_export
from artifact_removal.inference.onnx_backend import OnnxNet
from artifact_removal.inference.torch_backend import restore_float

RESULTS = Path(__file__).with_name("RESULTS.md")
NETS = ("tiny", "very_fast", "fast", "paper", "unet_mobilenet_v3_large")
SIZES = {"tile 512x512": (512, 512), "frame 1280x720": (720, 1280)}


def build(name: str) -> torch.nn.Module:
    """A network with seeded random weights, in eval mode."""
    torch.manual_seed(0)
    if name.startswith("unet_"):
        from artifact_removal.archs.unet import UNet, UNetConfig

        return UNet(UNetConfig(name.removeprefix("unet_"))).eval()
    return build_generator(name).eval()


def timed(run, image: np.ndarray, repeats: int) -> tuple[float, np.ndarray]:
    """Median seconds of `run(image)` over `repeats` runs after one warm-up, and its output."""
    out = run(image)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(image)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def measure(name: str, repeats: int) -> list[dict]:
    net = build(name)
    cpu = torch.device("cpu")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.onnx"
        _onnx_export(net, torch.zeros(1, 3, 64, 64), path, {0: "n", 2: "h", 3: "w"})
        session = OnnxNet(path, {}, ["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        for label, (h, w) in SIZES.items():
            image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            t_torch, y_torch = timed(lambda x: restore_float(net, x, cpu), image, repeats)
            t_onnx, y_onnx = timed(session, image, repeats)
            rows.append(
                {
                    "net": name,
                    "input": label,
                    "torch_s": t_torch,
                    "onnx_s": t_onnx,
                    "ratio": t_torch / t_onnx,
                    "max_diff": float(np.abs(y_torch - y_onnx).max()),
                }
            )
            print(
                f"{name:>24} {label:>15}: torch {t_torch:.3f} s, onnxruntime {t_onnx:.3f} s, "
                f"x{t_torch / t_onnx:.2f}, max diff {rows[-1]['max_diff']:.1e}",
                flush=True,
            )
    return rows


def table(rows: list[dict], repeats: int) -> str:
    import onnxruntime

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = (
        f"\n## ONNX Runtime against PyTorch on the CPU (issue 30), {when}, "
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads\n\n"
        f"`benchmarks/onnx_speed.py`: torch {torch.__version__}, onnxruntime "
        f"{onnxruntime.__version__}; median of {repeats} runs after a warm-up, in turns in one "
        "process; ratio = PyTorch's time / ONNX Runtime's.\n\n"
        "| network | input | PyTorch s | ONNX Runtime s | ratio | max diff (of 255) |\n"
        "|---|---|---:|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {r['net']} | {r['input']} | {r['torch_s']:.3f} | {r['onnx_s']:.3f} | "
        f"{r['ratio']:.2f} | {r['max_diff']:.1e} |\n"
        for r in rows
    )
    return head + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", nargs="+", default=list(NETS), choices=NETS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args()
    rows = [row for name in args.nets for row in measure(name, args.repeats)]
    text = table(rows, args.repeats)
    print(text)
    if not args.no_append:
        with RESULTS.open("a") as results:
            results.write(text)


if __name__ == "__main__":
    main()
