"""GAN training (Galteri et al.): the generator starts from the SSIM generator of the same QF.

Each step first trains the discriminator on originals against the generator's current
restorations (both conditioned on the compressed patch), then the generator on
l = l_P + lambda * l_adv: the perceptual loss plus the adversarial loss -log D(G(I_C) | I_C).
Every `val_every` steps the held-out images are restored and scored; the release file is the
generator of the best held-out score (`select_by`), not of the last step.

Like the supervised engine: batches are a function of (seed, step), checkpoints (both networks,
both optimisers, the best generator so far, history) are atomic and resumable, and a NaN loss
stops the run with the last good checkpoint kept. A discriminator whose accuracy stays at 0 or
1 for `collapse_steps` steps in a row has collapsed, and the run stops saying so.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from .gan import Discriminator, DiscriminatorConfig, accuracy, adversarial_loss, discriminator_loss
from .metrics import psnr, ssim
from .models import generator_args
from .no_reference import niqe
from .perceptual import PerceptualLoss
from .restoration import restore_array
from .training import (
    LOG_EVERY,
    LiveLog,
    PatchSampler,
    TrainingError,
    TrainResult,
    load_checkpoint,
    load_generator,
    load_pairs,
    save_atomic,
)

if TYPE_CHECKING:
    from .config import Params

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
    collapse_steps: int = 300
    seed: int = 0
    sample_crop: int = 160  # side of the held-out window kept as a sample at each validation
    live_dir: Path | None = None  # dvclive folder: curves and metrics.json

    @classmethod
    def from_params(cls, params: Params, quality: int, root: Path) -> GanRun:
        """The run of `params.train_gan` for one QF, starting from train_ssim's generator."""
        from .config import resolve_path

        gan = params.train_gan
        if quality not in params.degradation.qualities:
            raise TrainingError(
                f"quality {quality} is not one of degradation.qualities "
                f"{list(params.degradation.qualities)}"
            )
        start = resolve_path(params.train_ssim.models_dir, root) / f"q{quality}.pt"
        if not start.is_file():
            raise TrainingError(
                f"{start}: the GAN starts from the SSIM generator of QF {quality}, which is "
                f"missing; run `dvc repro train_ssim@{quality}` or "
                f"`python -m artifact_removal train --quality {quality}` first"
            )
        d = gan.discriminator
        return cls(
            quality=quality, start_from=start,
            prepared_dir=resolve_path(params.data.prepared_dir, root),
            release=resolve_path(gan.models_dir, root) / f"q{quality}.pt",
            checkpoint=resolve_path("build/checkpoints", root) / "gan" / f"q{quality}.pt",
            discriminator=DiscriminatorConfig(d.channels, d.layers, d.sub_patch),
            layer=gan.perceptual_layer, fallback=gan.fallback,
            adversarial_weight=gan.adversarial_weight, patch_size=gan.patch_size,
            batch_size=gan.batch_size, steps=gan.steps, lr_g=gan.lr_g, lr_d=gan.lr_d,
            checkpoint_every=gan.checkpoint_every, val_every=gan.val_every,
            select_by=gan.select_by, collapse_steps=gan.collapse_steps, seed=params.seed,
            sample_crop=params.reports.figure_crop,
            live_dir=resolve_path(params.reports.dir, root) / "train_gan" / f"q{quality}",
        )  # fmt: skip

    @property
    def identity(self) -> dict:
        """What makes two runs the same run (a checkpoint of another run is not resumed)."""
        skip = ("checkpoint_every", "live_dir")
        keep = {k: v for k, v in asdict(self).items() if k not in skip}
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


def held_out_scores(net, pairs: list, device: torch.device) -> tuple[dict[str, float], list]:
    """PSNR-Y, SSIM-Y and NIQE of the restored held-out images; the restorations."""
    preds = [restore_array(net, lq, device) for _, lq in pairs]
    return _scores([gt for gt, _ in pairs], preds, "pred"), preds


def _scores(gts: list, images: list, name: str) -> dict[str, float]:
    """Mean PSNR-Y, SSIM-Y and NIQE (over the images large enough for it) of `images`."""
    niqes = [_niqe_or_nan(image) for image in images]
    pairs = list(zip(gts, images, strict=True))
    return {
        f"{name}_psnr_y": float(np.mean([psnr(g, i, "y") for g, i in pairs])),
        f"{name}_ssim_y": float(np.mean([ssim(g, i, "y") for g, i in pairs])),
        f"{name}_niqe": float(np.nanmean(niqes)) if np.isfinite(niqes).any() else math.nan,
    }


def _niqe_or_nan(image: np.ndarray) -> float:
    try:
        return niqe(image)
    except ValueError:  # smaller than NIQE's blocks
        return math.nan


@dataclass
class GanResult(TrainResult):
    """What a GAN run produced: also its perceptual loss, best step and held-out samples."""

    loss: str = ""
    best_step: int | None = None
    samples: dict[int, np.ndarray] = field(default_factory=dict)  # step -> crop (step 0: start)
    sample_jpeg: np.ndarray | None = None
    sample_original: np.ndarray | None = None


def train_gan(run: GanRun, device: torch.device, progress: bool = True) -> GanResult:
    """Train (or resume) one GAN generator; the release holds the best held-out generator."""
    from .runtime import seed_everything

    seed_everything(run.seed)
    sampler = PatchSampler(run.prepared_dir, run.quality, run.patch_size, run.seed)
    nets = _build(run, device)
    perceptual = PerceptualLoss(run.layer, run.fallback, run.seed).to(device)
    # The same run: same settings, patches and starting generator (a retrained SSIM generator
    # must not be continued from a GAN checkpoint that started from the old one).
    identity = run.identity | {
        "index": sampler.fingerprint,
        "start": hashlib.md5(run.start_from.read_bytes()).hexdigest(),
    }
    state = _resume(run, nets, identity)
    held_out = _HeldOut(run.prepared_dir, run.quality, run.sample_crop)
    if state["step"] == 0 and held_out.pairs:  # the starting point: the SSIM generator
        start = {"step": 0}
        _validate(run, nets, state, start, held_out, device)
        state["history"].append(start)
    live = LiveLog(run.live_dir, state["history"]) if run.live_dir else None
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
        validate = step % run.val_every == 0 or step == run.steps
        if step % LOG_EVERY == 0 or validate:
            entry = {"step": step} | {k: float(np.mean([w[k] for w in window])) for k in terms}
            window = []
            _watch_collapse(run, state, entry)
            if validate:
                _validate(run, nets, state, entry, held_out, device)
            state["history"].append(entry)
            if live:
                live.log(entry)
            bar.set_postfix(d_acc=f"{entry['d_accuracy']:.2f}", g=f"{entry['g_loss']:.4f}")
        if step % run.checkpoint_every == 0 or step == run.steps:
            _save(run, nets, state, step)
    best = state["best"] or {k: v.detach().cpu() for k, v in nets.g.state_dict().items()}
    save_atomic({"model": best, "model_args": generator_args(nets.g), "quality": run.quality,
                 "method": "gan", "loss": perceptual.name, "best_step": state["best_step"],
                 "identity": state["identity"]}, run.release)  # fmt: skip
    if live:
        best_entry = next((e for e in state["history"] if e["step"] == state["best_step"]), {})
        live.finish(
            {
                "perceptual_loss": perceptual.name,
                "best_step": state["best_step"],
                "best": {k[4:]: v for k, v in best_entry.items() if k.startswith("val_")},
            }
        )
    samples = {int(k): v.numpy() for k, v in state["samples"].items()}
    jpeg, original = held_out.references()
    return GanResult(run.release, run.checkpoint, state["history"], state["resumed"],
                     perceptual.name, state["best_step"], samples, jpeg, original)  # fmt: skip


class _HeldOut:
    """The validation images, and the window of one of them whose restoration is kept as a
    sample at every validation (the busiest crop of the most colourful image)."""

    def __init__(self, prepared_dir: Path, quality: int, crop: int):
        from .images import colourfulness
        from .plots import busiest_crop

        self.pairs = load_pairs(prepared_dir, "val", quality)
        gts, jpegs = [gt for gt, _ in self.pairs], [lq for _, lq in self.pairs]
        self.jpeg = _scores(gts, jpegs, "jpeg") if self.pairs else {}  # once, not every time
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


def _watch_collapse(run: GanRun, state: dict, entry: dict) -> None:
    """Stop when the discriminator's accuracy has been stuck at 0 or 1 for too long."""
    if 0.01 < entry["d_accuracy"] < 0.99:
        state["stuck_since"] = None
    elif state["stuck_since"] is None:
        state["stuck_since"] = state["logged"]  # the window of this entry began there
    state["logged"] = entry["step"]
    if state["stuck_since"] is not None and entry["step"] - state["stuck_since"] >= (
        run.collapse_steps
    ):
        raise TrainingError(
            f"gan q{run.quality}: the discriminator's accuracy has been {entry['d_accuracy']:.2f} "
            f"for {entry['step'] - state['stuck_since']} steps (to step {entry['step']}): "
            f"training has collapsed. Try other learning rates or adversarial weight; the last "
            f"checkpoint (step {state['saved']}) is at {run.checkpoint}"
        )


def _validate(run: GanRun, nets: _Nets, state: dict, entry: dict, held_out: _HeldOut,
              device: torch.device) -> None:  # fmt: skip
    """Score the held-out images and keep a sample; keep the generator if it is the best so
    far (the starting generator, step 0, is scored but never released)."""
    if not held_out.pairs:
        return
    nets.g.eval()
    scores, preds = held_out_scores(nets.g, held_out.pairs, device)
    nets.g.train()
    entry |= {f"val_{k}": v for k, v in (scores | held_out.jpeg).items()}
    state["samples"][entry["step"]] = torch.from_numpy(held_out.crop(preds[held_out.index]))
    score = SELECT_BY[run.select_by] * entry[f"val_pred_{run.select_by}"]
    if entry["step"] > 0 and (state["best_score"] is None or score > state["best_score"]):
        state["best_score"], state["best_step"] = score, entry["step"]
        state["best"] = {k: v.detach().cpu().clone() for k, v in nets.g.state_dict().items()}


def _resume(run: GanRun, nets: _Nets, identity: dict) -> dict:
    """The state of the last checkpoint of the same run, loaded into `nets`; or a fresh one."""
    fresh = {"step": 0, "saved": 0, "resumed": 0, "history": [], "stuck_since": None,
             "logged": 0, "samples": {}, "best": None, "best_score": None, "best_step": None,
             "identity": identity}  # fmt: skip
    if not run.checkpoint.is_file():
        return fresh
    saved = load_checkpoint(run.checkpoint)
    if saved.get("identity") != identity:
        return fresh  # another configuration: start over
    nets.g.load_state_dict(saved["model"])
    nets.d.load_state_dict(saved["discriminator"])
    nets.opt_g.load_state_dict(saved["optimizer"])
    nets.opt_d.load_state_dict(saved["optimizer_d"])
    step = int(saved["step"])
    kept = ("history", "stuck_since", "logged", "samples", "best", "best_score", "best_step")
    return fresh | {key: saved[key] for key in kept} | {"step": step, "saved": step,
                                                        "resumed": step}  # fmt: skip


def _save(run: GanRun, nets: _Nets, state: dict, step: int) -> None:
    """One atomic checkpoint: both networks and optimisers, the best generator, the history."""
    save_atomic(
        {"model": nets.g.state_dict(), "discriminator": nets.d.state_dict(),
         "optimizer": nets.opt_g.state_dict(), "optimizer_d": nets.opt_d.state_dict(),
         "model_args": generator_args(nets.g), "step": step, "identity": state["identity"],
         "history": state["history"], "stuck_since": state["stuck_since"],
         "logged": state["logged"], "samples": state["samples"], "best": state["best"],
         "best_score": state["best_score"], "best_step": state["best_step"]},
        run.checkpoint,
    )  # fmt: skip
    state["saved"] = step


def write_gan_reports(run: GanRun, result: GanResult, figures_dir: Path) -> dict:
    """Curves, samples as training went, and the released GAN beside the SSIM generator on a
    held-out crop; each titled with the perceptual loss, written as PNG and returned."""
    from .images import colourfulness
    from .plots import crops_across_methods, gan_curves, gan_samples, save_figure

    tag, name = f"train_gan_q{run.quality}", f"GAN, QF {run.quality}, loss {result.loss}"
    figures = {"curves": gan_curves(result.curves, result.best_step, name)}
    figures["samples"] = gan_samples(result.samples, result.sample_jpeg, result.sample_original,
                                     result.best_step,
                                     title=f"{name}: a held-out crop as training goes")  # fmt: skip
    pairs = load_pairs(run.prepared_dir, "val", run.quality) or load_pairs(
        run.prepared_dir, "test", run.quality
    )
    gt, lq = max(pairs, key=lambda pair: colourfulness(pair[0]))
    cpu = torch.device("cpu")
    versions = {"original": gt, f"JPEG QF {run.quality}": lq,
                "ssim": restore_array(load_generator(run.start_from), lq, cpu),
                "gan": restore_array(load_generator(run.release), lq, cpu)}  # fmt: skip
    notes = {label: f"PSNR-Y {psnr(gt, image, 'y'):.2f}, NIQE {_niqe_or_nan(image):.2f}"
             for label, image in versions.items() if label != "original"}  # fmt: skip
    notes["original"] = f"NIQE {_niqe_or_nan(gt):.2f}"
    notes["gan"] += f"\n{result.loss}"
    figures["example"] = crops_across_methods(versions, run.sample_crop, name, notes)
    for key, figure in figures.items():
        save_figure(figure, figures_dir / f"{tag}_{key}.png")
    return figures
