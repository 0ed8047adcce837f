"""The run engine: one training loop for every method and model.

A method supplies a `Recipe` (its networks, optimisers, losses, its step and its validation);
the engine does the rest, the same way for all:

- **Runs from params in one step.** `Run.from_params(params, "gan", 10, root)` resolves the
  section of a method (or `"qf"`, the QF predictor) into paths and settings.
- **Seeded batches.** Recipes draw batch `step` from (seed, step) alone (`data.samplers`), so a
  resumed run sees the batches an uninterrupted one would, and gives the same weights.
- **Resume only the same run.** A run's identity is a fingerprint of its settings, seed and
  QF, of the files it reads (`Recipe.inputs`: the prepared data, a starting release, the
  pretrained backbone) and of the source of the code it runs (`checkpoints.code_fingerprint`).
  A checkpoint of another identity is never resumed: after a change of code, data or
  params the run starts fresh; after an interruption with the same inputs it resumes from
  its last checkpoint, also after `kill -9`.
- **Atomic files.** Checkpoints (every network, optimiser and scheduler, the step, the
  history, the recipe's own state and the run's resolved settings) every `checkpoint_every`
  steps and the release file at the end are written atomically under unique temporary
  names, loaded with `weights_only=True`. Both carry the run's settings and input
  fingerprints (`run`), never an absolute path.
- **Logging.** Loss terms are averaged over each window of `LOG_EVERY` steps; validation every
  `val_every` steps; both go to the history, the progress bar and dvclive (curves and
  `metrics.json`, `live.py`), rebuilt from the history on resume.
- **Stops with a reason.** A non-finite loss on any process stops every process, keeping the
  last good checkpoint; a recipe can stop the run too (the GAN's collapse), or end it early
  with a release (`done`: NoGAN's stopping point).
- **Devices.** bf16 autocast and channels_last on CUDA (recipes use `runtime.autocast`);
  float32 on the CPU. Under `torchrun`, DDP over NCCL (CUDA, one GPU per process) or gloo
  (CPU): each process takes its share of every batch, process 0 validates and writes.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..checkpoints import code_fingerprint, fingerprint, save_atomic
from ..config import Params, resolve_path, section_to_dict
from ..methods import METHODS, prepared_dir_of, qualities_of
from ..runtime import Distributed, seed_everything
from .live import LiveLog, held_out
from .saving import _release, _resume, _save
from .saving import weights as weights

LOG_EVERY = 10
PREDICTOR = "qf"  # the QF predictor's name as a trainer (section train_qf)
CRF_PREDICTOR = "crf"  # the CRF predictor of H.264 frames (train_qf's settings; stage video)
PREDICTORS = (PREDICTOR, CRF_PREDICTOR)
BOOKKEEPING = (  # no effect on the weights
    "checkpoint_every",
    "models_dir",
    "predict_patches",
    "report_images",
)


class TrainingError(RuntimeError):
    """Training cannot go on; the message says why and what was kept."""


@dataclass(frozen=True)
class Run:
    """One training run: a method (or the QF predictor) at a QF, resolved from params."""

    name: str  # `ssim`, `gan`, ... or `qf`
    quality: int | None  # the QF of a generator; None for the QF predictor
    settings: Any  # the params section
    seed: int
    root: Path
    prepared_dir: Path
    release: Path
    checkpoint: Path
    live_dir: Path | None
    qualities: tuple[int, ...] = ()  # degradation.qualities (the QF predictor's classes)
    start_from: Path | None = None  # the release file it fine-tunes (the GAN: the SSIM one)
    figure_crop: int = 160

    @classmethod
    def from_params(cls, params: Params, name: str, quality: int | None, root: Path) -> Run:
        """The run of method `name` for one QF (or CRF), or of a predictor (`qf`, `crf`;
        quality None)."""
        if name in PREDICTORS:
            return cls._predictor(params, name, root)
        section = params.section(_method(name).section)
        if quality not in qualities_of(params, name):
            key = _method(name).qualities_key
            raise TrainingError(
                f"quality {quality} is not one of {key} {list(qualities_of(params, name))}"
            )
        prepared = prepared_dir_of(params, name)
        tag = f"q{quality}"
        live = f"train_{name}/{tag}"
        base = _method(name).starts_from
        start = None
        if base:
            start = resolve_path(params.section(_method(base).section).models_dir, root)
            start = start / f"{tag}.pt"
        return cls(
            name,
            quality,
            section,
            params.seed,
            Path(root),
            resolve_path(prepared, root),
            resolve_path(section.models_dir, root) / f"{tag}.pt",
            resolve_path("build/checkpoints", root) / name / f"{tag}.pt",
            resolve_path(params.reports.dir, root) / live,
            (),
            start,
            params.reports.figure_crop,
        )

    @classmethod
    def _predictor(cls, params: Params, name: str, root: Path) -> Run:
        """The QF predictor (JPEG, over train_qf.classes) or the CRF predictor (H.264 frames
        that the video stage prepares for it, over video.predictor_crfs); both take train_qf's
        settings."""
        from ..data.video import PREDICTOR_DATA

        video = name == CRF_PREDICTOR
        folder = params.video.predictor_dir if video else params.train_qf.models_dir
        qualities = params.video.predictor_crfs if video else params.degradation.qualities
        prepared = (
            resolve_path(params.video.prepared_dir, root) / PREDICTOR_DATA
            if video
            else resolve_path(params.data.prepared_dir, root)
        )
        return cls(
            name,
            None,
            params.train_qf,
            params.seed,
            Path(root),
            prepared,
            resolve_path(folder, root) / "predictor.pt",
            resolve_path("build/checkpoints", root) / name / "predictor.pt",
            resolve_path(params.reports.dir, root) / f"train_{name}",
            tuple(qualities),
            None,
            params.reports.figure_crop,
        )

    @property
    def label(self) -> str:
        """`gan q10`, `qf predictor`: for messages and progress bars."""
        if self.quality is None:
            return f"{self.name} predictor"
        return f"{self.name} q{self.quality}"

    @property
    def steps(self) -> int:
        return self.settings.steps

    def trainer_module(self) -> str:
        """The module (below the package) whose `Recipe` trains this run."""
        return f"training.{'qf' if self.name in PREDICTORS else _method(self.name).trainer}"

    def identity(self, inputs: dict[str, str]) -> dict[str, Any]:
        """What makes two runs the same: settings, seed, QF, inputs and code."""
        settings = {k: v for k, v in section_to_dict(self.settings).items() if k not in BOOKKEEPING}
        return {
            "run": self.name,
            "quality": self.quality,
            "seed": self.seed,
            "settings": settings,
            "classes": list(self.qualities),
            "inputs": inputs,
            "code": code_fingerprint(self.trainer_module()),
        }


def _method(name: str):
    if name not in METHODS:
        raise TrainingError(f"unknown method {name!r}; choose one of {[*METHODS, PREDICTOR]}")
    return METHODS[name]


class Recipe:
    """What a method supplies to the engine. Subclasses build everything in `__init__`."""

    modules: dict[str, torch.nn.Module]  # checkpointed networks; "g" is the one released
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: ClassVar[dict[str, Any]] = {}  # recipes with schedules set their own
    validate_at_start = False  # score the starting point as step 0 (fine-tuning)

    def __init__(self, run: Run, device: torch.device, ddp: Distributed):
        self.run, self.device, self.ddp = run, device, ddp

    def inputs(self) -> dict[str, str]:
        """Fingerprints of what the run reads besides params and code (data, start, backbone)."""
        raise NotImplementedError

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        """One optimisation step on this process's share of batch `step`; detached loss terms
        (scalars on the device; the first is the total)."""
        raise NotImplementedError

    def validate(self, step: int) -> dict[str, float]:
        """Held-out scores (process 0 only), keys without the `val_` prefix."""
        return {}

    def check(self, entry: dict) -> str | None:
        """A reason to stop after a logged entry (None: go on)."""
        return None

    def done(self) -> bool:
        """True when the run has reached its end before `steps` (NoGAN's stopping point): the
        engine writes the checkpoint and the release there, and a rerun resumes to nothing."""
        return False

    def state(self) -> dict:
        """The recipe's own state for checkpoints (tensors and plain data)."""
        return {}

    def load_state(self, state: dict) -> None:
        """Restore what `state` returned."""

    def release(self) -> dict:
        """The release file's contents, besides what the engine adds."""
        raise NotImplementedError

    def summary(self, history: list[dict]) -> dict:
        """metrics.json besides `step`: by default the last training loss and the last
        held-out scores (`held_out`); the full curves are dvclive's plots."""
        last = history[-1] if history else {}
        scored = next((e for e in reversed(history) if any(k.startswith("val_") for k in e)), {})
        return ({"loss": last["loss"]} if "loss" in last else {}) | {"val": held_out(scored)}


@dataclass
class TrainResult:
    """What a run produced."""

    run: Run
    history: list[dict] = field(default_factory=list)
    resumed_from: int = 0
    recipe: Recipe | None = None

    @property
    def release(self) -> Path:
        return self.run.release

    @property
    def checkpoint(self) -> Path:
        return self.run.checkpoint

    @property
    def curves(self) -> pd.DataFrame:
        """History as a table (one row per logged step)."""
        return pd.DataFrame(self.history)


def recipe_class(run: Run) -> type[Recipe]:
    """The `Recipe` of the run's trainer module."""
    return importlib.import_module(f"artifact_removal.{run.trainer_module()}").Recipe


def train(run: Run, device: torch.device, progress: bool = True) -> TrainResult:
    """Train (or resume, or just re-release) one run; see the module docstring."""
    if run.start_from is not None and not run.start_from.is_file():
        base = _method(_method(run.name).starts_from)
        raise TrainingError(
            f"{run.start_from}: {run.label} starts from the {base.name} generator of QF "
            f"{run.quality}, which is missing; run `dvc repro {base.stage_name}@{run.quality}` or "
            f"`artifact-removal train --method {base.name} --quality {run.quality}` first"
        )
    ddp = Distributed.start(device)
    seed_everything(run.seed)
    recipe = recipe_class(run)(run, ddp.device, ddp)
    identity = run.identity(recipe.inputs())
    state = _resume(run, recipe, fingerprint(identity)) | {"run": identity}
    if ddp.main and state["step"] == 0 and recipe.validate_at_start:
        state["history"].append({"step": 0} | _prefixed(recipe.validate(0)))
    live = LiveLog(run.live_dir, state["history"]) if ddp.main and run.live_dir else None
    last = state["step"] if recipe.done() else run.steps  # a run that stopped early is done
    bar = tqdm(
        desc=f"train {run.label}",
        disable=not (progress and ddp.main),
        initial=state["step"],
        total=last,
        unit="step",
    )
    with bar:  # closed on every way out: full when the run ends, red when it is interrupted
        _loop(run, recipe, ddp, state, live, bar, last)
    if ddp.main:
        save_atomic(_release(run, recipe, state), run.release)
        if live:
            live.finish(recipe.summary(state["history"]))
    ddp.barrier()
    return TrainResult(run, state["history"], state["resumed"], recipe)


def _loop(run: Run, recipe: Recipe, ddp: Distributed, state: dict, live, bar, last: int):
    """The steps of `train` from the state's step to `last` (or the recipe's end)."""
    window: list[dict[str, float]] = []
    for step in range(state["step"] + 1, last + 1):
        terms = recipe.train_step(step)
        values = {k: float(v) for k, v in terms.items()}
        if ddp.any(not all(math.isfinite(v) for v in values.values())):
            raise TrainingError(
                f"{run.label}: the loss became non-finite at step {step} ({_short(values)}); "
                f"the last good checkpoint (step {state['saved']}) is kept at {run.checkpoint}"
            )
        window.append(values)
        validate = step % run.settings.val_every == 0 or step == run.steps
        reason = None
        if step % LOG_EVERY == 0 or validate:  # a term some steps lack: the mean of the others
            keys = dict.fromkeys(k for w in window for k in w)
            means = {k: float(np.mean([w[k] for w in window if k in w])) for k in keys}
            window = []  # on every process, so no window outgrows its log interval
        if ddp.main and (step % LOG_EVERY == 0 or validate):
            entry = {"step": step} | means
            entry |= {"lr": _lr(recipe)} if recipe.schedulers else {}
            reason = recipe.check(entry)
            if validate and reason is None:
                entry |= _prefixed(recipe.validate(step))
            state["history"].append(entry)
            if live:
                live.log(entry)
            bar.set_postfix({k: f"{v:.4f}" for k, v in list(entry.items())[1:3]})
        if ddp.any(reason is not None):
            raise TrainingError(
                f"{run.label}: {reason or 'stopped on process 0'}; the last checkpoint "
                f"(step {state['saved']}) is at {run.checkpoint}"
            )
        finished = ddp.any(recipe.done())
        if step % run.settings.checkpoint_every == 0 or step == run.steps or finished:
            if ddp.main:
                _save(run, recipe, step, state)
            state["saved"] = step
            ddp.barrier()
        bar.update(1)
        if finished:  # the run's end: the bar ends full, not as an interrupted run's would
            bar.reset(total=step)  # (a notebook's bar takes its new length only so)
            bar.update(step)
            break


def _prefixed(scores: dict[str, float]) -> dict[str, float]:
    return {f"val_{k}": v for k, v in scores.items()}


def _short(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in values.items())


def _lr(recipe: Recipe) -> float:
    """The learning rate of the first scheduler."""
    return next(iter(recipe.schedulers.values())).get_last_lr()[0]
