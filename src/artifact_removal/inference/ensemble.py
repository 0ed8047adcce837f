"""The ensemble of per-QF generators (Galteri et al., TMM 2019): a quality picks the generators.

An image's quality comes from its JPEG tables, the QF predictor, or the user. The generator
trained for that QF restores it. Between two trained QFs the method's registry entry says how
to combine the two nearest (`methods.Method.combine`): `blend` takes their outputs' weighted
mean, linear in QF; `nearest` takes the generator of the nearest QF alone (the lower one on a
tie), since a mean of two GAN outputs is blurred.

A generator applied to an image of better quality than it was trained for makes it worse (the
QF-60 generator took 3.5 to 5.8 dB off QF-95 photographs), so the ensemble has one more rung
beyond its gentlest generator, `INPUT`: the input left as it is. It stands `Codec.pass_through`
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

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..checkpoints import CheckpointError
from ..degradations.codecs import codec_of
from ..degradations.h264 import StreamQuality
from ..degradations.jpeg_quality import TableQuality
from ..methods import Combine
from .choice import (
    INPUT,
    QualityChoice,
    QualityUnknown,
    RestoreError,
    ensemble_weights,
)
from .crf_reading import QPFit, QPQuality
from .tiles import Restorer

if TYPE_CHECKING:
    import torch

    from ..archs.qf_net import QFNet
    from .ladder import Ladder
    from .qf_answer import QFPrediction


def shown_path(path: Path) -> str:
    """A path as a person would type it here: relative below the current folder."""
    path = Path(path).absolute()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


class Ensemble:
    """The generators of one method (loaded on first use), how it combines them (by rule, or
    by a measured `ladder`), the QF predictor, and for H.264 methods the line that reads a
    stream's CRF from its QPs (`reading`).

    The networks are PyTorch's, on `device`; a subclass runs them elsewhere by overriding the
    four methods that touch them (`load_net`, `load_predictor`, `predict`, `blend`), as
    `inference.onnx_backend.OnnxEnsemble` does with ONNX Runtime. This module imports torch
    only in those methods."""

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
        self.pass_through = codec_of(codec).pass_through_level(paths)
        self.predictor_path = predictor
        self._nets: dict[int, torch.nn.Module] = {}
        self._predictor: QFNet | None = None

    def load_net(self, path: Path):
        """A generator from its release file (`inference.releases.load_generator`); it carries
        `release`, what the file says of itself."""
        from .releases import load_generator

        return load_generator(path, self.device)

    def load_predictor(self, path: Path):
        """The QF (or CRF) predictor from its release file."""
        from .releases import load_predictor

        return load_predictor(path, self.device)

    def predict(self, predictor, pixels: np.ndarray) -> QFPrediction:
        """The predictor's answer for an image (`inference.qf.predict`); a lower CRF is
        gentler."""
        from .qf import predict

        return predict(
            predictor,
            pixels,
            device=self.device,
            higher_is_gentler=codec_of(self.codec).higher_is_gentler,
        )

    def blend(self, nets: list, weights: list[float]) -> Restorer:
        """A restorer of the weighted mean of `nets`' outputs (None: the input itself)."""
        from .torch_backend import blend

        return blend(nets, weights, self.device)

    def net(self, quality: int):
        """The generator of one QF."""
        if quality not in self._nets:
            try:
                self._nets[quality] = self.load_net(self.paths[quality])
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
        return self.blend(nets, list(weights.values()))

    def restorer_for(self, choice: QualityChoice) -> Restorer:
        """The restorer of an input whose quality `choice` says (`choose`): the blend of its
        generators; a subclass may also read the quality itself (`inference.default`)."""
        return self.restorer(choice.generators)

    def describe(self, method: str) -> str:
        """What restores: the method, its generators and their loss, the QF predictor, the
        device; e.g. 'gan: GAN (Galteri et al.), generators q5 q10 q20 in models/gan, trained
        with perceptual loss random_vgg19_relu2_2; ...'. Loads every generator."""
        from ..methods import get as get_method
        from ..methods import label_of

        nets = [self.net(q) for q in sorted(self.paths)]
        losses = sorted({n.release.get("loss", "not recorded") for n in nets})
        folders = sorted({shown_path(p.parent) for p in self.paths.values()})
        kind = "perceptual loss" if get_method(method).perceptual else "loss"
        predictor = shown_path(self.predictor_path) if self.predictor() is not None else "none"
        reads = codec_of(get_method(method).codec).unit  # what its inputs carry
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

    def predictor(self):
        """The QF predictor, or None when there is no file for it."""
        if self._predictor is None and self.predictor_path and self.predictor_path.is_file():
            try:
                self._predictor = self.load_predictor(self.predictor_path)
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
        cnn = self.predict(predictor, pixels) if predictor is not None else None
        if override is not None:
            used = float(override)
        elif tables is not None:
            used = float(tables.quality)
        elif cnn is not None:
            used = float(cnn.quality)
        else:
            template = codec_of(self.codec).unknown
            if self.predictor_path is None:  # none given, and no project to take it from
                template = template.replace("({predictor} not found)", "(none given, no project)")
            raise QualityUnknown(template.format(predictor=shown_path(self.predictor_path or ".")))
        weights = self.weights(used)
        if beyond and weights == {INPUT: 1.0}:
            weights = {self.gentlest(): 1.0}
        return QualityChoice(tables, cnn, override, used, weights, codec_of(self.codec).unit)
