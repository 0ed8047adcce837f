"""NoGAN's three phases: a few CPU steps of each run, repeat exactly, resume, stop by the rule,
and missing weights give the named fallback or a clear error."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from artifact_removal.checkpoints import load_checkpoint
from artifact_removal.inference.releases import load_generator
from artifact_removal.pretrained import MissingWeightsError
from artifact_removal.stages.train_reports import write_reports
from artifact_removal.training import nogan, nogan_gan
from artifact_removal.training.engine import train
from artifact_removal.training.run import TrainingError

from .conftest import cut_at, run_of, same_weights

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def no_imagenet_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


@pytest.fixture(scope="module")
def pretrained(prepared_project, tmp_path_factory):
    """A project copy with NoGAN's pre-GAN generator of QF 10 trained (6 steps, two phases)."""
    project = tmp_path_factory.mktemp("nogan") / "project"
    shutil.copytree(prepared_project, project)
    result = train(run_of(project, "nogan_pre", 10), CPU, progress=False)
    return project, result


@pytest.fixture
def project(pretrained, tmp_path):
    copy = tmp_path / "p"
    shutil.copytree(pretrained[0], copy)
    return copy


def test_pretraining_runs_its_phases_and_names_its_fallbacks(pretrained, prepared_project):
    project, result = pretrained
    release = load_checkpoint(result.release)
    assert release["arch"] == "unet" and release["method"] == "nogan_pre"
    assert release["loss"] == "random_alex_lpips + l1"
    assert release["encoder"] == "random_mobilenet_v3_small"
    assert [e["phase"] for e in result.history if "phase" in e] == [1.0, 2.0]  # steps 3, 6
    net = load_generator(result.release)
    assert net.release["encoder"] == "random_mobilenet_v3_small" and not net.encoder.frozen
    again = train(run_of(project, "nogan_pre", 10, "again"), CPU, progress=False)
    assert same_weights(result.release, again.release)  # the same on the CPU, twice


def test_the_encoder_is_frozen_in_a_frozen_phase_only(project):
    run = run_of(project, "nogan_pre", 10, "phases")
    recipe = nogan.Recipe(
        run,
        CPU,
        type("D", (), {"wrap": staticmethod(lambda m: m), "main": True, "rank": 0, "world": 1})(),
    )
    before = {k: v.clone() for k, v in recipe.net.encoder.state_dict().items()}
    for step in (1, 2, 3):
        recipe.train_step(step)
    assert recipe.net.encoder.frozen
    assert all(torch.equal(before[k], v) for k, v in recipe.net.encoder.state_dict().items())
    recipe.train_step(4)
    assert not recipe.net.encoder.frozen
    assert not all(torch.equal(before[k], v) for k, v in recipe.net.encoder.state_dict().items())


def test_pretraining_resumes_to_the_same_weights(project, monkeypatch):
    whole = train(run_of(project, "nogan_pre", 10, "whole"), CPU, progress=False)
    cut_at(monkeypatch, nogan.Recipe, 5)
    with pytest.raises(KeyboardInterrupt):
        train(run_of(project, "nogan_pre", 10, "cut"), CPU, progress=False)
    monkeypatch.undo()
    resumed = train(run_of(project, "nogan_pre", 10, "cut"), CPU, progress=False)
    assert resumed.resumed_from == 4 and same_weights(resumed.release, whole.release)


def test_gan_phase_stops_by_the_rule_repeats_and_resumes(project, monkeypatch):
    first = train(run_of(project, "nogan", 10, "a"), CPU, progress=False)
    second = train(run_of(project, "nogan", 10, "b"), CPU, progress=False)
    assert same_weights(first.release, second.release)
    release = load_checkpoint(first.release)
    assert release["method"] == "nogan" and release["loss"] == "random_alex_lpips + l1"
    assert release["stopping_score"] == "niqe"  # no ImageNet AlexNet: the stated substitute
    rule = first.recipe.rule
    assert rule.history[0]["step"] == 4  # checks start after critic pretraining
    assert release["best_step"] == rule.best["step"]
    logged = {k for e in first.history for k in e}
    assert {"c_loss", "c_accuracy", "g_loss", "g_adv", "g_lpips", "g_l1"} <= logged
    assert {"val_colour_shift", "val_high_frequency", "val_pred_niqe"} <= logged
    # critic pretraining leaves the generator as it was
    assert first.history[0]["step"] == 0
    # a run that the rule ended resumes to nothing; one cut short resumes to the same release
    assert train(run_of(project, "nogan", 10, "a"), CPU, progress=False).history == first.history
    cut_at(monkeypatch, nogan_gan.Recipe, 5)
    with pytest.raises(KeyboardInterrupt):
        train(run_of(project, "nogan", 10, "cut"), CPU, progress=False)
    monkeypatch.undo()
    resumed = train(run_of(project, "nogan", 10, "cut"), CPU, progress=False)
    assert resumed.resumed_from == 4 and same_weights(resumed.release, first.release)


def test_the_rule_ends_the_run_early_on_a_worsening_score(project, monkeypatch):
    scores = iter([5.0, 4.0, 4.5, 4.6, 4.7, 4.8, 4.9, 5.0])
    monkeypatch.setattr(nogan_gan, "scores", lambda gts, preds, name: {
        f"{name}_psnr_y": 30.0, f"{name}_ssim_y": 0.9,
        f"{name}_niqe": next(scores) if name == "pred" else 6.0})  # fmt: skip
    result = train(run_of(project, "nogan", 10, "early", gan_steps=20), CPU, progress=False)
    # step 0 (pre-GAN) takes the first score; checks at 4, 6, 8, 10: best at 4, two worse
    assert result.recipe.best_step == 4 and result.history[-1]["step"] == 8
    assert load_checkpoint(result.release)["best_step"] == 4
    assert load_checkpoint(run_of(project, "nogan", 10, "early").checkpoint)["step"] == 8


def test_the_gan_phase_needs_its_pre_gan_generator(small_project):
    with pytest.raises(TrainingError, match=r"models/nogan_pre/q10\.pt.*train_nogan@10"):
        train(run_of(small_project, "nogan", 10), CPU, progress=False)


def test_missing_weights_without_a_fallback_name_the_file(small_project):
    with pytest.raises(MissingWeightsError, match=r"mobilenet_v3_small-047dcff4\.pth"):
        train(run_of(small_project, "nogan_pre", 10, "nofb", fallback=None), CPU,
              progress=False)  # fmt: skip


def test_reports_show_the_stopping_point(project, tmp_path):
    result = train(run_of(project, "nogan", 10, "live"), CPU, progress=False)
    summary = json.loads((project / "live/live/metrics.json").read_text())
    assert summary["best_step"] == result.recipe.best_step and "niqe" in summary["best"]
    assert all(math.isfinite(v) for v in summary["best"].values())
    figures = write_reports(result, tmp_path / "figures")
    assert set(figures) == {"curves", "stopping", "samples", "example"}
    for name in figures:
        assert (tmp_path / "figures" / f"train_nogan_q10_{name}.png").stat().st_size > 0


@pytest.mark.slow  # the engine's own DDP test (test_training.py) runs in `make test`
def test_both_phases_train_under_torchrun_with_two_processes(small_project):
    """DDP over gloo: the encoder frozen, then unfrozen (DDP wraps anew), then the GAN phase."""
    import subprocess
    import sys

    from .conftest import free_port

    for method in ("nogan_pre", "nogan"):
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                   f"--master_port={free_port()}", "-m", "artifact_removal", "train",
                   "--method", method, "--quality", "10", "--device", "cpu"]  # fmt: skip
        done = subprocess.run(command, cwd=small_project, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.count(f"{method} q10: ") == 1
    assert load_checkpoint(small_project / "models/nogan/q10.pt")["method"] == "nogan"


def test_without_an_eligible_check_the_pre_gan_generator_is_released(project, monkeypatch):
    """Every check over the glitch limits: the rule stops, and releases no rejected weights."""
    monkeypatch.setattr(nogan_gan, "glitches", lambda found, reference: (99.0, 1.0))
    result = train(run_of(project, "nogan", 10, "glitchy"), CPU, progress=False)
    assert result.recipe.rule.stop and result.recipe.best_step is None
    assert result.history[-1]["step"] == 6  # patience 2: two checks (4, 6), none eligible
    assert load_checkpoint(result.release)["best_step"] == 0
    assert same_weights(result.release, project / "models/nogan_pre/q10.pt")
