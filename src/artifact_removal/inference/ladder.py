"""The ensemble's ladder: which generators restore each quality best, as measured (by the
stage `ladder`, `stages.ladder.measure`) and read back by `restore`.

The ensemble's rule (`choice.ensemble_weights`) assumes that the generator trained for a QF
restores that QF best. Small generators trained for minutes break the assumption: on the
default ladder the QF-30 and QF-40 generators over-smooth, and at QF 30 to 50 the QF-60
generator restores both the validation split and held-out photographs (LIVE1) better than the
one trained for that QF (benchmarks/RESULTS.md, "Do no harm"). So the study measures the
ladder (stage `ladder`): at each level the QF predictor can name, up to the pass-through rung,
validation images compressed at that QF (for a video method, validation frames through H.264
at that CRF) are restored by every rung of the ensemble (each generator, the input itself, and
the midpoint of each pair of neighbouring rungs); the level keeps the ensemble's own weights
unless another choice restores better by more than `margin` dB of PSNR-Y. Between levels the
weights are mixed linearly; beyond the last level they fade to the input as before
(`Codec.pass_through`).

A ladder is measured for the generators it names (their files' sha256): `restore` uses it only
for those very generators, and records it in every output's settings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..fileio import write_text

if TYPE_CHECKING:
    pass

FORMAT = 1  # version of the JSON file

Weights = dict[int, float]  # rung (a trained level, or 0 for the input) -> weight


class LadderError(ValueError):
    """A ladder file that cannot be read; names the file and the problem."""


def _mixed(a: Mapping[int, float], b: Mapping[int, float], t: float) -> Weights:
    """(1 - t) a + t b, rounded; rungs of weight 0 left out."""
    out: Weights = {}
    for rung in sorted({*a, *b}):
        weight = round((1 - t) * a.get(rung, 0.0) + t * b.get(rung, 0.0), 6)
        if weight > 0:
            out[rung] = weight
    return out


@dataclass(frozen=True)
class Ladder:
    """Measured weights per level of one method's generators."""

    method: str
    generators: dict[int, str]  # trained level -> sha256 (short) of its release file
    levels: dict[int, Weights]  # level -> weights; 0 (`choice.INPUT`) is the input itself
    scores: dict[int, dict[str, float]] = field(default_factory=dict)  # level -> choice -> dB
    images: tuple[str, ...] = ()  # what it was measured on

    def weights(self, quality: float, pass_through: int, input_rung: int) -> Weights:
        """The weights for a level: a measured level's own; between two, their linear mix;
        toward the pass-through rung, a fade to the input; beyond either end, that end's."""
        anchors = dict(self.levels) | {pass_through: {input_rung: 1.0}}
        levels = sorted(anchors)
        if quality <= levels[0]:
            return dict(anchors[levels[0]])
        if quality >= levels[-1]:
            return dict(anchors[levels[-1]])
        upper = next(q for q in levels if q >= quality)
        if upper == quality:
            return dict(anchors[upper])
        lower = levels[levels.index(upper) - 1]
        return _mixed(anchors[lower], anchors[upper], (quality - lower) / (upper - lower))

    def matches(self, generators: Mapping[int, str]) -> bool:
        """True when measured for exactly these generators (level -> sha256 short)."""
        return {int(q): d for q, d in generators.items()} == self.generators

    def to_json(self) -> str:
        return json_text(
            {
                "format": FORMAT,
                "method": self.method,
                "generators": {str(q): d for q, d in sorted(self.generators.items())},
                "images": list(self.images),
                "levels": {
                    str(q): {str(r): w for r, w in ws.items()}
                    for q, ws in sorted(self.levels.items())
                },
                "scores": {str(q): s for q, s in sorted(self.scores.items())},
            }
        )

    def save(self, path: Path) -> None:
        write_text(Path(path), self.to_json())

    @classmethod
    def load(cls, path: Path) -> Ladder:
        """Read a ladder file; LadderError naming the file when it is not one."""
        try:
            raw = read_json(path, FORMAT)
            return cls(
                method=str(raw["method"]),
                generators={int(q): str(d) for q, d in raw["generators"].items()},
                levels={
                    int(q): {int(r): float(w) for r, w in ws.items()}
                    for q, ws in raw["levels"].items()
                },
                scores={int(q): dict(s) for q, s in raw.get("scores", {}).items()},
                images=tuple(raw.get("images", ())),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise LadderError(
                f"{path}: not a ladder file ({err}); rerun `dvc repro ladder`"
            ) from None


def json_text(payload: dict) -> str:
    """A measurement file's text: `payload` (with its "format"), one key per line."""
    return json.dumps(payload, indent=1) + "\n"


def read_json(path: Path, expected: int) -> dict:
    """A measurement file read back; ValueError when its "format" is not `expected` (the
    caller names the file and says how to make it again)."""
    raw = json.loads(Path(path).read_text())
    if raw.get("format") != expected:
        raise ValueError(f"format {raw.get('format')!r}, expected {expected}")
    return raw


def label(weights: Mapping[int, float], input_rung: int) -> str:
    """'q30', '0.50 q40 + 0.50 q60', 'input'."""

    def rung(q: int) -> str:
        return "input" if q == input_rung else f"q{q}"

    return " + ".join(rung(q) if w == 1 else f"{w:.2f} {rung(q)}" for q, w in weights.items())
