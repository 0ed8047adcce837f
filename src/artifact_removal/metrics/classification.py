"""Classification scores: confusion matrices laid out as the talk slides, and accuracies."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..archs.qf_net import ABOVE, label_name


def confusion_matrix(
    predicted: list[int], target: list[int], classes: tuple[int, ...]
) -> pd.DataFrame:
    """Counts laid out as the talk slides: rows predicted QF, columns target QF (`classes`
    are the labels, `ABOVE` included when the predictor has it)."""
    table = pd.DataFrame(0, index=pd.Index(classes, name="predicted"),
                         columns=pd.Index(classes, name="target"))  # fmt: skip
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
    return {
        "accuracy": float(np.trace(counts) / max(counts.sum(), 1)),
        "mean_class_accuracy": float(np.mean(in_range)),
        **{f"class_{q}": float(a) for q, a in zip(names, per_class, strict=True)},
    }
