"""GAN training: a few CPU steps run and repeat exactly, resume, and every way it stops says why."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import pytest
import torch

from artifact_removal.checkpoints import load_checkpoint
from artifact_removal.pretrained import MissingWeightsError
from artifact_removal.stages.train_reports import write_reports
from artifact_removal.training import gan
from artifact_removal.training.engine import train
from artifact_removal.training.run import TrainingError

from .conftest import free_port, run_of, same_weights, weights_of

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def no_vgg_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


@pytest.fixture
def project(ssim_project, tmp_path):
    """A copy of the project with the SSIM generator of QF 10 trained."""
    copy = tmp_path / "gan_project"
    shutil.copytree(ssim_project, copy)
    return copy


def test_a_few_steps_run_and_repeat_exactly(project):
    first = train(run_of(project, "gan", 10, "a"), CPU, progress=False)
    second = train(run_of(project, "gan", 10, "b"), CPU, progress=False)
    assert same_weights(first.release, second.release)
    release = load_checkpoint(first.release)
    assert release["method"] == "gan" and release["loss"] == "random_vgg19_relu1_2"
    assert release["best_step"] == 10 and release["arch"] == "generator"
    logged = first.history[-1]
    assert {"d_loss", "g_loss", "l_p", "l_adv", "d_accuracy", "val_pred_niqe"} <= set(logged)
    accuracy = logged["d_accuracy"]  # the mean of its 10 steps, each a share of 2 x 4 x 16
    assert accuracy * 10 * 2 * 4 * 16 == pytest.approx(round(accuracy * 10 * 2 * 4 * 16))
    assert not same_weights(first.release, project / "models/ssim/q10.pt")  # it trained
    start = first.history[0]  # step 0: the SSIM generator it started from, scored, not released
    assert start["step"] == 0 and "val_pred_niqe" in start and "d_loss" not in start
    samples = first.recipe.samples
    assert sorted(samples) == [0, 10] and samples[10].shape == (160, 160, 3)


def test_reports_name_the_perceptual_loss(project, tmp_path):
    result = train(run_of(project, "gan", 10, "live"), CPU, progress=False)
    summary = json.loads((project / "live/live/metrics.json").read_text())
    assert summary["perceptual_loss"] == "random_vgg19_relu1_2" and summary["best_step"] == 10
    assert summary["best"]["niqe"] == pytest.approx(result.history[-1]["val_pred_niqe"], rel=1e-5)
    assert set(summary) == {"step", "perceptual_loss", "best_step", "best"}
    figures = write_reports(result, tmp_path / "figures")
    assert set(figures) == {"curves", "samples", "example"}
    for name, figure in figures.items():
        assert "random_vgg19_relu1_2" in figure._suptitle.get_text()
        assert (tmp_path / "figures" / f"train_gan_q10_{name}.png").stat().st_size > 0


def test_the_gan_needs_its_starting_generator(small_project):
    with pytest.raises(TrainingError, match=r"models/ssim/q10\.pt.*train_ssim@10"):
        train(run_of(small_project, "gan", 10), CPU, progress=False)


@pytest.mark.parametrize("ema", [0.0, 0.6])  # the trained weights, or their average
def test_interrupted_run_resumes_to_the_same_weights(project, monkeypatch, ema):
    whole = train(run_of(project, "gan", 10, "whole", ema=ema), CPU, progress=False)
    real_step = gan.Recipe.train_step

    def interrupt(self, step):
        if step == 7:
            raise KeyboardInterrupt
        return real_step(self, step)

    monkeypatch.setattr(gan.Recipe, "train_step", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(run_of(project, "gan", 10, "cut", ema=ema), CPU, progress=False)
    monkeypatch.setattr(gan.Recipe, "train_step", real_step)
    resumed = train(run_of(project, "gan", 10, "cut", ema=ema), CPU, progress=False)
    assert resumed.resumed_from == 5
    assert same_weights(resumed.release, whole.release)
    assert [e["step"] for e in resumed.history] == [e["step"] for e in whole.history]


def test_the_weight_average_is_what_is_scored_and_released(project, monkeypatch):
    decay, trained = 0.6, []
    real_step = gan.Recipe.train_step

    def recording(self, step):
        out = real_step(self, step)
        trained.append({k: v.clone() for k, v in self.g.state_dict().items()})
        return out

    monkeypatch.setattr(gan.Recipe, "train_step", recording)
    result = train(run_of(project, "gan", 10, "ema", ema=decay), CPU, progress=False)
    average = weights_of(project / "models/ssim/q10.pt")
    for step in trained:  # ema <- decay * ema + (1 - decay) * weights, after every step
        average = {k: decay * v + (1 - decay) * step[k] for k, v in average.items()}
    released = weights_of(result.release)
    assert load_checkpoint(result.release)["best_step"] == len(trained)
    assert all(torch.allclose(released[k], average[k], atol=1e-6) for k in average)
    assert not torch.allclose(released["tail.weight"], trained[-1]["tail.weight"])
    monkeypatch.setattr(gan.Recipe, "train_step", real_step)
    plain = train(run_of(project, "gan", 10, "plain"), CPU, progress=False)
    assert not same_weights(result.release, plain.release)


def test_a_retrained_start_or_another_backbone_starts_afresh(project):
    train(run_of(project, "gan", 10, "id"), CPU, progress=False)
    assert train(run_of(project, "gan", 10, "id"), CPU, progress=False).resumed_from == 10
    train(run_of(project, "ssim", 10, lr=0.003), CPU, progress=False)  # a new SSIM generator
    assert train(run_of(project, "gan", 10, "id"), CPU, progress=False).resumed_from == 0
    train(run_of(project, "gan", 10, "id"), CPU, progress=False)
    other = run_of(project, "gan", 10, "id", perceptual_layer="relu2_2")
    assert train(other, CPU, progress=False).resumed_from == 0


def test_nan_stops_and_keeps_the_checkpoint(project, monkeypatch):
    monkeypatch.setattr(gan.Recipe, "train_step",
                        lambda self, step: {"d_loss": torch.tensor(math.nan)})  # fmt: skip
    with pytest.raises(TrainingError, match=r"non-finite at step 1.*last good checkpoint"):
        train(run_of(project, "gan", 10, "nan"), CPU, progress=False)


def test_a_held_out_score_that_cannot_be_computed_stops_the_run(project, monkeypatch):
    """Rather than releasing a step chosen by nothing (all NaN): say so, and what to do."""
    monkeypatch.setattr(gan, "niqe_or_nan", lambda image: math.nan)
    with pytest.raises(TrainingError, match=r"held-out niqe is nan at step 0.*select_by psnr_y"):
        train(run_of(project, "gan", 10, "nanval"), CPU, progress=False)
    run = run_of(project, "gan", 10, "psnr", select_by="psnr_y")
    assert load_checkpoint(train(run, CPU, progress=False).release)["best_step"] == 10


def test_collapse_is_reported(project, monkeypatch):
    monkeypatch.setattr(gan, "accuracy", lambda real, fake: 1.0)
    run = run_of(project, "gan", 10, "collapse", collapse_steps=10)
    with pytest.raises(TrainingError, match=r"accuracy has been 1.00 for 10 steps.*collapsed"):
        train(run, CPU, progress=False)


def test_missing_vgg_weights_without_a_fallback(project):
    with pytest.raises(MissingWeightsError, match=r"vgg19-dcbb9e9d\.pth"):
        train(run_of(project, "gan", 10, "novgg", fallback=None), CPU, progress=False)


def test_the_manifest_decides_which_vgg_is_used(project, tmp_path):
    """Weights that arrived in the cache after the manifest was written are not used until it is
    rewritten; weights the manifest names but the cache no longer has are an error."""
    from artifact_removal.losses.perceptual import VGG19_FILE

    checkpoints = tmp_path / "torch/hub/checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / VGG19_FILE).write_bytes(b"not the real weights")
    result = train(run_of(project, "gan", 10, "m"), CPU, progress=False)
    assert result.recipe.perceptual.name == "random_vgg19_relu1_2"  # manifest: absent
    (project / "models/pretrained.yaml").write_text(f"vgg19: {VGG19_FILE} sha256:{'1' * 64}\n")
    with pytest.raises(MissingWeightsError, match="artifact-removal pretrained"):
        train(run_of(project, "gan", 10, "m"), CPU, progress=False)


@pytest.mark.slow  # the engine's own DDP test (test_training.py) runs in `make test`
def test_the_gan_trains_under_torchrun_with_two_processes(project):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               f"--master_port={free_port()}", "-m", "artifact_removal", "train", "--method",
               "gan", "--quality", "10", "--device", "cpu"]  # fmt: skip
    done = subprocess.run(command, cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    release = load_checkpoint(project / "models/gan/q10.pt")
    assert release["best_step"] == 10 and done.stdout.count("gan q10: ") == 1
