"""The QF predictor: its DCT front end, the block grid, training, and its confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artifact_removal.archs.generator import build_generator
from artifact_removal.archs.qf_labels import ABOVE, class_cells, nearest_class
from artifact_removal.archs.qf_net import QFNet, dct_basis
from artifact_removal.checkpoints import CheckpointError, load_checkpoint, save_atomic
from artifact_removal.cli import main
from artifact_removal.data.samplers import QFSampler
from artifact_removal.degradations.jpeg import jpeg_compress
from artifact_removal.degradations.jpeg_quality import ijg_tables
from artifact_removal.inference.qf import (
    QFPrediction,
    gentle_answer,
    grid_offset,
    predict,
    predict_set,
)
from artifact_removal.inference.releases import generator_release, load_predictor
from artifact_removal.metrics.classification import (
    accuracies,
    confusion_matrix,
    expected_calibration_error,
    fit_temperature,
    named,
    reliability,
    tempered,
)
from artifact_removal.stages.qf_report import qf_tables, write_confusion
from artifact_removal.training.engine import train

from .conftest import run_of, same_weights

CPU = torch.device("cpu")


def test_dct_basis_is_orthonormal():
    basis = dct_basis().reshape(64, 64).double()
    assert torch.allclose(basis @ basis.T, torch.eye(64, dtype=torch.float64), atol=1e-6)


def test_a_flat_block_has_only_a_dc_coefficient():
    net = QFNet((10, 40), 4).eval()
    features = net.dct_features(torch.full((1, 3, 8, 8), 0.5))  # (1, 64 x 3, 1, 1)
    magnitudes = torch.expm1(features[0, :64, 0, 0])
    assert magnitudes[1:].max() < 1e-4
    assert magnitudes[0] == pytest.approx(8 * abs(0.5 * 255 - 128), abs=1e-3)  # JFIF, not 16..235


@pytest.mark.parametrize("quality", [10, 30, 50, 80])
def test_the_dct_sees_the_coefficients_libjpeg_quantised(gray_photo, quality):
    """On a gray JPEG (no chroma to round), the DCT coefficients of the decoded luma sit on the
    lattice of their quantization steps, so the lattice feature of the true QF is near 1 where a
    coefficient was kept (about 0.97 here). Studio-range luma (16..235, as PSNR tables use)
    scales them by 219/255 and puts them off it: about 0.2 there."""
    decoded = jpeg_compress(gray_photo, quality).pixels  # (H, W) uint8
    net = QFNet((quality,), 4).eval()
    rgb = torch.from_numpy(np.repeat(decoded[:, :, None], 3, axis=2)).permute(2, 0, 1)[None]
    features = net.dct_features(rgb.float() / 255)[0]  # (128, H/8, W/8)
    magnitude = torch.expm1(features[:64]).reshape(64, -1)  # per frequency, every block
    lattice = features[64:].reshape(64, -1)
    steps = torch.tensor(ijg_tables(quality)[0].ravel()).float()[:, None].expand_as(magnitude)
    kept = (magnitude > steps / 2) & (steps >= 8)  # quantised to a non-zero multiple
    assert kept.sum() > 1000 and lattice[kept].mean() > 0.9


def test_one_logit_per_class_for_any_patch_on_the_grid():
    net = QFNet((5, 10, 20), 4).eval()
    for side in (8, 64, 96):
        assert net(torch.rand(2, 3, side, side)).shape == (2, 3)
    above = QFNet((5, 10, 20), 4, above=True).eval()
    assert above.labels == (5, 10, 20, ABOVE) and above(torch.rand(2, 3, 64, 64)).shape == (2, 4)


@pytest.mark.parametrize("quality", [5, 20, 60, 90])
def test_the_block_grid_of_a_crop_is_found(photo, quality):
    decoded = jpeg_compress(photo, quality).pixels
    assert grid_offset(decoded) == (0, 0)
    for dy, dx in ((3, 5), (7, 1), (0, 4), (1, 0)):
        assert grid_offset(decoded[dy:, dx:]) == ((8 - dy) % 8, (8 - dx) % 8)


def test_small_and_gray_images_get_an_answer(gray_photo):
    net = QFNet((10, 40), 4).eval()
    for image in (gray_photo, np.zeros((5, 7, 3), np.uint8)):
        answer = predict(net, image)
        assert answer.quality in (10, 40)
        assert abs(sum(answer.probabilities.values()) - 1) < 1e-5


def test_samples_are_labelled_and_a_function_of_the_step(prepared_project):
    sampler = QFSampler(prepared_project / "data/prepared", (10, 40), 64, seed=3)
    (a, la), (b, lb) = sampler.batch(7, 6), sampler.batch(7, 6)
    assert torch.equal(a, b) and torch.equal(la, lb) and a.shape == (6, 3, 64, 64)
    assert set(la.tolist()) <= {0, 1}
    halves = [sampler.batch(7, 6, rank, 2) for rank in (0, 1)]
    assert torch.equal(torch.cat([h[0] for h in halves]), a)


def test_the_class_above_is_sampled_from_higher_qfs_and_originals(prepared_project):
    folder = prepared_project / "data/prepared"
    sampler = QFSampler(folder, (10, 40), 64, seed=3, above_range=(75, 100))
    patches, labels = sampler.batch(1, 64)
    assert set(labels.tolist()) == {0, 1, 2}
    again, _ = sampler.batch(1, 64)
    assert torch.equal(patches, again)  # JPEG of a patch is deterministic too


def test_between_classes_patches_are_compressed_at_the_qfs_of_their_class(prepared_project,
                                                                        monkeypatch):  # fmt: skip
    import artifact_removal.data.samplers as samplers

    used = []
    compress = samplers.jpeg_compress
    monkeypatch.setattr(samplers, "jpeg_compress",
                        lambda pixels, q: used.append(q) or compress(pixels, q))  # fmt: skip
    sampler = QFSampler(prepared_project / "data/prepared", (10, 12, 40), 64, seed=3,
                        above_range=(75, 100), between=True)  # fmt: skip
    _, labels = sampler.batch(2, 64)
    cells = class_cells((10, 12, 40), 75)
    assert cells[10] == tuple(range(1, 11)) and cells[12] == tuple(range(11, 26))
    assert cells[40] == tuple(range(26, 75))  # 26: a tie between 12 and 40, the gentler
    classes = [(10, 12, 40)[label] for label in labels.tolist() if label < 3]
    below = [q for q in used if q < 75]  # the class "above" is compressed at 75..100
    assert len(below) == len(classes)
    assert all(q in cells[c] for q, c in zip(below, classes, strict=True))
    assert len(set(used)) > 10  # the QFs between the classes, not only theirs


def test_nearest_class_and_the_gentle_answer():
    assert nearest_class(9, (8, 10, 12)) == 10 and nearest_class(11, (8, 10, 12)) == 12
    assert gentle_answer({10: 0.85, 12: 0.15}) == 10  # sure: its most probable label
    assert gentle_answer({10: 0.5, 30: 0.5}) == 30  # unsure between two: the gentler one
    assert gentle_answer({10: 0.7, 20: 0.15, 30: 0.05, ABOVE: 0.1}) == 20
    answer = QFPrediction(10, {8: 0.2, 10: 0.5, 12: 0.2, 30: 0.1})
    assert answer.confidence == pytest.approx(0.9)  # its class or a neighbouring one


def test_temperature_scaling_softens_an_overconfident_classifier():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 3, 400)
    guess = np.where(rng.random(400) < 0.7, targets, (targets + 1) % 3)  # right 70% of the time
    probabilities = np.full((400, 3), 0.005)
    probabilities[np.arange(400), guess] = 0.99  # yet 99% sure
    temperature = fit_temperature(probabilities, targets)
    assert temperature > 2
    calibrated = tempered(probabilities, temperature)
    table = reliability(calibrated.max(axis=1), guess == targets)
    assert expected_calibration_error(table) < 0.05
    assert (
        expected_calibration_error(reliability(probabilities.max(axis=1), guess == targets)) > 0.25
    )


def test_reliability_bins_known_answer():
    table = reliability(np.array([0.95, 0.95, 0.55, 0.55]), np.array([True, False, True, True]))
    assert table.loc[9, "count"] == 2 and table.loc[9, "accuracy"] == 0.5
    assert expected_calibration_error(table) == pytest.approx((2 * 0.45 + 2 * 0.45) / 4)


def test_training_is_deterministic_and_resumes(small_project, monkeypatch):
    whole = train(run_of(small_project, "qf", tag="whole"), CPU, progress=False)
    again = train(run_of(small_project, "qf", tag="again"), CPU, progress=False)
    assert same_weights(whole.release, again.release)
    assert [e["step"] for e in whole.history] == [3, 6]
    assert {"loss", "patch_accuracy", "lr", "val_accuracy"} <= set(whole.history[-1])

    original = QFSampler.batch

    def interrupt(self, step, *args, **kwargs):
        if step == 4:
            raise KeyboardInterrupt
        return original(self, step, *args, **kwargs)

    monkeypatch.setattr(QFSampler, "batch", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(run_of(small_project, "qf", tag="cut"), CPU, progress=False)
    assert load_checkpoint(small_project / "ck/cut.pt")["step"] == 2
    monkeypatch.setattr(QFSampler, "batch", original)
    resumed = train(run_of(small_project, "qf", tag="cut"), CPU, progress=False)
    assert resumed.resumed_from == 2 and same_weights(whole.release, resumed.release)


def test_confusion_matrix_rows_are_predicted_columns_target():
    table = confusion_matrix([10, 10, 40, 10], [10, 40, 40, 10], (10, 40))
    assert table.loc[10, 40] == 1 and table.loc[10, 10] == 2 and table.loc[40, 40] == 1
    scores = accuracies(table)
    assert scores["accuracy"] == 0.75 and scores["mean_class_accuracy"] == 0.75
    assert scores["class_40"] == 0.5


def test_the_class_above_is_scored_apart_from_the_ensembles_qfs():
    table = confusion_matrix([10, 40, 40, ABOVE], [10, 40, ABOVE, ABOVE], (10, 40, ABOVE))
    scores = accuracies(table)
    assert scores["mean_class_accuracy"] == 1.0 and scores["class_above"] == 0.5
    assert scores["accuracy"] == 0.75
    assert list(named(table).columns) == ["10", "40", "above 40"]


@pytest.fixture(scope="module")
def trained(prepared_project, tmp_path_factory):
    """A predictor trained for 80 steps of 16 patches: enough to know QF 10, 40 and above."""
    import shutil

    project = tmp_path_factory.mktemp("qf") / "project"
    shutil.copytree(prepared_project, project)
    run = run_of(project, "qf", steps=80, batch_size=16, channels=8, val_every=80,
                 classes=(10, 40))  # fmt: skip
    return train(run, CPU, progress=False)


def test_a_trained_predictor_tells_pristine_images_from_compressed_ones(trained, photo):
    net = load_predictor(trained.release)
    assert predict(net, photo, 8).quality == ABOVE
    assert predict(net, jpeg_compress(photo, 95).pixels, 8).label == "above 40"
    assert predict(net, jpeg_compress(photo, 10).pixels, 8).quality == 10
    assert trained.history[-1]["val_accuracy"] == 1.0  # every validation image, as below


def test_the_confidence_is_calibrated_at_the_end_and_released(trained):
    last = trained.history[-1]
    net = load_predictor(trained.release)
    assert net.temperature == last["val_temperature"] and 0.25 <= net.temperature <= 64
    assert last["val_ece"] <= last["val_ece_before"] + 1e-6  # never worse, to float noise
    assert load_checkpoint(trained.checkpoint)["recipe"]["temperature"] == net.temperature


def test_confusion_tables_count_every_image_and_write_their_files(trained, tmp_path):
    net = load_predictor(trained.release)
    folder = trained.run.prepared_dir / "sets" / "val"
    images = len(list((folder / "gt").glob("*.png")))
    predicted, target = predict_set(net, folder, 4, progress=False)
    assert sorted(set(target)) == [10, 40, ABOVE] and len(target) == 4 * images
    assert predicted == target  # known answer: this predictor gets them all (see above)
    tables = qf_tables(net, {"val": folder}, 4, progress=False)
    # QF 25 too (between the classes: a tie, the gentler 40); above: QF 90 and uncompressed
    assert list(tables["val"].sum(axis=0)) == [images, 2 * images, 2 * images]
    metrics = write_confusion(tables, tmp_path / "qf", tmp_path / "f.png")
    assert metrics["val"]["images"] == 5 * images
    # a spread of the set's images (what evaluate.sampled_images asks): fewer answers, each kept
    sampled = qf_tables(net, {"val": folder}, 4, progress=False, images=1)["val"]
    assert sampled.to_numpy().sum() == 5 and (sampled.to_numpy() <= tables["val"].to_numpy()).all()
    assert (tmp_path / "qf/val.csv").read_text().startswith("predicted,10,40,above 40")
    assert (tmp_path / "f.png").stat().st_size > 0


def test_a_generator_file_is_not_a_predictor(tmp_path):
    save_atomic(generator_release(build_generator("tiny")), tmp_path / "g.pt")
    with pytest.raises(CheckpointError, match="not a QF predictor"):
        load_predictor(tmp_path / "g.pt")


def test_a_predictor_file_whose_weights_do_not_fit_is_a_clear_error(trained, tmp_path):
    saved = load_checkpoint(trained.release)
    saved["model_args"]["above"] = False
    save_atomic(saved, tmp_path / "p.pt")
    with pytest.raises(CheckpointError, match="another architecture"):
        load_predictor(tmp_path / "p.pt")


def test_only_rank_0_writes_the_reports(small_project, monkeypatch, capsys):
    monkeypatch.setenv("RANK", "1")
    assert (
        main(["train-qf", "--params", str(small_project / "params.yaml"), "--device", "cpu"]) == 0
    )
    assert "QF predictor:" not in capsys.readouterr().out
    assert not (small_project / "reports/figures/train_qf_confusion.png").exists()
    monkeypatch.setenv("RANK", "0")
    assert (
        main(["train-qf", "--params", str(small_project / "params.yaml"), "--device", "cpu"]) == 0
    )
    assert "QF predictor:" in capsys.readouterr().out
    assert (small_project / "reports/figures/train_qf_confusion.png").is_file()
