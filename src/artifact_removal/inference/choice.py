"""What restores an image, without torch: its quality (from its tables, the QF predictor or
the user), the generators the ensemble picks for it and their weights (`ensemble_weights`,
`QualityChoice`), and the errors that stop a restore. `inference.ensemble` holds the
generators themselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..archs.qf_labels import label_name
from ..degradations.h264 import StreamQuality
from ..degradations.jpeg_quality import TableQuality
from ..methods import Combine

if TYPE_CHECKING:
    from .crf_reading import QPQuality
    from .qf_answer import QFPrediction

# Below this (calibrated) probability that the QF is its answer's class or a neighbouring one,
# the QF predictor's choice is printed with a warning; its answer is then already the gentlest
# of its likely ones (`inference.qf.gentle_answer`). Low confidence means an image unlike the
# training data (a resized or re-encoded copy, a screenshot), where a wrong QF over- or
# under-smooths.
UNSURE = 0.8
# The input itself, as a rung of the ensemble (no QF or CRF is 0 in a key of the weights).
INPUT = 0


class RestoreError(RuntimeError):
    """A problem that stops the whole run (no generators, bad options); says what to do."""


class QualityUnknown(ValueError):
    """Neither tables, a predictor nor the user tell an image's quality."""


def ensemble_weights(
    quality: float,
    available: Sequence[int],
    combine: Combine = "blend",
    pass_through: int | None = None,
) -> dict[int, float]:
    """Generators (`INPUT`: the input itself) and weights for a level: its own generator when
    trained; between two rungs (trained levels, and `pass_through` for `INPUT`), their blend
    linear in the level, or the nearest (the lower on a tie); outside them, the nearest end."""
    rungs = {q: q for q in available} | ({pass_through: INPUT} if pass_through is not None else {})
    levels = sorted(rungs)
    if quality <= levels[0]:
        return {rungs[levels[0]]: 1.0}
    if quality >= levels[-1]:
        return {rungs[levels[-1]]: 1.0}
    if int(quality) == quality and int(quality) in levels:
        return {rungs[int(quality)]: 1.0}
    upper = next(q for q in levels if q > quality)
    lower = levels[levels.index(upper) - 1]
    t = (quality - lower) / (upper - lower)
    if combine == "nearest":
        return {rungs[upper if t > 0.5 else lower]: 1.0}
    return {rungs[lower]: round(1 - t, 6), rungs[upper]: round(t, 6)}


@dataclass(frozen=True)
class QualityChoice:
    """What is known of an image's QF and which generators restore it, with what weights."""

    tables: TableQuality | StreamQuality | QPQuality | None  # what the file says: a JPEG's
    # tables, a video's x264 settings, or the CRF its H.264 QPs read as
    cnn: QFPrediction | None
    override: int | None
    used: float
    generators: dict[int, float]
    unit: str = "QF"  # what the quality is: QF (JPEG) or CRF (H.264)

    @property
    def unsure(self) -> str | None:
        """A warning when the QF predictor alone decided and was not sure, else None."""
        if self.override is not None or self.tables is not None or self.cnn is None:
            return None
        if self.cnn.confidence >= UNSURE:
            return None
        ranked = sorted(self.cnn.probabilities.items(), key=lambda kv: -kv[1])[:3]
        labels = tuple(self.cnn.probabilities)
        shown = ", ".join(f"{label_name(q, labels)} {p:.0%}" for q, p in ranked)
        return (
            f"the {self.unit} predictor is unsure ({shown}); restored as {self.unit} "
            f"{self.used:g}, the gentlest of its likely answers: if you know the quality, give "
            "it with --quality N"
        )

    def describe(self) -> str:
        """e.g. 'tables 30, CNN 30 (97%) -> generator q30'."""
        parts = []
        if self.override is not None:
            parts.append(f"given {self.override}")
        if self.tables is not None:
            parts.append(f"{self.tables.kind} {self.tables}")
        if self.cnn is not None:
            parts.append(f"CNN {self.cnn.label} ({self.cnn.confidence:.0%})")
        if self.passed_through:
            return f"{', '.join(parts)} -> input left as it is"
        mix = " + ".join(
            f"{w:.2f} {_rung(q)}" if w < 1 else _rung(q) for q, w in self.generators.items()
        )
        return f"{', '.join(parts)} -> generator {mix}"

    @property
    def passed_through(self) -> bool:
        """True when no generator is used: the input is better than any was trained for."""
        return self.generators == {INPUT: 1.0}


def _rung(quality: int) -> str:
    """'q30' for a generator, 'input' for the input itself."""
    return "input" if quality == INPUT else f"q{quality}"
