"""The supervised generators (Galteri et al.'s SSIM and MSE baselines): one recipe.

The generator (preset `train_ssim.generator`) learns to map compressed patches to originals
under a weighted sum of named pixel losses (`train_ssim.loss`, e.g. `{ssim: 1.0, l1: 1.0}`),
with Adam and a constant or cosine learning rate. Every `val_every` steps the validation
images are restored whole and scored against JPEG itself. On 2 CPU cores channels_last makes
a step of the default (tiny, SSIM+L1) 1.4 times faster, so it is used on every device.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..archs.generator import build_generator
from ..data.prepared import load_pairs
from ..data.samplers import PatchSampler
from ..inference.releases import generator_release
from ..inference.torch_backend import restore_array
from ..losses.pixel import WeightedLoss
from ..metrics.full_reference import psnr, ssim
from ..runtime import autocast, channels_last
from .run import Recipe as BaseRecipe


def schedule(optimizer: torch.optim.Optimizer, kind: str, steps: int):
    """Constant or cosine (to 1% of the initial rate) learning-rate schedule."""
    if kind == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )


def evaluate_pairs(net: torch.nn.Module, pairs: list, device: torch.device) -> dict[str, float]:
    """Mean PSNR (RGB, Y) and SSIM (Y) of restored images and of JPEG itself."""
    scores: dict[str, list[float]] = {}
    for gt, lq in pairs:
        pred = restore_array(net, lq, device)
        for name, image in (("pred", pred), ("jpeg", lq)):
            for key, value in (
                (f"{name}_psnr_rgb", psnr(gt, image)),
                (f"{name}_psnr_y", psnr(gt, image, "y")),
                (f"{name}_ssim_y", ssim(gt, image, "y")),
            ):
                scores.setdefault(key, []).append(value)
    return {key: float(np.mean(values)) for key, values in scores.items()}


class Recipe(BaseRecipe):
    """A generator trained on pixel losses from scratch."""

    def __init__(self, run, device, ddp):
        super().__init__(run, device, ddp)
        s = run.settings
        self.sampler = PatchSampler(run.prepared_dir, run.quality, s.patch_size, run.seed)
        self.net = build_generator(s.generator).to(device).to(memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=s.lr, betas=(0.9, 0.99))
        self.modules, self.optimizers = {"g": self.net}, {"g": optimizer}
        self.schedulers = {"g": schedule(optimizer, s.schedule, s.steps)}
        self.model = ddp.wrap(self.net)
        self.criterion = self.loss()
        folder = run.prepared_dir / "sets" / "val"
        self.val_pairs = load_pairs(folder, run.quality) if ddp.main else []

    def loss(self) -> torch.nn.Module:
        """The criterion: (pred, gt) -> (total, {term: value}); the weighted pixel losses of
        `train_ssim.loss` here, and what a variant of this recipe changes."""
        return WeightedLoss(self.run.settings.loss)

    def inputs(self) -> dict[str, str]:
        return {"data": self.sampler.fingerprint(self.run.root)}

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(compressed, original) patches of batch `step`, this process's share, on the
        device: (n, 3, P, P) in [0, 1]."""
        batch = self.sampler.batch(
            step, self.run.settings.batch_size, self.ddp.rank, self.ddp.world
        )
        return tuple(channels_last(batch[k].to(self.device)) for k in ("lq", "gt"))

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        """The generator's restoration of `lq`, in [0, 1] (the network maps to and from the
        [-1, 1] its layers work in)."""
        with autocast(self.device):
            return self.model(lq)

    def losses(self, pred: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """(the total that backward differentiates, each term's value)."""
        return self.criterion(pred.float(), gt)

    def update(self, total: torch.Tensor) -> None:
        """Gradients of `total`, one optimiser step, one step of the schedule. The gradients
        stay on the parameters until the next update."""
        optimizer = self.optimizers["g"]
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        self.schedulers["g"].step()

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        lq, gt = self.batch(step)
        loss, terms = self.losses(self.forward(lq), gt)
        self.update(loss)
        return {"loss": loss.detach()} | {f"loss_{k}": v for k, v in terms.items()}

    def validate(self, step: int) -> dict[str, float]:
        self.net.eval()
        scores = evaluate_pairs(self.net, self.val_pairs, self.device)
        self.net.train()
        return scores

    def release(self) -> dict:
        return generator_release(self.net)
