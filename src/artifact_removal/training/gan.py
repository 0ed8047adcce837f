"""The GAN (Galteri et al., ICCV 2017 / TMM 2019): the generator starts from the SSIM generator.

Each step first trains the discriminator on originals against the generator's current
restorations (both conditioned on the compressed patch), then the generator on
l = l_P + lambda * l_adv: the perceptual loss plus the adversarial loss -log D(G(I_C) | I_C).
Every `val_every` steps the held-out images are restored and scored; the release file is the
generator of the best held-out score (`select_by`), not of the last step. With `ema` > 0 the
scored and released generator is the exponential moving average of the trained one's weights
(decay `ema` per step): adversarial training swings from step to step, and near-equal held-out
scores at different steps would otherwise pick a different step on another processor (its
sums in another order), so the average is what the scores and the release see. A score that cannot
be computed (NIQE of images smaller than its blocks) stops the run, rather than releasing a
step chosen by nothing. A discriminator whose accuracy stays at 0 or 1 for `collapse_steps`
steps has collapsed, and the run stops saying so.

The perceptual loss uses the VGG-19 weights that `models/pretrained.yaml` names (so its
identity, and DVC, see which), or the named fallback.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import torch

from ..archs.discriminator import Discriminator, DiscriminatorConfig
from ..checkpoints import files_fingerprint
from ..data.images import busiest_crop, colourfulness
from ..data.prepared import load_pairs
from ..data.samplers import PatchSampler
from ..inference.releases import generator_release, load_generator
from ..inference.torch_backend import restore_array
from ..losses.adversarial import accuracy, adversarial_loss, discriminator_loss
from ..losses.perceptual import PerceptualLoss
from ..methods import METHODS
from ..metrics.full_reference import psnr, ssim
from ..metrics.no_reference import niqe_or_nan
from ..pretrained import read_manifest, unrecorded, weights_for
from ..runtime import autocast, channels_last
from .live import held_out
from .run import Recipe as BaseRecipe
from .run import TrainingError
from .saving import weights

SELECT_BY = {"niqe": -1, "psnr_y": 1, "ssim_y": 1}  # held-out score -> sign (higher is better)
# the released step's scores in metrics.json (JPEG's PSNR and SSIM on the same images are in
# train_ssim's); fewer columns keep `dvc metrics show reports/train_gan` within a terminal
SUMMARY = ("psnr_y", "ssim_y", "niqe", "jpeg_niqe")


def scores(gts: list, images: list, name: str) -> dict[str, float]:
    """Mean PSNR-Y, SSIM-Y and NIQE (over the images large enough for it) of `images`."""
    niqes = [niqe_or_nan(image) for image in images]
    pairs = list(zip(gts, images, strict=True))
    return {
        f"{name}_psnr_y": float(np.mean([psnr(g, i, "y") for g, i in pairs])),
        f"{name}_ssim_y": float(np.mean([ssim(g, i, "y") for g, i in pairs])),
        f"{name}_niqe": float(np.nanmean(niqes)) if np.isfinite(niqes).any() else math.nan,
    }


class HeldOut:
    """The validation images, and the window of one of them whose restoration is kept as a
    sample at every validation (the busiest crop of the most colourful image)."""

    def __init__(self, folder, quality: int, crop: int):
        self.pairs = load_pairs(folder, quality)
        gts, jpegs = [gt for gt, _ in self.pairs], [lq for _, lq in self.pairs]
        self.jpeg = scores(gts, jpegs, "jpeg") if self.pairs else {}  # once, not every time
        self.index, self.window = 0, (slice(0, crop), slice(0, crop))
        if self.pairs:
            self.index = int(np.argmax([colourfulness(gt) for gt, _ in self.pairs]))
            y, x = busiest_crop(self.pairs[self.index][0], crop)
            self.window = (slice(y, y + crop), slice(x, x + crop))

    def crop(self, image: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(image[self.window])

    def references(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The sample window of the JPEG and of the original."""
        if not self.pairs:
            return None, None
        gt, lq = self.pairs[self.index]
        return self.crop(lq), self.crop(gt)


def _layout(x: torch.Tensor) -> torch.Tensor:
    """channels_last on CUDA, as the networks are there."""
    return channels_last(x) if x.device.type == "cuda" else x


class Recipe(BaseRecipe):
    """Fine-tunes the SSIM generator of the same QF against a conditional discriminator."""

    validate_at_start = True  # step 0: the SSIM generator it starts from (never released)

    def __init__(self, run, device, ddp):
        super().__init__(run, device, ddp)
        s = run.settings
        self.sampler = PatchSampler(run.prepared_dir, run.quality, s.patch_size, run.seed)
        self.g = load_generator(run.start_from, device).train()
        d = s.discriminator
        self.d = Discriminator(DiscriminatorConfig(d.channels, d.layers, d.sub_patch)).to(device)
        if device.type == "cuda":  # faster convolutions; the CPU keeps the default layout
            self.g, self.d = (m.to(memory_format=torch.channels_last) for m in (self.g, self.d))
        self.modules = {"g": self.g, "d": self.d}
        self.optimizers = {
            "g": torch.optim.Adam(self.g.parameters(), lr=s.lr_g, betas=(0.9, 0.99)),
            "d": torch.optim.Adam(self.d.parameters(), lr=s.lr_d, betas=(0.9, 0.99)),
        }
        self.g_model, self.d_model = ddp.wrap(self.g), ddp.wrap(self.d)
        self.ema = copy.deepcopy(self.g).requires_grad_(False).eval() if s.ema else None
        self.backbone = read_manifest(run.root)["vgg19"]
        vgg = weights_for("vgg19", run.root)
        if note := unrecorded("vgg19", run.root):
            warnings.warn(note, stacklevel=2)
        self.perceptual = PerceptualLoss(s.perceptual_layer, vgg, s.fallback, run.seed).to(device)
        self.held_out = HeldOut(run.prepared_dir / "sets" / "val", run.quality, run.figure_crop)
        if not self.held_out.pairs:
            raise TrainingError(
                f"{run.prepared_dir}/sets/val: no validation images, so no step can be "
                "chosen for release; give data.val_fraction > 0"
            )
        self.best: dict | None = None
        self.best_score: float | None = None
        self.best_step: int | None = None
        self.samples: dict[int, torch.Tensor] = {}
        self.stuck_since: int | None = None
        self.logged = 0

    def inputs(self) -> dict[str, str]:
        start = files_fingerprint([self.run.start_from], self.run.start_from.parent)
        return {
            "data": self.sampler.fingerprint(self.run.root),
            "start": start,
            "vgg19": self.backbone
            if self.perceptual.name.startswith("vgg19")
            else self.perceptual.name,
        }

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(compressed, original) patches of batch `step`, this process's share, on the
        device: (n, 3, P, P) in [0, 1]."""
        batch = self.sampler.batch(
            step, self.run.settings.batch_size, self.ddp.rank, self.ddp.world
        )
        return tuple(_layout(batch[k].to(self.device)) for k in ("lq", "gt"))

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        """The generator's restoration of `lq`, in [0, 1] (the networks map to and from the
        [-1, 1] their layers work in)."""
        with autocast(self.device):
            return self.g_model(lq)

    def verdicts(self, pred, lq, gt) -> tuple[torch.Tensor, torch.Tensor]:
        """The discriminator's probability that each sub-patch is an original, on the
        originals and on the restorations (detached: this trains the discriminator only),
        given the compressed patches: (n, 1, P/s, P/s) each."""
        with autocast(self.device):
            return self.d_model(gt, lq), self.d_model(pred.detach(), lq)

    def generator_losses(self, pred, lq, gt) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(l_G = l_P + lambda l_adv, l_P, l_adv) of the restorations. The bare discriminator
        judges them: it has no gradients of its own to sync in this step."""
        with autocast(self.device):
            l_p = self.perceptual(pred.float(), gt)
            l_adv = adversarial_loss(self.d(pred, lq))
        return l_p + self.run.settings.adversarial_weight * l_adv, l_p, l_adv

    def update(self, network: str, loss: torch.Tensor) -> None:
        """Gradients of `loss` and one optimiser step of `network` ("g" or "d")."""
        optimizer = self.optimizers[network]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        """One discriminator step, then one generator step; the losses and D's accuracy."""
        lq, gt = self.batch(step)
        pred = self.forward(lq)
        self.d.requires_grad_(True)
        real, fake = self.verdicts(pred, lq, gt)
        d_loss = discriminator_loss(real, fake)
        self.update("d", d_loss)
        self.d.requires_grad_(False)  # the generator step does not train the discriminator
        g_loss, l_p, l_adv = self.generator_losses(pred, lq, gt)
        self.update("g", g_loss)
        if self.ema is not None:
            self._average()
        losses = {"d_loss": d_loss, "g_loss": g_loss, "l_p": l_p, "l_adv": l_adv}
        terms = {k: v.detach().float() for k, v in losses.items()}
        return terms | {"d_accuracy": torch.tensor(accuracy(real.detach(), fake.detach()))}

    @torch.no_grad()
    def _average(self) -> None:
        """ema <- decay * ema + (1 - decay) * g, for every weight and float buffer."""
        decay = self.run.settings.ema
        trained = self.g.state_dict()
        for name, value in self.ema.state_dict().items():
            if value.is_floating_point():
                value.lerp_(trained[name], 1 - decay)
            else:
                value.copy_(trained[name])

    @property
    def scored(self) -> torch.nn.Module:
        """The generator the held-out images and the release see: the average when kept."""
        return self.ema if self.ema is not None else self.g

    def check(self, entry: dict) -> str | None:
        """Stop when the discriminator's accuracy has been stuck at 0 or 1 for too long."""
        if 0.01 < entry["d_accuracy"] < 0.99:
            self.stuck_since = None
        elif self.stuck_since is None:
            self.stuck_since = self.logged  # the window of this entry began there
        self.logged = entry["step"]
        stuck = entry["step"] - self.stuck_since if self.stuck_since is not None else 0
        if self.stuck_since is not None and stuck >= self.run.settings.collapse_steps:
            return (
                f"the discriminator's accuracy has been {entry['d_accuracy']:.2f} for "
                f"{stuck} steps (to step {entry['step']}): training has collapsed. Try other "
                "learning rates or adversarial weight"
            )
        return None

    def validate(self, step: int) -> dict[str, float]:
        """Score the held-out images and keep a sample; keep the generator if it is the best so
        far (the starting generator, step 0, is scored but never released)."""
        held_out = self.held_out
        net = self.scored
        net.eval()
        preds = [restore_array(net, lq, self.device) for _, lq in held_out.pairs]
        if net is self.g:
            self.g.train()
        found = scores([gt for gt, _ in held_out.pairs], preds, "pred") | held_out.jpeg
        self.samples[step] = torch.from_numpy(held_out.crop(preds[held_out.index]))
        select_by = self.run.settings.select_by
        value = found[f"pred_{select_by}"]
        if not math.isfinite(value):
            raise TrainingError(
                f"{self.run.label}: the held-out {select_by} is {value} at step {step}: no "
                "validation image could be scored (NIQE needs 96x96 pixels); no step can be "
                f"chosen for release. Use {METHODS[self.run.name].section}.select_by psnr_y or "
                "larger validation images"
            )
        score = SELECT_BY[select_by] * value
        if step > 0 and (self.best_score is None or score > self.best_score):
            self.best_score, self.best_step, self.best = score, step, weights(net)
        return found

    def state(self) -> dict:
        return {
            "samples": self.samples,
            "best": self.best,
            "best_score": self.best_score,
            "best_step": self.best_step,
            "stuck_since": self.stuck_since,
            "logged": self.logged,
            "ema": weights(self.ema) if self.ema is not None else None,
        }

    def load_state(self, state: dict) -> None:
        self.samples, self.best, self.best_score = (
            state["samples"],
            state["best"],
            state["best_score"],
        )
        self.best_step, self.stuck_since, self.logged = (
            state["best_step"],
            state["stuck_since"],
            state["logged"],
        )
        if self.ema is not None:  # the run's identity holds `ema`: a checkpoint that resumes
            self.ema.load_state_dict(state["ema"])  # has the average when the run keeps one

    def release(self) -> dict:
        release = generator_release(self.scored) | {"loss": self.perceptual.name}
        return release | {"model": self.best or release["model"], "best_step": self.best_step}

    def summary(self, history: list[dict]) -> dict:
        best = next((e for e in history if e["step"] == self.best_step), {})
        scores = {k: v for k, v in held_out(best).items() if k in SUMMARY}
        return {
            "perceptual_loss": self.perceptual.name,
            "best_step": self.best_step,
            "best": scores,
        }
