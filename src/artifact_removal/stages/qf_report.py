"""The QF predictor's scores on prepared sets: confusion matrices as CSV, a figure, accuracies."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from ..archs.qf_labels import ABOVE
from ..fileio import write_csv
from ..inference.choice import UNSURE
from ..inference.qf import (
    ABOVE_TESTS,
    calibration_qualities,
    judged,
    predict_set,
    set_probabilities,
)
from ..metrics.classification import (
    accuracies,
    confusion_matrix,
    expected_calibration_error,
    named,
    reliability,
)
from .plots import confusion_figure, reliability_figure, save_figure

CPU = torch.device("cpu")


def qf_tables(
    net,
    folders: dict[str, Path],
    count: int,
    device=CPU,
    progress: bool = True,
    images: int = 0,
) -> dict[str, pd.DataFrame]:
    """The QF predictor's confusion matrix on every image of each prepared set (or on `images`
    of each, spread over their names), at every class's QF and between them (an image between
    two classes should get the nearer)."""
    return {
        name: confusion_matrix(
            *predict_set(net, folder, count, device, progress, True, images), net.labels
        )
        for name, folder in folders.items()
    }


def qf_metrics(tables: dict[str, pd.DataFrame]) -> dict:
    """Accuracies per set (rounded), with the number of images judged."""
    metrics = {}
    for name, table in tables.items():
        metrics[name] = {k: round(v, 4) for k, v in accuracies(table).items()}
        metrics[name]["images"] = int(table.to_numpy().sum())
    return metrics


def write_confusion(tables: dict[str, pd.DataFrame], out_dir: Path, figure: Path) -> dict:
    """`<set>.csv` per set in `out_dir` and one figure of them all; the accuracies."""
    for name, table in tables.items():
        write_csv(out_dir / f"{name}.csv", named(table))
    metrics = qf_metrics(tables)
    title = "QF predictor, images of each target QF"
    if any(ABOVE in table.columns for table in tables.values()):
        tried = ", ".join(str(q) for q in ABOVE_TESTS)
        title += f"\n(target 'above': each image at QF {tried} and never compressed)"
    means = {name: metrics[name]["mean_class_accuracy"] for name in tables}
    save_figure(confusion_figure({n: named(t) for n, t in tables.items()}, means, title), figure)
    return metrics


def write_reliability(
    net,
    folders: dict[str, Path],
    count: int,
    out_dir: Path,
    figure: Path,
    device=CPU,
    images: int = 0,
) -> dict:
    """The reliability of the predictor's confidence on each set (its images, or `images` of
    them spread over their names, and their quarters at every other QF,
    `inference.qf.calibration_qualities`): `reliability_<set>.csv` in `out_dir`, one figure,
    and each set's expected calibration error."""
    tables, scores = {}, {}
    for name, folder in folders.items():
        probabilities, targets, _ = set_probabilities(
            net, folder, count, device, False, calibration_qualities(net), True, images
        )
        confidence, right = judged(net, probabilities, targets)
        tables[name] = table = reliability(confidence, right)
        write_csv(out_dir / f"reliability_{name}.csv", table.round(4))
        sure = confidence >= UNSURE
        scores[name] = {
            "ece": round(expected_calibration_error(table), 4),
            "answers": len(right),
            "right": round(float(right.mean()), 4),
            "sure": round(float(sure.mean()), 4),
            "right_when_sure": round(float(right[sure].mean()), 4) if sure.any() else None,
        }
    title = (
        f"QF predictor's confidence (temperature {net.temperature:g}), held-out images "
        "and their quarters at every other QF"
    )
    save_figure(
        reliability_figure(
            {f"{n}: ECE {scores[n]['ece']:.3f}": t for n, t in tables.items()}, title
        ),
        figure,
    )
    return scores
