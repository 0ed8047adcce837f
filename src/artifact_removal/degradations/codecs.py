"""The codecs a method restores, each one object: what its level is called, which way is
gentler, where the input is left as it is, what reads the level of an input, and where its
methods are shown. A method names its codec (`Method.codec`); everything that differs between
codecs is read from here, never from a test of the codec's name. A third codec is one entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Codec:
    """One codec; see the module docstring."""

    name: str  # a method's `codec`
    unit: str  # what its level is called: QF, CRF
    higher_is_gentler: bool  # JPEG: a higher QF is a better quality; H.264: a lower CRF
    pass_through: int  # levels beyond the gentlest trained one from which the input is kept
    predictor: str  # the network that reads an input's level (`methods.predictors`)
    classes: tuple[str, ...]  # the parameters listing the predictor's classes, the first set
    shown_in: tuple[str, ...]  # the params lists that show its methods (scored, rated, ...)
    video: bool  # its inputs are videos (restored frame by frame)
    compressed_here: bool  # validation images can be compressed at any level on the spot
    # what to do when neither the file, the predictor nor the user tells the level
    unknown: str

    def gentler(self, a: float, b: float) -> bool:
        """True when level `a` is a better quality than level `b`."""
        return a > b if self.higher_is_gentler else a < b

    def strongest_first(self, levels: Iterable[int]) -> list[int]:
        """Levels from the worst quality to the best."""
        return sorted(levels, reverse=not self.higher_is_gentler)

    def pass_through_level(self, trained: Iterable[int]) -> int:
        """The level from which the input is left as it is: `pass_through` steps beyond the
        gentlest trained level."""
        gentlest = self.strongest_first(trained)[-1]
        return (
            gentlest + self.pass_through if self.higher_is_gentler else gentlest - self.pass_through
        )


CODECS: dict[str, Codec] = {
    "jpeg": Codec(
        name="jpeg",
        unit="QF",
        higher_is_gentler=True,
        pass_through=15,
        predictor="qf",
        classes=("train_qf.classes", "degradation.qualities"),
        shown_in=("evaluate.methods", "study.methods", "detection.methods"),
        video=False,
        compressed_here=True,
        unknown=(
            "no quantization tables and no QF predictor ({predictor} not found): train it with "
            "`dvc repro train_qf`, give it with --predictor, or give the quality with --quality N"
        ),
    ),
    "h264": Codec(
        name="h264",
        unit="CRF",
        higher_is_gentler=False,
        pass_through=6,
        predictor="crf",
        classes=("video.predictor_crfs",),
        shown_in=("video.methods",),
        video=True,
        compressed_here=False,  # its validation frames exist at the predictor's classes only
        unknown=(
            "no x264 settings in the stream (another encoder made it) and no CRF predictor "
            "({predictor} not found): give the CRF with --quality N, or train the CRF "
            "predictor (`dvc repro video`; --predictor FILE)"
        ),
    ),
}


def codec_of(name: str) -> Codec:
    """The codec called `name`."""
    if name not in CODECS:
        raise KeyError(f"unknown codec {name!r}; the codecs are {sorted(CODECS)}")
    return CODECS[name]


def setting(params, key: str):
    """The parameter at a dotted `key` (`train_qf.models_dir`) of validated params."""
    value = params
    for part in key.split("."):
        value = getattr(value, part)
    return value


def predictor_classes(params, codec: Codec) -> list[int]:
    """The classes of the codec's level predictor: the first of `codec.classes` that is set."""
    return list(next(v for k in codec.classes if (v := setting(params, k))))
