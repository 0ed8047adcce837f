"""The paper profile on the CPU: a few steps of every trainer, at the papers' network sizes.

Paper scale is a GPU's job; this checks its shapes, memory and code paths (the full generator,
the 64-filter discriminator, VGG-19 to relu5_4, the wide QF predictor) in seconds, with batches
cut to two and the steps to two.
"""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from artifact_removal.archs.generator import count_parameters
from artifact_removal.checkpoints import load_checkpoint
from artifact_removal.config import apply_profile
from artifact_removal.inference.releases import load_generator
from artifact_removal.pretrained import MissingWeightsError
from artifact_removal.training.engine import train

from .conftest import REPO, run_of

CPU = torch.device("cpu")
FEW_STEPS = {"steps": 2, "checkpoint_every": 1, "val_every": 2}


@pytest.fixture
def paper_project(small_project, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no ImageNet weights here
    apply_profile(REPO / "profiles/paper.yaml", small_project / "params.yaml")
    (small_project / "short.yaml").write_text("degradation: {qualities: [10, 40]}\n")
    apply_profile(small_project / "short.yaml", small_project / "params.yaml")
    return small_project


@pytest.mark.slow  # the same trainers run at tiny size in their own test files
def test_every_trainer_runs_a_few_steps_at_paper_size(paper_project):
    ssim = train(run_of(paper_project, "ssim", 10, batch_size=2, **FEW_STEPS), CPU, progress=False)
    net = load_generator(ssim.release)
    assert count_parameters(net) == 1_148_291 and net.config.blocks == 15
    assert ssim.history[-1]["step"] == 2 and "val_pred_psnr_y" in ssim.history[-1]

    gan = run_of(paper_project, "gan", 10, batch_size=2, **FEW_STEPS)
    assert gan.settings.fallback is None and gan.settings.perceptual_layer == "relu5_4"
    with pytest.raises(MissingWeightsError, match=r"vgg19-dcbb9e9d\.pth"):
        train(gan, CPU, progress=False)  # the paper's loss or nothing
    gan = run_of(paper_project, "gan", 10, batch_size=2, fallback="random_vgg19", **FEW_STEPS)
    result = train(gan, CPU, progress=False)
    assert result.recipe.perceptual.name == "random_vgg19_relu5_4"
    assert result.recipe.d.config.channels == 64 and load_checkpoint(gan.release)["best_step"] == 2

    from artifact_removal.methods.nogan import PhaseParams

    pre = run_of(paper_project, "nogan_pre", 10)
    assert pre.settings.fallback is None and pre.settings.generator.width == 1.0
    with pytest.raises(MissingWeightsError, match=r"mobilenet_v3_large-5c1a4163\.pth"):
        train(pre, CPU, progress=False)  # the paper's encoder or nothing
    phases = (PhaseParams(64, 1, True), PhaseParams(64, 1, False))
    pre = run_of(paper_project, "nogan_pre", 10, fallback="random", phases=phases,
                 batch_size=2, checkpoint_every=1, val_every=2)  # fmt: skip
    assert load_checkpoint(train(pre, CPU, progress=False).release)["loss"] == (
        "random_vgg_lpips + l1"
    )
    nogan = run_of(paper_project, "nogan", 10, critic_steps=1, gan_steps=2, batch_size=2,
                   checkpoint_every=1, val_every=1)  # fmt: skip
    assert train(nogan, CPU, progress=False).recipe.c.net[0].weight.shape[0] == 64

    qf = train(run_of(paper_project, "qf", batch_size=8, **FEW_STEPS), CPU, progress=False)
    release = load_checkpoint(qf.release)
    args = release["model_args"]
    assert args["classes"] == list(qf.run.settings.classes) and args["channels"] == 64
    assert args["above"] is True and args["temperature"] > 0  # calibrated at the last step
    assert {"val_accuracy", "loss"} <= set(qf.history[-1])


@pytest.mark.parametrize("profile", sorted(p.name for p in (REPO / "profiles").glob("*.yaml")))
def test_every_profile_merges_into_valid_params(profile, project):
    """Each profile names only keys that exist, with values the checks accept (the course
    profile's study, NoGAN and detection QFs among its two rungs)."""
    assert apply_profile(REPO / "profiles" / profile, project / "params.yaml")


def test_the_gpu_profile_trains_the_fast_preset_at_tiny_size_on_the_cpu(small_project):
    """profiles/gpu_fast.yaml's settings, its steps and batch cut to two: the GPU figures wait
    for a GPU (benchmarks/RESULTS.md)."""
    apply_profile(REPO / "profiles/gpu_fast.yaml", small_project / "params.yaml")
    run = run_of(small_project, "ssim", 10, batch_size=2, **FEW_STEPS)
    assert run.settings.generator == "fast" and run.settings.lr == 0.001
    result = train(run, CPU, progress=False)
    net = load_generator(result.release)
    assert count_parameters(net) == 355_971 and net.config.blocks == 8
    assert result.history[-1]["step"] == 2


def test_the_recipe_curve_trains_beside_the_pipeline_and_scores(small_project, monkeypatch, capsys):
    """benchmarks/recipe_curve.py: a changed recipe trains into build/recipes, scores on a
    prepared set, and leaves the project's models and params as they were."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    monkeypatch.chdir(small_project)
    from recipe_curve import main

    params = (small_project / "params.yaml").read_text()
    changes = ["train_ssim.steps=2", "train_ssim.val_every=2", "train_ssim.batch_size=2"]
    assert main(["--quality", "10", "--set", "test", *changes]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row.startswith(f"| ssim q10 {' '.join(changes)} | ") and "test (1): RGB " in row
    folder = small_project / "build/recipes" / f"ssim_q10_{'+'.join(changes)}"
    assert (folder / "models/q10.pt").is_file() and (folder / "checkpoint.pt").is_file()
    assert not (small_project / "models/ssim/q10.pt").exists()
    assert (small_project / "params.yaml").read_text() == params
    assert ", NIQE " in row
    tagged = ["--quality", "10", "--set", "test", "--tag", "avx2 cap", *changes]
    assert main(tagged) == 0  # the same recipe under another name: a run of its own
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row.startswith(f"| ssim q10 {' '.join(changes)} [avx2 cap] | ")
    assert (folder.parent / f"{folder.name}_avx2_cap" / "models/q10.pt").is_file()
    assert main(["--quality", "10", "train_ssim.stepz=2"]) == 2
    assert "params.yaml has no key train_ssim.stepz" in capsys.readouterr().err
    log = pd.read_csv(small_project / "benchmarks/recipe_curve.csv")  # each point kept, in the
    assert list(log["recipe"]) == [" ".join(changes), f"{' '.join(changes)} [avx2 cap]"]  # project
    assert log["minutes"].ge(0).all() and log["live1_color_rgb"].isna().all()  # not scored here
    assert main(["--plot"]) == 0 and (small_project / "benchmarks/recipe_curve.png").is_file()
