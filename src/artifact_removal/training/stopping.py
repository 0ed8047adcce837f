"""NoGAN's stopping point, chosen by a measured rule instead of by eye.

DeOldify, and NoGAN after it, stop the short GAN phase at the last checkpoint before glitches
appear, judged by looking at samples. Here every check scores held-out images (LPIPS against
the originals when its backbone is available, else a stated substitute; lower is better) and
looks for the two glitches a GAN brings first, measured against the pre-GAN generator's output
on the same images:

- colour shift: the mean absolute difference of the images' mean colour, in 8-bit levels;
- excess high frequencies: the energy of the Laplacian relative to the pre-GAN output's
  (1.0: the same), which grows with invented texture and noise.

A check whose glitches exceed their limits scores as infinitely bad. The run stops after the
score has not improved on the best for `patience` checks in a row, and the best check is
released.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def colour_shift(images: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean absolute difference of per-image mean colours, 8-bit levels; (N, 3, H, W) in
    [-1, 1]."""
    means = images.mean(dim=(2, 3)) - reference.mean(dim=(2, 3))
    return float(means.abs().mean() * 127.5)


def high_frequency_ratio(images: torch.Tensor, reference: torch.Tensor) -> float:
    """Energy of the Laplacian of `images` over that of `reference` (1.0: the same)."""
    kernel = LAPLACIAN.to(images).expand(images.shape[1], 1, 3, 3)

    def energy(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, kernel, groups=x.shape[1]).square().mean()

    return float(energy(images) / energy(reference).clamp_min(1e-12))


def glitch_statistics(image: torch.Tensor) -> tuple[list[float], float]:
    """What the glitch checks compare of one (1, 3, H, W) image in [-1, 1]: its mean colour
    (8-bit levels) and its Laplacian energy; a few numbers, kept instead of the image."""
    kernel = LAPLACIAN.to(image).expand(image.shape[1], 1, 3, 3)
    energy = F.conv2d(image, kernel, groups=image.shape[1]).square().mean()
    return (image.mean(dim=(0, 2, 3)) * 127.5).tolist(), float(energy)


def glitches(
    found: list[tuple[list[float], float]], reference: list[tuple[list[float], float]]
) -> tuple[float, float]:
    """(colour shift, high-frequency ratio) of images against the pre-GAN output's, from their
    `glitch_statistics`: the mean over images of `colour_shift` and `high_frequency_ratio`."""
    pairs = list(zip(found, reference, strict=True))
    shift = sum(sum(abs(a - b) for a, b in zip(f[0], r[0], strict=True)) / 3 for f, r in pairs)
    ratio = sum(f[1] / max(r[1], 1e-12) for f, r in pairs)
    return shift / len(pairs), ratio / len(pairs)


@dataclass
class StopRule:
    """Feed it one check at a time; it says when to stop and which check was best."""

    patience: int = 3
    max_colour_shift: float = 3.0  # 8-bit levels
    max_high_frequency: float = 1.5  # times the pre-GAN output's
    history: list[dict] = field(default_factory=list)

    def judge(self, step: int, score: float, shift: float = 0.0, high: float = 1.0) -> float:
        """The check's effective score: `score`, or infinity when a glitch is over its limit."""
        glitch = shift > self.max_colour_shift or high > self.max_high_frequency
        effective = math.inf if glitch or not math.isfinite(score) else score
        self.history.append(
            {
                "step": step,
                "score": score,
                "colour_shift": shift,
                "high_frequency": high,
                "effective": effective,
            }
        )
        return effective

    @property
    def best(self) -> dict | None:
        """The check with the lowest effective score (the earliest on a tie), or None."""
        finite = [h for h in self.history if math.isfinite(h["effective"])]
        return min(finite, key=lambda h: h["effective"]) if finite else None

    @property
    def stop(self) -> bool:
        """True once `patience` checks in a row came after the best one without beating it."""
        best = self.best
        if best is None:
            return len(self.history) >= self.patience
        return sum(h["step"] > best["step"] for h in self.history) >= self.patience

    def state(self) -> dict:
        """For checkpoints (the rule resumes with the run)."""
        return {"history": list(self.history)}

    def load_state(self, state: dict) -> None:
        self.history = list(state["history"])
