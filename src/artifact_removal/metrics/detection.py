"""Average precision of object detections, as the PASCAL VOC devkit scores them.

Boxes are (xmin, ymin, xmax, ymax) in VOC's inclusive pixel coordinates, so a box's width is
xmax - xmin + 1 and the overlap of two boxes is counted the same way. Per class, detections
are taken by descending score; each is a true positive when its best-overlapping ground-truth
box of the same image overlaps it by more than 0.5 (intersection over union) and no earlier
detection took that box, else a false positive. Ground-truth boxes marked `difficult` count
neither way: a detection matched to one is ignored, and they are not among the positives.

Two summaries of the precision-recall curve (both printed by the reports, named):
- VOC 2007's 11-point AP: the mean over recall thresholds 0, 0.1, ..., 1 of the highest
  precision at a recall at or above the threshold;
- all-points AP (VOC 2010 on): the area under the curve after precision is made monotone
  (each point takes the highest precision at its recall or beyond).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class Box:
    """One ground-truth object: its class, box and VOC's difficult flag."""

    label: str
    box: tuple[float, float, float, float]
    difficult: bool = False


@dataclass(frozen=True)
class Detection:
    """One detection: the image, class, confidence and box."""

    image: str
    label: str
    score: float
    box: tuple[float, float, float, float]


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box with each of `boxes` (N, 4), inclusive pixels."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    width = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]) + 1
    height = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]) + 1
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    area = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
    areas = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    return inter / (area + areas - inter)


def precision_recall(
    detections: Iterable[Detection], truth: Mapping[str, list[Box]], label: str
) -> tuple[np.ndarray, np.ndarray, int]:
    """Precision and recall after each of `label`'s detections (by descending score), and the
    number of positives (ground-truth boxes of the class that are not difficult)."""
    found = sorted((d for d in detections if d.label == label), key=lambda d: -d.score)
    objects = {image: [b for b in boxes if b.label == label] for image, boxes in truth.items()}
    positives = sum(not b.difficult for boxes in objects.values() for b in boxes)
    taken = {image: np.zeros(len(boxes), bool) for image, boxes in objects.items()}
    hits = []
    for detection in found:
        candidates = objects.get(detection.image, [])
        if not candidates:
            hits.append(0)
            continue
        overlaps = iou(np.asarray(detection.box, float), np.array([b.box for b in candidates]))
        best = int(np.argmax(overlaps))
        if overlaps[best] <= IOU_THRESHOLD:
            hits.append(0)
        elif candidates[best].difficult:
            continue  # neither a hit nor a false alarm
        elif taken[detection.image][best]:
            hits.append(0)  # a second detection of a found object
        else:
            taken[detection.image][best] = True
            hits.append(1)
    tp = np.cumsum(np.array(hits, float))
    fp = np.cumsum(1 - np.array(hits, float))
    recall = tp / positives if positives else np.zeros_like(tp)
    precision = tp / np.maximum(tp + fp, np.finfo(float).eps)
    return precision, recall, positives


def ap_11_point(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC 2007's 11-point interpolated average precision."""
    total = 0.0
    for threshold in np.linspace(0, 1, 11):
        above = precision[recall >= threshold]
        total += above.max() if above.size else 0.0
    return total / 11


def ap_all_points(precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under the monotone precision-recall curve (VOC 2010 on)."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def average_precision(
    detections: Iterable[Detection], truth: Mapping[str, list[Box]], labels: Iterable[str]
) -> pd.DataFrame:
    """Per class: positives, detections, AP (11-point) and AP (all points); a last row `mAP`
    averages the classes that have positives."""
    detections = list(detections)
    rows = []
    for label in labels:
        precision, recall, positives = precision_recall(detections, truth, label)
        rows.append(
            {
                "class": label,
                "positives": positives,
                "detections": sum(d.label == label for d in detections),
                "ap11": ap_11_point(precision, recall) if positives else np.nan,
                "ap_all": ap_all_points(precision, recall) if positives else np.nan,
            }
        )
    table = pd.DataFrame(rows, columns=["class", "positives", "detections", "ap11", "ap_all"])
    table = table.set_index("class")
    table.loc["mAP"] = [
        table["positives"].sum(),
        table["detections"].sum(),
        table["ap11"].mean(),
        table["ap_all"].mean(),
    ]
    return table
