"""One training run as the engine sees it: the `Run` (a method, or a predictor, at a QF or CRF,
resolved from params into paths and settings), the `Recipe` a method supplies (its networks,
optimisers, step, validation and release), what a finished run gives back (`TrainResult`),
and `TrainingError`. The engine (`engine.py`) drives them; `saving.py` keeps them on disk."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import torch

from ..checkpoints import code_fingerprint
from ..config import Params, resolve_path, section_to_dict
from ..degradations.codecs import setting
from ..methods import METHODS, prepared_dir_of, qualities_of
from ..methods.predictors import PREDICTORS, RELEASE, Predictor
from ..runtime import Distributed
from .live import held_out

ENGINE = "training.engine"  # the loop every run goes through: part of each run's code
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
            return cls._predictor(params, PREDICTORS[name], root)
        section = params.section(method_of(name).section)
        if quality not in qualities_of(params, name):
            key = method_of(name).qualities_key
            raise TrainingError(
                f"quality {quality} is not one of {key} {list(qualities_of(params, name))}"
            )
        prepared = prepared_dir_of(params, name)
        tag = f"q{quality}"
        live = f"train_{name}/{tag}"
        base = method_of(name).starts_from
        start = None
        if base:
            start = resolve_path(params.section(method_of(base).section).models_dir, root)
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
    def _predictor(cls, params: Params, predictor: Predictor, root: Path) -> Run:
        """A level predictor's run (`methods.predictors`): the QF predictor (JPEG, over
        train_qf.classes) or the CRF predictor (H.264 frames that the video stage prepares for
        it, over video.predictor_crfs), with its section's settings."""
        name = predictor.name
        return cls(
            name,
            None,
            params.section(predictor.section),
            params.seed,
            Path(root),
            predictor.prepared(params, root),
            predictor.release(params, root),
            resolve_path("build/checkpoints", root) / name / RELEASE,
            resolve_path(params.reports.dir, root) / f"train_{name}",
            tuple(setting(params, predictor.levels_key)),
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
        entry = PREDICTORS.get(self.name) or method_of(self.name)
        return f"training.{entry.trainer}"

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
            "code": code_fingerprint(self.trainer_module(), ENGINE),
        }


def method_of(name: str):
    """The registry's entry for method `name`; an unknown name is a TrainingError."""
    if name not in METHODS:
        raise TrainingError(f"unknown method {name!r}; choose one of {[*METHODS, *PREDICTORS]}")
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
