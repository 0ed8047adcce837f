"""Parameters: `params.yaml` read into frozen, typed dataclasses.

`params.yaml` is the one place where parameters live. It is validated strictly: an unknown key,
a missing key or a value of the wrong type stops with a `ConfigError` that names the key
(`data.patches[0].size: ...`). Paths in it are relative to the project root.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

PARAMS_FILE = "params.yaml"
_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)

Device = Literal["auto", "cpu", "cuda"]
Quality = Annotated[int, Field(ge=1, le=100)]  # IJG JPEG quality


# VGG-19's feature layers by name, block by block (2, 2, 4, 4, 4 convolutions): conv1_1,
# relu1_1, ..., pool5. perceptual.py maps them to torchvision's modules (a test checks both agree).
VGG19_LAYERS = tuple(
    name
    for block, convs in enumerate((2, 2, 4, 4, 4), start=1)
    for name in (*(f"{kind}{block}_{i}" for i in range(1, convs + 1) for kind in ("conv", "relu")),
                 f"pool{block}")
)  # fmt: skip


class ConfigError(ValueError):
    """A parameter file that cannot be used; the message names the file and the key."""


@dataclass(config=_STRICT)
class PatchSpec:
    """Square training patches of `size` pixels, cropped every `stride` pixels."""

    size: Annotated[int, Field(ge=16)]
    stride: Annotated[int, Field(ge=16, multiple_of=16)]


@dataclass(config=_STRICT)
class DataParams:
    """Where the corpus is, how it is split and which patches are indexed."""

    raw_dir: str
    prepared_dir: str
    val_fraction: Annotated[float, Field(ge=0, lt=1)]
    test_fraction: Annotated[float, Field(ge=0, lt=1)]
    patches: Annotated[tuple[PatchSpec, ...], Field(min_length=1)]
    colour_variants: Annotated[int, Field(ge=0, le=5)]
    dead_leaves: Annotated[int, Field(ge=0, le=1000)]
    extra_sets: dict[str, str]

    @property
    def min_size(self) -> int:
        """Smallest usable side of a corpus image: the largest patch."""
        return max(p.size for p in self.patches)


@dataclass(config=_STRICT)
class DegradationParams:
    """The codec and its qualities; JPEG through Pillow/libjpeg."""

    codec: Literal["jpeg"]
    qualities: Annotated[tuple[Quality, ...], Field(min_length=1)]
    chroma_subsampling: Literal["4:2:0", "4:2:2", "4:4:4"]


@dataclass(config=_STRICT)
class ReportParams:
    """Where executed notebooks, figures and metrics go."""

    dir: str
    metrics_dir: str
    figure_crop: Annotated[int, Field(ge=32)]


@dataclass(config=_STRICT)
class TrainParams:
    """A supervised generator's training run (one per QF of the ensemble)."""

    generator: Literal["paper", "fast", "very_fast", "tiny"]
    loss: dict[Literal["mse", "l1", "ssim"], Annotated[float, Field(gt=0)]]
    patch_size: Annotated[int, Field(ge=16)]
    batch_size: Annotated[int, Field(ge=1)]
    steps: Annotated[int, Field(ge=1)]
    lr: Annotated[float, Field(gt=0)]
    schedule: Literal["constant", "cosine"]
    checkpoint_every: Annotated[int, Field(ge=1)]
    val_every: Annotated[int, Field(ge=1)]
    models_dir: str


@dataclass(config=_STRICT)
class DiscriminatorParams:
    """The GAN's sub-patch discriminator: first filters, 3x3 layers, judged sub-patch side."""

    channels: Annotated[int, Field(ge=1)]
    layers: Annotated[int, Field(ge=1)]
    sub_patch: Annotated[int, Field(ge=2)]


@dataclass(config=_STRICT)
class TrainGanParams:
    """A GAN generator's training run (one per QF), starting from the SSIM generator."""

    perceptual_layer: str
    fallback: Literal["random_vgg19"] | None
    adversarial_weight: Annotated[float, Field(ge=0)]
    discriminator: DiscriminatorParams
    patch_size: Annotated[int, Field(ge=16)]
    batch_size: Annotated[int, Field(ge=1)]
    steps: Annotated[int, Field(ge=1)]
    lr_g: Annotated[float, Field(gt=0)]
    lr_d: Annotated[float, Field(gt=0)]
    checkpoint_every: Annotated[int, Field(ge=1)]
    val_every: Annotated[int, Field(ge=1)]
    select_by: Literal["niqe", "psnr_y", "ssim_y"]
    collapse_steps: Annotated[int, Field(ge=10)]
    models_dir: str


@dataclass(config=_STRICT)
class TrainQFParams:
    """The QF predictor: a classifier over degradation.qualities (stage train_qf)."""

    channels: Annotated[int, Field(ge=1)]
    patch_size: Annotated[int, Field(ge=16)]
    batch_size: Annotated[int, Field(ge=1)]
    steps: Annotated[int, Field(ge=1)]
    lr: Annotated[float, Field(gt=0)]
    checkpoint_every: Annotated[int, Field(ge=1)]
    predict_patches: Annotated[int, Field(ge=1)]
    above_range: tuple[Quality, Quality] | None  # an extra class: QFs above the ensemble's
    models_dir: str


Method = Literal["ssim", "gan"]  # trained methods the evaluation knows (NoGAN comes later)


@dataclass(config=_STRICT)
class EvaluateParams:
    """The evaluate stage: which trained methods, scored how."""

    methods: Annotated[tuple[Method, ...], Field(min_length=1)]
    crop_border: Annotated[int, Field(ge=0, le=64)]
    figure_quality: Quality
    out_dir: str


@dataclass(config=_STRICT)
class CompareParams:
    """The compare notebook's first view and the images its HTML report carries."""

    set: str
    image: str
    quality: Quality
    left: str
    right: str
    gallery: Annotated[int, Field(ge=1, le=32)]


@dataclass(config=_STRICT)
class Params:
    """Everything in `params.yaml`."""

    seed: Annotated[int, Field(ge=0)]
    device: Device
    data: DataParams
    degradation: DegradationParams
    train_ssim: TrainParams
    train_gan: TrainGanParams
    train_qf: TrainQFParams
    evaluate: EvaluateParams
    compare: CompareParams
    reports: ReportParams

    @property
    def test_sets(self) -> tuple[str, ...]:
        """The sets the evaluation scores: the corpus' held-out split, then the extra sets."""
        return ("test", *self.data.extra_sets)


_ADAPTER = TypeAdapter(Params)
_FREE = {
    "data.extra_sets",
    "train_ssim.loss",
}  # mappings whose keys are the user's names, replaced as a whole


def find_project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd) that holds `params.yaml`."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PARAMS_FILE).is_file() and (folder / "dvc.yaml").is_file():
            return folder
    raise ConfigError(f"no {PARAMS_FILE} with a dvc.yaml beside it in {here} or above")


def resolve_path(path: str | Path, root: str | Path | None = None) -> Path:
    """A path from params: `~` and `$VARS` expanded, relative ones taken from the project root."""
    text = os.path.expanduser(os.path.expandvars(str(path)))
    if "$" in text:
        raise ConfigError(f"{path}: an environment variable in this path is not set")
    full = Path(text)
    return full if full.is_absolute() else Path(root or find_project_root()) / full


def parse_params(raw: Any, source: str = PARAMS_FILE) -> Params:
    """Validate a parsed YAML mapping; errors name `source` and each offending key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping of parameters, got {type(raw).__name__}")
    try:
        params = _ADAPTER.validate_json(json.dumps(raw), strict=True)
    except ValidationError as err:
        lines = [_describe(e) for e in err.errors()]
        raise ConfigError(f"{source}: invalid parameters\n  " + "\n  ".join(lines)) from None
    _check_consistency(params, source)
    return params


def load_params(path: str | Path | None = None) -> Params:
    """Read and validate `params.yaml` (default: the one at the project root)."""
    path = Path(path) if path else find_project_root() / PARAMS_FILE
    if not path.is_absolute() and not path.exists():
        path = find_project_root() / path
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: parameter file not found") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    return parse_params(raw, str(path))


def _describe(error: Mapping[str, Any]) -> str:
    """One line per pydantic error: `key.path: what is wrong (got value)`."""
    key = _key_path(error["loc"])
    kind = error["type"]
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        return f"{key}: unknown key"
    if kind == "missing":
        return f"{key}: missing"
    got = error.get("input")
    return f"{key}: {error['msg'].lower()} (got {got!r} of type {type(got).__name__})"


def _key_path(loc: tuple[str | int, ...]) -> str:
    """('data', 'patches', 0, 'size') -> 'data.patches[0].size'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _check_consistency(params: Params, source: str) -> None:
    """Rules that span several keys."""
    problems = []
    if params.data.val_fraction + params.data.test_fraction >= 1:
        problems.append("data.val_fraction + data.test_fraction: must leave images for training")
    if len(set(params.degradation.qualities)) != len(params.degradation.qualities):
        problems.append("degradation.qualities: each quality must appear once")
    if params.train_ssim.patch_size not in {p.size for p in params.data.patches}:
        sizes = [p.size for p in params.data.patches]
        problems.append(f"train_ssim.patch_size: must be one of data.patches' sizes {sizes}")
    problems += _check_gan(params)
    qf = params.train_qf
    if qf.patch_size not in {p.size for p in params.data.patches} or qf.patch_size % 8:
        sizes = [p.size for p in params.data.patches]
        problems.append(f"train_qf.patch_size: must be one of data.patches' sizes {sizes}")
    if qf.above_range is not None:
        low, high = qf.above_range
        top = max(params.degradation.qualities)
        if not top < low <= high:
            problems.append(f"train_qf.above_range: must be [low, high] with {top} < low <= "
                            "high <= 100, or null")  # fmt: skip
    if qf.models_dir in (params.train_ssim.models_dir, params.train_gan.models_dir):
        problems.append("train_qf.models_dir: must differ from the generators' models_dir")
    if not params.train_ssim.loss:
        problems.append("train_ssim.loss: name at least one loss, e.g. {ssim: 1.0}")
    for name in params.data.extra_sets:
        if not name.replace("_", "").isalnum() or name in ("train", "val", "test"):
            problems.append(f"data.extra_sets.{name}: use letters, digits and _ (not a split name)")
    problems += _check_evaluation(params)
    if problems:
        raise ConfigError(f"{source}: invalid parameters\n  " + "\n  ".join(problems))


def _check_gan(params: Params) -> list[str]:
    """The GAN's patches exist, split into whole sub-patches the discriminator can judge."""
    gan, problems = params.train_gan, []
    sizes = [p.size for p in params.data.patches]
    if gan.patch_size not in sizes:
        problems.append(f"train_gan.patch_size: must be one of data.patches' sizes {sizes}")
    d = gan.discriminator
    if gan.patch_size % d.sub_patch:
        problems.append(
            f"train_gan.discriminator.sub_patch: {d.sub_patch} must divide train_gan.patch_size "
            f"{gan.patch_size}"
        )
    if d.layers >= d.sub_patch:
        problems.append(
            f"train_gan.discriminator.layers: {d.layers} must be less than sub_patch "
            f"{d.sub_patch} (each unpadded layer trims a pixel on every side)"
        )
    if gan.perceptual_layer not in VGG19_LAYERS:
        problems.append(
            f"train_gan.perceptual_layer: {gan.perceptual_layer!r} is not a VGG-19 layer "
            f"(conv1_1 ... relu5_4, pool1 ... pool5)"
        )
    if params.train_gan.models_dir == params.train_ssim.models_dir:
        problems.append("train_gan.models_dir: must differ from train_ssim.models_dir")
    return problems


def _check_evaluation(params: Params) -> list[str]:
    """The evaluate and compare sections must name QFs, sets and methods that exist."""
    problems = []
    qualities = params.degradation.qualities
    for key, quality in (("evaluate.figure_quality", params.evaluate.figure_quality),
                         ("compare.quality", params.compare.quality)):  # fmt: skip
        if quality not in qualities:
            problems.append(
                f"{key}: {quality} is not one of degradation.qualities {list(qualities)}"
            )
    if params.compare.set not in params.test_sets:
        problems.append(
            f"compare.set: {params.compare.set!r} is not one of {list(params.test_sets)}"
        )
    shown = ("original", "jpeg", *params.evaluate.methods)
    for key in ("left", "right"):
        if getattr(params.compare, key) not in shown:
            problems.append(f"compare.{key}: must be one of {list(shown)}")
    return problems


def params_to_dict(params: Params) -> dict[str, Any]:
    """Plain data (lists, dicts) for writing next to outputs and into checkpoints."""
    return json.loads(_ADAPTER.dump_json(params))


def apply_profile(profile: str | Path, params_path: str | Path | None = None) -> list[str]:
    """Merge a profile (a partial params file) into `params.yaml`, keeping its comments.

    Returns the keys that changed. The merged file is validated before it is written, so a
    profile with an unknown key or a wrong type leaves `params.yaml` as it was.
    """
    from ruamel.yaml import YAML

    params_path = Path(params_path) if params_path else find_project_root() / PARAMS_FILE
    overrides = yaml.safe_load(Path(profile).read_text()) or {}
    rt = YAML()
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=4, offset=2)
    document = rt.load(params_path.read_text())
    changed = _merge(document, overrides, source=str(profile))
    parse_params(json.loads(json.dumps(document)), f"{params_path} with {profile}")
    tmp = params_path.with_suffix(".yaml.tmp")
    with tmp.open("w") as f:
        rt.dump(document, f)
    tmp.replace(params_path)
    return changed


def _merge(target: Any, overrides: Mapping[str, Any], source: str, prefix: str = "") -> list[str]:
    """Set `overrides` into the round-trip mapping `target`; unknown keys raise."""
    changed = []
    for key, value in overrides.items():
        where = f"{prefix}{key}"
        if key not in target:
            raise ConfigError(f"{source}: {where}: unknown key")
        if isinstance(value, Mapping) and isinstance(target[key], Mapping) and where not in _FREE:
            changed += _merge(target[key], value, source, f"{where}.")
        elif target[key] != value:
            target[key] = value
            changed.append(where)
    return changed
