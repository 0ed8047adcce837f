"""What the step lessons share (notebooks 02 and 03): the method's recipe built as the run
engine builds it, on a copy, and batches as pictures.

A lesson builds the method's recipe as `train` does (`training.engine.recipe_class`, seeded
with the run's seed), takes batch 1 (the batch the run itself starts with) and works on that
copy; `train` then builds and seeds its own, so the released weights are the same with or
without the lesson.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..runtime import Distributed, seed_everything
from ..training.run import Run, recipe_class


def images(batch: torch.Tensor) -> np.ndarray:
    """(n, 3, P, P) in [0, 1] -> (n, P, P, 3) uint8."""
    pixels = batch.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    return np.round(pixels * 255).astype(np.uint8)


def build_recipe(run: Run, device: torch.device):
    """The method's recipe, built as `train` builds it (seeded), on one process."""
    seed_everything(run.seed)
    return recipe_class(run)(run, device, Distributed(device=device))


def gradient_norm(net: torch.nn.Module) -> float:
    """The L2 norm of all the gradients of a network's parameters."""
    norms = [p.grad.norm() for p in net.parameters() if p.grad is not None]
    return float(torch.stack(norms).norm()) if norms else 0.0


def batch_figure(rows: dict[str, np.ndarray], count: int = 4) -> plt.Figure:
    """The first `count` patches of each named batch (n, P, P, 3), a row per name."""
    fig, axes = plt.subplots(len(rows), count, figsize=(2.2 * count, 2.3 * len(rows)))
    for r, (name, images) in enumerate(rows.items()):
        for c in range(count):
            axes[r, c].imshow(images[c])
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(name)
    fig.tight_layout()
    plt.close(fig)
    return fig
