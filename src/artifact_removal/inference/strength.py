"""The perception-distortion dial: a generator between a method and the one it starts from.

The GAN generator of a QF is the SSIM generator of that QF fine-tuned with a discriminator
and a perceptual loss (Galteri et al., TMM 2019); NoGAN's generator is its pre-trained U-Net
fine-tuned the same way (Mameli et al., ICPR 2020). The two networks of a QF have the same
architecture and weights that started equal, so the weights between them are a path too:

    theta(s) = (1 - s) theta_start + s theta_method,   0 <= s <= 1

Strength 0 is the generator closest to the original (the SSIM one: best PSNR), strength 1 the
method's own (the GAN: most natural), and a strength between trades one for the other without
training anything (network interpolation, Wang et al., ESRGAN, ECCV 2018 workshops, sec. 3.4).
`restore --strength S` and `api.load(..., strength=S)` use it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from ..checkpoints import CheckpointError
from ..methods import get as get_method
from .choice import RestoreError
from .ensemble import Ensemble

if TYPE_CHECKING:
    import torch


def check_strength(strength: float | None) -> float | None:
    """`strength` as a float in 0..1, or None; anything else is a RestoreError that says
    what is wrong with it."""
    if strength is None:
        return None
    try:
        if isinstance(strength, bool):
            raise TypeError
        value = float(strength)
    except (TypeError, ValueError):
        raise RestoreError(f"strength must be a number from 0 to 1, not {strength!r}") from None
    if math.isnan(value):
        raise RestoreError("strength must be a number from 0 to 1, not nan")
    if value < 0:
        raise RestoreError(
            f"strength must be from 0 (the generator it starts from) to 1 (the method's own), "
            f"not {value:g}: below 0 the weights leave the path between two trained networks"
        )
    if value > 1:
        raise RestoreError(
            f"strength must be from 0 (the generator it starts from) to 1 (the method's own), "
            f"not {value:g}: beyond 1 the weights leave the path between two trained networks"
        )
    return value


def start_of(method: str) -> str:
    """The method whose generators `method` is fine-tuned from (strength 0), or a RestoreError
    naming the methods that have one."""
    start = get_method(method).starts_from
    if start is None:
        from ..methods import METHODS

        dialled = ", ".join(m.name for m in METHODS.values() if m.starts_from)
        raise RestoreError(
            f"strength needs a method fine-tuned from another ({dialled}); {method} is "
            "trained from scratch"
        )
    return start


def interpolate(start: torch.nn.Module, end: torch.nn.Module, strength: float) -> torch.nn.Module:
    """A copy of `end` whose weights are (1 - strength) start + strength end; buffers that are
    not floating point (batch-norm counters) are `end`'s."""
    import torch

    theirs = start.state_dict()
    mixed = {}
    for key, value in end.state_dict().items():
        if key not in theirs or theirs[key].shape != value.shape:
            raise ValueError(f"parameter {key} differs between the two networks")
        mixed[key] = (
            torch.lerp(theirs[key].to(value.dtype), value, strength)
            if value.is_floating_point()
            else value.clone()
        )
    start_keys = set(theirs) - set(mixed)
    if start_keys:
        raise ValueError(f"parameter {sorted(start_keys)[0]} is in one network only")
    net = load_generator_like(end)
    net.load_state_dict(mixed)
    net.release = {**end.release, "strength": strength}
    return net


def load_generator_like(net: torch.nn.Module) -> torch.nn.Module:
    """A new network of `net`'s class and arguments (from the architecture registry)."""
    from ..archs.registry import of

    arch = of(net)
    return arch.build(arch.arguments(net)).to(next(net.parameters()).device).eval()


class DialledEnsemble(Ensemble):
    """A method's ensemble whose generator of each QF is interpolated, at `strength`, between
    the method's (`paths`) and the one it starts from (`start_paths`) for the same QF. The
    measured ladder is not used (it was measured for the end points): the method's rule
    combines the levels."""

    def __init__(self, start_paths: dict[int, Path], strength: float, **ensemble):
        super().__init__(**ensemble)
        missing = sorted(set(self.paths) - set(start_paths))
        if missing:
            raise RestoreError(
                f"no generator to start from for QF {', '.join(map(str, missing))}: the "
                "strength dial needs both networks of each QF"
            )
        self.start_paths, self.strength = start_paths, strength

    def net(self, quality: int) -> torch.nn.Module:
        if quality not in self._nets:
            try:
                start = self.load_net(self.start_paths[quality])
                end = self.load_net(self.paths[quality])
            except CheckpointError as err:
                raise RestoreError(str(err)) from None
            try:
                self._nets[quality] = interpolate(start, end, self.strength)
            except ValueError as err:
                raise RestoreError(
                    f"{self.paths[quality]} and {self.start_paths[quality]} are not two "
                    f"trainings of one network ({err}): the strength dial cannot mix them"
                ) from None
        return self._nets[quality]

    def describe(self, method: str) -> str:
        start = start_of(method)
        return (
            f"{method} at strength {self.strength:g}: weights {1 - self.strength:g} x {start} "
            f"+ {self.strength:g} x {method} for each QF; " + super().describe(method)
        )
