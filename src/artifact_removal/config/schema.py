"""The shared sections of `params.yaml` as frozen, typed dataclasses (a method's own section
is declared with the method, in `methods/`), and the types and errors they use."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass

PARAMS_FILE = "params.yaml"
STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)

Device = Literal["auto", "cpu", "cuda"]
Quality = Annotated[int, Field(ge=1, le=100)]  # IJG JPEG quality
Positive = Annotated[int, Field(ge=1)]
Rate = Annotated[float, Field(gt=0)]
# x264's speed presets, fastest first (degradations.h264.PRESETS)
X264Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]
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

    corpus: Literal["bsds500", "embedded", "own"]
    local_copy: str | None
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
    preset: X264Preset
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
    frames: Annotated[int, Field(ge=2, le=1000)]  # of each validation and test clip
    train_frames: Annotated[int, Field(ge=2, le=1000)]  # of each training clip
    motions: Annotated[tuple[Literal["pan", "zoom", "shake"], ...], Field(min_length=1)]
    fps: Annotated[int, Field(ge=1, le=240)]
    colour_variants: bool  # training clips also over the corpus' colour variants (R, G, B
    # reordered; data.colour_variants), as the image generators train
    photographs: tuple[
        Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]
    ]  # at most this many photographs of train, val and test each (0: all), spread over them


@dataclass(config=STRICT)
class EncoderVarietyParams:
    """x264 settings drawn per training clip and CRF, so that what is learnt holds for what
    other tools write (`data.video.prepare_video`)."""

    presets: Annotated[
        tuple[
            X264Preset,
            ...,
        ],
        Field(min_length=1),
    ]
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
    report_images: Annotated[int, Field(ge=0)]  # held-out images of the report's calibration
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
    photographs: tuple[
        Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]
    ]  # at most this many photographs of train, val and test each (0: all), spread over them


@dataclass(config=STRICT)
class EvaluateParams:
    """The evaluate stage: which trained methods, scored how."""

    methods: Annotated[tuple[str, ...], Field(min_length=1)]
    crop_border: Annotated[int, Field(ge=0, le=64)]
    figure_quality: Quality
    super_resolution: Annotated[int, Field(ge=0, le=8)]  # 0: off; else the downscaling factor
    set_qualities: tuple[Quality, ...]  # QFs the extra sets are scored at (empty: every QF)
    # images per set for the dial's curve and the QF predictor's tables (0: every image)
    sampled_images: Annotated[int, Field(ge=0)]
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
