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

CLASSES = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)


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
            raise DataError(
                f"{folder}: several VOC folders ({', '.join(map(str, found))}); "
                "point detection.voc_dir at one"
            )
        if found:
            return found[0]
    return None


def split_ids(root: Path, split: str) -> list[str]:
    """The image ids of `ImageSets/Main/<split>.txt`."""
    path = root / "ImageSets" / "Main" / f"{split}.txt"
    if not path.is_file():
        known = sorted(
            p.stem for p in (root / "ImageSets" / "Main").glob("*.txt") if "_" not in p.stem
        )
        raise DataError(f"{path}: no such split list (lists there: {known})")
    ids = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    if not ids:
        raise DataError(f"{path}: the split lists no image")
    return ids


def read_annotation(path: Path) -> list[Box]:
    """The objects of one annotation file (VOC's 1-based, inclusive pixel boxes); a box whose
    corners are swapped (xmin > xmax or ymin > ymax) is refused."""
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
        if coords[0] > coords[2] or coords[1] > coords[3]:
            raise DataError(
                f"{path}: the box of {name!r} is inverted (xmin, ymin, xmax, ymax = "
                f"{', '.join(f'{c:g}' for c in coords)})"
            )
        boxes.append(Box(name, coords, item.findtext("difficult", "0").strip() == "1"))
    return boxes


def check_split(root: Path, ids: list[str], shown: int = 10) -> dict[str, list[Box]]:
    """Every image of the split checked before anything is detected: its annotation parses
    (`read_annotation`), its JPEG is there and readable (its header: size, not the pixels), and
    each box lies inside the image (0 <= xmin <= xmax <= width, the same for y; VOC counts
    pixels from 1). Returns the annotations; one DataError lists the problems (the first
    `shown`, and how many in all), so a bad folder stops the stage before it has spent an
    hour on the images before the first bad one."""
    from PIL import Image, UnidentifiedImageError

    truth, problems = {}, []
    for image_id in ids:
        image = root / "JPEGImages" / f"{image_id}.jpg"
        try:
            truth[image_id] = boxes = read_annotation(root / "Annotations" / f"{image_id}.xml")
        except DataError as err:
            problems.append(str(err))
            continue
        try:
            with Image.open(image) as found:
                width, height = found.size
        except FileNotFoundError:
            problems.append(f"{image}: no such image (listed in the split)")
            continue
        except (UnidentifiedImageError, OSError) as err:
            problems.append(f"{image}: not a readable image ({err})")
            continue
        for box in boxes:
            x1, y1, x2, y2 = box.box
            if min(x1, y1) < 0 or x2 > width or y2 > height:
                problems.append(
                    f"{root / 'Annotations' / f'{image_id}.xml'}: the box of "
                    f"{box.label!r} ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside "
                    f"the {width}x{height} image"
                )
    if problems:
        more = f"\n... and {len(problems) - shown} more" if len(problems) > shown else ""
        raise DataError(
            f"{root}: {len(problems)} problem(s) in the VOC folder, found before "
            "detecting anything:\n" + "\n".join(problems[:shown]) + more
        )
    return truth
