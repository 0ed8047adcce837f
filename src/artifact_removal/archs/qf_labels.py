"""The QF predictor's labels, without torch: the ensemble's QFs and the class `ABOVE`, which QF
counts as which class, and their names in messages (`archs.qf_net` is the network)."""

from __future__ import annotations

from collections.abc import Sequence

ABOVE = 100  # the label of the class above the ensemble's QFs (or never compressed)


def labels_of(classes: Sequence[int], above: bool) -> tuple[int, ...]:
    """The classifier's labels: the ensemble's QFs, then `ABOVE` when it has that class."""
    return tuple(classes) + ((ABOVE,) if above else ())


def nearest_class(quality: int, classes: Sequence[int]) -> int:
    """The class a QF counts as: the nearest of `classes`, the higher (gentler) on a tie."""
    return min(classes, key=lambda c: (abs(c - quality), -c))


def class_cells(classes: Sequence[int], limit: int = 101) -> dict[int, tuple[int, ...]]:
    """For each class, the QFs from 1 to `limit` - 1 that count as it (`nearest_class`): what
    its training and validation images are compressed at, between the classes too."""
    cells: dict[int, list[int]] = {c: [] for c in classes}
    for quality in range(1, limit):
        cells[nearest_class(quality, classes)].append(quality)
    return {c: tuple(qs) for c, qs in cells.items()}


def label_name(label: int, labels: Sequence[int]) -> str:
    """'30' for a QF, 'above 60' for `ABOVE` (60 being the highest of the other labels)."""
    if label == ABOVE and len(labels) > 1:
        return f"above {max(q for q in labels if q != ABOVE)}"
    return str(label)
