"""The run engine, through the supervised recipe: determinism, identity, exact resume (also after
kill -9), NaN, damaged files, atomic writes, DDP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from artifact_removal.checkpoints import (
    PACKAGE,
    CheckpointError,
    code_files,
    code_fingerprint,
    import_closure,
    load_checkpoint,
    save_atomic,
)
from artifact_removal.config import load_params
from artifact_removal.data.samplers import PatchSampler
from artifact_removal.inference.releases import load_generator
from artifact_removal.losses.pixel import WeightedLoss
from artifact_removal.runtime import Distributed
from artifact_removal.training import run as run_module
from artifact_removal.training.engine import train
from artifact_removal.training.run import ENGINE, Run, TrainingError

from .conftest import free_port, run_of, same_weights

CPU = torch.device("cpu")


def test_batches_are_a_function_of_the_step(prepared_project):
    sampler = PatchSampler(prepared_project / "data/prepared", 10, 64, seed=1)
    first, again = sampler.batch(5, 4), sampler.batch(5, 4)
    assert torch.equal(first["lq"], again["lq"]) and first["gt"].shape == (4, 3, 64, 64)
    assert not torch.equal(first["gt"], sampler.batch(6, 4)["gt"])
    halves = [sampler.batch(5, 4, rank, 2)["gt"] for rank in (0, 1)]
    assert torch.equal(torch.cat(halves), first["gt"])


def test_params_become_a_run_in_one_step(prepared_project):
    params = load_params(prepared_project / "params.yaml")
    run = Run.from_params(params, "gan", 40, prepared_project)
    assert run.settings == params.train_gan and run.quality == 40 and run.seed == params.seed
    assert run.release == prepared_project / "models/gan/q40.pt"
    assert run.checkpoint == prepared_project / "build/checkpoints/gan/q40.pt"
    assert run.start_from == prepared_project / "models/ssim/q40.pt"
    assert run.live_dir == prepared_project / "reports/train_gan/q40"
    qf = Run.from_params(params, "qf", None, prepared_project)
    assert qf.release == prepared_project / "models/qf/predictor.pt" and qf.qualities == (10, 40)
    with pytest.raises(TrainingError, match="quality 20 is not one of"):
        Run.from_params(params, "ssim", 20, prepared_project)
    with pytest.raises(TrainingError, match="unknown method 'dncnn'"):
        Run.from_params(params, "dncnn", 10, prepared_project)


def test_training_is_deterministic_and_writes_everything(small_project):
    a = train(run_of(small_project, "ssim", 10, "a"), CPU, progress=False)
    b = train(run_of(small_project, "ssim", 10, "b"), CPU, progress=False)
    assert same_weights(a.release, b.release)
    assert [e["step"] for e in a.history] == [3, 6]  # validated every 3 steps and at the end
    assert {"loss", "loss_ssim", "loss_l1", "lr", "val_pred_psnr_rgb"} <= set(a.history[-1])
    assert (small_project / "live/a/metrics.json").is_file()
    assert (small_project / "live/a/plots/metrics/train/loss.tsv").is_file()
    net = load_generator(a.release)
    assert net(torch.zeros(1, 3, 20, 30)).shape == (1, 3, 20, 30)
    release = torch.load(a.release, weights_only=True)
    assert release["quality"] == 10 and release["method"] == "ssim"
    assert release["arch"] == "generator" and release["model_args"]["channels"] == 16
    checkpoint = load_checkpoint(a.checkpoint)
    assert "code" in checkpoint["run"] and "code" not in release["run"]  # see the next test
    assert release["run"] == {k: v for k, v in checkpoint["run"].items() if k != "code"}
    assert release["run"]["settings"]["lr"] == 0.001 and release["run"]["quality"] == 10
    assert release["run"]["settings"]["loss"] == {"ssim": 1.0, "l1": 1.0}
    assert set(release["run"]["inputs"]) == {"data"} and release["run"]["run"] == "ssim"
    assert str(small_project).encode() not in a.release.read_bytes()  # a DVC output: no path


def test_interrupted_run_resumes_to_the_same_weights(small_project, monkeypatch):
    whole = train(run_of(small_project, "ssim", 10, "whole"), CPU, progress=False)
    original = PatchSampler.batch

    def interrupt(self, step, *args, **kwargs):
        if step == 5:
            raise KeyboardInterrupt
        return original(self, step, *args, **kwargs)

    monkeypatch.setattr(PatchSampler, "batch", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(run_of(small_project, "ssim", 10, "cut"), CPU, progress=False)
    assert load_checkpoint(small_project / "ck/cut.pt")["step"] == 4
    monkeypatch.setattr(PatchSampler, "batch", original)
    resumed = train(run_of(small_project, "ssim", 10, "cut"), CPU, progress=False)
    assert resumed.resumed_from == 4 and [e["step"] for e in resumed.history] == [3, 6]
    assert same_weights(whole.release, resumed.release)


def test_only_the_same_inputs_resume(small_project, monkeypatch):
    """Settings, code and data are the run's identity: any change starts afresh."""
    train(run_of(small_project, "ssim", 10, "id"), CPU, progress=False)
    again = train(run_of(small_project, "ssim", 10, "id"), CPU, progress=False)
    assert again.resumed_from == 6  # the same run: nothing to do but release it again
    before = (small_project / "models/id.pt").read_bytes()
    other = train(run_of(small_project, "ssim", 10, "id", lr=0.002), CPU, progress=False)
    assert other.resumed_from == 0
    real = run_module.code_fingerprint
    monkeypatch.setattr(run_module, "code_fingerprint", lambda *m: real(*m) + "changed")
    changed = train(run_of(small_project, "ssim", 10, "id"), CPU, progress=False)
    assert changed.resumed_from == 0
    # a refactor: new code, the same weights, so the release is the same file, byte for byte
    assert changed.release.read_bytes() == before
    monkeypatch.setattr(run_module, "code_fingerprint", real)
    train(run_of(small_project, "ssim", 10, "id"), CPU, progress=False)
    jpeg = sorted((small_project / "data/prepared/sets/train/q10").glob("*.jpg"))[0]
    jpeg.write_bytes(jpeg.read_bytes() + b"\0")  # one training file changed
    assert train(run_of(small_project, "ssim", 10, "id"), CPU, progress=False).resumed_from == 0


def test_the_code_fingerprint_covers_what_the_trainer_imports(small_project):
    run = run_of(small_project, "ssim", 10)
    modules = (run.trainer_module(), ENGINE)
    files = {p.relative_to(PACKAGE).as_posix() for p in code_files(*modules)}
    assert {"training/engine.py", "training/run.py", "training/saving.py", "losses/pixel.py",
            "archs/generator.py", "data/samplers.py", "inference/torch_backend.py",
            "metrics/full_reference.py"} <= files  # fmt: skip
    assert run.identity({})["code"] == code_fingerprint(*modules)
    assert "training/gan.py" not in files and "stages/plots.py" not in files
    gan = {p.relative_to(PACKAGE).as_posix() for p in import_closure("training.gan")}
    assert {"losses/perceptual.py", "losses/adversarial.py", "pretrained.py"} <= gan
    assert code_fingerprint("training.gan") != code_fingerprint("training.supervised")


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(small_project, monkeypatch):
    original = WeightedLoss.forward
    calls = {"n": 0}

    def poisoned(self, pred, gt):
        calls["n"] += 1
        total, terms = original(self, pred, gt)
        return (total * float("nan"), terms) if calls["n"] == 3 else (total, terms)

    monkeypatch.setattr(WeightedLoss, "forward", poisoned)
    with pytest.raises(TrainingError, match=r"non-finite at step 3.*checkpoint \(step 2\)"):
        train(run_of(small_project, "ssim", 10, "nan"), CPU, progress=False)
    assert load_checkpoint(small_project / "ck/nan.pt")["step"] == 2


@pytest.mark.parametrize("damage", ["garbage", "truncated", "tenth", "not_a_checkpoint"])
def test_damaged_checkpoint_is_a_clear_error(small_project, damage):
    run = run_of(small_project, "ssim", 10, f"dmg_{damage}")
    train(run, CPU, progress=False)
    data = run.checkpoint.read_bytes()
    if damage == "garbage":
        run.checkpoint.write_bytes(b"not a zip file at all" * 10)
    elif damage in ("truncated", "tenth"):
        run.checkpoint.write_bytes(data[: len(data) // (2 if damage == "truncated" else 10)])
    else:
        torch.save({"weights": torch.zeros(1)}, run.checkpoint)
    with pytest.raises(CheckpointError, match=str(run.checkpoint)):
        train(run, CPU, progress=False)


def test_writes_are_atomic_under_unique_temporary_names(tmp_path, monkeypatch):
    target = tmp_path / "q10.pt"
    save_atomic({"model": {"w": torch.zeros(2)}}, target)
    errors = []

    def writer(value: float) -> None:
        try:
            for _ in range(20):
                save_atomic({"model": {"w": torch.full((1000,), value)}}, target)
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(v,)) for v in (1.0, 2.0, 3.0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    w = load_checkpoint(target)["model"]["w"]
    assert w.shape == (1000,) and float(w.min()) == float(w.max()) in (1.0, 2.0, 3.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q10.pt"]  # no temporary file left

    def broken(obj, f):
        f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        save_atomic({"model": {}}, target)
    monkeypatch.undo()
    assert load_checkpoint(target)["model"]["w"].shape == (1000,)  # the old file is whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q10.pt"]


def test_under_torchrun_each_process_takes_its_gpu_before_nccl(monkeypatch):
    calls = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.append(("set_device", str(d))))
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: False)
    monkeypatch.setattr(torch.distributed, "init_process_group",
                        lambda backend: calls.append(("init", backend)))  # fmt: skip
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 1)
    ddp = Distributed.start(torch.device("cuda"))
    assert calls == [("set_device", "cuda:1"), ("init", "nccl")]
    assert ddp.device == torch.device("cuda", 1) and not ddp.main and ddp.world == 2
    calls.clear()
    assert Distributed.start(CPU).device == CPU and calls == [("init", "gloo")]


def _cli(project: Path, *extra: str) -> list[str]:
    return [*extra, "-m", "artifact_removal", "train", "--quality", "10", "--device", "cpu",
            "--params", str(project / "params.yaml")]  # fmt: skip


def test_kill_9_then_rerun_resumes(small_project):
    from artifact_removal.config import apply_profile

    (small_project / "long.yaml").write_text(
        "train_ssim: {steps: 300, checkpoint_every: 3, val_every: 1000}\n"
    )
    apply_profile(small_project / "long.yaml", small_project / "params.yaml")
    checkpoint = small_project / "build/checkpoints/ssim/q10.pt"
    proc = subprocess.Popen(_cli(small_project, sys.executable), cwd=small_project,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    step = load_checkpoint(checkpoint)["step"]
    assert 3 <= step < 300
    result = train(run_of(small_project, "ssim", 10), CPU, progress=False)
    assert result.resumed_from >= step and load_checkpoint(checkpoint)["step"] == 300


def test_ddp_on_cpu_with_two_processes_matches_one(small_project):
    one = subprocess.run(_cli(small_project, sys.executable), cwd=small_project,
                         capture_output=True, text=True)  # fmt: skip
    assert one.returncode == 0, one.stderr
    single = small_project / "single.pt"
    (small_project / "models/ssim/q10.pt").rename(single)
    (small_project / "build/checkpoints").rename(small_project / "build/checkpoints-1")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                f"--master_port={free_port()}"]  # fmt: skip
    two = subprocess.run(_cli(small_project, *torchrun), cwd=small_project,
                         capture_output=True, text=True)  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = (torch.load(p, weights_only=True)["model"]
            for p in (single, small_project / "models/ssim/q10.pt"))  # fmt: skip
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert two.stdout.count("ssim q10: ") == 1  # rank 0 alone reports
