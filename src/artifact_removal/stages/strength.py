"""The strength dial (`inference.strength`) over a gallery's images: which methods it applies
to, and an image restored at any strength. Used by the evaluation's perception-distortion
curve (`strength_curve`) and by the compare widget's strength slider (`widgets`)."""

from __future__ import annotations

import numpy as np
import torch

from ..inference.gallery import JPEG, Gallery
from ..inference.strength import interpolate
from ..inference.torch_backend import restore_array
from ..methods import get as get_method

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the strengths the reports show, 0 = the start method


def dialled(gallery: Gallery, quality: int) -> list[tuple[str, str]]:
    """(method, the method it starts from) for each method of the gallery fine-tuned from
    another that the gallery also holds, both trained for `quality`."""
    starts = {m: get_method(m).starts_from for m in gallery.methods}
    return [
        (method, start)
        for method, start in starts.items()
        if start in gallery.methods
        and gallery.trained(method, quality)
        and gallery.trained(start, quality)
    ]


class Dial:
    """Restorations of a gallery's JPEG images by a method at any strength; the interpolated
    generators are made once per (method, QF, strength)."""

    def __init__(self, gallery: Gallery):
        self.gallery = gallery
        self._nets: dict[tuple[str, int, float], torch.nn.Module] = {}

    def net(self, method: str, quality: int, strength: float) -> torch.nn.Module:
        """The generator of `method` for `quality` at `strength`."""
        name = (method, quality, float(strength))
        if name not in self._nets:
            start = get_method(method).starts_from
            g = self.gallery
            self._nets[name] = interpolate(
                g.generator(start, quality), g.generator(method, quality), strength
            )
        return self._nets[name]

    def image(
        self, set_name: str, key: str, quality: int, method: str, strength: float
    ) -> np.ndarray:
        """One image's JPEG at `quality` restored by `method` at `strength` (at 1: the
        gallery's own restoration; at 0: the start method's)."""
        g = self.gallery
        if strength == 1:
            return g.image(set_name, key, quality, method)
        if strength == 0:
            return g.image(set_name, key, quality, get_method(method).starts_from)
        jpeg = g.image(set_name, key, quality, JPEG)
        return restore_array(self.net(method, quality, strength), jpeg, g.device)
