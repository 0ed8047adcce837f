"""One step of the GAN in view (notebook 03): both networks' losses, and the discriminator's
verdict on each sub-patch of the originals and of the restorations."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..losses.adversarial import accuracy, discriminator_loss
from ..training.run import Run
from .jpeg_block import value_grid
from .step_view import build_recipe, images


@dataclass(frozen=True)
class GanStep:
    """Step 1 of the GAN: both networks' losses, and the discriminator's verdict on each
    sub-patch of the originals and of the restorations."""

    lq: np.ndarray  # (n, P, P, 3) uint8
    gt: np.ndarray
    pred: np.ndarray  # the generator's output at step 1 (the SSIM generator's)
    real: np.ndarray  # (n, P/s, P/s): D(original | compressed), the probability of "original"
    fake: np.ndarray  # D(restored | compressed) per sub-patch
    d_loss: float  # -log D(I | I_C) - log(1 - D(G(I_C) | I_C)), means over sub-patches
    l_p: float  # the perceptual loss
    l_adv: float  # -log D(G(I_C) | I_C)
    weight: float  # lambda: l_G = l_P + lambda l_adv
    accuracy: float  # the discriminator's share of right verdicts

    @property
    def g_loss(self) -> float:
        return self.l_p + self.weight * self.l_adv


def gan_step(run: Run, device: torch.device) -> GanStep:
    """The losses of step 1 of `run` (the GAN), before either network is updated, through
    the recipe's own `batch`, `forward`, `verdicts` and `generator_losses`: the functions every
    step of training calls."""
    recipe = build_recipe(run, device)
    lq, gt = recipe.batch(1)  # (n, 3, P, P) in [0, 1]
    with torch.no_grad():
        pred = recipe.forward(lq)
        real, fake = recipe.verdicts(pred, lq, gt)  # (n, 1, P/s, P/s) probabilities
        _, l_p, l_adv = recipe.generator_losses(pred, lq, gt)
    return GanStep(
        images(lq),
        images(gt),
        images(pred),
        real[:, 0].float().cpu().numpy(),
        fake[:, 0].float().cpu().numpy(),
        float(discriminator_loss(real, fake)),
        float(l_p),
        float(l_adv),
        run.settings.adversarial_weight,
        accuracy(real, fake),
    )


def verdict_figure(step: GanStep, index: int = 0) -> plt.Figure:
    """One patch (compressed, restored, original) and the discriminator's probability that
    each of its sub-patches is an original, on the original and on the restoration."""
    fig, axes = plt.subplots(1, 5, figsize=(16, 3.6))
    shown = (("compressed", step.lq), ("restored", step.pred), ("original", step.gt))
    for ax, (name, image) in zip(axes[:3], shown, strict=True):
        ax.imshow(image[index])
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    probability = {"fmt": ".2f", "cmap": "RdYlGn", "vmin": 0, "vmax": 1}
    value_grid(axes[3], step.real[index], "D(original | compressed)", **probability)
    value_grid(axes[4], step.fake[index], "D(restored | compressed)", **probability)
    fig.tight_layout()
    plt.close(fig)
    return fig
