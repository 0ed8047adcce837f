"""The ensemble of per-QF generators (Galteri et al., TMM 2019): a quality picks the generators.

An image's quality comes from its JPEG tables, the QF predictor, or the user. The generator
trained for that QF restores it. Between two trained QFs the method's registry entry says how
to combine the two nearest (`methods.Method.combine`): `blend` takes their outputs' weighted
mean, linear in QF; `nearest` takes the generator of the nearest QF alone (the lower one on a
tie), since a mean of two GAN outputs is blurred.

A generator applied to an image of better quality than it was trained for makes it worse (the
QF-60 generator took 3.5 to 5.8 dB off QF-95 photographs), so the ensemble has one more rung
beyond its gentlest generator, `INPUT`: the input left as it is. It stands `PASS_THROUGH`
steps beyond the gentlest trained level (JPEG QF 60 + 15 = 75 on the default ladder; H.264
CRF 32 - 6 = 26), and is combined with its neighbour as any other rung: a `blend` ensemble
fades from the gentlest generator to the input, a `nearest` one switches half-way. Beyond it,
and for images the QF predictor calls "above" the ladder, nothing is restored: `restore`
copies the input with a note. Below the strongest generator's level, that generator.
The figures behind these numbers: benchmarks/sweep.py, benchmarks/RESULTS.md.

With a measured ladder (`inference.ladder`, stage `ladder`) the weights of each level are those
that restored the validation split best, instead of the rule above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..archs.qf_net import QFNet, label_name
from ..checkpoints import CheckpointError
from ..degradations.h264 import StreamQuality
from ..degradations.jpeg_quality import TableQuality
from ..methods import Combine
from .crf_reading import QPFit, QPQuality
from .ladder import Ladder
from .qf import QFPrediction, predict
from .releases import load_generator, load_predictor
from .restore import Restorer, blend

# Below this (calibrated) probability that the QF is its answer's class or a neighbouring one,
# the QF predictor's choice is printed with a warning; its answer is then already the gentlest
# of its likely ones (`inference.qf.gentle_answer`). Low confidence means an image unlike the
# training data (a resized or re-encoded copy, a screenshot), where a wrong QF over- or
# under-smooths.
UNSURE = 0.8
# The input itself, as a rung of the ensemble (no QF or CRF is 0 in a key of the weights).
INPUT = 0
# How far beyond the gentlest trained level the input is left as it is, per codec: QF steps up
# for JPEG, CRF steps down for H.264 (where a lower CRF is a better quality).
PASS_THROUGH = {"jpeg": 15, "h264": -6}


class RestoreError(RuntimeError):
    """A problem that stops the whole run (no generators, bad options); says what to do."""


class QualityUnknown(ValueError):
    """Neither tables, a predictor nor the user tell an image's quality."""


def pass_through_level(codec: str, available: Sequence[int]) -> int:
    """The level (QF or CRF) from which the input is left as it is (`PASS_THROUGH`)."""
    step = PASS_THROUGH[codec]
    return max(available) + step if step > 0 else min(available) + step


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


def _shown(path: Path) -> str:
    """A path as a person would type it here: relative below the current folder."""
    path = Path(path).absolute()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


class Ensemble:
    """The generators of one method (loaded on first use), how it combines them (by rule, or
    by a measured `ladder`), the QF predictor, and for H.264 methods the line that reads a
    stream's CRF from its QPs (`reading`)."""

    def __init__(
        self,
        paths: dict[int, Path],
        combine: Combine,
        device: torch.device,
        predictor: Path | None = None,
        codec: str = "jpeg",
        ladder: Ladder | None = None,
        reading: QPFit | None = None,
    ):
        self.paths, self.combine, self.device, self.codec = paths, combine, device, codec
        self.ladder, self.reading = ladder, reading
        self.pass_through = pass_through_level(codec, list(paths))
        self.predictor_path = predictor
        self._nets: dict[int, torch.nn.Module] = {}
        self._predictor: QFNet | None = None

    def net(self, quality: int) -> torch.nn.Module:
        """The generator of one QF."""
        if quality not in self._nets:
            try:
                self._nets[quality] = load_generator(self.paths[quality], self.device)
            except CheckpointError as err:
                raise RestoreError(str(err)) from None
        return self._nets[quality]

    def weights(self, quality: float) -> dict[int, float]:
        """The generators and weights for a QF (`INPUT` beyond the gentlest)."""
        if self.ladder is not None:
            return self.ladder.weights(quality, self.pass_through, INPUT)
        return ensemble_weights(quality, list(self.paths), self.combine, self.pass_through)

    def gentlest(self) -> int:
        """The trained level nearest the pass-through rung: the gentlest generator."""
        return min(self.paths, key=lambda q: abs(q - self.pass_through))

    def restorer(self, weights: dict[int, float]) -> Restorer:
        """The blend of the weighted generators (one generator when the weight is 1; `INPUT`
        is the input itself)."""
        nets = [None if q == INPUT else self.net(q) for q in weights]
        return blend(nets, list(weights.values()), self.device)

    def describe(self, method: str) -> str:
        """What restores: the method, its generators and their loss, the QF predictor, the
        device; e.g. 'gan: GAN (Galteri et al.), generators q5 q10 q20 in models/gan, trained
        with perceptual loss random_vgg19_relu2_2; ...'. Loads every generator."""
        from ..methods import get as get_method
        from ..methods import label_of

        nets = [self.net(q) for q in sorted(self.paths)]
        losses = sorted({n.release.get("loss", "not recorded") for n in nets})
        folders = sorted({_shown(p.parent) for p in self.paths.values()})
        kind = "perceptual loss" if get_method(method).perceptual else "loss"
        predictor = _shown(self.predictor_path) if self.predictor() is not None else "none"
        reads = "CRF" if get_method(method).codec == "h264" else "QF"  # what its inputs carry
        ladder = (
            f"; weights per {reads} measured on {len(self.ladder.images)} validation "
            "images (ladder)"
            if self.ladder is not None
            else ""
        )
        return (
            f"{method}: {label_of(method)}, generators "
            f"{' '.join(f'q{q}' for q in sorted(self.paths))} in {', '.join(folders)}, "
            f"trained with {kind} {', '.join(losses)}{ladder}; {reads} predictor {predictor}; "
            f"device {self.device}"
        )

    def predictor(self) -> QFNet | None:
        """The QF predictor, or None when there is no file for it."""
        if self._predictor is None and self.predictor_path and self.predictor_path.is_file():
            try:
                self._predictor = load_predictor(self.predictor_path, self.device)
            except CheckpointError as err:
                raise RestoreError(str(err)) from None
        return self._predictor

    def choose(
        self,
        pixels: np.ndarray,
        override: int | None,
        tables: TableQuality | StreamQuality | QPQuality | None = None,
        beyond: bool = False,
    ) -> QualityChoice:
        """The override, else the file's own word (a JPEG's `tables`, a video's x264
        settings or the CRF its H.264 QPs read as), else the CNN's prediction from the pixels
        decide the generators. An input better than any generator was trained for is left as
        it is, or, with `beyond`, given to the gentlest generator."""
        predictor = self.predictor()
        cnn = (
            predict(
                predictor, pixels, device=self.device, higher_is_gentler=self.codec == "jpeg"
            )  # a lower CRF is gentler
            if predictor is not None
            else None
        )
        if override is not None:
            used = float(override)
        elif tables is not None:
            used = float(tables.quality)
        elif cnn is not None:
            used = float(cnn.quality)
        elif self.codec == "h264":
            raise QualityUnknown(
                "no x264 settings in the stream (another encoder made it) and no CRF predictor "
                f"({self.predictor_path} not found): give the CRF with --quality N, or train "
                "the CRF predictor (`dvc repro video`; --predictor FILE)"
            )
        else:
            raise QualityUnknown(
                f"no quantization tables and no QF predictor ({self.predictor_path} not found): "
                "train it with `dvc repro train_qf`, give it with --predictor, or give the "
                "quality with --quality N"
            )
        weights = self.weights(used)
        if beyond and weights == {INPUT: 1.0}:
            weights = {self.gentlest(): 1.0}
        unit = "CRF" if self.codec == "h264" else "QF"
        return QualityChoice(tables, cnn, override, used, weights, unit)
