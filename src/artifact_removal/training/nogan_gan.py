"""NoGAN's critic pretraining and short GAN phase, with an automatic stopping point.

Starts from the pre-GAN release of the same QF (`training.nogan`), in two parts of one run:

1. **Critic pretraining** (`critic_steps`): the critic (`archs.unet.Critic`) learns to tell
   originals ("real") from the frozen pre-GAN generator's restorations of the training
   patches ("fake"), by the mean binary cross-entropy of its patch logits.
2. **The GAN phase** (up to `gan_steps`): every step trains the critic once; in
   `generator_steps` = [g, n], g of every n steps also train the generator, on
   adversarial + `loss_weight` x (its pre-GAN loss, LPIPS + L1), with Adam betas (0, 0.9):
   [2, 5] is the paper's 5 critic steps per 2 generator steps.

Every `val_every` steps of the GAN phase the held-out images are restored and judged by the
stopping rule (`training.stopping`): their LPIPS against the originals when the ImageNet AlexNet
is recorded in `models/pretrained.yaml`, else NIQE (stated in the results as the substitute),
with a check counting as failed when the colour shifts or high-frequency energy grows past
their limits against the pre-GAN output. After `stop.patience` checks without a better score
the run ends (`Recipe.done`), and the release is the best check's generator; a rerun resumes
to the same end. Step 0 is the pre-GAN generator, scored as the reference, never released.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from ..archs.unet import Critic
from ..checkpoints import files_fingerprint, load_checkpoint
from ..data.samplers import PatchSampler
from ..inference.releases import generator_release, load_generator
from ..inference.torch_backend import restore_array
from ..metrics.lpips import Lpips
from ..pretrained import read_manifest, weights_for
from ..runtime import autocast
from .gan import HeldOut, scores
from .nogan import build_loss
from .run import Recipe as BaseRecipe
from .run import TrainingError
from .saving import weights
from .stopping import StopRule, glitch_statistics, glitches

SUMMARY = ("psnr_y", "ssim_y", "niqe", "jpeg_niqe")  # the released check's, in metrics.json


def bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Mean binary cross-entropy of patch logits against one label."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits.float(), target)


def _tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 127.5 - 1


class Recipe(BaseRecipe):
    """Critic pretraining, then the GAN phase, from the pre-GAN generator of the same QF."""

    validate_at_start = True  # step 0: the pre-GAN generator, the stopping rule's reference

    def __init__(self, run, device, ddp):
        super().__init__(run, device, ddp)
        s = run.settings
        pre = load_checkpoint(run.start_from)["run"]["settings"]  # the loss it was trained on
        self.loss_settings = SimpleNamespace(
            loss=pre["loss"], fallback=pre["fallback"], lpips_backbone=pre["lpips_backbone"]
        )
        self.sampler = PatchSampler(run.prepared_dir, run.quality, s.patch_size, run.seed)
        self.g = load_generator(run.start_from, device).train()
        self.encoder_name = self.g.release.get("encoder", "")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(run.seed)
            c = s.critic
            self.c = Critic(c.channels, c.downsamplings, c.dropout).to(device)
        self.criterion, self.lpips_entry = build_loss(self.loss_settings, run.root, run.seed)
        self.criterion = self.criterion.to(device)
        self.modules = {"g": self.g, "c": self.c}
        self.optimizers = {
            "g": torch.optim.Adam(self.g.parameters(), lr=s.lr_g, betas=(0.0, 0.9)),
            "c": torch.optim.Adam(self.c.parameters(), lr=s.lr_c, betas=(0.0, 0.9)),
        }
        self.g_model, self.c_model = ddp.wrap(self.g), ddp.wrap(self.c)
        self.held_out = HeldOut(run.prepared_dir / "sets" / "val", run.quality, run.figure_crop)
        if not self.held_out.pairs:
            raise TrainingError(
                f"{run.prepared_dir}/sets/val: no validation images, so no "
                "stopping point can be chosen; give data.val_fraction > 0"
            )
        self.lpips = Lpips.load(weights_for("alexnet", run.root), device)
        self.score_name = "lpips" if self.lpips.available else "niqe"
        self.rule = StopRule(s.stop.patience, s.stop.max_colour_shift, s.stop.max_high_frequency)
        self.reference: list | None = None  # the pre-GAN outputs' glitch statistics (step 0)
        self.best: dict | None = None
        self.samples: dict[int, torch.Tensor] = {}

    def inputs(self) -> dict[str, str]:
        start = files_fingerprint([self.run.start_from], self.run.start_from.parent)
        score = read_manifest(self.run.root)["alexnet"]  # LPIPS of the stopping rule
        return {
            "data": self.sampler.fingerprint(self.run.root),
            "start": start,
            "lpips": self.lpips_entry,
            "score": score,
        }

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        s = self.run.settings
        # the critic's dropout draws from (seed, step, process) alone, so a resumed run
        # draws what an uninterrupted one would
        torch.manual_seed((self.run.seed * 1_000_003 + step) * 64 + self.ddp.rank)
        batch = self.sampler.batch(step, s.batch_size, self.ddp.rank, self.ddp.world)
        lq, gt = (batch[k].to(self.device) * 2 - 1 for k in ("lq", "gt"))
        pretraining = step <= s.critic_steps
        g_steps, every = s.generator_steps
        train_g = not pretraining and (step - s.critic_steps - 1) % every >= every - g_steps
        # the generator's batch-norm statistics move only on its own steps (and it stays the
        # pre-GAN generator while the critic learns to judge it)
        self.g.train(train_g)
        with autocast(self.device), torch.set_grad_enabled(train_g):
            fake = self.g_model(lq, signed=True)  # in [-1, 1], as the critic and LPIPS judge
        self.c.requires_grad_(True)
        with autocast(self.device):
            real_logits, fake_logits = self.c_model(gt), self.c_model(fake.detach())
        c_loss = (bce(real_logits, True) + bce(fake_logits, False)) / 2
        self.optimizers["c"].zero_grad(set_to_none=True)
        c_loss.backward()
        self.optimizers["c"].step()
        accuracy = ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean()) / 2
        terms = {"c_loss": c_loss.detach(), "c_accuracy": accuracy.detach()}
        if not train_g:
            return terms
        self.c.requires_grad_(False)
        with autocast(self.device):
            adversarial = bce(self.c(fake), True)
        found = self.criterion(fake.float(), gt)
        g_loss = adversarial + s.loss_weight * found["loss"]
        self.optimizers["g"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizers["g"].step()
        return (
            terms
            | {"g_loss": g_loss.detach(), "g_adv": adversarial.detach()}
            | {f"g_{k}": v.detach().float() for k, v in found.items() if k != "loss"}
        )

    def validate(self, step: int) -> dict[str, float]:
        """Score the held-out images (step 0 and the GAN phase); judge the check."""
        if 0 < step <= self.run.settings.critic_steps:
            return {}  # the generator has not moved yet
        held_out = self.held_out
        self.g.eval()
        preds = [restore_array(self.g, lq, self.device) for _, lq in held_out.pairs]
        self.g.train()
        gts = [gt for gt, _ in held_out.pairs]
        found = scores(gts, preds, "pred") | held_out.jpeg
        if self.lpips.available:
            distances = [self.lpips(g, p) for g, p in zip(gts, preds, strict=True)]
            found["pred_lpips"] = float(np.mean(distances))
        self.samples[step] = torch.from_numpy(held_out.crop(preds[held_out.index]))
        statistics = [glitch_statistics(_tensor(p)) for p in preds]
        if step == 0:
            self.reference = statistics  # the pre-GAN output's, a few numbers per image
            return found
        shift, high = glitches(statistics, self.reference)
        score = found[f"pred_{self.score_name}"]
        self.rule.judge(step, score, shift, high)
        if self.rule.best is not None and self.rule.best["step"] == step:
            self.best = weights(self.g)
        return found | {"colour_shift": shift, "high_frequency": high}

    def done(self) -> bool:
        return self.rule.stop

    @property
    def best_step(self) -> int | None:
        return self.rule.best["step"] if self.rule.best else None

    def state(self) -> dict:
        return {
            "rule": self.rule.state(),
            "best": self.best,
            "samples": self.samples,
            "reference": self.reference,
        }

    def load_state(self, state: dict) -> None:
        self.rule.load_state(state["rule"])
        self.best, self.samples, self.reference = (
            state["best"],
            state["samples"],
            state["reference"],
        )

    def release(self) -> dict:
        """The best check's generator; while no check is eligible (or none was), the pre-GAN
        generator itself (`best_step` 0): never weights that the rule rejected."""
        release = generator_release(self.g) | {
            "loss": self.criterion.name,
            "encoder": self.encoder_name,
        }
        best = self.best or load_checkpoint(self.run.start_from)["model"]
        return release | {
            "model": best,
            "best_step": self.best_step or 0,
            "stopping_score": self.score_name,
        }

    def summary(self, history: list[dict]) -> dict:
        best = next((e for e in history if e["step"] == (self.best_step or 0)), {})
        found = {
            k.removeprefix("val_pred_").removeprefix("val_"): v
            for k, v in best.items()
            if k.startswith("val_")
        }
        kept = {k: v for k, v in found.items() if k in (*SUMMARY, "lpips")}
        return {
            "best_step": self.best_step or 0,
            "stopped": int(self.rule.stop),
            "best": {k: v for k, v in kept.items() if not math.isnan(v)},
        }
