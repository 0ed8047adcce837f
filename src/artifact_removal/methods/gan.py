"""Galteri et al.'s GAN (ICCV 2017 / TMM 2019): the SSIM generator of the same QF fine-tuned
with a perceptual loss and a conditional sub-patch discriminator; the ensemble takes the
nearest QF's generator alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass as schema

from ..config import STRICT, Params, Positive, Rate, patch_size_problem
from .registry import method

# VGG-19's feature layers by name, block by block (2, 2, 4, 4, 4 convolutions): conv1_1,
# relu1_1, ..., pool5. losses/perceptual.py maps them to torchvision's modules (a test checks).
VGG19_LAYERS = tuple(
    name
    for block, convs in enumerate((2, 2, 4, 4, 4), start=1)
    for name in (
        *(f"{kind}{block}_{i}" for i in range(1, convs + 1) for kind in ("conv", "relu")),
        f"pool{block}",
    )
)


@schema(config=STRICT)
class DiscriminatorParams:
    """The GAN's sub-patch discriminator: first filters, 3x3 layers, judged sub-patch side."""

    channels: Positive
    layers: Positive
    sub_patch: Annotated[int, Field(ge=2)]


def check_gan(key: str) -> Callable[[Params], list[str]]:
    """The GAN section `key`: its patches exist, split into whole sub-patches the
    discriminator can judge."""

    def check(params: Params) -> list[str]:
        gan = params.section(key)
        problems = patch_size_problem(params, f"{key}.patch_size", gan.patch_size)
        d = gan.discriminator
        if gan.patch_size % d.sub_patch:
            problems.append(
                f"{key}.discriminator.sub_patch: {d.sub_patch} must divide "
                f"{key}.patch_size {gan.patch_size}"
            )
        if d.layers >= d.sub_patch:
            problems.append(
                f"{key}.discriminator.layers: {d.layers} must be less than sub_patch "
                f"{d.sub_patch} (each unpadded layer trims a pixel on every side)"
            )
        if gan.perceptual_layer not in VGG19_LAYERS:
            problems.append(
                f"{key}.perceptual_layer: {gan.perceptual_layer!r} is not a VGG-19 "
                "layer (conv1_1 ... relu5_4, pool1 ... pool5)"
            )
        return problems

    return check


@method(
    "gan",
    label="GAN (Galteri et al.)",
    section="train_gan",
    trainer="gan",
    combine="nearest",
    order=20,
    starts_from="ssim",
    backbones=("vgg19",),
    check=check_gan("train_gan"),
    notebook="03_train_gan.ipynb",
    stage_note=(
        "One GAN generator per QF, fine-tuned from train_ssim's generator of the same QF with "
        "the perceptual loss plus lambda times the adversarial loss of a conditional "
        "sub-patch discriminator; the release is the step with the best held-out score."
    ),
    reports="gan",
    summary="sharper, more natural textures",
    default_for="image",
    perceptual=True,
)
@schema(config=STRICT)
class TrainGanParams:
    """A GAN generator's training run (one per QF), starting from the SSIM generator."""

    perceptual_layer: str
    fallback: Literal["random_vgg19"] | None
    adversarial_weight: Annotated[float, Field(ge=0)]
    discriminator: DiscriminatorParams
    patch_size: Annotated[int, Field(ge=16)]
    batch_size: Positive
    steps: Positive
    lr_g: Rate
    lr_d: Rate
    checkpoint_every: Positive
    val_every: Positive
    select_by: Literal["niqe", "psnr_y", "ssim_y"]
    collapse_steps: Annotated[int, Field(ge=10)]
    models_dir: str
    ema: Annotated[float, Field(ge=0, lt=1)] = 0.0  # 0: score and release the trained weights
