"""The level predictors, registered like the methods: the networks that read an input's level
(a JPEG's QF, an H.264 frame's CRF) from its pixels, which the ensembles of a codec's methods
ask when the file does not say.

A predictor is a training run of its own (`train --method qf`; the CRF predictor in the video
stage) with the settings of `train_qf`, a release folder holding `predictor.pt`, the levels it
tells apart (its classes) and the prepared data it learns from. Its codec names it
(`Codec.predictor`); the run engine, the release files, the training reports, the ensembles
and the stages read this table, never a test of a predictor's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import resolve_path
from ..degradations.codecs import codec_of, setting

RELEASE = "predictor.pt"  # a predictor's release file, in its folder


@dataclass(frozen=True)
class Predictor:
    """One level predictor; see the module docstring."""

    name: str  # its run's name (`train --method qf`); its release's `method` is `<name>_predictor`
    codec: str  # the codec whose level it reads (`degradations.codecs`)
    models_key: str  # the parameter naming its release folder
    levels_key: str  # the parameter listing the levels its run is told (its classes)
    prepared_key: str  # the parameter naming the prepared data it learns from
    stage: str  # the DVC stage that trains it
    prepared_below: str = ""  # a folder below that data (the CRF predictor's own frames)
    section: str = "train_qf"  # its settings
    trainer: str = "qf"  # the module of `training/` whose `Recipe` trains it
    reports: str | None = None  # its training report (`stages.train_reports`); None: its stage's

    @property
    def release_method(self) -> str:
        """The `method` its release files carry."""
        return f"{self.name}_predictor"

    def release(self, params, root: Path) -> Path:
        """Its release file, as params place it."""
        return resolve_path(setting(params, self.models_key), root) / RELEASE

    def prepared(self, params, root: Path) -> Path:
        """The prepared data it learns from, as params place it."""
        return resolve_path(setting(params, self.prepared_key), root) / self.prepared_below


PREDICTORS: dict[str, Predictor] = {}


def register_predictor(predictor: Predictor) -> Predictor:
    """Add a predictor to the table; its codec must name it."""
    if predictor.name in PREDICTORS:
        raise ValueError(f"predictor {predictor.name!r} is registered twice")
    if codec_of(predictor.codec).predictor != predictor.name:
        raise ValueError(f"codec {predictor.codec!r} does not name predictor {predictor.name!r}")
    PREDICTORS[predictor.name] = predictor
    return predictor


def predictor_of(codec: str) -> Predictor:
    """The predictor that reads the level of `codec`'s inputs."""
    return PREDICTORS[codec_of(codec).predictor]


def trained_in(stage: str) -> list[Predictor]:
    """The predictors that the DVC stage `stage` trains."""
    return [p for p in PREDICTORS.values() if p.stage == stage]


register_predictor(
    Predictor(
        name="qf",
        codec="jpeg",
        models_key="train_qf.models_dir",
        levels_key="degradation.qualities",
        prepared_key="data.prepared_dir",
        stage="train_qf",
        reports="qf",
    )
)
register_predictor(
    Predictor(
        name="crf",
        codec="h264",
        models_key="video.predictor_dir",
        levels_key="video.predictor_crfs",
        prepared_key="video.prepared_dir",
        stage="video",
        prepared_below="crf",  # data.video.PREDICTOR_DATA: the video stage's frames for it
    )
)
