"""One step of the SSIM generator in view (notebook 02): the batch, the forward pass, each
loss term, the backward pass and the update, with the recipe's own network, loss and batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..training.run import Run
from .step_view import build_recipe, gradient_norm, images


@dataclass(frozen=True)
class SupervisedStep:
    """Step 1 of a supervised generator: its batch, prediction, loss terms and update."""

    lq: np.ndarray  # (n, P, P, 3) uint8, compressed patches
    gt: np.ndarray  # their originals
    pred: np.ndarray  # the generator's output before the update
    weights: dict[str, float]  # the loss's terms and their weights (`train_ssim.loss`)
    terms: dict[str, float]  # each term's value on this batch
    total: float  # sum of weight x term: what backward differentiates
    gradient_norm: float  # of every parameter's gradient, after backward
    learning_rate: float
    total_after: float  # the same batch's loss after the optimiser's step


def supervised_step(run: Run, device: torch.device) -> SupervisedStep:
    """Run step 1 of `run` (a supervised generator) in view, through the recipe's own
    `batch`, `forward`, `losses` and `update`: the functions every step of training calls."""
    recipe = build_recipe(run, device)
    lq, gt = recipe.batch(1)  # (n, 3, P, P) in [0, 1]
    pred = recipe.forward(lq)
    total, terms = recipe.losses(pred, gt)
    rate = recipe.optimizers["g"].param_groups[0]["lr"]  # the rate of this step
    recipe.update(total)
    norm = gradient_norm(recipe.net)  # the gradients backward left on the parameters
    with torch.no_grad():
        after, _ = recipe.losses(recipe.forward(lq), gt)
    return SupervisedStep(
        images(lq),
        images(gt),
        images(pred),
        dict(recipe.criterion.weights),
        terms,
        float(total.detach()),
        norm,
        rate,
        float(after),
    )
