"""The method registry: every restoration method the project trains, declared once.

A method is a params section with its schema, a trainer module under `training/` (which
supplies a `Recipe` to the run engine), a folder of release files (`<section>.models_dir`,
one `q<QF>.pt` per quality), a label, the pretrained backbones it needs, and how the ensemble
combines the generators of the two QFs around an image's quality:

- `blend`: the weighted mean of the two outputs, linear in QF (for methods trained on a
  pixel loss, whose outputs are already means);
- `nearest`: the generator of the nearest QF alone, the lower one on a tie. Averaging two GAN
  outputs would bring back the blur that the GAN exists to remove.

Config validation, the command line, evaluation, restoration and the comparison read this
table, so adding a method means a trainer module and one `register(...)` here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass as schema

from .config import (
    STRICT,
    ConfigError,
    Params,
    Positive,
    Rate,
    Section,
    add_check,
    add_section,
    patch_size_problem,
)

Combine = Literal["blend", "nearest"]


@dataclass(frozen=True)
class Method:
    """One restoration method; see the module docstring."""

    name: str  # `--method NAME`, `evaluate.methods`, the `method` of its release files
    label: str  # for tables, figures and the command line's help
    section: str  # its params section, e.g. `train_gan`
    params: type  # that section's schema (must have `models_dir`)
    trainer: str  # module of `artifact_removal.training` that defines `Recipe`
    combine: Combine
    starts_from: str | None = None  # a method whose release of the same QF it fine-tunes
    backbones: tuple[str, ...] = ()  # keys of models/pretrained.yaml that its training reads
    check: Callable[[Params], list[str]] = lambda params: []  # cross-key rules
    qualities_key: str = "degradation.qualities"  # the parameter listing the QFs it is trained for
    stage: str | None = None  # the DVC stage that trains it (default: its section's name)
    prepared_key: str = "data.prepared_dir"  # the prepared data its training reads
    codec: str = "jpeg"  # what its inputs were compressed with (jpeg: QFs; h264: CRFs)

    @property
    def stage_name(self) -> str:
        return self.stage or self.section


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method to the registry and its section to the parameters."""
    if method.name in METHODS or method.name in ("original", "jpeg", "h264"):
        raise ValueError(f"method {method.name!r} is registered twice or shadows a baseline")
    if "models_dir" not in method.params.__dataclass_fields__:
        raise ValueError(f"{method.params.__name__} needs a models_dir (the release folder)")
    add_section(Section(method.section, method.params, method.check, method.name))
    METHODS[method.name] = method
    return method


def get(name: str) -> Method:
    """The registered method called `name`, or an error that lists them."""
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; choose one of {list(METHODS)}")
    return METHODS[name]


def models_dir(params: Params, name: str) -> str:
    """The folder of a method's release files, as params give it."""
    return params.section(get(name).section).models_dir


# ---------------------------------------------------------------------------------------------
# Supervised generators (Galteri et al.'s SSIM and MSE baselines)


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


def _check_supervised(key: str) -> Callable[[Params], list[str]]:
    """The cross-key rules of a supervised generator's section `key`."""

    def check(params: Params) -> list[str]:
        train = params.section(key)
        problems = patch_size_problem(params, f"{key}.patch_size", train.patch_size)
        if not train.loss:
            problems.append(f"{key}.loss: name at least one loss, e.g. {{ssim: 1.0}}")
        return problems

    return check


register(
    Method(
        name="ssim",
        label="SSIM/MSE generator (Galteri et al.)",
        section="train_ssim",
        params=TrainSsimParams,
        trainer="supervised",
        combine="blend",
        check=_check_supervised("train_ssim"),
    )
)


# ---------------------------------------------------------------------------------------------
# The GAN (Galteri et al., ICCV 2017 / TMM 2019)

# VGG-19's feature layers by name, block by block (2, 2, 4, 4, 4 convolutions): conv1_1,
# relu1_1, ..., pool5. losses/perceptual.py maps them to torchvision's modules (a test checks).
VGG19_LAYERS = tuple(
    name
    for block, convs in enumerate((2, 2, 4, 4, 4), start=1)
    for name in (*(f"{kind}{block}_{i}" for i in range(1, convs + 1) for kind in ("conv", "relu")),
                 f"pool{block}")
)  # fmt: skip


@schema(config=STRICT)
class DiscriminatorParams:
    """The GAN's sub-patch discriminator: first filters, 3x3 layers, judged sub-patch side."""

    channels: Positive
    layers: Positive
    sub_patch: Annotated[int, Field(ge=2)]


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


def _check_gan(key: str) -> Callable[[Params], list[str]]:
    """The GAN section `key`: its patches exist, split into whole sub-patches the
    discriminator can judge."""

    def check(params: Params) -> list[str]:
        gan = params.section(key)
        problems = patch_size_problem(params, f"{key}.patch_size", gan.patch_size)
        d = gan.discriminator
        if gan.patch_size % d.sub_patch:
            problems.append(f"{key}.discriminator.sub_patch: {d.sub_patch} must divide "
                            f"{key}.patch_size {gan.patch_size}")  # fmt: skip
        if d.layers >= d.sub_patch:
            problems.append(
                f"{key}.discriminator.layers: {d.layers} must be less than sub_patch "
                f"{d.sub_patch} (each unpadded layer trims a pixel on every side)"
            )
        if gan.perceptual_layer not in VGG19_LAYERS:
            problems.append(f"{key}.perceptual_layer: {gan.perceptual_layer!r} is not a VGG-19 "
                            "layer (conv1_1 ... relu5_4, pool1 ... pool5)")  # fmt: skip
        return problems

    return check


register(
    Method(
        name="gan",
        label="GAN (Galteri et al.)",
        section="train_gan",
        params=TrainGanParams,
        trainer="gan",
        combine="nearest",
        starts_from="ssim",
        backbones=("vgg19",),
        check=_check_gan("train_gan"),
    )
)


# ---------------------------------------------------------------------------------------------
# The same generators on H.264 video frames (Galteri et al., 2020): trained for each CRF of
# degradation.h264.crfs on the frames of the video stage's clips, by the stage `video`.

register(
    Method(
        name="video_ssim",
        label="generator on H.264 frames (Galteri et al. 2020)",
        section="train_video_ssim",
        params=TrainSsimParams,
        trainer="supervised",
        combine="blend",
        check=_check_supervised("train_video_ssim"),
        qualities_key="degradation.h264.crfs",
        stage="video",
        prepared_key="video.prepared_dir",
        codec="h264",
    )
)

register(
    Method(
        name="video_gan",
        label="GAN on H.264 frames (Galteri et al. 2020)",
        section="train_video_gan",
        params=TrainGanParams,
        trainer="gan",
        combine="nearest",
        starts_from="video_ssim",
        backbones=("vgg19",),
        check=_check_gan("train_video_gan"),
        qualities_key="degradation.h264.crfs",
        stage="video",
        prepared_key="video.prepared_dir",
        codec="h264",
    )
)


# ---------------------------------------------------------------------------------------------
# NoGAN (Mameli, Bertini, Galteri and Del Bimbo, ICPR 2020): two releases per QF, the generator
# before the GAN phase (`nogan_pre`, section train_nogan) and after it (`nogan`, section
# train_nogan_gan), both trained by the stage train_nogan.


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
    problems = [f"train_nogan.qualities: {q} is not one of degradation.qualities "
                f"{list(params.degradation.qualities)}"
                for q in nogan.qualities if q not in params.degradation.qualities]  # fmt: skip
    for i, phase in enumerate(nogan.phases):
        problems += patch_size_problem(params, f"train_nogan.phases[{i}].patch_size",
                                       phase.patch_size)  # fmt: skip
    if not nogan.loss:
        problems.append("train_nogan.loss: name at least one loss, e.g. {lpips: 1.0, l1: 1.0}")
    return problems


def _check_nogan_gan(params: Params) -> list[str]:
    gan = params.train_nogan_gan
    problems = patch_size_problem(params, "train_nogan_gan.patch_size", gan.patch_size)
    g, every = gan.generator_steps
    if not 1 <= g <= every:
        problems.append(f"train_nogan_gan.generator_steps: [{g}, {every}] means {g} generator "
                        f"steps in every {every}; need 1 <= {g} <= {every}")  # fmt: skip
    stride = 2 ** (gan.critic.downsamplings + 1)  # the critic's stride, before a 4x4 patch head
    if gan.patch_size % stride or gan.patch_size < 4 * stride:
        problems.append(f"train_nogan_gan.patch_size: {gan.patch_size} must be a multiple of "
                        f"{stride}, at least {4 * stride}, for the critic's "
                        f"{gan.critic.downsamplings} downsamplings")  # fmt: skip
    return problems


LPIPS_BACKBONES = {"alex": "alexnet", "vgg": "vgg16"}  # lpips' name -> models/pretrained.yaml

register(
    Method(
        name="nogan_pre",
        label="NoGAN before the GAN phase (Mameli et al.)",
        section="train_nogan",
        params=TrainNoganParams,
        trainer="nogan",
        combine="nearest",
        backbones=("alexnet", "vgg16", "mobilenet_v3_large", "mobilenet_v3_small", "resnet34"),
        check=_check_nogan,
        qualities_key="train_nogan.qualities",
        stage="train_nogan",
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
        starts_from="nogan_pre",
        backbones=("alexnet", "vgg16"),
        check=_check_nogan_gan,
        qualities_key="train_nogan.qualities",
        stage="train_nogan",
    )
)


def _lookup(params: Params, key: str) -> Any:
    """The value of a dotted parameter name (`degradation.h264.crfs`)."""
    value: Any = params
    for part in key.split("."):
        value = getattr(value, part)
    return value


def qualities_of(params: Params, name: str) -> tuple[int, ...]:
    """The QFs (or CRFs) a method is trained for (the parameter its `qualities_key` names)."""
    return tuple(_lookup(params, get(name).qualities_key))


def prepared_dir_of(params: Params, name: str) -> str:
    """The prepared data a method trains on (the parameter its `prepared_key` names)."""
    return _lookup(params, get(name).prepared_key)


def combine_of(name: str) -> Combine:
    """How the ensemble of `name` combines two neighbouring QFs."""
    return get(name).combine


def label_of(name: str) -> str:
    """A method's label; the baselines are their own labels."""
    return get(name).label if name in METHODS else name


def describe() -> list[dict[str, Any]]:
    """The registry as rows, for the command line and the notebooks."""
    return [
        {"method": m.name, "label": m.label, "section": m.section, "trainer": m.trainer,
         "ensemble": m.combine, "starts from": m.starts_from or "", "backbones": list(m.backbones)}
        for m in METHODS.values()
    ]  # fmt: skip


def _check_shown_methods(params: Params) -> list[str]:
    """The study's and the detection's methods restore JPEG at QFs they are trained for
    (unknown names are said by the config's own check)."""
    problems = []
    for key in ("study", "detection"):
        section = params.section(key)
        for name in section.methods:
            if name not in METHODS:
                continue
            if get(name).codec != "jpeg":
                problems.append(f"{key}.methods: {name} restores {get(name).codec}, not JPEG")
                continue
            missing = [q for q in section.qualities if q not in qualities_of(params, name)]
            if missing:
                problems.append(f"{key}.qualities: {name} is not trained for QF "
                                f"{', '.join(map(str, missing))} (it is for "
                                f"{list(qualities_of(params, name))})")  # fmt: skip
    return problems


add_check(_check_shown_methods)


def _check_ladder(params: Params) -> list[str]:
    """The ladder is measured for methods whose generators are blended (stage ladder)."""
    problems = []
    for name in params.ladder.methods:
        if name not in METHODS:
            problems.append(f"ladder.methods: unknown method {name!r}; known: {list(METHODS)}")
        elif get(name).combine != "blend":
            problems.append(f"ladder.methods: {name} takes the nearest generator alone "
                            "(combine nearest); a ladder is measured for blended ones")  # fmt: skip
    return problems


add_check(_check_ladder)
