"""The default restoration of images: the GAN where it is more natural, the SSIM generator
where it is not, chosen per QF on the validation split (stage `release`, `stages.release`).

A GAN generator is its QF's SSIM generator fine-tuned with a discriminator and a perceptual
loss, so the weights between the two are a path (`inference.strength`): strength 0 is the
SSIM generator (closest to the original), 1 the GAN's (most natural by design). Small GANs
trained for minutes are not more natural everywhere: at the gentle QFs the GAN's texture can
cost PSNR without making NIQE any better (issue 43: at QF 50, -0.46 dB and NIQE 3.27 against
the SSIM generator's 3.19). So the stage measures, at each level the ladder measures, every
strength of `STRENGTHS` on validation images compressed at that QF, and keeps

- the strength whose restorations are the most natural (lowest mean NIQE, and with LPIPS's
  weights, an LPIPS no worse than the SSIM generator's),
- among those more natural than the SSIM generator's (strength 0),
- whose mean PSNR-Y is not below the input's by more than the tolerance,

else strength 0: the SSIM generator, which the ladder already keeps from doing harm. The
levels between two measured ones take the line between their strengths.

The choice is written for the very generators it was measured with (their files' sha256);
`restore` without `--method` uses it only for those, and says what it trades in its header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..checkpoints import CheckpointError
from ..fileio import write_text
from .choice import INPUT, RestoreError
from .ensemble import Ensemble, shown_path
from .ladder import json_text, read_json
from .strength import interpolate

if TYPE_CHECKING:
    import torch

    from .choice import QualityChoice
    from .tiles import Restorer

FORMAT = 1  # version of the JSON file
STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the strengths measured at each level
STEP = 0.125  # the grid of strengths between two levels
FILE = "default.json"  # in the release folder


class DefaultError(ValueError):
    """A default-choice file that cannot be read; names the file and the problem."""


@dataclass(frozen=True)
class DefaultChoice:
    """The GAN's strength per QF, measured on the validation split, for these generators."""

    method: str  # the GAN-like method (strength 1)
    start: str  # the method it is fine-tuned from (strength 0)
    generators: dict[str, dict[int, str]]  # method -> QF -> sha256 (short) of its release file
    levels: dict[int, float]  # QF -> strength
    tolerance: float  # dB of PSNR-Y below the input that the choice allows
    ladder: str | None  # the fingerprint of the ladder's levels it combined them with (None:
    # the ensemble's rule), `checkpoints.fingerprint`
    scores: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)
    # QF -> strength (as text) -> {"psnr_y_gain": dB, "niqe": mean, "lpips": mean or absent}
    images: tuple[str, ...] = ()  # the validation images it was measured on

    def strength(self, quality: float) -> float:
        """The strength for a QF: a measured level's own, the line between two levels (on a
        grid of `STEP`, so that a folder of many QFs mixes few networks), the nearest end's
        beyond them."""
        levels = sorted(self.levels)
        if quality <= levels[0]:
            return self.levels[levels[0]]
        if quality >= levels[-1]:
            return self.levels[levels[-1]]
        upper = next(q for q in levels if q >= quality)
        lower = levels[levels.index(upper) - 1]
        t = (quality - lower) / (upper - lower)
        return round(((1 - t) * self.levels[lower] + t * self.levels[upper]) / STEP) * STEP

    def matches(self, digests: dict[str, dict[int, str]]) -> bool:
        """True when measured for exactly these generators (method -> QF -> sha256 short)."""
        return {m: {int(q): d for q, d in g.items()} for m, g in digests.items()} == self.generators

    def trades(self) -> str:
        """What the choice trades, in a clause per run of equal strengths, e.g. 'gan at QF 5
        to 20 (NIQE 3.41 against ssim's 3.87, PSNR-Y +0.52 dB), ssim at QF 30 to 60 (the GAN
        was not more natural there)'."""
        runs: list[tuple[float, list[int]]] = []
        for q in sorted(self.levels):
            s = self.levels[q]
            if runs and runs[-1][0] == s:
                runs[-1][1].append(q)
            else:
                runs.append((s, [q]))
        parts = []
        for s, qs in runs:
            span = f"QF {qs[0]}" if len(qs) == 1 else f"QF {qs[0]} to {qs[-1]}"
            if s == 0:
                parts.append(f"{self.start} at {span} (no strength of the GAN was more natural "
                             "there without losing PSNR)")  # fmt: skip
                continue
            who = self.method if s == 1 else f"{self.method} at strength {s:g}"
            chosen = [self.scores.get(q, {}).get(f"{s:g}") for q in qs]
            start = [self.scores.get(q, {}).get("0") for q in qs]
            if all(chosen) and all(start):
                mean = lambda rows, key: sum(r[key] for r in rows) / len(rows)  # noqa: E731
                parts.append(
                    f"{who} at {span} (NIQE {mean(chosen, 'niqe'):.2f} against {self.start}'s "
                    f"{mean(start, 'niqe'):.2f}, PSNR-Y {mean(chosen, 'psnr_y_gain'):+.2f} dB "
                    f"against {mean(start, 'psnr_y_gain'):+.2f})"
                )
            else:
                parts.append(f"{who} at {span}")
        return ", ".join(parts)

    def to_json(self) -> str:
        generators = {
            m: {str(q): d for q, d in sorted(g.items())} for m, g in sorted(self.generators.items())
        }
        return json_text(
            {
                "format": FORMAT,
                "method": self.method,
                "start": self.start,
                "tolerance": self.tolerance,
                "ladder": self.ladder,
                "generators": generators,
                "images": list(self.images),
                "levels": {str(q): s for q, s in sorted(self.levels.items())},
                "scores": {str(q): s for q, s in sorted(self.scores.items())},
            }
        )

    def save(self, path: Path) -> None:
        write_text(Path(path), self.to_json())

    @classmethod
    def load(cls, path: Path) -> DefaultChoice:
        """Read a choice file; DefaultError naming the file when it is not one."""
        try:
            raw = read_json(path, FORMAT)
            levels = {int(q): float(s) for q, s in raw["levels"].items()}
            if not levels or not all(0 <= s <= 1 for s in levels.values()):
                raise ValueError("no levels, or a strength outside 0..1")
            return cls(
                method=str(raw["method"]),
                start=str(raw["start"]),
                generators={
                    str(m): {int(q): str(d) for q, d in g.items()}
                    for m, g in raw["generators"].items()
                },
                levels=levels,
                tolerance=float(raw["tolerance"]),
                ladder=raw["ladder"],
                scores={int(q): dict(s) for q, s in raw.get("scores", {}).items()},
                images=tuple(raw.get("images", ())),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise DefaultError(
                f"{path}: not a default-choice file ({err}); restore it with `git checkout "
                f"{path}` (or measure it again: `dvc repro release`), or give --method"
            ) from None


class ChosenEnsemble(Ensemble):
    """The default: the GAN's generators (`paths`) mixed with those they start from
    (`start_paths`) at the strength `choice` gives the input's QF, combined with the start
    method's measured ladder (`ladder`), which says which generators restore each QF."""

    def __init__(self, choice: DefaultChoice, start_paths: dict[int, Path], **ensemble):
        super().__init__(**ensemble)
        if set(self.paths) != set(start_paths):  # `choice.matches` checked both
            raise RestoreError(
                f"the default needs {choice.method}'s and {choice.start}'s generators at the "
                f"same QFs, not {sorted(self.paths)} and {sorted(start_paths)}"
            )
        self.choice, self.start_paths = choice, start_paths
        self._mixed: dict[tuple[int, float], torch.nn.Module] = {}

    def net_at(self, quality: int, strength: float):
        """The generator of one QF at a strength (0: the start method's, 1: the method's)."""
        if strength == 1:
            return self.net(quality)
        key = (quality, strength)
        if key not in self._mixed:
            start = self.start_net(quality)
            try:
                mixed = start if strength == 0 else interpolate(start, self.net(quality), strength)
            except ValueError as err:
                raise RestoreError(
                    f"{self.paths[quality]} and {self.start_paths[quality]} are not two "
                    f"trainings of one network ({err}): the default cannot mix them"
                ) from None
            self._mixed[key] = mixed
        return self._mixed[key]

    def start_net(self, quality: int):
        """The start method's generator of one QF (strength 0)."""
        if (quality, 0.0) not in self._mixed:
            try:
                self._mixed[(quality, 0.0)] = self.load_net(self.start_paths[quality])
            except CheckpointError as err:
                raise RestoreError(str(err)) from None
        return self._mixed[(quality, 0.0)]

    def restorer_for(self, choice: QualityChoice) -> Restorer:
        strength = self.choice.strength(choice.used)
        nets = [None if q == INPUT else self.net_at(q, strength) for q in choice.generators]
        return self.blend(nets, list(choice.generators.values()))

    def describe(self, method: str) -> str:
        for quality in sorted(self.start_paths):  # every file loaded (checked) before the first
            self.start_net(quality)
        folders = sorted({shown_path(p.parent) for p in self.start_paths.values()})
        return (
            f"the default, chosen per QF on {len(self.choice.images)} validation images: "
            f"{self.choice.trades()}; "
            + super().describe(method)
            + f"; {self.choice.start} generators in {', '.join(folders)}"
        )
