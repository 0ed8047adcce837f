"""Restoring images with trained PyTorch generators: a whole image or a batch of frames, and
blends of several generators. Tiles of large images: `inference.tiles`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..archs.generator import Generator
from ..runtime import autocast, channels_last
from .tiles import Restorer, to_uint8, weighted


@torch.inference_mode()
def restore_float(net: Generator, rgb: np.ndarray, device: torch.device) -> np.ndarray:
    """Restore an (H, W, 3) uint8 image, or a batch (N, H, W, 3) of equal-sized ones (video
    frames), to float32 of the same shape in [0, 255], not yet rounded.

    bf16 autocast and channels_last on CUDA.
    """
    x = torch.tensor(rgb).to(device).float() / 255
    x = x.permute(0, 3, 1, 2) if x.ndim == 4 else x.permute(2, 0, 1)[None]  # (N, 3, H, W)
    if device.type == "cuda":
        x = channels_last(x)
    with autocast(device):
        y = net(x).float()  # in [0, 1]: the network maps to and from [-1, 1]
    y = (y * 255).clamp(0, 255).permute(0, 2, 3, 1).cpu().numpy()
    return y if rgb.ndim == 4 else y[0]


def blend(
    nets: Sequence[Generator | None], weights: Sequence[float], device: torch.device
) -> Restorer:
    """A restorer giving the weighted mean of several generators' outputs (weights sum to 1);
    a generator None stands for the input itself, unchanged (`tiles.weighted`)."""
    return weighted(lambda net, rgb: restore_float(net, rgb, device), nets, weights)


def restore_array(net: Generator, image: np.ndarray, device: torch.device) -> np.ndarray:
    """Restore one (H, W, 3) or (H, W) uint8 image as a whole; same shape and dtype back.

    Gray images go through the network as three equal channels and come back as their mean.
    """
    gray = image.ndim == 2
    rgb = np.repeat(image[:, :, None], 3, axis=2) if gray else image
    return to_uint8(restore_float(net, rgb, device), gray)
