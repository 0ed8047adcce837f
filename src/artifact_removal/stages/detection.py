"""Stage detection (notebook 10): does restoration help a detector? AP on PASCAL VOC.

The ICCV 2017 paper and the talk run Faster R-CNN on PASCAL VOC images compressed at QF 20,
and on the GAN's restorations of them: the GAN gives back dog +18.6, cat +16.6, sheep +14.3
and cow +12.5 AP. Here torchvision's Faster R-CNN (ResNet-50 FPN, trained on COCO; its 20
VOC classes mapped by name) detects objects on the originals, on JPEG at each QF of
`detection.qualities`, and on each method's restoration; AP per class and mAP are computed
as VOC's devkit does (`metrics/detection.py`: 11-point, VOC 2007's, and all-points). The
detector is not the paper's (theirs was trained on VOC), so absolute APs differ; the gains
over JPEG are what compare.

It needs the detector's weights in torchvision's cache (recorded in `models/pretrained.yaml`
by `artifact-removal pretrained`) and a VOC folder at `detection.voc_dir`. Without either the
stage says which is missing and where to put it, and scores nothing: a detector with random
weights is never run for a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..config import Params, parse_yaml, resolve_path
from ..data.images import read_image
from ..data.voc import CLASSES, check_split, find_root, split_ids
from ..degradations.jpeg import jpeg_compress
from ..fileio import write_csv, write_json, write_text
from ..inference.gallery import JPEG, ORIGINAL
from ..inference.releases import load_generator
from ..inference.torch_backend import restore_array
from ..methods import get as get_method
from ..methods import models_dir
from ..metrics.detection import Detection, average_precision
from ..pretrained import BACKBONES, MANIFEST, weights_for

DETECTOR = "fasterrcnn_resnet50_fpn"
# COCO's names (torchvision's categories) of the 20 VOC classes
VOC_OF_COCO = {
    "airplane": "aeroplane",
    "bicycle": "bicycle",
    "bird": "bird",
    "boat": "boat",
    "bottle": "bottle",
    "bus": "bus",
    "car": "car",
    "cat": "cat",
    "chair": "chair",
    "cow": "cow",
    "dining table": "diningtable",
    "dog": "dog",
    "horse": "horse",
    "motorcycle": "motorbike",
    "person": "person",
    "potted plant": "pottedplant",
    "sheep": "sheep",
    "couch": "sofa",
    "train": "train",
    "tv": "tvmonitor",
}


def voc_labels() -> dict[int, str]:
    """torchvision's COCO label index -> VOC class, for the 20 classes VOC has."""
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

    names = FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
    return {i: VOC_OF_COCO[name] for i, name in enumerate(names) if name in VOC_OF_COCO}


def missing(params: Params, root: Path) -> list[str]:
    """What the stage lacks, each as a sentence that says where to put it; [] when ready."""
    reasons = []
    voc_dir = resolve_path(params.detection.voc_dir, root)
    found = find_root(voc_dir)
    if found is None:
        reasons.append(
            f"no PASCAL VOC folder in {params.detection.voc_dir} (detection.voc_dir): unpack "
            "VOC 2007's test "
            "set there (VOCtest_06-Nov-2007.tar gives VOCdevkit/VOC2007/ with Annotations/, "
            "JPEGImages/ and ImageSets/Main/test.txt), or point detection.voc_dir at one"
        )
    elif not (found / "ImageSets" / "Main" / f"{params.detection.split}.txt").is_file():
        reasons.append(
            f"{found}/ImageSets/Main/{params.detection.split}.txt: no such split "
            "list (detection.split)"
        )
    if weights_for(DETECTOR, root) is None:
        reasons.append(
            f"Faster R-CNN's COCO weights are not recorded in {MANIFEST}: put "
            f"{BACKBONES[DETECTOR]} in torchvision's cache, $TORCH_HOME/hub/checkpoints "
            "(`artifact-removal fetch-models --list` shows where that is here; `artifact-removal "
            "fetch-models --only fasterrcnn_resnet50_fpn` downloads and records it where there "
            "is a network), then run `artifact-removal pretrained` (make repro does)"
        )
    return reasons


def load_detector(weights: Path, min_size: int, device: torch.device) -> torch.nn.Module:
    """torchvision's Faster R-CNN (ResNet-50 FPN) with the weights of `weights`, in eval mode."""
    from torchvision.models.detection import fasterrcnn_resnet50_fpn

    net = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, min_size=min_size)
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return net.to(device).eval()


@torch.inference_mode()
def detect(
    net: torch.nn.Module, image: np.ndarray, name: str, labels: dict[int, str], device: torch.device
) -> list[Detection]:
    """The detector's VOC-class detections on one (H, W, 3) uint8 image; boxes in VOC's
    1-based inclusive pixel coordinates (torchvision's box (x1, y1, x2, y2) covers the pixels
    x1 <= x < x2: VOC's (x1 + 1, y1 + 1, x2, y2))."""
    x = torch.tensor(image).permute(2, 0, 1).float().div(255).to(device)
    found = net([x])[0]
    out = []
    for box, label, score in zip(
        found["boxes"].cpu().numpy(),
        found["labels"].cpu().tolist(),
        found["scores"].cpu().tolist(),
        strict=True,
    ):
        if label in labels:
            x1, y1, x2, y2 = (float(v) for v in box)
            out.append(Detection(name, labels[label], float(score), (x1 + 1, y1 + 1, x2, y2)))
    return out


def versions(params: Params) -> list[tuple[str, int]]:
    """(method, QF) of everything detected on: the originals, then JPEG and each method."""
    settings = params.detection
    return [(ORIGINAL, 0)] + [(m, q) for q in settings.qualities for m in (JPEG, *settings.methods)]


def version_name(method: str, quality: int) -> str:
    return method if method == ORIGINAL else f"{method}_q{quality}"


@dataclass
class DetectionResult:
    """AP per class (rows, plus mAP) and version, or why nothing was scored."""

    skipped: list[str]
    images: int = 0
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # version -> AP table

    def ap(self, column: str = "ap11") -> pd.DataFrame:
        """Classes (and mAP) by version: one AP column."""
        return pd.DataFrame({v: t[column] for v, t in self.tables.items()})


def run_detection(
    params: Params,
    root: str | Path,
    device: torch.device,
    net: torch.nn.Module | None = None,
    progress: bool = True,
) -> DetectionResult:
    """Detect on every version of every image of the split and score it; skipped (with the
    reasons) when the data or the weights are missing. `net` replaces the detector (tests:
    the plumbing on tiny images, never a reported result)."""
    root, settings = Path(root), params.detection
    reasons = missing(params, root)
    if net is None and reasons:
        return DetectionResult(reasons)
    if net is None:
        net = load_detector(weights_for(DETECTOR, root), settings.min_size, device)
    voc = find_root(resolve_path(settings.voc_dir, root))
    ids = split_ids(voc, settings.split)
    ids = ids[: settings.max_images] if settings.max_images else ids
    truth = check_split(voc, ids)  # every annotation and image, before any is detected
    generators = {}
    for method, quality in versions(params):
        if method in (ORIGINAL, JPEG):
            continue
        path = resolve_path(models_dir(params, method), root) / f"q{quality}.pt"
        if not path.is_file():
            stage = get_method(method).stage_name
            raise FileNotFoundError(
                f"{path}: no {method} generator for QF {quality} (run `dvc "
                f"repro {stage}@{quality}`)"
            )
        generators[(method, quality)] = load_generator(path, device)
    labels = voc_labels()
    found = {version_name(*v): [] for v in versions(params)}
    for image_id in tqdm(ids, desc="detect", unit="image", disable=not progress):
        original = read_image(voc / "JPEGImages" / f"{image_id}.jpg").pixels
        compressed = {}
        for method, quality in versions(params):
            if method == ORIGINAL:
                image = original
            else:
                if quality not in compressed:
                    compressed[quality] = jpeg_compress(
                        original, quality, params.degradation.chroma_subsampling
                    ).pixels
                image = compressed[quality]
                if method != JPEG:
                    image = restore_array(generators[(method, quality)], image, device)
            found[version_name(method, quality)] += detect(net, image, image_id, labels, device)
    tables = {v: average_precision(d, truth, CLASSES) for v, d in found.items()}
    return DetectionResult([], len(ids), tables)


def published_gains() -> pd.Series:
    """The talk's AP gains of the GAN over JPEG at QF 20 on PASCAL VOC, per class."""
    found = parse_yaml(resources.files(__package__).joinpath("published.yaml").read_text())
    gains = dict(found["detection_ap_gain_qf20_pascal_voc"])
    gains.pop("source", None)
    return pd.Series(gains, dtype=float)


def gains_table(result: DetectionResult, params: Params, column: str = "ap11") -> pd.DataFrame:
    """AP (x100) per class: JPEG and each method at each QF, the method's gain over JPEG, and
    the talk's gain of the GAN at QF 20 beside it."""
    ap = result.ap(column) * 100
    table = pd.DataFrame({ORIGINAL: ap[ORIGINAL]})
    for quality in params.detection.qualities:
        jpeg = ap[version_name(JPEG, quality)]
        table[f"jpeg_q{quality}"] = jpeg
        for method in params.detection.methods:
            table[f"{method}_q{quality}"] = ap[version_name(method, quality)]
            table[f"{method}_q{quality}_gain"] = ap[version_name(method, quality)] - jpeg
    table["talk_gan_q20_gain"] = published_gains().reindex(table.index)
    return table


def write_detection(result: DetectionResult, params: Params, root: str | Path) -> dict[str, Path]:
    """The tables (both APs), the summary and the metrics; a skipped run says why in each."""
    root = Path(root)
    out = resolve_path(params.detection.out_dir, root)
    metrics_path = resolve_path(params.reports.metrics_dir, root) / "detection.json"
    if result.skipped:
        text = "# Detection: skipped\n\n" + "".join(f"- {r}\n" for r in result.skipped)
        return {
            "summary": write_text(out / "summary.md", text),
            "metrics": write_json(metrics_path, {"skipped": result.skipped}),
        }
    paths, parts = {}, []
    for column, name in (("ap11", "VOC 2007 11-point AP"), ("ap_all", "all-points AP")):
        table = gains_table(result, params, column)
        paths[column] = write_csv(out / f"{column}.csv", table, float_format="%.2f")
        parts.append(f"## {name} (x100)\n\n{table.round(1).to_markdown()}\n")
    text = (
        f"# Detection on {result.images} images ({params.detection.split})\n\nFaster R-CNN "
        "ResNet-50 FPN (COCO weights, torchvision), VOC classes; JPEG by Pillow at each QF. "
        "The talk's column: its GAN's gain at QF 20 (a VOC-trained detector).\n\n"
        + "\n".join(parts)
    )
    paths["summary"] = write_text(out / "summary.md", text)
    metrics = {
        v: {
            "map11": round(float(t.loc["mAP", "ap11"]), 4),
            "map_all": round(float(t.loc["mAP", "ap_all"]), 4),
        }
        for v, t in result.tables.items()
    }
    paths["metrics"] = write_json(metrics_path, {"images": result.images, "versions": metrics})
    return paths


def gains_figure(table: pd.DataFrame, params: Params):
    """AP gain over JPEG per class of each method at the first QF, the talk's GAN gains marked."""
    import matplotlib.pyplot as plt

    quality = params.detection.qualities[0]
    classes = [c for c in table.index if c != "mAP"]
    fig, ax = plt.subplots(figsize=(10, 3.4))
    width = 0.8 / len(params.detection.methods)
    x = np.arange(len(classes))
    for i, method in enumerate(params.detection.methods):
        gains = table.loc[classes, f"{method}_q{quality}_gain"]
        ax.bar(
            x + (i - (len(params.detection.methods) - 1) / 2) * width,
            gains,
            width,
            label=f"{method}, QF {quality}",
        )
    talk = table.loc[classes, "talk_gan_q20_gain"]
    ax.plot(x, talk, "k*", markersize=9, label="talk: GAN, QF 20")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xticks(x, classes, rotation=60, fontsize=8)
    ax.set_ylabel("AP gain over JPEG (points)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig
