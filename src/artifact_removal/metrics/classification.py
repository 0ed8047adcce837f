"""Classification scores: confusion matrices laid out as the talk slides, accuracies, and the
calibration of a classifier's confidence (temperature scaling, reliability, ECE)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..archs.qf_labels import ABOVE, label_name


def confusion_matrix(
    predicted: list[int], target: list[int], classes: tuple[int, ...]
) -> pd.DataFrame:
    """Counts laid out as the talk slides: rows predicted QF, columns target QF (`classes`
    are the labels, `ABOVE` included when the predictor has it)."""
    table = pd.DataFrame(
        0, index=pd.Index(classes, name="predicted"), columns=pd.Index(classes, name="target")
    )
    for p, t in zip(predicted, target, strict=True):
        table.loc[p, t] += 1
    return table


def named(table: pd.DataFrame) -> pd.DataFrame:
    """The confusion matrix with `ABOVE` written as 'above 60', for people and CSV files."""
    names = {q: label_name(q, list(table.columns)) for q in table.columns}
    return table.rename(index=names, columns=names)


def accuracies(table: pd.DataFrame) -> dict[str, float]:
    """Overall accuracy, each class's accuracy (recall: `class_30`, `class_above`) and their
    mean over the ensemble's QFs (`ABOVE` apart: it is not one of the ensemble's classes)."""
    counts = table.to_numpy()
    per_class = np.diag(counts) / np.maximum(counts.sum(axis=0), 1)
    in_range = [a for q, a in zip(table.columns, per_class, strict=True) if q != ABOVE]
    names = ["above" if q == ABOVE else q for q in table.columns]
    near = sum(
        counts[i, j] for i in range(len(counts)) for j in range(len(counts)) if abs(i - j) <= 1
    )
    return {
        "accuracy": float(np.trace(counts) / max(counts.sum(), 1)),
        "near_accuracy": float(near / max(counts.sum(), 1)),  # right or a neighbouring class
        "mean_class_accuracy": float(np.mean(in_range)),
        **{f"class_{q}": float(a) for q, a in zip(names, per_class, strict=True)},
    }


def tempered(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """(n, k) probabilities sharpened (T < 1) or softened (T > 1): softmax(log p / T)."""
    logits = np.log(np.clip(probabilities, 1e-12, 1)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """The temperature T that minimises the negative log-likelihood of the target classes
    (indices) under softmax(log p / T) (Guo et al., ICML 2017), on a fixed grid from 1/4 to
    64: deterministic, and enough for one parameter."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(64.0), 241))
    rows = np.arange(len(targets))
    losses = [
        -np.log(np.clip(tempered(probabilities, t)[rows, targets], 1e-12, 1)).mean() for t in grid
    ]
    return float(round(grid[int(np.argmin(losses))], 4))


def reliability(confidence: np.ndarray, right: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Per confidence bin: the count, the mean confidence and how often the answer was right;
    the expected calibration error is `expected_calibration_error` of this table."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    rows = [
        {
            "low": edges[b],
            "high": edges[b + 1],
            "count": int((which == b).sum()),
            "confidence": float(confidence[which == b].mean()) if (which == b).any() else np.nan,
            "accuracy": float(right[which == b].mean()) if (which == b).any() else np.nan,
        }
        for b in range(bins)
    ]
    return pd.DataFrame(rows)


def expected_calibration_error(table: pd.DataFrame) -> float:
    """The mean |accuracy - confidence| over bins, weighted by their counts."""
    used = table[table["count"] > 0]
    gaps = (used["accuracy"] - used["confidence"]).abs()
    return float((gaps * used["count"]).sum() / max(used["count"].sum(), 1))
