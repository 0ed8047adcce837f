"""Does CPU training give the same weights on another machine? (issue 27: a fresh clone's
`make repro` must reproduce dvc.lock exactly.)

One short run of the SSIM generator (the run engine, the project's prepared corpus, the
`train_ssim` settings of params.yaml with fewer steps) is trained in a fresh process under
several CPU settings that differ between machines: the number of threads, the vector
instructions ATen uses (`ATEN_CPU_CAPABILITY`), the instruction set oneDNN and MKL may use
(`ONEDNN_MAX_CPU_ISA`, `MKL_CBWR`), and whether convolutions run on oneDNN at all. Each run
prints a hash of its weights alone (not of the release file, whose metadata is the same anyway),
its validation PSNR and its training time; the table says which settings change the weights and
what each costs. The default is run twice: the same machine must agree with itself. Compare the
hashes with the tables of other machines in benchmarks/RESULTS.md.

Run inside a project after `dvc repro prepare` (or `make repro`), e.g.

    python benchmarks/determinism.py --steps 60
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}
SSE41 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "AVX2"}
NO_ONEDNN = "DETERMINISM_NO_ONEDNN"  # set: CHILD turns torch.backends.mkldnn off
SETTINGS = {
    "default": {},
    "default, again": {},
    "1 thread": {"OMP_NUM_THREADS": "1"},
    "OMP_NUM_THREADS=3 (more than the cores)": {"OMP_NUM_THREADS": "3"},
    "no vector kernels (ATEN_CPU_CAPABILITY=default)": {"ATEN_CPU_CAPABILITY": "default"},
    "oneDNN and MKL capped at AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"},
    "ATen, oneDNN and MKL at AVX2": AVX2,
    "ATen, oneDNN and MKL at AVX2, 1 thread": {**AVX2, "OMP_NUM_THREADS": "1"},
    "ATen at AVX2, oneDNN at SSE4.1": SSE41,
    "ATen at AVX2, oneDNN at SSE4.1, 1 thread": {**SSE41, "OMP_NUM_THREADS": "1"},
    "ATen at AVX2, no oneDNN": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", NO_ONEDNN: "1"},
}
VARIED = {name for extra in SETTINGS.values() for name in extra}  # cleared from the caller's env

CHILD = """
import hashlib, json, os, sys, time
from pathlib import Path
import torch
torch.backends.mkldnn.enabled = not os.environ.get(sys.argv[3])
from artifact_removal.config import load_params
from artifact_removal.training.engine import train
from artifact_removal.training.run import Run
from artifact_removal.checkpoints import load_checkpoint
root = Path(sys.argv[1])
run = Run.from_params(load_params(root / "params.yaml"), "ssim", int(sys.argv[2]), root)
start = time.perf_counter()
result = train(run, torch.device("cpu"), progress=False)
seconds = time.perf_counter() - start
model = load_checkpoint(run.release)["model"]
digest = hashlib.sha256()
for name in sorted(model):
    digest.update(name.encode()); digest.update(model[name].numpy().tobytes())
print(json.dumps({"weights": digest.hexdigest()[:16], "threads": torch.get_num_threads(),
                  "capability": torch.backends.cpu.get_cpu_capability(),
                  "torch": torch.__version__, "seconds": seconds,
                  "val": result.history[-1]}))
"""


def scratch_project(project: Path, steps: int, folder: Path) -> Path:
    """A project folder whose params train `steps` steps of train_ssim on `project`'s corpus."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    prepared = (project / params["data"]["prepared_dir"]).resolve()
    (folder / "data").mkdir()
    (folder / "data" / "prepared").symlink_to(prepared, target_is_directory=True)
    params["data"]["prepared_dir"] = "data/prepared"
    section = params["train_ssim"]
    section.update(steps=steps, checkpoint_every=steps, val_every=steps, models_dir="models/ssim")
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="training steps per run")
    parser.add_argument("--quality", type=int, default=10, help="the JPEG QF of the run")
    parser.add_argument("--project", type=Path, default=Path("."))
    args = parser.parse_args()
    if not (args.project / "data/prepared/images.csv").is_file():
        raise SystemExit("error: no prepared corpus here; run `dvc repro prepare` first")
    rows = []
    for label, extra in SETTINGS.items():
        with tempfile.TemporaryDirectory() as tmp:
            root = scratch_project(args.project.resolve(), args.steps, Path(tmp))
            env = {k: v for k, v in os.environ.items() if k not in VARIED}
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(root), str(args.quality), NO_ONEDNN],
                env={**env, **extra},
                capture_output=True,
                text=True,
            )
        if done.returncode:
            raise SystemExit(f"error: the run '{label}' failed:\n{done.stderr[-2000:]}")
        found = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append((label, found))
        print(
            f"{label}: weights {found['weights']}, {found['threads']} threads, "
            f"{found['capability']}",
            flush=True,
        )
    base = rows[0][1]["weights"]
    print(f"\n{args.steps} steps of train_ssim at QF {args.quality}, torch {rows[0][1]['torch']}\n")
    print(
        "| CPU setting | threads | ATen kernels | weights (sha256, 16 hex) | same as default |"
        " validation PSNR-RGB | training time / default's |"
    )
    print("|---|---:|---|---|---|---:|---:|")
    for label, found in rows:
        psnr = next(
            (v for k, v in found["val"].items() if k.endswith("psnr_rgb") and "jpeg" not in k),
            float("nan"),
        )
        print(
            f"| {label} | {found['threads']} | {found['capability']} | {found['weights']} | "
            f"{'yes' if found['weights'] == base else 'no'} | {psnr:.4f} | "
            f"{found['seconds'] / rows[0][1]['seconds']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
