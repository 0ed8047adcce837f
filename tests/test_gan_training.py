"""GAN training: a few CPU steps run and repeat exactly, resume, NaN and collapse stop clearly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from artifact_removal import gan_training
from artifact_removal.config import load_params
from artifact_removal.gan import DiscriminatorConfig
from artifact_removal.gan_training import GanRun, train_gan, write_gan_reports
from artifact_removal.perceptual import MissingWeightsError
from artifact_removal.training import TrainingError, load_checkpoint, train_generator

from .test_training import _run, trained_project  # noqa: F401 (fixture)

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def ssim_release(trained_project) -> Path:  # noqa: F811
    """A tiny SSIM generator for QF 10, the GAN's starting point."""
    run = _run(trained_project, "gan_start")
    train_generator(run, CPU, progress=False)
    return run.release


@pytest.fixture(autouse=True)
def no_vgg_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def _gan(project: Path, start: Path, tag: str, **changes) -> GanRun:
    run = GanRun(
        quality=10, start_from=start, prepared_dir=project / "data/prepared",
        release=project / f"models/gan/{tag}.pt", checkpoint=project / f"ck/gan/{tag}.pt",
        discriminator=DiscriminatorConfig(channels=4, layers=2, sub_patch=16),
        layer="relu1_2", fallback="random_vgg19", adversarial_weight=0.01, patch_size=64,
        batch_size=4, steps=10, checkpoint_every=5, val_every=10, seed=1,
    )  # fmt: skip
    for key, value in changes.items():
        setattr(run, key, value)
    return run


def _same(a: Path, b: Path) -> bool:
    wa, wb = load_checkpoint(a)["model"], load_checkpoint(b)["model"]
    return all(torch.equal(wa[k], wb[k]) for k in wa)


def test_a_few_steps_run_and_repeat_exactly(trained_project, ssim_release):  # noqa: F811
    first = train_gan(_gan(trained_project, ssim_release, "a"), CPU, progress=False)
    second = train_gan(_gan(trained_project, ssim_release, "b"), CPU, progress=False)
    assert _same(first.release, second.release)
    release = load_checkpoint(first.release)
    assert release["method"] == "gan" and release["loss"] == "random_vgg19_relu1_2"
    assert release["best_step"] == 10
    logged = first.history[-1]
    assert {"d_loss", "g_loss", "l_p", "l_adv", "d_accuracy", "val_pred_niqe"} <= set(logged)
    assert 0 <= logged["d_accuracy"] <= 1
    assert not _same(first.release, ssim_release)  # it trained
    start = first.history[0]  # step 0: the SSIM generator it started from, scored, not released
    assert start["step"] == 0 and "val_pred_niqe" in start and "d_loss" not in start
    assert sorted(first.samples) == [0, 10] and first.samples[10].shape == (160, 160, 3)


def test_reports_name_the_perceptual_loss(trained_project, ssim_release, tmp_path):  # noqa: F811
    run = _gan(trained_project, ssim_release, "live", live_dir=tmp_path / "live")
    result = train_gan(run, CPU, progress=False)
    summary = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert summary["perceptual_loss"] == "random_vgg19_relu1_2" and summary["best_step"] == 10
    assert "pred_niqe" in summary["best"]
    figures = write_gan_reports(run, result, tmp_path / "figures")
    assert set(figures) == {"curves", "samples", "example"}
    for name, figure in figures.items():
        assert "random_vgg19_relu1_2" in figure._suptitle.get_text()
        assert (tmp_path / "figures" / f"train_gan_q10_{name}.png").stat().st_size > 0


def test_run_from_params_starts_from_the_ssim_generator(project, tmp_path):
    params = load_params(project / "params.yaml")
    with pytest.raises(TrainingError, match=r"models/ssim/q10\.pt.*train_ssim@10"):
        GanRun.from_params(params, 10, project)
    with pytest.raises(TrainingError, match=r"not one of degradation\.qualities"):
        GanRun.from_params(params, 11, project)
    (project / "models/ssim").mkdir(parents=True)
    (project / "models/ssim/q10.pt").write_bytes(b"")
    run = GanRun.from_params(params, 10, project)
    gan = params.train_gan
    assert run.start_from == project / "models/ssim/q10.pt"
    assert run.release == project / gan.models_dir / "q10.pt"
    assert (run.layer, run.fallback, run.steps) == (gan.perceptual_layer, gan.fallback, gan.steps)
    assert run.discriminator.channels == gan.discriminator.channels
    assert run.live_dir == project / "reports/train_gan/q10"


def test_interrupted_run_resumes_to_the_same_weights(trained_project, ssim_release, monkeypatch):  # noqa: F811
    whole = train_gan(_gan(trained_project, ssim_release, "whole"), CPU, progress=False)
    calls, real_step = [], gan_training._step

    def interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(gan_training, "_step", interrupt)
    run = _gan(trained_project, ssim_release, "cut")
    with pytest.raises(KeyboardInterrupt):
        train_gan(run, CPU, progress=False)
    monkeypatch.setattr(gan_training, "_step", real_step)
    resumed = train_gan(run, CPU, progress=False)
    assert resumed.resumed_from == 5
    assert _same(resumed.release, whole.release)


def test_nan_stops_and_keeps_the_checkpoint(trained_project, ssim_release, monkeypatch):  # noqa: F811
    monkeypatch.setattr(gan_training, "_step", lambda *a, **k: {"d_loss": math.nan})
    with pytest.raises(TrainingError, match=r"non-finite at step 1.*last good checkpoint"):
        train_gan(_gan(trained_project, ssim_release, "nan"), CPU, progress=False)


def test_collapse_is_reported(trained_project, ssim_release, monkeypatch):  # noqa: F811
    monkeypatch.setattr(gan_training, "accuracy", lambda real, fake: 1.0)
    run = _gan(trained_project, ssim_release, "collapse", collapse_steps=10)
    with pytest.raises(TrainingError, match=r"accuracy has been 1.00 for 10 steps.*collapsed"):
        train_gan(run, CPU, progress=False)


def test_missing_vgg_weights_without_a_fallback(trained_project, ssim_release):  # noqa: F811
    run = _gan(trained_project, ssim_release, "novgg", fallback=None)
    with pytest.raises(MissingWeightsError, match=r"vgg19-dcbb9e9d\.pth"):
        train_gan(run, CPU, progress=False)
