"""The notebooks' lessons: one JPEG block by hand agrees with libjpeg, the step lessons show
the run's own first step and leave the run's released weights as they were."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage import data

from artifact_removal.config import load_params
from artifact_removal.lessons.gan_step import gan_step, verdict_figure
from artifact_removal.lessons.jpeg_block import block_figure, busiest_block, encode_block
from artifact_removal.lessons.nogan_phases import critic_pretraining_figure, phase_table
from artifact_removal.lessons.step_view import batch_figure, build_recipe
from artifact_removal.lessons.supervised_step import supervised_step
from artifact_removal.training.engine import train

from .conftest import run_of, weights_of

CPU = torch.device("cpu")


def test_a_block_by_hand_decodes_as_libjpeg_does():
    camera = data.camera()
    row, col = busiest_block(camera)
    assert (row % 8, col % 8) == (0, 0)
    for quality in (10, 50, 90):
        steps = encode_block(camera[row : row + 8, col : col + 8], quality)
        assert np.abs(steps.decoded.astype(int) - steps.codec.astype(int)).max() <= 1
        assert steps.coefficients[0, 0] == pytest.approx((steps.block.mean() - 128) * 8)
    low, high = (encode_block(camera[row : row + 8, col : col + 8], q) for q in (10, 90))
    assert low.zeros > high.zeros and np.abs(low.error).mean() > np.abs(high.error).mean()
    assert low.table[0, 0] == 80  # the standard table's 16, scaled by 5000 / 10 = 500 %
    assert len(block_figure(low).axes) == 8


def test_a_block_must_be_8x8_uint8():
    with pytest.raises(ValueError, match=r"a block is \(8, 8\) uint8"):
        encode_block(np.zeros((8, 9), np.uint8), 10)


def _released_twice(project, name: str, lesson) -> tuple[dict, dict]:
    """The run's released weights without the lesson, and with it run first."""
    run = run_of(project, name, 10, steps=2, checkpoint_every=2, val_every=2)
    first = weights_of(train(run, CPU, progress=False).release)
    run.checkpoint.unlink()
    run.release.unlink()
    lesson(run)
    return first, weights_of(train(run, CPU, progress=False).release)


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_supervised_step_is_the_runs_first_and_changes_nothing(small_project):
    shown = []
    first, second = _released_twice(
        small_project, "ssim", lambda run: shown.append(supervised_step(run, CPU))
    )
    assert _same(first, second)
    one = shown[0]
    weights = load_params(small_project / "params.yaml").train_ssim.loss
    assert one.weights == dict(weights) and set(one.terms) == set(weights)
    assert one.total == pytest.approx(sum(weights[k] * one.terms[k] for k in weights), rel=1e-5)
    assert one.gradient_norm > 0 and one.lq.shape == one.pred.shape == one.gt.shape
    assert one.lq.dtype == np.uint8 and len(batch_figure({"a": one.lq, "b": one.gt}).axes) == 8


def test_the_gan_step_shows_verdicts_per_sub_patch_and_changes_nothing(ssim_project, tmp_path):
    import shutil

    project = tmp_path / "p"
    shutil.copytree(ssim_project, project)
    shown = []
    first, second = _released_twice(project, "gan", lambda run: shown.append(gan_step(run, CPU)))
    assert _same(first, second)
    one = shown[0]
    settings = load_params(project / "params.yaml").train_gan
    side = settings.patch_size // settings.discriminator.sub_patch
    assert one.real.shape[1:] == (side, side) and ((one.real > 0) & (one.real < 1)).all()
    expected = -np.log(one.real).mean() - np.log(1 - one.fake).mean()
    assert one.d_loss == pytest.approx(expected, rel=1e-4)
    assert one.g_loss == pytest.approx(one.l_p + settings.adversarial_weight * one.l_adv)
    assert abs(one.d_loss - 2 * math.log(2)) < 0.3  # an untrained D is near chance
    assert len(verdict_figure(one).axes) == 5


def test_the_lessons_steps_are_the_recipes_steps(ssim_project, tmp_path):
    """A lesson's numbers are those of the recipe's own first training step (the same batch,
    forward pass and losses): a lesson that computed its step another way would differ."""
    import shutil

    project = tmp_path / "p"
    shutil.copytree(ssim_project, project)
    supervised = run_of(project, "ssim", 10, steps=2, checkpoint_every=2, val_every=2)
    shown = supervised_step(supervised, CPU)
    trained = build_recipe(supervised, CPU).train_step(1)
    assert shown.total == float(trained["loss"])
    assert shown.terms == {k: float(trained[f"loss_{k}"]) for k in shown.terms}
    gan = run_of(project, "gan", 10, steps=2, checkpoint_every=2, val_every=2)
    shown = gan_step(gan, CPU)
    trained = build_recipe(gan, CPU).train_step(1)
    assert shown.d_loss == float(trained["d_loss"]) and shown.l_p == float(trained["l_p"])
    assert shown.accuracy == float(trained["d_accuracy"])  # both before the update


def test_nogan_phases_as_a_table_and_the_critics_pretraining(project):
    params = load_params(project / "params.yaml")
    table = phase_table(params.train_nogan, params.train_nogan_gan)
    assert len(table) == len(params.train_nogan.phases) + 2
    assert table["steps"].iloc[-2] == params.train_nogan_gan.critic_steps
    history = [
        {"step": 0},
        {"step": 10, "c_loss": 0.69, "c_accuracy": 0.5},
        {"step": 20, "c_loss": 0.6, "c_accuracy": 0.7},
        {"step": 30, "g_loss": 1.0},
    ]
    figure = critic_pretraining_figure(history, critic_steps=20)
    assert [len(ax.lines[0].get_xdata()) for ax in figure.axes] == [2, 2]
