"""NoGAN (Mameli, Bertini, Galteri and Del Bimbo, ICPR 2020): two releases per QF, the generator
before the GAN phase (`nogan_pre`, section train_nogan) and after it (`nogan`, section
train_nogan_gan), both trained by the stage train_nogan."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass as schema

from ..config import STRICT, Params, Positive, Rate, patch_size_problem
from .registry import Method, register


@schema(config=STRICT)
class UNetParams:
    """NoGAN's generator (archs/unet.py): encoder, skips (4: the U-Net; 1: the public code's
    effective network), decoder width factor, self-attention at stride 16."""

    encoder: Literal["mobilenet_v3_large", "mobilenet_v3_small", "resnet34"]
    skips: Literal[1, 4]
    width: Annotated[float, Field(gt=0, le=4)]
    attention: bool


@schema(config=STRICT)
class PhaseParams:
    """One phase of generator pretraining: patch side, steps, whether the encoder is frozen."""

    patch_size: Annotated[int, Field(ge=32)]
    steps: Positive
    frozen: bool


@schema(config=STRICT)
class TrainNoganParams:
    """NoGAN's generator pretraining (one run per QF of `qualities`): the pre-GAN release."""

    qualities: Annotated[tuple[int, ...], Field(min_length=1)]
    generator: UNetParams
    loss: dict[Literal["lpips", "l1", "mse", "ssim"], Annotated[float, Field(gt=0)]]
    lpips_backbone: Literal["alex", "vgg"]
    fallback: Literal["random"] | None
    phases: Annotated[tuple[PhaseParams, ...], Field(min_length=1)]
    batch_size: Positive
    lr: Rate
    checkpoint_every: Positive
    val_every: Positive
    models_dir: str

    @property
    def steps(self) -> int:
        """All phases' steps."""
        return sum(phase.steps for phase in self.phases)


@schema(config=STRICT)
class CriticParams:
    """NoGAN's critic (archs/unet.py Critic): first filters, downsamplings, dropout."""

    channels: Positive
    downsamplings: Annotated[int, Field(ge=1, le=5)]
    dropout: Annotated[float, Field(ge=0, lt=1)]


@schema(config=STRICT)
class StopParams:
    """The automatic stopping point (training/stopping.py)."""

    patience: Positive
    max_colour_shift: Rate
    max_high_frequency: Rate


@schema(config=STRICT)
class TrainNoganGanParams:
    """NoGAN's critic pretraining and GAN phase, from the pre-GAN release of the same QF."""

    critic: CriticParams
    critic_steps: Positive
    gan_steps: Positive
    generator_steps: Annotated[tuple[int, int], Field()]
    loss_weight: Rate
    patch_size: Annotated[int, Field(ge=32)]
    batch_size: Positive
    lr_g: Rate
    lr_c: Rate
    stop: StopParams
    checkpoint_every: Positive
    val_every: Positive
    models_dir: str

    @property
    def steps(self) -> int:
        """Critic pretraining, then the GAN phase (which may stop early)."""
        return self.critic_steps + self.gan_steps


def _check_nogan(params: Params) -> list[str]:
    nogan = params.train_nogan
    problems = [
        f"train_nogan.qualities: {q} is not one of degradation.qualities "
        f"{list(params.degradation.qualities)}"
        for q in nogan.qualities
        if q not in params.degradation.qualities
    ]
    for i, phase in enumerate(nogan.phases):
        problems += patch_size_problem(
            params, f"train_nogan.phases[{i}].patch_size", phase.patch_size
        )
    if not nogan.loss:
        problems.append("train_nogan.loss: name at least one loss, e.g. {lpips: 1.0, l1: 1.0}")
    return problems


def _check_nogan_gan(params: Params) -> list[str]:
    gan = params.train_nogan_gan
    problems = patch_size_problem(params, "train_nogan_gan.patch_size", gan.patch_size)
    g, every = gan.generator_steps
    if not 1 <= g <= every:
        problems.append(
            f"train_nogan_gan.generator_steps: [{g}, {every}] means {g} generator "
            f"steps in every {every}; need 1 <= {g} <= {every}"
        )
    stride = 2 ** (gan.critic.downsamplings + 1)  # the critic's stride, before a 4x4 patch head
    if gan.patch_size % stride or gan.patch_size < 4 * stride:
        problems.append(
            f"train_nogan_gan.patch_size: {gan.patch_size} must be a multiple of "
            f"{stride}, at least {4 * stride}, for the critic's "
            f"{gan.critic.downsamplings} downsamplings"
        )
    return problems


register(
    Method(
        name="nogan_pre",
        label="NoGAN before the GAN phase (Mameli et al.)",
        section="train_nogan",
        params=TrainNoganParams,
        trainer="nogan",
        combine="nearest",
        order=50,
        backbones=("alexnet", "vgg16", "mobilenet_v3_large", "mobilenet_v3_small", "resnet34"),
        check=_check_nogan,
        summary="Mameli et al.'s U-Net before its GAN phase (trained for "
        "train_nogan.qualities; other QFs use the nearest)",
        qualities_key="train_nogan.qualities",
        stage="train_nogan",
        networks=("archs.unet",),
        notebook="04_train_nogan.ipynb",
        stage_note=(
            "NoGAN (Mameli et al., ICPR 2020) for each QF of train_nogan.qualities: the U-Net's "
            "pretraining (release nogan_pre), then critic pretraining and a short GAN phase that "
            "the stopping rule ends (release nogan)."
        ),
        published="nogan_div2k_qf20",
    )
)

register(
    Method(
        name="nogan",
        label="NoGAN (Mameli et al.)",
        section="train_nogan_gan",
        params=TrainNoganGanParams,
        trainer="nogan_gan",
        combine="nearest",
        order=60,
        starts_from="nogan_pre",
        backbones=("alexnet", "vgg16"),
        check=_check_nogan_gan,
        summary="Mameli et al.'s U-Net after its GAN phase (trained for train_nogan.qualities; "
        "other QFs use the nearest)",
        qualities_key="train_nogan.qualities",
        stage="train_nogan",
        networks=("archs.unet",),
        notebook="04_train_nogan.ipynb",
        reports="nogan",
        published="nogan_div2k_qf20",
    )
)
