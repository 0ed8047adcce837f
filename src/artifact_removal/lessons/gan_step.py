"""One step of the GAN in view (notebook 03): both networks' losses, and the discriminator's
verdict on each sub-patch of the originals and of the restorations."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..losses.adversarial import accuracy, adversarial_loss, discriminator_loss
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


def _verdicts(recipe, lq: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(restored, D on the originals, D on the restorations) of a batch, no gradients."""
    with torch.no_grad():
        pred = (recipe.g(lq * 2 - 1) + 1) / 2
        real = recipe.d(gt * 2 - 1, lq * 2 - 1)  # (n, 1, P/s, P/s) probabilities
        fake = recipe.d(pred * 2 - 1, lq * 2 - 1)
    return pred, real, fake


def gan_step(run: Run, device: torch.device) -> GanStep:
    """The losses of step 1 of `run` (the GAN), before either network is updated."""
    recipe = build_recipe(run, device)
    batch = recipe.sampler.batch(1, run.settings.batch_size)
    lq, gt = batch["lq"].to(device), batch["gt"].to(device)  # (n, 3, P, P) in [0, 1]
    pred, real, fake = _verdicts(recipe, lq, gt)
    with torch.no_grad():
        l_p = float(recipe.perceptual(pred, gt))
    return GanStep(
        images(lq),
        images(gt),
        images(pred),
        real[:, 0].cpu().numpy(),
        fake[:, 0].cpu().numpy(),
        float(discriminator_loss(real, fake)),
        l_p,
        float(adversarial_loss(fake)),
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
