"""LPIPS (Zhang et al. 2018): a distance between deep features calibrated on people's judgements.

Images are uint8 arrays, (H, W, 3) RGB or (H, W) gray (repeated on three channels).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from ..pretrained import BACKBONES, cache_path

ALEXNET_FILE = BACKBONES["alexnet"]  # torchvision's ImageNet AlexNet; sha256 starts 7be5be79


class Lpips:
    """LPIPS (Zhang et al. 2018, `lpips` package, AlexNet, v0.1) on uint8 images; lower is better.

    `Lpips.load(weights)` never downloads: without torchvision's ImageNet AlexNet (the file
    `pretrained.weights_for("alexnet", root)` gives) the metric is unavailable (`available`
    False, `reason` names the file and folder), so no number from a random backbone can pass
    for LPIPS. The lpips package loads the AlexNet itself, from torchvision's cache.
    """

    def __init__(self, net=None, reason: str = "", device: torch.device | str = "cpu"):
        self.net, self.reason, self.device = net, reason, torch.device(device)

    @property
    def available(self) -> bool:
        return self.net is not None

    @classmethod
    def load(cls, weights: Path | None, device: torch.device | str = "cpu") -> Lpips:
        """The metric with real weights, or an unavailable one saying what to supply."""
        if weights is None:
            path = cache_path(ALEXNET_FILE)
            return cls(
                reason=f"LPIPS needs {ALEXNET_FILE} in {path.parent} (torchvision's ImageNet "
                "AlexNet, downloaded there by torchvision when online), recorded by "
                "`artifact-removal pretrained`"
            )
        return cls(_lpips_net(random_backbone=False), device=device)

    def __call__(self, gt: np.ndarray, pred: np.ndarray) -> float:
        """LPIPS distance of two (H, W, 3) or (H, W) uint8 images."""
        if self.net is None:
            raise RuntimeError(self.reason)
        a, b = (_to_lpips_input(x).to(self.device) for x in (gt, pred))
        with torch.inference_mode():
            return float(self.net.to(self.device)(a, b).mean())


def _lpips_net(random_backbone: bool):
    """The lpips package's AlexNet model in eval mode; `random_backbone` only for tests."""
    import lpips

    with warnings.catch_warnings():  # lpips still passes torchvision's deprecated `pretrained`
        warnings.simplefilter("ignore", UserWarning)
        return lpips.LPIPS(
            net="alex", version="0.1", pnet_rand=random_backbone, verbose=False
        ).eval()


def _to_lpips_input(image: np.ndarray) -> torch.Tensor:
    """(H, W[, 3]) uint8 -> (1, 3, H, W) float in [-1, 1], gray repeated on three channels."""
    rgb = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 127.5 - 1
