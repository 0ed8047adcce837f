"""LPIPS (Zhang et al. 2018): a distance between deep features calibrated on people's judgements.

Images are uint8 arrays, (H, W, 3) RGB or (H, W) gray (repeated on three channels).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..checkpoints import load_weights
from ..pretrained import BACKBONES, LPIPS_BACKBONES, MissingWeightsError, cache_path

ALEXNET_FILE = BACKBONES["alexnet"]  # torchvision's ImageNet AlexNet; sha256 starts 7be5be79


class Lpips:
    """LPIPS (Zhang et al. 2018, `lpips` package, AlexNet, v0.1) on uint8 images; lower is better.

    `Lpips.load(weights)` never downloads: without torchvision's ImageNet AlexNet (the file
    `pretrained.weights_for("alexnet", root)` gives) the metric is unavailable (`available`
    False, `reason` names the file and folder), so no number from a random backbone can pass
    for LPIPS. The AlexNet is read from that file (`lpips_network`), as NoGAN's loss reads its
    backbone.
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
        return cls(lpips_network("alex", weights)[0], device=device)

    def __call__(self, gt: np.ndarray, pred: np.ndarray) -> float:
        """LPIPS distance of two (H, W, 3) or (H, W) uint8 images."""
        if self.net is None:
            raise RuntimeError(self.reason)
        a, b = (_to_lpips_input(x).to(self.device) for x in (gt, pred))
        with torch.inference_mode():
            return float(self.net.to(self.device)(a, b).mean())


def lpips_network(
    backbone: str, weights: Path | None, fallback: str | None = None, seed: int = 0
) -> tuple[nn.Module, str]:
    """The lpips package's model (frozen, eval mode) with the ImageNet `weights` of its
    backbone, or the named fallback; and its name ("lpips_alex" or "random_alex_lpips")."""
    import lpips

    if backbone not in LPIPS_BACKBONES:
        known = ", ".join(LPIPS_BACKBONES)
        raise ValueError(f"unknown LPIPS backbone {backbone!r}; one of {known}")
    file = BACKBONES[LPIPS_BACKBONES[backbone]]
    if weights is None and fallback != f"random_{backbone}":
        raise MissingWeightsError(
            f"the LPIPS loss needs {file} in {cache_path(file).parent} (torchvision's ImageNet "
            "backbone), "
            f"recorded by `artifact-removal pretrained`; or the fallback random_{backbone}, "
            "which is not the paper's loss"
        )
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        torch.manual_seed(seed)
        warnings.simplefilter("ignore", UserWarning)  # lpips passes a deprecated argument
        model = lpips.LPIPS(net=backbone, version="0.1", pnet_rand=True, verbose=False)
    if weights is None:
        name = f"random_{backbone}_lpips"
    else:
        imagenet = load_weights(weights)
        try:  # lpips slices torchvision's `features`: slice<k>.<index>.<param>
            model.net.load_state_dict(
                {
                    key: imagenet[f"features.{key.split('.', 1)[1]}"]
                    for key in model.net.state_dict()
                }
            )
        except (KeyError, RuntimeError) as err:
            raise MissingWeightsError(
                f"{weights}: not the ImageNet weights of LPIPS's {backbone} backbone ({err})"
            ) from None
        name = f"lpips_{backbone}"
    return model.eval().requires_grad_(False), name


def _to_lpips_input(image: np.ndarray) -> torch.Tensor:
    """(H, W[, 3]) uint8 -> (1, 3, H, W) float in [-1, 1], gray repeated on three channels."""
    rgb = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 127.5 - 1
