"""Detection on restored images: VOC's AP on known answers, VOC folders, the stage's plumbing."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from artifact_removal.config import load_params
from artifact_removal.data.prepared import DataError
from artifact_removal.data.voc import CLASSES, check_split, find_root, read_annotation, split_ids
from artifact_removal.metrics.detection import (
    Box,
    Detection,
    ap_11_point,
    ap_all_points,
    average_precision,
    iou,
    precision_recall,
)
from artifact_removal.stages.detection import (
    detect,
    gains_table,
    missing,
    run_detection,
    voc_labels,
    write_detection,
)

CPU = torch.device("cpu")
DOG = (10.0, 10.0, 59.0, 59.0)  # 50 x 50 pixels, inclusive


def _det(image, score, box=DOG, label="dog"):
    return Detection(image, label, score, box)


def test_overlap_counts_inclusive_pixels():
    assert iou(np.array(DOG), np.array([DOG]))[0] == 1
    # shifted by 25 px: 25 x 50 shared of 2 x 2500 - 1250
    assert iou(np.array(DOG), np.array([(35, 10, 84, 59)]))[0] == pytest.approx(1250 / 3750)
    assert iou(np.array(DOG), np.array([(60, 60, 70, 70)]))[0] == 0


def test_average_precision_has_known_values():
    truth = {"a": [Box("dog", DOG)], "b": [Box("dog", DOG)]}
    # a hit, a false alarm, a hit: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    found = [_det("a", 0.9), _det("a", 0.8, (200, 200, 240, 240)), _det("b", 0.7)]
    precision, recall, positives = precision_recall(found, truth, "dog")
    assert positives == 2
    assert np.allclose(precision, [1, 0.5, 2 / 3]) and np.allclose(recall, [0.5, 0.5, 1])
    assert ap_all_points(precision, recall) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert ap_11_point(precision, recall) == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)
    perfect = average_precision([_det("a", 0.9), _det("b", 0.8)], truth, ["dog", "cat"])
    assert perfect.loc["dog", "ap11"] == 1 and perfect.loc["dog", "ap_all"] == 1
    assert np.isnan(perfect.loc["cat", "ap11"])  # no cat in the ground truth
    assert perfect.loc["mAP", "ap11"] == 1  # classes without positives are left out
    none = average_precision([], truth, ["dog"])
    assert none.loc["dog", "ap11"] == 0 and none.loc["dog", "ap_all"] == 0


def test_duplicates_are_false_alarms_and_difficult_objects_count_neither_way():
    truth = {"a": [Box("dog", DOG), Box("dog", (100, 100, 149, 149), difficult=True)]}
    found = [_det("a", 0.9), _det("a", 0.8), _det("a", 0.7, (100, 100, 149, 149))]
    precision, recall, positives = precision_recall(found, truth, "dog")
    assert positives == 1  # the difficult dog is not a positive
    assert np.allclose(precision, [1, 0.5]) and np.allclose(recall, [1, 1])  # its hit ignored
    # an overlap of exactly one half is not a hit (more than 0.5 is needed)
    half = (10, 10, 109, 59)  # twice the dog's width: IoU 2500 / 5000
    assert iou(np.array(DOG), np.array([half]))[0] == 0.5
    assert precision_recall([_det("a", 0.9, half)], truth, "dog")[0][0] == 0
    wrong_class = precision_recall([_det("a", 0.9, label="cat")], truth, "dog")
    assert len(wrong_class[0]) == 0


class _FakeDetector(torch.nn.Module):
    """Returns one box covering the whole image, as torchvision would (x2 = width)."""

    def forward(self, images):
        _, h, w = images[0].shape
        box = torch.tensor([[0.0, 0.0, float(w), float(h)]])
        return [{"boxes": box, "labels": torch.tensor([18]), "scores": torch.tensor([0.5])}]


def test_detections_are_turned_into_vocs_inclusive_pixels():
    image = np.zeros((30, 40, 3), np.uint8)
    found = detect(_FakeDetector(), image, "x", voc_labels(), CPU)
    assert found == [Detection("x", "dog", 0.5, (1.0, 1.0, 40.0, 30.0))]  # COCO 18 is dog
    truth = {"x": [Box("dog", (1, 1, 40, 30))]}  # the whole image, as VOC writes it
    assert iou(np.array(found[0].box), np.array([truth["x"][0].box]))[0] == 1


ANNOTATION = """<annotation><filename>{id}.jpg</filename>
<object><name>dog</name><difficult>0</difficult>
<bndbox><xmin>5</xmin><ymin>6</ymin><xmax>40</xmax><ymax>50</ymax></bndbox></object>
<object><name>cat</name><difficult>1</difficult>
<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>20</xmax><ymax>30</ymax></bndbox></object>
</annotation>"""


@pytest.fixture
def voc(tmp_path, photo):
    """A VOC folder as the archive unpacks (VOCdevkit/VOC2007), two images in split test."""
    from PIL import Image

    root = tmp_path / "voc" / "VOCdevkit" / "VOC2007"
    for name in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / name).mkdir(parents=True)
    for i, image_id in enumerate(("000001", "000002")):
        (root / "Annotations" / f"{image_id}.xml").write_text(ANNOTATION.format(id=image_id))
        crop = photo[i * 32 : i * 32 + 96, :128]
        Image.fromarray(crop).save(root / "JPEGImages" / f"{image_id}.jpg", quality=95)
    (root / "ImageSets/Main/test.txt").write_text("000001\n000002\n")
    return tmp_path / "voc"


def test_voc_folders_are_found_and_read(voc):
    root = find_root(voc)
    assert root == voc / "VOCdevkit" / "VOC2007"
    assert split_ids(root, "test") == ["000001", "000002"]
    boxes = read_annotation(root / "Annotations" / "000001.xml")
    assert boxes == [Box("dog", (5, 6, 40, 50)), Box("cat", (1, 2, 20, 30), difficult=True)]
    with pytest.raises(DataError, match=r"trainval\.txt: no such split list .*\['test'\]"):
        split_ids(root, "trainval")
    (root / "Annotations" / "bad.xml").write_text("<annotation><object><name>dragon</name>")
    with pytest.raises(DataError, match=r"bad\.xml: not a VOC annotation"):
        read_annotation(root / "Annotations" / "bad.xml")
    assert find_root(voc / "nowhere") is None
    assert set(voc_labels().values()) == set(CLASSES)  # all 20 VOC classes are COCO's too


def _params(project, voc_dir):
    """The project's params with the detection at QF 10 on `voc_dir`."""
    text = (project / "params.yaml").read_text()
    text = text.replace("voc_dir: data/voc", f"voc_dir: {voc_dir}")
    text = text.replace(
        "  qualities: [20]                   # QFs detected on",
        "  qualities: [10]                   # QFs detected on",
    )
    (project / "params.yaml").write_text(text)
    return load_params(project / "params.yaml")


def test_without_data_or_weights_the_stage_is_skipped_saying_why(project, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty cache
    params = load_params(project / "params.yaml")
    reasons = missing(params, project)
    assert len(reasons) == 2
    assert "no PASCAL VOC folder in data/voc (detection.voc_dir)" in reasons[0]
    assert "VOCtest_06-Nov-2007.tar" in reasons[0]
    assert "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth in torchvision's cache" in reasons[1]
    assert str(tmp_path) not in " ".join(reasons)  # outputs hold no machine's paths
    result = run_detection(params, project, CPU)
    assert result.skipped == reasons and not result.tables  # nothing run with random weights
    paths = write_detection(result, params, project)
    assert json.loads(paths["metrics"].read_text()) == {"skipped": reasons}
    assert "# Detection: skipped" in paths["summary"].read_text()


def test_the_detector_runs_on_every_version_and_is_scored(project, voc, models):
    """The plumbing, with a detector of random weights on tiny images (never a result)."""
    from torchvision.models.detection import fasterrcnn_resnet50_fpn

    for method in ("ssim", "gan"):  # the fixture's generators at QF 10
        shutil.copytree(models / method, project / "models" / method, dirs_exist_ok=True)
    params = _params(project, voc)
    torch.manual_seed(0)
    net = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, min_size=64,
                                  max_size=128, box_score_thresh=0.0).eval()  # fmt: skip
    result = run_detection(params, project, CPU, net=net, progress=False)
    assert result.images == 2 and not result.skipped
    assert list(result.tables) == ["original", "jpeg_q10", "ssim_q10", "gan_q10"]
    ap = result.ap("ap_all")
    assert list(ap.index) == [*CLASSES, "mAP"]
    assert ap.loc["dog"].between(0, 1).all() and ap.loc["cat"].isna().all()  # difficult only
    table = gains_table(result, params)
    assert (table["gan_q10_gain"] == table["gan_q10"] - table["jpeg_q10"]).loc[["dog"]].all()
    assert table.loc["dog", "talk_gan_q20_gain"] == 18.6
    paths = write_detection(result, params, project)
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["images"] == 2 and set(metrics["versions"]) == set(result.tables)
    assert "11-point" in paths["summary"].read_text()


def test_a_bad_voc_folder_is_refused_before_anything_is_detected(voc):
    """Issue 27, case 7: every problem of the split found first, each file named."""
    root = find_root(voc)
    assert set(check_split(root, ["000001", "000002"])) == {"000001", "000002"}
    good = (root / "Annotations" / "000001.xml").read_text()
    (root / "Annotations" / "000001.xml").write_text(
        good.replace("<xmax>40</xmax>", "<xmax>400</xmax>")
    )
    (root / "Annotations" / "000002.xml").write_text(
        good.replace("<xmin>5</xmin>", "<xmin>45</xmin>")
    )
    (root / "Annotations" / "000003.xml").write_text("<annotation><object>")
    (root / "Annotations" / "000004.xml").write_text(good)
    (root / "JPEGImages" / "000005.jpg").write_bytes(b"not a jpeg")
    (root / "Annotations" / "000005.xml").write_text(good)
    with pytest.raises(DataError) as caught:
        check_split(root, ["000001", "000002", "000003", "000004", "000005"])
    message = str(caught.value)
    assert "5 problem(s) in the VOC folder, found before detecting anything" in message
    assert "000001.xml: the box of 'dog' (5, 6, 400, 50) lies outside the 128x96 image" in message
    assert (
        "000002.xml: the box of 'dog' is inverted (xmin, ymin, xmax, ymax = 45, 6, 40, 50)"
        in message
    )
    assert "000003.xml: not a VOC annotation" in message
    assert "000004.jpg: no such image (listed in the split)" in message
    assert "000005.jpg: not a readable image" in message


def test_the_stage_checks_the_folder_before_loading_a_generator(project, voc):
    params = _params(project, voc)
    root = find_root(voc)
    (root / "Annotations" / "000002.xml").unlink()
    with pytest.raises(DataError, match=r"000002\.xml: not a VOC annotation"):
        run_detection(params, project, CPU, net=object(), progress=False)  # no model needed
