"""Figures that the stages show and write (matplotlib, rendered offline)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .degradations import Compressed
from .metrics import psnr


def busiest_crop(image: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left (y, x) of the `size` window with the most gradient energy, on a 16-px grid."""
    gray = image.mean(axis=2) if image.ndim == 3 else image.astype(np.float64)
    energy = np.abs(np.diff(gray, axis=0))[:, :-1] + np.abs(np.diff(gray, axis=1))[:-1, :]
    size = min(size, *image.shape[:2])
    best, corner = -1.0, (0, 0)
    for y in range(0, image.shape[0] - size + 1, 16):
        for x in range(0, image.shape[1] - size + 1, 16):
            score = float(energy[y : y + size - 1, x : x + size - 1].sum())
            if score > best:
                best, corner = score, (y, x)
    return corner


def qf_ladder(
    gt: np.ndarray, compressed: Mapping[int, Compressed], crop: int = 160, title: str = ""
) -> Figure:
    """The same crop of one image, uncompressed and at every QF, with bpp and RGB PSNR."""
    y, x = busiest_crop(gt, crop)
    window = (slice(y, y + crop), slice(x, x + crop))
    panels = [(f"original\n{title}", gt)] + [
        (f"QF {q}\n{c.bits_per_pixel:.2f} bpp, {psnr(gt, c.pixels):.2f} dB", c.pixels)
        for q, c in sorted(compressed.items(), reverse=True)
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.7), squeeze=False)
    for ax, (label, pixels) in zip(axes[0], panels, strict=True):
        ax.imshow(
            pixels[window],
            cmap="gray" if pixels.ndim == 2 else None,
            vmin=0,
            vmax=255,
            interpolation="nearest",
        )
        ax.set_title(label, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def image_row(images: Sequence[np.ndarray], titles: Sequence[str], side: int = 192) -> Figure:
    """Images side by side, each shown as its top-left `side` x `side` pixels."""
    fig, axes = plt.subplots(1, len(images), figsize=(2.4 * len(images), 2.7), squeeze=False)
    for ax, image, title in zip(axes[0], images, titles, strict=True):
        ax.imshow(image[:side, :side], cmap="gray" if image.ndim == 2 else None, vmin=0,
                  vmax=255, interpolation="nearest")  # fmt: skip
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write a figure as PNG (no timestamp metadata, so reruns give the same bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)  # still displayable; no longer shown again by the notebook backend
    return path


def training_curves(history: pd.DataFrame, title: str = "") -> Figure:
    """Training loss and validation PSNR (restored vs JPEG) against the step."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    left.plot(history["step"], history["loss"], color="tab:blue")
    left.set(xlabel="step", ylabel="training loss", title="loss")
    val = history.dropna(subset=["val_pred_psnr_rgb"]) if "val_pred_psnr_rgb" in history else None
    if val is not None and len(val):
        right.plot(val["step"], val["val_pred_psnr_rgb"], "o-", label="restored (RGB)")
        right.plot(val["step"], val["val_jpeg_psnr_rgb"], "--", color="gray", label="JPEG (RGB)")
        right.plot(val["step"], val["val_pred_psnr_y"], "o-", label="restored (Y)")
        right.plot(val["step"], val["val_jpeg_psnr_y"], ":", color="gray", label="JPEG (Y)")
        right.legend(fontsize=8)
    right.set(xlabel="step", ylabel="PSNR (dB)", title="validation")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def restoration_example(
    gt: np.ndarray,
    lq: np.ndarray,
    pred: np.ndarray,
    crop: int = 160,
    labels: tuple[str, str, str] = ("JPEG", "restored", "original"),
) -> Figure:
    """The busiest crop of the compressed, restored and original image side by side, with PSNR."""
    y, x = busiest_crop(gt, crop)
    window = (slice(y, y + crop), slice(x, x + crop))
    fig, axes = plt.subplots(1, 3, figsize=(8, 3))
    for ax, label, image in zip(axes, labels, (lq, pred, gt), strict=True):
        ax.imshow(image[window], cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255,
                  interpolation="nearest")  # fmt: skip
        score = "" if image is gt else f"\n{psnr(gt, image):.2f} dB (whole image)"
        ax.set_title(label + score, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return fig
