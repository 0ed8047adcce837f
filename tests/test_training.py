"""The training engine: determinism, exact resume (also after kill -9), NaN, damaged files, DDP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from artifact_removal.config import load_params
from artifact_removal.data import prepare_data
from artifact_removal.images import write_png
from artifact_removal.losses import WeightedLoss
from artifact_removal.training import (
    CheckpointError,
    PatchSampler,
    TrainingError,
    TrainRun,
    load_checkpoint,
    load_generator,
    train_generator,
)

CPU = torch.device("cpu")
TINY = """
data:
  dead_leaves: 0
train_ssim:
  generator: tiny
  loss: {ssim: 1.0, l1: 1.0}
  patch_size: 64
  batch_size: 4
  steps: 6
  lr: 0.001
  schedule: cosine
  checkpoint_every: 2
  val_every: 3
  models_dir: models/ssim
"""


@pytest.fixture(scope="module")
def trained_project(tmp_path_factory, photo, gray_photo) -> Path:
    """A project with a prepared corpus of six small images at QF 10, and tiny training params."""
    from .conftest import REPO

    project = tmp_path_factory.mktemp("train")
    for name in ("params.yaml", "dvc.yaml"):
        (project / name).write_text((REPO / name).read_text())
    for i in range(5):
        write_png(np.roll(photo, 23 * i, axis=1)[:160, :192], project / f"data/raw/p{i}.png")
    write_png(gray_photo, project / "data/raw/g.png")
    text = (project / "params.yaml").read_text().replace("[5, 10, 20, 30, 40, 60]", "[10]")
    (project / "params.yaml").write_text(text)
    from artifact_removal.config import apply_profile

    (project / "tiny.yaml").write_text(TINY)
    apply_profile(project / "tiny.yaml", project / "params.yaml")
    prepare_data(load_params(project / "params.yaml"), project)
    return project


def _run(project: Path, tag: str, **changes) -> TrainRun:
    run = TrainRun.from_params(load_params(project / "params.yaml"), 10, project)
    run.checkpoint = project / f"ck/{tag}.pt"
    run.release = project / f"models/{tag}.pt"
    run.live_dir = project / f"live/{tag}"
    for key, value in changes.items():
        setattr(run, key, value)
    return run


def _weights(path: Path) -> dict:
    return load_checkpoint(path)["model"]


def _same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_batches_are_a_function_of_the_step(trained_project):
    sampler = PatchSampler(trained_project / "data/prepared", 10, 64, seed=1)
    first, again = sampler.batch(5, 4), sampler.batch(5, 4)
    assert torch.equal(first["lq"], again["lq"]) and first["gt"].shape == (4, 3, 64, 64)
    assert not torch.equal(first["gt"], sampler.batch(6, 4)["gt"])
    halves = [sampler.batch(5, 4, rank, 2)["gt"] for rank in (0, 1)]
    assert torch.equal(torch.cat(halves), first["gt"])


def test_training_is_deterministic_and_writes_everything(trained_project):
    a = train_generator(_run(trained_project, "a"), CPU, progress=False)
    b = train_generator(_run(trained_project, "b"), CPU, progress=False)
    assert _same(_weights(a.release), _weights(b.release))
    assert [e["step"] for e in a.history] == [6]  # logged every 10 steps and at the end
    assert "val_pred_psnr_rgb" in a.history[-1] and "val_jpeg_psnr_rgb" in a.history[-1]
    assert (trained_project / "live/a/metrics.json").is_file()
    assert (trained_project / "live/a/plots/metrics/train/loss.tsv").is_file()
    net = load_generator(a.release)
    assert net(torch.zeros(1, 3, 20, 30)).shape == (1, 3, 20, 30)
    release = torch.load(a.release, weights_only=True)
    assert release["quality"] == 10 and release["model_args"]["channels"] == 16


def test_interrupted_run_resumes_to_the_same_weights(trained_project, monkeypatch):
    whole = train_generator(_run(trained_project, "whole"), CPU, progress=False)
    original = PatchSampler.batch

    def interrupt(self, step, *args, **kwargs):
        if step == 5:
            raise KeyboardInterrupt
        return original(self, step, *args, **kwargs)

    monkeypatch.setattr(PatchSampler, "batch", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_generator(_run(trained_project, "cut"), CPU, progress=False)
    assert load_checkpoint(trained_project / "ck/cut.pt")["step"] == 4
    monkeypatch.setattr(PatchSampler, "batch", original)
    resumed = train_generator(_run(trained_project, "cut"), CPU, progress=False)
    assert resumed.resumed_from == 4
    assert _same(_weights(whole.release), _weights(resumed.release))


def test_changed_configuration_starts_over(trained_project):
    train_generator(_run(trained_project, "cfg"), CPU, progress=False)
    run = _run(trained_project, "cfg", lr=0.002)
    run.identity = {**run.identity, "train": {**run.identity["train"], "lr": 0.002}}
    assert train_generator(run, CPU, progress=False).resumed_from == 0


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(trained_project, monkeypatch):
    original = WeightedLoss.forward
    calls = {"n": 0}

    def poisoned(self, pred, gt):
        calls["n"] += 1
        total, terms = original(self, pred, gt)
        return (total * float("nan"), terms) if calls["n"] == 3 else (total, terms)

    monkeypatch.setattr(WeightedLoss, "forward", poisoned)
    with pytest.raises(TrainingError, match=r"became nan at step 3.*checkpoint \(step 2\)"):
        train_generator(_run(trained_project, "nan"), CPU, progress=False)
    assert load_checkpoint(trained_project / "ck/nan.pt")["step"] == 2


@pytest.mark.parametrize("damage", ["garbage", "truncated", "not_a_checkpoint"])
def test_damaged_checkpoint_is_a_clear_error(trained_project, damage):
    run = _run(trained_project, f"dmg_{damage}")
    train_generator(run, CPU, progress=False)
    data = run.checkpoint.read_bytes()
    if damage == "garbage":
        run.checkpoint.write_bytes(b"not a zip file at all" * 10)
    elif damage == "truncated":
        run.checkpoint.write_bytes(data[: len(data) // 2])
    else:
        torch.save({"weights": torch.zeros(1)}, run.checkpoint)
    with pytest.raises(CheckpointError, match=str(run.checkpoint)):
        train_generator(run, CPU, progress=False)


def test_unknown_quality_is_refused(trained_project):
    with pytest.raises(TrainingError, match="quality 20 is not one of"):
        TrainRun.from_params(load_params(trained_project / "params.yaml"), 20, trained_project)


def _cli(project: Path, *extra: str) -> list[str]:
    return [*extra, "-m", "artifact_removal", "train", "--quality", "10", "--device", "cpu",
            "--params", str(project / "params.yaml")]  # fmt: skip


def test_kill_9_then_rerun_resumes(trained_project):
    from artifact_removal.config import apply_profile

    (trained_project / "long.yaml").write_text(
        "train_ssim: {steps: 300, checkpoint_every: 3, val_every: 1000}\n"
    )
    apply_profile(trained_project / "long.yaml", trained_project / "params.yaml")
    checkpoint = trained_project / "build/checkpoints/ssim/q10.pt"
    proc = subprocess.Popen(_cli(trained_project, sys.executable), cwd=trained_project,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    step = load_checkpoint(checkpoint)["step"]
    assert 3 <= step < 300
    run = TrainRun.from_params(load_params(trained_project / "params.yaml"), 10, trained_project)
    result = train_generator(run, CPU, progress=False)
    assert result.resumed_from >= step and load_checkpoint(checkpoint)["step"] == 300
    (trained_project / "short.yaml").write_text("train_ssim: {steps: 6, checkpoint_every: 2}\n")
    apply_profile(trained_project / "short.yaml", trained_project / "params.yaml")


def test_ddp_on_cpu_with_two_processes_matches_one(trained_project):
    one = subprocess.run(_cli(trained_project, sys.executable), cwd=trained_project,
                         capture_output=True, text=True)  # fmt: skip
    assert one.returncode == 0, one.stderr
    single = _weights(trained_project / "models/ssim/q10.pt")
    (trained_project / "build/checkpoints").rename(trained_project / "build/checkpoints-1")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                "--master_port=29533"]  # fmt: skip
    two = subprocess.run(_cli(trained_project, *torchrun), cwd=trained_project,
                         capture_output=True, text=True)  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    double = _weights(trained_project / "models/ssim/q10.pt")
    assert all(torch.allclose(single[k], double[k], atol=1e-5) for k in single)
