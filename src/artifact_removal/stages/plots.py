"""Figures that the stages show and write (matplotlib, rendered offline)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..data.images import busiest_crop
from ..degradations.jpeg import Compressed
from ..fileio import write_figure
from ..metrics.full_reference import psnr

DPI = 110  # of saved figures; panels of crops are sized in screen pixels through it


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
    return panel_row([p for _, p in panels], [t for t, _ in panels], window, width=2.2)


def image_row(images: Sequence[np.ndarray], titles: Sequence[str], side: int = 192) -> Figure:
    """Images side by side, each shown as its top-left `side` x `side` pixels."""
    return panel_row(images, titles, (slice(0, side), slice(0, side)))


def panel_row(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    window: tuple[slice, slice],
    width: float = 2.4,
    columns: int | None = None,
) -> Figure:
    """The same window of several images side by side (in rows of `columns`), pixels
    unsmoothed, titled; each panel `width` inches wide."""
    columns = columns or len(images)
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(width * columns, (width + 0.3) * rows), squeeze=False
    )
    for ax in axes.flat[len(images) :]:
        ax.set_axis_off()
    for ax, image, title in zip(axes.flat[: len(images)], images, titles, strict=True):
        ax.imshow(
            image[window],
            cmap="gray" if image.ndim == 2 else None,
            vmin=0,
            vmax=255,
            interpolation="nearest",
        )
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    plt.close(fig)  # shown once, as the value a notebook cell returns, not again by the backend
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write a figure as PNG, atomically (no timestamp metadata, so reruns give the same
    bytes)."""
    path = write_figure(path, fig, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
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
    titles = [
        label + ("" if image is gt else f"\n{psnr(gt, image):.2f} dB (whole image)")
        for label, image in zip(labels, (lq, pred, gt), strict=True)
    ]
    return panel_row((lq, pred, gt), titles, window, width=2.7)


def crops_across_methods(
    versions: Mapping[str, np.ndarray],
    crop: int = 160,
    title: str = "",
    notes: Mapping[str, str] | None = None,
) -> Figure:
    """The busiest crop of the first version (the original) and of every other, side by side.

    `versions` maps a label to an image; `notes` adds a line under a label (scores, say).
    """
    images = list(versions.values())
    y, x = busiest_crop(images[0], crop)
    titles = [f"{label}\n{(notes or {}).get(label, '')}".strip() for label in versions]
    # two screen pixels per image pixel, two panels a row: blocks and ringing stay visible
    fig = panel_row(
        images,
        titles,
        (slice(y, y + crop), slice(x, x + crop)),
        width=2 * crop / DPI,
        columns=2 if len(images) > 3 else None,
    )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


_CURVES = (
    ("psnr_y", "PSNR Y (dB)"),
    ("ssim_y", "SSIM Y"),
    ("psnrb_y", "PSNR-B Y (dB)"),
    ("lpips", "LPIPS (lower is better)"),
    ("niqe", "NIQE (lower is better)"),
    ("brisque", "BRISQUE (lower is better)"),
)


def metric_curves(summary: pd.DataFrame, title: str = "") -> Figure:
    """Each metric against the QF, a line per method; the originals' NIQE and BRISQUE dashed."""
    shown = [(k, label) for k, label in _CURVES if k in summary and summary[k].notna().any()]
    fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 3), squeeze=False)
    for ax, (key, label) in zip(axes[0], shown, strict=True):
        for method, rows in summary.groupby("method", sort=False):
            if method == "original" and rows[key].notna().any():
                ax.axhline(rows[key].mean(), color="black", ls="--", lw=1, label="original")
            elif rows[key].notna().any():
                ax.plot(rows["quality"], rows[key], "o-", ms=3, label=method)
        ax.set(xlabel="JPEG QF", title=label)
        ax.title.set_fontsize(9)
    labels = {t: h for ax in axes[0] for h, t in zip(*ax.get_legend_handles_labels(), strict=True)}
    fig.legend(labels.values(), labels.keys(), loc="center right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1 - 0.9 / (3.2 * len(shown)), 1))
    return fig


def gan_curves(history: pd.DataFrame, best_step: int | None = None, title: str = "") -> Figure:
    """The two players against the step: the discriminator's loss and accuracy, the generator's
    perceptual and adversarial losses, and the held-out NIQE and PSNR-Y (step 0: the SSIM
    generator it started from; the dotted line: the released step)."""
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.2))
    train = history[history["step"] > 0].dropna(subset=["d_loss"]) if "d_loss" in history else None
    if train is not None and len(train):
        axes[0].plot(train["step"], train["d_loss"], color="tab:red")
        axes[1].plot(train["step"], train["l_p"], label="perceptual $l_P$")
        axes[1].plot(train["step"], train["l_adv"], label="adversarial $l_{adv}$")
        axes[1].set_yscale("log")
        axes[1].legend(fontsize=8)
        axes[2].plot(train["step"], train["d_accuracy"], color="tab:red")
    axes[0].set(xlabel="step", title="discriminator loss")
    axes[1].set(xlabel="step", title="generator losses")
    axes[2].axhline(0.5, color="gray", ls=":", lw=1)
    axes[2].set(xlabel="step", title="discriminator accuracy", ylim=(-0.02, 1.02))
    val = history.dropna(subset=["val_pred_niqe"]) if "val_pred_niqe" in history else None
    if val is not None and len(val):
        axes[3].plot(val["step"], val["val_pred_niqe"], "o-", label="restored NIQE")
        axes[3].plot(val["step"], val["val_jpeg_niqe"], "--", color="gray", label="JPEG NIQE")
        psnr_axis = axes[3].twinx()
        psnr_axis.plot(
            val["step"],
            val["val_pred_psnr_y"],
            "s-",
            color="tab:green",
            ms=3,
            label="restored PSNR-Y",
        )
        psnr_axis.set_ylabel("PSNR-Y (dB)", color="tab:green")
        axes[3].legend(fontsize=8, loc="upper right")
    axes[3].set(xlabel="step", ylabel="NIQE (lower is better)", title="held-out images")
    if best_step is not None:
        for ax in axes:
            ax.axvline(best_step, color="black", ls=":", lw=1)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def gan_samples(
    samples: Mapping[int, np.ndarray],
    jpeg: np.ndarray | None,
    original: np.ndarray | None,
    best_step: int | None = None,
    most: int = 6,
    title: str = "",
    start: str = "start (SSIM)",
) -> Figure:
    """The same held-out window as training goes: JPEG, the starting SSIM generator (step 0),
    up to `most` validation steps (always the released one), and the original."""
    if jpeg is None or original is None or not samples:
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.text(0.5, 0.5, "no held-out images, so no samples", ha="center", va="center")
        ax.set_axis_off()
        return fig
    steps = sorted(s for s in samples if s > 0)
    if len(steps) > most:
        keep = {steps[round(i * (len(steps) - 1) / (most - 1))] for i in range(most)}
        steps = sorted(keep | ({best_step} if best_step in samples else set()))
    shown = ([0] if 0 in samples else []) + steps
    images = [jpeg, *(samples[s] for s in shown), original]
    labels = (
        ["JPEG"]
        + [
            start if s == 0 else f"step {s}" + (" (released)" if s == best_step else "")
            for s in shown
        ]
        + ["original"]
    )
    window = (slice(0, jpeg.shape[0]), slice(0, jpeg.shape[1]))
    fig = panel_row(images, labels, window, width=2.2)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def confusion_figure(
    tables: Mapping[str, pd.DataFrame], means: Mapping[str, float], title: str = ""
) -> Figure:
    """One heat map per set: rows predicted QF, columns target QF (as the talk slides), each
    column normalised to the share of that target's images, with the counts written in.
    `means` is each set's mean class accuracy, for its title."""
    labels = max(len(table.columns) for table in tables.values())
    side = max(4.2, 0.5 * labels)  # fine classes: a bigger map, smaller numbers
    fig, axes = plt.subplots(1, len(tables), figsize=(side * len(tables), side), squeeze=False)
    for ax, (name, table) in zip(axes[0], tables.items(), strict=True):
        counts = table.to_numpy()
        share = counts / np.maximum(counts.sum(axis=0, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for i, j in np.ndindex(counts.shape):
            if labels > 8 and not counts[i, j]:
                continue
            colour = "white" if share[i, j] > 0.5 else "black"
            ax.text(
                j,
                i,
                f"{share[i, j]:.0%}\n({counts[i, j]})",
                ha="center",
                va="center",
                fontsize=7 if labels <= 8 else 5,
                color=colour,
            )
        names = [str(q).replace(" ", "\n") for q in table.columns]
        ax.set_xticks(range(len(table.columns)), names)
        ax.set_yticks(range(len(table.index)), names)
        ax.set(
            xlabel="target QF",
            ylabel="predicted QF",
            title=f"{name}: mean class accuracy {means[name]:.1%}",
        )
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def reliability_figure(tables: Mapping[str, pd.DataFrame], title: str = "") -> Figure:
    """A reliability diagram per table (`metrics.classification.reliability`): how often the
    answer was right against the confidence it claimed, bin by bin, beside the diagonal of a
    calibrated classifier; the bins' counts below."""
    fig, axes = plt.subplots(
        2,
        len(tables),
        figsize=(4.2 * len(tables), 5.4),
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 1]},
    )
    for (top, bottom), (name, table) in zip(axes.T, tables.items(), strict=True):
        centres, width = (table["low"] + table["high"]) / 2, table["high"] - table["low"]
        top.bar(
            centres,
            table["accuracy"].fillna(0),
            width=width * 0.9,
            color="tab:blue",
            label="right (its class or a neighbour)",
        )
        top.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
        top.plot(
            table["confidence"],
            table["accuracy"],
            "o",
            color="tab:orange",
            ms=4,
            label="mean confidence of the bin",
        )
        top.set(xlim=(0, 1), ylim=(0, 1), ylabel="how often right", title=name)
        top.legend(fontsize=7, loc="upper left")
        bottom.bar(centres, table["count"], width=width * 0.9, color="grey")
        bottom.set(xlim=(0, 1), xlabel="confidence claimed", ylabel="answers")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def stopping_curve(
    checks: Sequence[Mapping],
    reference: float | None,
    best_step: int | None,
    score_name: str,
    limits: tuple[float, float],
    title: str = "",
) -> Figure:
    """NoGAN's stopping rule: the held-out score of each check (lower is better) against the
    pre-GAN generator's (dashed), the chosen point (dotted), and the two glitch measures
    against their limits; a check over a limit is drawn as a cross."""
    fig, (ax, glitch) = plt.subplots(1, 2, figsize=(11, 3.2))
    steps = [c["step"] for c in checks]
    ax.plot(steps, [c["score"] for c in checks], "o-", label="held-out score")
    failed = [c for c in checks if not np.isfinite(c["effective"])]
    ax.plot(
        [c["step"] for c in failed],
        [c["score"] for c in failed],
        "x",
        color="tab:red",
        ms=9,
        label="glitch: not eligible",
    )
    if reference is not None:
        ax.axhline(reference, color="gray", ls="--", lw=1, label="pre-GAN")
    ax.set(xlabel="step", ylabel=f"{score_name} (lower is better)", title="stopping rule")
    glitch.plot(steps, [c["colour_shift"] for c in checks], "o-", label="colour shift (levels)")
    glitch.axhline(limits[0], color="tab:blue", ls=":", lw=1)
    other = glitch.twinx()
    other.plot(steps, [c["high_frequency"] for c in checks], "s-", color="tab:orange", ms=3)
    other.axhline(limits[1], color="tab:orange", ls=":", lw=1)
    other.set_ylabel("Laplacian energy / pre-GAN's", color="tab:orange")
    glitch.set(
        xlabel="step", ylabel="colour shift (8-bit levels)", title="glitch checks (dotted: limits)"
    )
    for axis in (ax, glitch):
        if best_step is not None:
            axis.axvline(best_step, color="black", ls=":", lw=1)
    ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
