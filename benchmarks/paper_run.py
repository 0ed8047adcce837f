"""A short paper-profile training run through the run engine: does paper scale work on this
device, and how fast does it go?

Trains the paper generator (profiles/paper.yaml: 64 filters, 15 residual blocks, batch 64 of
128x128 patches, SSIM loss) for a few hundred steps on the prepared data that PARAMS names,
validating twice, then starts the same run again: it must resume from its last checkpoint and
stop at once. Prints the training throughput (patches per second, validation excluded), the
validation scores and the device. Dvclive is left out (no curves), so only the package and its
numerical dependencies are needed.

    python -m artifact_removal profile profiles/paper.yaml --params P.yaml
    python benchmarks/paper_run.py --params P.yaml --steps 300
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch

from artifact_removal.config import find_project_root, load_params
from artifact_removal.runtime import select_device
from artifact_removal.training.engine import train
from artifact_removal.training.run import Run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", required=True)
    parser.add_argument("--quality", type=int, default=10)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--work", default=".gpu/run", help="checkpoint and release folder")
    args = parser.parse_args()
    device = select_device(args.device)
    params = load_params(args.params)
    root = find_project_root(Path(args.params).resolve().parent)
    run = Run.from_params(params, "ssim", args.quality, root)
    half = max(args.steps // 2, 1)
    settings = dataclasses.replace(run.settings, steps=args.steps, val_every=half,
                                   checkpoint_every=half)  # fmt: skip
    work = Path(args.work)
    run = dataclasses.replace(run, settings=settings, checkpoint=work / "checkpoint.pt",
                              release=work / "release.pt", live_dir=None)  # fmt: skip
    start = time.perf_counter()
    result = train(run, device, progress=False)
    seconds = time.perf_counter() - start
    again = train(run, device, progress=False)
    val = [e for e in result.history if any(k.startswith("val_") for k in e)]
    batch = run.settings.batch_size
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {where}; torch {torch.__version__}")
    print(f"generator {run.settings.generator}, QF {args.quality}, batch {batch} of "
          f"{run.settings.patch_size}px, "
          f"{args.steps} steps in {seconds:.1f} s with 2 validations: "
          f"{args.steps * batch / seconds:.0f} patches/s overall")  # fmt: skip
    for entry in val:
        scores = {k: round(v, 4) for k, v in entry.items() if k.startswith("val_pred")}
        print(f"step {entry['step']}: {scores}")
    print(f"second start resumed from step {again.resumed_from} (expected {args.steps})")


if __name__ == "__main__":
    main()
