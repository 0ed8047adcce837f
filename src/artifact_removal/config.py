"""Parameters: `params.yaml` read into frozen, typed dataclasses.

`params.yaml` is the one place where parameters live. It is validated strictly: an unknown key,
a missing key or a value of the wrong type stops with a `ConfigError` that names the key
(`data.patches[0].size: ...`). Paths in it are relative to the project root.

The sections every stage shares are declared here. Each restoration method declares its own
training section with the method, in the registry (`methods.py`), which adds it here with
`add_section`; `Params` then has one attribute per section (`params.train_gan`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from .fileio import write_atomic

PARAMS_FILE = "params.yaml"
STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)

Device = Literal["auto", "cpu", "cuda"]
Quality = Annotated[int, Field(ge=1, le=100)]  # IJG JPEG quality
Positive = Annotated[int, Field(ge=1)]
Rate = Annotated[float, Field(gt=0)]
SPLITS = ("train", "val", "test")  # the corpus' splits; extra evaluation sets have other names


class ConfigError(ValueError):
    """A parameter file that cannot be used; the message names the file and the key."""


@dataclass(config=STRICT)
class PatchSpec:
    """Square training patches of `size` pixels, cropped every `stride` pixels."""

    size: Annotated[int, Field(ge=16)]
    stride: Annotated[int, Field(ge=16, multiple_of=16)]


@dataclass(config=STRICT)
class DataParams:
    """Where the corpus is, how it is split, which patches are indexed; extra test sets."""

    raw_dir: str
    prepared_dir: str
    val_fraction: Annotated[float, Field(ge=0, lt=1)]
    test_fraction: Annotated[float, Field(ge=0, lt=1)]
    patches: Annotated[tuple[PatchSpec, ...], Field(min_length=1)]
    colour_variants: Annotated[int, Field(ge=0, le=5)]
    dead_leaves: Annotated[int, Field(ge=0, le=1000)]
    extra_sets: dict[str, str]
    sets_dir: str

    @property
    def min_size(self) -> int:
        """Smallest usable side of a corpus image: the largest patch."""
        return max(p.size for p in self.patches)

    @property
    def patch_sizes(self) -> list[int]:
        """The sides of the indexed patches."""
        return [p.size for p in self.patches]


Crf = Annotated[int, Field(ge=0, le=51)]  # H.264 constant rate factor (lower: better)


@dataclass(config=STRICT)
class H264Params:
    """H.264 through PyAV's libx264 (degradations/h264.py): the ladder of CRFs that video
    generators are trained for, and the encoder's settings."""

    crfs: Annotated[tuple[Crf, ...], Field(min_length=1)]
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                    "slower", "veryslow"]  # fmt: skip
    gop: Annotated[int, Field(ge=1)]
    bframes: Annotated[int, Field(ge=0, le=16)]


@dataclass(config=STRICT)
class DegradationParams:
    """The codecs and their qualities: JPEG through Pillow/libjpeg for images, H.264 for video."""

    codec: Literal["jpeg"]
    qualities: Annotated[tuple[Quality, ...], Field(min_length=1)]
    chroma_subsampling: Literal["4:2:0", "4:2:2", "4:4:4"]
    h264: H264Params


@dataclass(config=STRICT)
class ClipParams:
    """The default clean clips: a virtual camera over the corpus' photographs."""

    size: tuple[Annotated[int, Field(ge=64)], Annotated[int, Field(ge=64)]]  # height, width
    frames: Annotated[int, Field(ge=2, le=1000)]
    motions: Annotated[tuple[Literal["pan", "zoom", "shake"], ...], Field(min_length=1)]
    fps: Annotated[int, Field(ge=1, le=240)]
    colour_variants: bool  # training clips also over the corpus' colour variants (R, G, B
    # reordered; data.colour_variants), as the image generators train


@dataclass(config=STRICT)
class EncoderVarietyParams:
    """x264 settings drawn per training clip and CRF, so that what is learnt holds for what
    other tools write (`data.video.prepare_video`)."""

    presets: Annotated[tuple[Literal["ultrafast", "superfast", "veryfast", "faster", "fast",
                                     "medium", "slow", "slower", "veryslow"], ...],
                       Field(min_length=1)]  # fmt: skip
    gops: Annotated[tuple[Annotated[int, Field(ge=1)], ...], Field(min_length=1)]
    bframes: Annotated[tuple[Annotated[int, Field(ge=0, le=16)], ...], Field(min_length=1)]


@dataclass(config=STRICT)
class VideoParams:
    """The video stage: clips, the CRF it is scored at, the methods it scores, the report."""

    prepared_dir: str
    clips: ClipParams
    train_encoders: EncoderVarietyParams  # the training and validation clips' x264 settings
    predictor_crfs: Annotated[tuple[Crf, ...], Field(min_length=2)]  # the CRF predictor's classes
    predictor_frames: Annotated[int, Field(ge=1)]  # frames of each clip it learns from
    extra_clips: dict[str, str]  # name: a lossless clip (file, or folder of PNG frames)
    clips_dir: str  # where stage import_clip@NAME puts each extra clip (FFV1)
    crf: Crf
    methods: tuple[str, ...]
    niqe_every: Annotated[int, Field(ge=1)]  # NIQE and BRISQUE on every N-th frame
    player_crf: Crf  # the player's clips (H.264 of the frames shown, at high quality)
    predictor_dir: str  # the CRF predictor (train_qf's settings on H.264 frames): predictor.pt
    out_dir: str


@dataclass(config=STRICT)
class ReportParams:
    """Where executed notebooks, figures and metrics go."""

    dir: str
    metrics_dir: str
    figure_crop: Annotated[int, Field(ge=32)]


@dataclass(config=STRICT)
class TrainQFParams:
    """The QF predictor: a classifier over degradation.qualities (stage train_qf)."""

    channels: Positive
    patch_size: Annotated[int, Field(ge=16)]
    batch_size: Positive
    steps: Positive
    lr: Rate
    checkpoint_every: Positive
    val_every: Positive
    predict_patches: Positive
    classes: tuple[Quality, ...] | None  # the QF predictor's classes (None: the ensemble's QFs)
    above_range: tuple[Quality, Quality] | None  # an extra class: QFs above the ensemble's
    models_dir: str


@dataclass(config=STRICT)
class LadderParams:
    """The ensemble's ladder measured on the validation split (stage ladder)."""

    methods: tuple[str, ...]  # methods whose generators are blended (combine "blend")
    margin: Annotated[float, Field(ge=0, le=3)]  # dB another choice must gain to be taken
    dir: str  # <method>.json per method


@dataclass(config=STRICT)
class CrfReadingParams:
    """A video's CRF read from its H.264 QPs (stage crf_reading, inference/crf_reading.py)."""

    out: str  # the fitted line from QP to CRF (JSON)


@dataclass(config=STRICT)
class EvaluateParams:
    """The evaluate stage: which trained methods, scored how."""

    methods: Annotated[tuple[str, ...], Field(min_length=1)]
    crop_border: Annotated[int, Field(ge=0, le=64)]
    figure_quality: Quality
    super_resolution: Annotated[int, Field(ge=0, le=8)]  # 0: off; else the downscaling factor
    out_dir: str


@dataclass(config=STRICT)
class CompareParams:
    """The compare notebook's first view and the images its HTML report carries."""

    set: str
    image: str
    quality: Quality
    left: str
    right: str
    gallery: Annotated[int, Field(ge=1, le=32)]


@dataclass(config=STRICT)
class StudyParams:
    """The DSIS study (stage human_study): its trials, how they are shown, the analysis."""

    methods: Annotated[tuple[str, ...], Field(min_length=1)]  # shown beside original and JPEG
    qualities: Annotated[tuple[Quality, ...], Field(min_length=1)]
    images: Annotated[int, Field(ge=1, le=50)]  # held-out images of the corpus
    crop: Annotated[int, Field(ge=0)]  # px: the busiest square shown (0: the whole image)
    zoom: Annotated[int, Field(ge=1, le=4)]  # shown magnified, pixels kept sharp
    layout: Literal["side_by_side", "sequential"]  # sequential: reference, then test (DSIS I)
    reference_seconds: Annotated[float, Field(gt=0, le=30)]  # sequential: the reference's time
    repeats: Annotated[int, Field(ge=0)]  # trials shown twice, to measure consistency
    max_repeat_gap: Annotated[float, Field(gt=0, le=100)]  # screening: mean |first - repeat|
    ratings_dir: str  # one CSV per rater (the notebook writes there; the page's exports go there)
    out_dir: str  # the study as built (stage study): the page, study.json, the pictures
    results_dir: str  # its analysis (stage human_study)


@dataclass(config=STRICT)
class DetectionParams:
    """Detection on restored images (stage detection): Faster R-CNN on a PASCAL VOC folder."""

    voc_dir: str  # a VOC folder (Annotations/, JPEGImages/, ImageSets/Main/) or its parent
    split: str  # the ImageSets/Main list (VOC 2007: test)
    methods: Annotated[tuple[str, ...], Field(min_length=1)]
    qualities: Annotated[tuple[Quality, ...], Field(min_length=1)]
    max_images: Annotated[int, Field(ge=0)]  # 0: every image of the split
    min_size: Annotated[int, Field(ge=32, le=1333)]  # the detector's input short side
    out_dir: str


@dataclass(config=STRICT)
class Params:
    """Everything in `params.yaml`: these shared sections, and one section per method."""

    seed: Annotated[int, Field(ge=0)]
    device: Device
    data: DataParams
    degradation: DegradationParams
    train_qf: TrainQFParams
    ladder: LadderParams
    crf_reading: CrfReadingParams
    evaluate: EvaluateParams
    compare: CompareParams
    video: VideoParams
    study: StudyParams
    detection: DetectionParams
    reports: ReportParams

    @property
    def test_sets(self) -> tuple[str, ...]:
        """The sets the evaluation scores: the corpus' held-out split, then the extra sets."""
        return ("test", *self.data.extra_sets)

    def section(self, name: str) -> Any:
        """A section by name (`train_gan`)."""
        return getattr(self, name)


@dataclasses.dataclass(frozen=True)
class Section:
    """A section that a method adds: its key, its schema, its cross-key rules, and the name of
    the method whose release files its `models_dir` holds."""

    key: str
    schema: type
    check: Callable[[Params], list[str]]
    method: str
    free: tuple[str, ...] = ()  # mappings whose keys are the user's names, replaced as a whole


_SECTIONS: dict[str, Section] = {}
# mappings whose keys are the user's names, replaced as a whole
_FREE = {"data.extra_sets", "video.extra_clips"}


_CHECKS: list[Callable[[Params], list[str]]] = []  # rules over several sections


def add_check(check: Callable[[Params], list[str]]) -> None:
    """Declare a rule that spans the shared sections and the registry (the registry declares
    those that need to know its methods)."""
    _CHECKS.append(check)


def add_section(section: Section) -> None:
    """Declare a method's params section (the registry does this for every method)."""
    if section.key in _SECTIONS or section.key in {f.name for f in dataclasses.fields(Params)}:
        raise ValueError(f"params section {section.key!r} is declared twice")
    _SECTIONS[section.key] = section
    _params_type.cache_clear()


@functools.cache
def _params_type() -> TypeAdapter:
    """`Params` with a field for every declared method section, as a validator."""
    annotations = {key: section.schema for key, section in _SECTIONS.items()}
    full = type("Params", (Params,), {"__annotations__": annotations, "__doc__": Params.__doc__,
                                      "__module__": __name__})  # fmt: skip
    return TypeAdapter(dataclass(config=STRICT)(full))


def find_project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd) that holds `params.yaml`."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PARAMS_FILE).is_file() and (folder / "dvc.yaml").is_file():
            return folder
    raise ConfigError(f"no {PARAMS_FILE} with a dvc.yaml beside it in {here} or above")


def resolve_path(path: str | Path, root: str | Path | None = None) -> Path:
    """A path from params; relative ones are taken from the project root."""
    full = Path(path)
    return full if full.is_absolute() else Path(root or find_project_root()) / full


def parse_params(raw: Any, source: str = PARAMS_FILE) -> Params:
    """Validate a parsed YAML mapping; errors name `source` and each offending key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping of parameters, got {type(raw).__name__}")
    try:
        text = json.dumps(raw, default=_not_json)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    try:
        params = _params_type().validate_json(text, strict=True)
    except ValidationError as err:
        lines = [_describe(e) for e in err.errors()]
        raise ConfigError(f"{source}: invalid parameters\n  " + "\n  ".join(lines)) from None
    problems = _check_shared(params)
    for section in _SECTIONS.values():
        problems += section.check(params)
    if problems:
        raise ConfigError(f"{source}: invalid parameters\n  " + "\n  ".join(problems))
    return params


def parse_yaml(text: str, source: str = "YAML") -> Any:
    """YAML read exactly as DVC reads params.yaml (ruamel.yaml's safe loader, YAML 1.2), so
    the stages and DVC never disagree: `1e-3` is a number, `4:2:0` a string, `yes` a string.
    A duplicate key, or text that is not YAML, is a `ConfigError` naming `source` and the line.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return YAML(typ="safe").load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f", line {mark.line + 1}" if mark else ""
        problem = (err.problem or err.context or "").strip()
        if "duplicate key" in problem:
            raise ConfigError(f"{source}{where}: {problem}; each key may appear once in a "
                              "mapping (remove one)") from None  # fmt: skip
        raise ConfigError(f"{source}{where}: not valid YAML: {problem}") from None
    except YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML: {err}") from None


def read_yaml(path: str | Path) -> Any:
    """A YAML file read with `parse_yaml`; a missing file is a `ConfigError` too."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read ({err})") from None
    return parse_yaml(text, str(path))


def _not_json(value: Any) -> Any:
    """Values YAML can hold but parameters cannot (dates, sets) are refused by name."""
    raise ConfigError(f"a value of type {type(value).__name__} ({value!r}) is not a parameter "
                      "value; quote it to make it a string")  # fmt: skip


def load_params(path: str | Path | None = None) -> Params:
    """Read (as DVC does, see `parse_yaml`) and validate `params.yaml` (default: the one at the
    project root)."""
    path = Path(path) if path else find_project_root() / PARAMS_FILE
    if not path.is_absolute() and not path.exists():
        path = find_project_root() / path
    if not path.is_file():
        raise ConfigError(f"{path}: parameter file not found")
    return parse_params(read_yaml(path), str(path))


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


def patch_size_problem(params: Params, key: str, size: int) -> list[str]:
    """A section's patches must be among those the prepare stage indexes."""
    sizes = params.data.patch_sizes
    return [] if size in sizes else [f"{key}: must be one of data.patches' sizes {sizes}"]


def _check_shared(params: Params) -> list[str]:
    """Rules that span several keys of the shared sections."""
    problems = []
    if params.data.val_fraction + params.data.test_fraction >= 1:
        problems.append("data.val_fraction + data.test_fraction: must leave images for training")
    if len(set(params.degradation.qualities)) != len(params.degradation.qualities):
        problems.append("degradation.qualities: each quality must appear once")
    crfs = params.degradation.h264.crfs
    if len(set(crfs)) != len(crfs):
        problems.append("degradation.h264.crfs: each CRF must appear once")
    if params.video.crf not in crfs:
        problems.append(f"video.crf: {params.video.crf} is not one of degradation.h264.crfs "
                        f"{list(crfs)}")  # fmt: skip
    if list(params.video.predictor_crfs) != sorted(set(params.video.predictor_crfs)):
        problems.append("video.predictor_crfs: CRFs in increasing order, each once")
    for name, path in params.video.extra_clips.items():
        if not name.replace("_", "").isalnum():
            problems.append(f"video.extra_clips.{name}: use letters, digits and _")
        if "~" in path or "$" in path:
            problems.append(f"video.extra_clips.{name}: write the path out ({path!r}): DVC "
                            "tracks it as a dependency and expands neither ~ nor "
                            "$VARS")  # fmt: skip
    for name, folder in params.data.extra_sets.items():
        if not name.replace("_", "").isalnum() or name in (*SPLITS, "corpus"):
            problems.append(f"data.extra_sets.{name}: use letters, digits and _ (not a split name)")
        if "~" in folder or "$" in folder:
            problems.append(
                f"data.extra_sets.{name}: write the folder out ({folder!r}): DVC tracks it as "
                "a dependency and expands neither ~ nor $VARS"
            )
    qf = params.train_qf
    problems += patch_size_problem(params, "train_qf.patch_size", qf.patch_size)
    if qf.patch_size % 8:
        problems.append("train_qf.patch_size: must be a multiple of 8 (the JPEG block)")
    classes = qf.classes or params.degradation.qualities
    if qf.classes is not None and list(qf.classes) != sorted(set(qf.classes)):
        problems.append("train_qf.classes: QFs in increasing order, each once (or null)")
    if qf.above_range is not None:
        low, high = qf.above_range
        top = max(params.degradation.qualities)
        if max(classes) >= low:
            problems.append(f"train_qf.classes: every class must be below the class above "
                            f"(train_qf.above_range starts at {low})")  # fmt: skip
        if not top < low <= high:
            problems.append(f"train_qf.above_range: must be [low, high] with {top} < low <= "
                            "high <= 100, or null")  # fmt: skip
    return problems + _check_evaluation(params)


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
    known = [section.method for section in _SECTIONS.values()]
    for key in ("evaluate.methods", "video.methods", "study.methods", "detection.methods"):
        section, field = key.split(".")
        for name in getattr(getattr(params, section), field):
            if name not in known:
                problems.append(f"{key}: unknown method {name!r}; known: {known}")
    for check in _CHECKS:
        problems += check(params)
    if params.compare.set not in params.test_sets:
        problems.append(
            f"compare.set: {params.compare.set!r} is not one of {list(params.test_sets)}"
        )
    shown = ("original", "jpeg", *params.evaluate.methods)
    for key in ("left", "right"):
        if getattr(params.compare, key) not in shown:
            problems.append(f"compare.{key}: must be one of {list(shown)}")
    folders = {"train_qf": params.train_qf.models_dir}
    folders |= {key: params.section(key).models_dir for key in _SECTIONS}
    for key, folder in folders.items():
        if list(folders.values()).count(folder) > 1:
            problems.append(f"{key}.models_dir: {folder!r} is also another section's models_dir")
    return problems


def params_to_dict(params: Params) -> dict[str, Any]:
    """Plain data (lists, dicts) for writing next to outputs and into checkpoints."""
    return json.loads(_params_type().dump_json(params))


def section_to_dict(section: Any) -> dict[str, Any]:
    """One section as plain data."""
    return json.loads(TypeAdapter(type(section)).dump_json(section))


def apply_profile(profile: str | Path, params_path: str | Path | None = None) -> list[str]:
    """Merge a profile (a partial params file) into `params.yaml`, keeping its comments.

    Returns the keys that changed. The merged file is validated before it is written, so a
    profile with an unknown key or a wrong type leaves `params.yaml` as it was.
    """
    from ruamel.yaml import YAML

    params_path = Path(params_path) if params_path else find_project_root() / PARAMS_FILE
    overrides = read_yaml(profile) or {}
    rt = YAML()
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=4, offset=2)
    document = rt.load(params_path.read_text())
    free = _FREE | {f"{s.key}.{k}" for s in _SECTIONS.values() for k in s.free}
    changed = _merge(document, overrides, str(profile), free)
    parse_params(json.loads(json.dumps(document)), f"{params_path} with {profile}")
    write_atomic(params_path, lambda f: rt.dump(document, f))
    return changed


def _merge(target: Any, overrides: Mapping[str, Any], source: str, free: set[str],
           prefix: str = "") -> list[str]:  # fmt: skip
    """Set `overrides` into the round-trip mapping `target`; unknown keys raise."""
    changed = []
    for key, value in overrides.items():
        where = f"{prefix}{key}"
        if key not in target:
            raise ConfigError(f"{source}: {where}: unknown key")
        if isinstance(value, Mapping) and isinstance(target[key], Mapping) and where not in free:
            changed += _merge(target[key], value, source, free, f"{where}.")
        elif target[key] != value:
            target[key] = value
            changed.append(where)
    return changed
