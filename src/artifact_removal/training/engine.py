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

import math

import numpy as np
import torch
from tqdm.auto import tqdm

from ..checkpoints import fingerprint, save_atomic
from ..runtime import Distributed, seed_everything
from .live import LiveLog
from .run import Recipe, Run, TrainingError, TrainResult, method_of, recipe_class
from .saving import release_file, resume_state, save_checkpoint

LOG_EVERY = 10


def train(run: Run, device: torch.device, progress: bool = True) -> TrainResult:
    """Train (or resume, or just re-release) one run; see the module docstring."""
    if run.start_from is not None and not run.start_from.is_file():
        base = method_of(method_of(run.name).starts_from)
        raise TrainingError(
            f"{run.start_from}: {run.label} starts from the {base.name} generator of QF "
            f"{run.quality}, which is missing; run `dvc repro {base.stage_name}@{run.quality}` or "
            f"`artifact-removal train --method {base.name} --quality {run.quality}` first"
        )
    ddp = Distributed.start(device)
    seed_everything(run.seed)
    recipe = recipe_class(run)(run, ddp.device, ddp)
    identity = run.identity(recipe.inputs())
    state = resume_state(run, recipe, fingerprint(identity)) | {"run": identity}
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
        save_atomic(release_file(run, recipe, state), run.release)
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
                save_checkpoint(run, recipe, step, state)
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
