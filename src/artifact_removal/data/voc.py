"""PASCAL VOC folders: the image list of a split and each image's annotated objects.

A VOC folder holds `Annotations/<id>.xml`, `JPEGImages/<id>.jpg` and
`ImageSets/Main/<split>.txt` (VOC 2007's test set: 4952 images, 20 classes). `find_root`
accepts that folder or one that holds exactly one such folder (`VOCdevkit/VOC2007`, as the
archive unpacks).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from ..metrics.detection import Box
from .prepared import DataError

CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
           "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
           "train", "tvmonitor")  # fmt: skip


def _is_voc(folder: Path) -> bool:
    return (folder / "Annotations").is_dir() and (folder / "JPEGImages").is_dir()


def find_root(folder: str | Path) -> Path | None:
    """The VOC folder at or below `folder` (at most two levels down), or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    levels = [[folder]]
    for _ in range(2):
        levels.append(sorted(c for f in levels[-1] for c in f.iterdir() if c.is_dir()))
    for level in levels:
        found = [f for f in level if _is_voc(f)]
        if len(found) > 1:
            raise DataError(f"{folder}: several VOC folders ({', '.join(map(str, found))}); "
                            "point detection.voc_dir at one")  # fmt: skip
        if found:
            return found[0]
    return None


def split_ids(root: Path, split: str) -> list[str]:
    """The image ids of `ImageSets/Main/<split>.txt`."""
    path = root / "ImageSets" / "Main" / f"{split}.txt"
    if not path.is_file():
        known = sorted(p.stem for p in (root / "ImageSets" / "Main").glob("*.txt")
                       if "_" not in p.stem)  # fmt: skip
        raise DataError(f"{path}: no such split list (lists there: {known})")
    ids = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    if not ids:
        raise DataError(f"{path}: the split lists no image")
    return ids


def read_annotation(path: Path) -> list[Box]:
    """The objects of one annotation file (VOC's 1-based, inclusive pixel boxes)."""
    try:
        tree = ElementTree.parse(path)
    except (ElementTree.ParseError, OSError) as err:
        raise DataError(f"{path}: not a VOC annotation ({err})") from None
    boxes = []
    for item in tree.getroot().iter("object"):
        name, box = item.findtext("name", "").strip(), item.find("bndbox")
        if name not in CLASSES or box is None:
            raise DataError(f"{path}: an object named {name!r} without a box or of no VOC class")
        try:
            coords = tuple(float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (TypeError, ValueError):
            raise DataError(f"{path}: a box of {name!r} has a missing coordinate") from None
        boxes.append(Box(name, coords, item.findtext("difficult", "0").strip() == "1"))
    return boxes
