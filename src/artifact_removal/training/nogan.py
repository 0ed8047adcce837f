"""NoGAN's generator pretraining (Mameli et al., ICPR 2020): the pre-GAN release.

The U-Net (`archs.unet`, `train_nogan.generator`) learns to map compressed patches to
originals under LPIPS + L1 (`train_nogan.loss`; MSE or SSIM alone give Table I's other rows),
in phases (`train_nogan.phases`): first on small patches with the ImageNet encoder frozen, so
the randomly initialised decoder learns to use its features without wrecking them, then with
everything trained, then on larger patches. The run engine sees one run whose steps are the
phases' steps; which phase a step is in follows from the step alone, so a resumed run goes on in
the phase it stopped in.

The encoder's ImageNet weights and LPIPS's backbone are the files `models/pretrained.yaml`
names (so DVC, and the run's identity, see which); without them `train_nogan.fallback: random`
takes seeded random weights, named in the release file, the metrics and every figure
(`random_mobilenet_v3_large`, `random_alex_lpips`), or the run stops with an error naming the
file and the folder.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict

import torch

from ..archs.unet import UNet, UNetConfig
from ..checkpoints import load_weights
from ..data.prepared import load_pairs
from ..data.samplers import PatchSampler
from ..inference.releases import generator_release
from ..losses.lpips_loss import LpipsLoss
from ..pretrained import (
    BACKBONES,
    LPIPS_BACKBONES,
    MissingWeightsError,
    cache_path,
    read_manifest,
    unrecorded,
    weights_for,
)
from ..runtime import autocast
from . import supervised
from .run import Recipe as BaseRecipe


def backbone_weights(name: str, root, fallback: str | None, what: str):
    """(weights file or None, its manifest entry or the fallback's name) of a backbone."""
    if note := unrecorded(name, root):
        warnings.warn(note, stacklevel=2)
    path = weights_for(name, root)
    if path is None and fallback is None:
        raise MissingWeightsError(
            f"{what} needs {BACKBONES[name]} in {cache_path(BACKBONES[name]).parent} "
            "(torchvision's ImageNet weights; `artifact-removal fetch-models` gets them when "
            "online), recorded by `artifact-removal pretrained`; or `fallback: random`, seeded "
            "random weights, which is not the paper's setting"
        )
    return path, read_manifest(root)[name] if path else f"random_{name}"


def build_unet(settings, root, seed: int) -> tuple[UNet, str]:
    """The U-Net of `train_nogan.generator` with its encoder's ImageNet weights, or seeded
    random ones (the fallback); and the encoder's name for the release file."""
    config = UNetConfig(**asdict(settings.generator))
    path, entry = backbone_weights(
        config.encoder, root, settings.fallback, f"the NoGAN encoder {config.encoder}"
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = UNet(config, load_weights(path) if path else None)
    return net, (entry.split(" ")[0] if path else entry)


def build_loss(settings, root, seed: int) -> tuple[LpipsLoss, str]:
    """NoGAN's loss of `train_nogan.loss`, and what identifies its backbone."""
    terms = dict(settings.loss)
    if "lpips" not in terms:
        return LpipsLoss(terms=terms), "none"
    key = LPIPS_BACKBONES[settings.lpips_backbone]
    path, entry = backbone_weights(key, root, settings.fallback, "the LPIPS loss")
    fallback = f"random_{settings.lpips_backbone}" if settings.fallback else None
    return LpipsLoss(settings.lpips_backbone, path, fallback, terms, seed), entry


class Recipe(BaseRecipe):
    """The U-Net trained from its encoder's weights on LPIPS + L1, phase by phase."""

    def __init__(self, run, device, ddp):
        super().__init__(run, device, ddp)
        s = run.settings
        self.net, self.encoder_name = build_unet(s, run.root, run.seed)
        self.net = self.net.to(device)
        self.criterion, self.lpips_entry = build_loss(s, run.root, run.seed)
        self.criterion = self.criterion.to(device)
        self.samplers = {
            size: PatchSampler(run.prepared_dir, run.quality, size, run.seed)
            for size in sorted({p.patch_size for p in s.phases})
        }
        optimizer = torch.optim.Adam(self.net.parameters(), lr=s.lr, betas=(0.9, 0.99))
        self.modules, self.optimizers = {"g": self.net}, {"g": optimizer}
        self.model = ddp.wrap(self.net)
        folder = run.prepared_dir / "sets" / "val"
        self.val_pairs = load_pairs(folder, run.quality) if ddp.main else []

    def phase(self, step: int) -> tuple[int, object]:
        """(index, settings) of the phase that step `step` (from 1) belongs to."""
        end = 0
        for index, phase in enumerate(self.run.settings.phases):
            end += phase.steps
            if step <= end:
                return index, phase
        return index, phase

    def inputs(self) -> dict[str, str]:
        data = {
            f"data_{size}": sampler.fingerprint(self.run.root)
            for size, sampler in self.samplers.items()
        }
        return data | {"encoder": self.encoder_name, "lpips": self.lpips_entry}

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(compressed, original) patches of batch `step` at its phase's patch size, this
        process's share, on the device, in [-1, 1]: the range LPIPS judges in, which the
        U-Net takes and gives with `signed`. Unfreezes (or freezes) the encoder when the
        phase changes."""
        _, phase = self.phase(step)
        if self.net.encoder.frozen != phase.frozen:
            self.net.encoder.freeze(phase.frozen)
            # DDP registers the parameters that need gradients when it wraps: wrap anew
            self.model = self.ddp.wrap(self.net)
        s = self.run.settings
        batch = self.samplers[phase.patch_size].batch(
            step, s.batch_size, self.ddp.rank, self.ddp.world
        )
        lq, gt = (batch[k].to(self.device) * 2 - 1 for k in ("lq", "gt"))
        return lq, gt

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        """The U-Net's restoration of `lq`, both in [-1, 1]."""
        with autocast(self.device):
            return self.model(lq, signed=True)

    def losses(self, pred: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
        """LPIPS and the pixel terms of `train_nogan.loss`; "loss" is their weighted sum."""
        return self.criterion(pred.float(), gt)

    def update(self, total: torch.Tensor) -> None:
        """Gradients of `total` and one optimiser step."""
        optimizer = self.optimizers["g"]
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        lq, gt = self.batch(step)
        terms = self.losses(self.forward(lq), gt)
        self.update(terms["loss"])
        index, _ = self.phase(step)
        return {k: v.detach().float() for k, v in terms.items()} | {
            "phase": torch.tensor(float(index + 1))
        }

    validate = supervised.Recipe.validate  # restored validation images against JPEG's

    def release(self) -> dict:
        return generator_release(self.net) | {
            "loss": self.criterion.name,
            "encoder": self.encoder_name,
        }
