"""Restoring images with a trained generator."""

from __future__ import annotations

import numpy as np
import torch

from .models import Generator


@torch.inference_mode()
def restore_array(net: Generator, image: np.ndarray, device: torch.device) -> np.ndarray:
    """Restore one (H, W, 3) or (H, W) uint8 image as a whole; same shape and dtype back.

    Gray images go through the network as three equal channels and come back as their mean.
    bf16 autocast and channels_last on CUDA.
    """
    gray = image.ndim == 2
    rgb = np.repeat(image[:, :, None], 3, axis=2) if gray else image
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].to(device).float() / 255  # (1, 3, H, W)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            y = net(x * 2 - 1).float()
    else:
        y = net(x * 2 - 1)
    out = ((y[0] + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()
    return out.mean(axis=2).round().astype(np.uint8) if gray else out
