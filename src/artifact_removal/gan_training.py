"""GAN training (Galteri et al.): the generator starts from the SSIM generator of the same QF.

Each step first trains the discriminator on originals against the generator's current
restorations (both conditioned on the compressed patch), then the generator on
l = l_P + lambda * l_adv: the perceptual loss plus the adversarial loss -log D(G(I_C) | I_C).
Every `val_every` steps the held-out images are restored and scored; the release file is the
generator of the best held-out score (`select_by`), not of the last step.

Like the supervised engine: batches are a function of (seed, step), checkpoints (both networks,
both optimisers, the best generator so far, history) are atomic and resumable, and a NaN loss
stops the run with the last good checkpoint kept. A discriminator whose accuracy stays at 0 or
1 for `collapse_logs` logged steps in a row has collapsed, and the run stops saying so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .gan import Discriminator, DiscriminatorConfig, accuracy, adversarial_loss, discriminator_loss
from .models import generator_args
from .no_reference import niqe
from .perceptual import PerceptualLoss
from .restoration import restore_array
from .training import (
    LOG_EVERY,
    PatchSampler,
    TrainingError,
    TrainResult,
    evaluate_pairs,
    load_checkpoint,
    load_generator,
    load_pairs,
    save_atomic,
)

SELECT_BY = {"niqe": -1, "psnr_y": 1, "ssim_y": 1}  # held-out score -> sign (higher is better)


@dataclass
class GanRun:
    """Everything one GAN run needs."""

    quality: int
    start_from: Path  # the SSIM generator's release file for this QF
    prepared_dir: Path
    release: Path
    checkpoint: Path
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    layer: str = "relu5_4"
    fallback: str | None = None
    adversarial_weight: float = 1e-3
    patch_size: int = 128
    batch_size: int = 16
    steps: int = 300
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    checkpoint_every: int = 50
    val_every: int = 50
    select_by: str = "niqe"
    collapse_logs: int = 10
    seed: int = 0

    @property
    def identity(self) -> dict:
        """What makes two runs the same run (a checkpoint of another run is not resumed)."""
        keep = {k: v for k, v in asdict(self).items() if k not in ("checkpoint_every",)}
        return {k: str(v) if isinstance(v, Path) else v for k, v in keep.items()}


@dataclass
class _Nets:
    g: torch.nn.Module
    d: Discriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer


def _build(run: GanRun, device: torch.device) -> _Nets:
    if run.select_by not in SELECT_BY:
        raise TrainingError(f"select_by must be one of {list(SELECT_BY)}, got {run.select_by!r}")
    g = load_generator(run.start_from, device).train()
    d = Discriminator(run.discriminator).to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=run.lr_g, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=run.lr_d, betas=(0.9, 0.99))
    return _Nets(g, d, opt_g, opt_d)


def _step(nets: _Nets, perceptual: PerceptualLoss, lq, gt, weight: float) -> dict:
    """One discriminator step, then one generator step; the losses and D's accuracy."""
    lq_s, gt_s = lq * 2 - 1, gt * 2 - 1  # the networks see [-1, 1]
    pred = (nets.g(lq_s) + 1) / 2  # (n, 3, P, P) in [0, 1]
    nets.d.requires_grad_(True)
    real, fake = nets.d(gt_s, lq_s), nets.d(pred.detach() * 2 - 1, lq_s)
    d_loss = discriminator_loss(real, fake)
    nets.opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    nets.opt_d.step()
    nets.d.requires_grad_(False)  # the generator step does not train the discriminator
    l_p = perceptual(pred, gt)
    l_adv = adversarial_loss(nets.d(pred * 2 - 1, lq_s))
    g_loss = l_p + weight * l_adv
    nets.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    nets.opt_g.step()
    losses = {"d_loss": d_loss, "g_loss": g_loss, "l_p": l_p, "l_adv": l_adv}
    terms = {k: float(v.detach()) for k, v in losses.items()}
    return terms | {"d_accuracy": accuracy(real.detach(), fake.detach())}


def held_out_scores(net, pairs: list, device: torch.device) -> dict[str, float]:
    """PSNR and SSIM of the restored held-out images (and JPEG's), and their NIQE."""
    scores = evaluate_pairs(net, pairs, device)
    scores["pred_niqe"] = float(np.mean([niqe(restore_array(net, lq, device)) for _, lq in pairs]))
    return scores


def train_gan(run: GanRun, device: torch.device, progress: bool = True) -> TrainResult:
    """Train (or resume) one GAN generator; the release holds the best held-out generator."""
    from .runtime import seed_everything

    seed_everything(run.seed)
    sampler = PatchSampler(run.prepared_dir, run.quality, run.patch_size, run.seed)
    nets = _build(run, device)
    perceptual = PerceptualLoss(run.layer, run.fallback, run.seed).to(device)
    state = _resume(run, nets)
    val_pairs = load_pairs(run.prepared_dir, "val", run.quality)
    steps = range(state["step"] + 1, run.steps + 1)
    bar = tqdm(steps, desc=f"train gan q{run.quality}", disable=not progress,
               initial=state["step"], total=run.steps, unit="step")  # fmt: skip
    window: list[dict] = []
    for step in bar:
        batch = sampler.batch(step, run.batch_size)
        terms = _step(nets, perceptual, batch["lq"].to(device), batch["gt"].to(device),
                      run.adversarial_weight)  # fmt: skip
        if not all(np.isfinite(v) for v in terms.values()):
            raise TrainingError(
                f"gan q{run.quality}: a loss became non-finite at step {step} ({terms}); the "
                f"last good checkpoint (step {state['saved']}) is kept at {run.checkpoint}"
            )
        window.append(terms)
        if step % LOG_EVERY == 0 or step == run.steps:
            entry = {"step": step} | {k: float(np.mean([w[k] for w in window])) for k in terms}
            window = []
            _watch_collapse(run, state, entry)
            if step % run.val_every == 0 or step == run.steps:
                _validate(run, nets, state, entry, val_pairs, device)
            state["history"].append(entry)
            bar.set_postfix(d_acc=f"{entry['d_accuracy']:.2f}", g=f"{entry['g_loss']:.4f}")
        if step % run.checkpoint_every == 0 or step == run.steps:
            _save(run, nets, state, step)
    best = state["best"] or {k: v.detach().cpu() for k, v in nets.g.state_dict().items()}
    save_atomic({"model": best, "model_args": generator_args(nets.g), "quality": run.quality,
                 "method": "gan", "loss": perceptual.name, "best_step": state["best_step"],
                 "identity": run.identity}, run.release)  # fmt: skip
    return TrainResult(run.release, run.checkpoint, state["history"], state["resumed"])


def _watch_collapse(run: GanRun, state: dict, entry: dict) -> None:
    """Stop when the discriminator's accuracy has been stuck at 0 or 1 for too long."""
    stuck = entry["d_accuracy"] <= 0.01 or entry["d_accuracy"] >= 0.99
    state["stuck"] = state["stuck"] + 1 if stuck else 0
    if state["stuck"] >= run.collapse_logs:
        raise TrainingError(
            f"gan q{run.quality}: the discriminator's accuracy has been {entry['d_accuracy']:.2f} "
            f"for {state['stuck'] * LOG_EVERY} steps (to step {entry['step']}): training has "
            f"collapsed. Try other learning rates or adversarial weight; the last checkpoint "
            f"(step {state['saved']}) is at {run.checkpoint}"
        )


def _validate(run, nets, state, entry, val_pairs, device) -> None:
    """Score the held-out images; keep the generator if it is the best so far."""
    if not val_pairs:
        return
    nets.g.eval()
    entry |= {f"val_{k}": v for k, v in held_out_scores(nets.g, val_pairs, device).items()}
    nets.g.train()
    score = SELECT_BY[run.select_by] * entry[f"val_pred_{run.select_by}"]
    if state["best_score"] is None or score > state["best_score"]:
        state["best_score"], state["best_step"] = score, entry["step"]
        state["best"] = {k: v.detach().cpu().clone() for k, v in nets.g.state_dict().items()}


def _resume(run: GanRun, nets: _Nets) -> dict:
    """The state of the last checkpoint of the same run, loaded into `nets`; or a fresh one."""
    fresh = {"step": 0, "saved": 0, "resumed": 0, "history": [], "stuck": 0,
             "best": None, "best_score": None, "best_step": None}  # fmt: skip
    if not run.checkpoint.is_file():
        return fresh
    saved = load_checkpoint(run.checkpoint)
    if saved.get("identity") != run.identity:
        return fresh  # another configuration: start over
    nets.g.load_state_dict(saved["model"])
    nets.d.load_state_dict(saved["discriminator"])
    nets.opt_g.load_state_dict(saved["optimizer"])
    nets.opt_d.load_state_dict(saved["optimizer_d"])
    step = int(saved["step"])
    return fresh | {key: saved[key] for key in ("history", "stuck", "best", "best_score",
                                                  "best_step")} | {"step": step, "saved": step,
                                                                   "resumed": step}  # fmt: skip


def _save(run: GanRun, nets: _Nets, state: dict, step: int) -> None:
    """One atomic checkpoint: both networks and optimisers, the best generator, the history."""
    save_atomic(
        {"model": nets.g.state_dict(), "discriminator": nets.d.state_dict(),
         "optimizer": nets.opt_g.state_dict(), "optimizer_d": nets.opt_d.state_dict(),
         "model_args": generator_args(nets.g), "step": step, "identity": run.identity,
         "history": state["history"], "stuck": state["stuck"], "best": state["best"],
         "best_score": state["best_score"], "best_step": state["best_step"]},
        run.checkpoint,
    )  # fmt: skip
    state["saved"] = step
