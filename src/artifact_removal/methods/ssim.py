"""Galteri et al.'s supervised generator (the SSIM and MSE baselines of ICCV 2017 / TMM 2019):
one generator per QF, trained on a pixel loss; the ensemble blends the two around a QF."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass as schema

from ..config import STRICT, Params, Positive, Rate, patch_size_problem
from .registry import method


def check_supervised(key: str) -> Callable[[Params], list[str]]:
    """The cross-key rules of a supervised generator's section `key`."""

    def check(params: Params) -> list[str]:
        train = params.section(key)
        problems = patch_size_problem(params, f"{key}.patch_size", train.patch_size)
        if not train.loss:
            problems.append(f"{key}.loss: name at least one loss, e.g. {{ssim: 1.0}}")
        return problems

    return check


@method(
    "ssim",
    label="SSIM/MSE generator (Galteri et al.)",
    section="train_ssim",
    trainer="supervised",
    combine="blend",
    order=10,
    check=check_supervised("train_ssim"),
    notebook="02_train_ssim.ipynb",
    summary="the closest to the original in PSNR/SSIM, smoother",
    stage_note=("One supervised generator per QF of the ensemble; loss and preset from params."),
)
@schema(config=STRICT)
class TrainSsimParams:
    """A supervised generator's training run (one per QF of the ensemble)."""

    generator: Literal["paper", "fast", "very_fast", "tiny"]
    loss: dict[Literal["mse", "l1", "ssim"], Annotated[float, Field(gt=0)]]
    patch_size: Annotated[int, Field(ge=16)]
    batch_size: Positive
    steps: Positive
    lr: Rate
    schedule: Literal["constant", "cosine"]
    checkpoint_every: Positive
    val_every: Positive
    models_dir: str
