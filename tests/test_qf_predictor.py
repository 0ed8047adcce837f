"""The QF predictor: its DCT front end, the block grid, training, and its confusion matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from artifact_removal.config import apply_profile, load_params
from artifact_removal.data import prepare_data
from artifact_removal.degradations import jpeg_compress
from artifact_removal.images import write_png
from artifact_removal.models import build_generator, generator_args
from artifact_removal.qf_predictor import (
    ABOVE,
    QFNet,
    QFRun,
    QFSampler,
    accuracies,
    confusion_matrix,
    dct_basis,
    evaluate_qf,
    grid_offset,
    load_predictor,
    named,
    predict,
    train_qf,
    write_qf_reports,
)
from artifact_removal.training import TrainingError, load_checkpoint, save_atomic

from .test_training import TINY

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def qf_project(tmp_path_factory, photo, gray_photo) -> Path:
    """A prepared project of six small images at QF 10 and 40, with tiny train_qf params."""
    from .conftest import REPO

    project = tmp_path_factory.mktemp("qf")
    for name in ("params.yaml", "dvc.yaml"):
        (project / name).write_text((REPO / name).read_text())
    for i in range(5):
        write_png(np.roll(photo, 23 * i, axis=1)[:160, :192], project / f"data/raw/p{i}.png")
    write_png(gray_photo, project / "data/raw/g.png")
    text = (project / "params.yaml").read_text().replace("[5, 10, 20, 30, 40, 60]", "[10, 40]")
    (project / "params.yaml").write_text(text)
    (project / "tiny.yaml").write_text(
        TINY + "train_qf: {channels: 4, batch_size: 8, steps: 6, checkpoint_every: 2,"
        " predict_patches: 4}\n"
    )
    apply_profile(project / "tiny.yaml", project / "params.yaml")
    prepare_data(load_params(project / "params.yaml"), project)
    return project


def _run(project: Path, tag: str) -> QFRun:
    run = QFRun.from_params(load_params(project / "params.yaml"), project)
    run.checkpoint, run.release = project / f"ck/{tag}.pt", project / f"rel/{tag}.pt"
    return run


def test_dct_basis_is_orthonormal():
    basis = dct_basis().reshape(64, 64).double()
    assert torch.allclose(basis @ basis.T, torch.eye(64, dtype=torch.float64), atol=1e-6)


def test_a_flat_block_has_only_a_dc_coefficient():
    net = QFNet((10, 40), 4).eval()
    flat = torch.full((1, 3, 8, 8), 0.5)
    y = (flat * net.luma).sum(dim=1, keepdim=True) + 16 - 128
    coefficients = torch.nn.functional.conv2d(y, net.dct, stride=8).flatten()
    assert coefficients[1:].abs().max() < 1e-4 and coefficients[0].abs() > 1


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


def test_samples_are_labelled_and_a_function_of_the_step(qf_project):
    sampler = QFSampler(qf_project / "data/prepared", (10, 40), 64, seed=3)
    (a, la), (b, lb) = sampler.batch(7, 6), sampler.batch(7, 6)
    assert torch.equal(a, b) and torch.equal(la, lb) and a.shape == (6, 3, 64, 64)
    assert set(la.tolist()) <= {0, 1}


def test_the_class_above_is_sampled_from_higher_qfs_and_originals(qf_project):
    sampler = QFSampler(qf_project / "data/prepared", (10, 40), 64, seed=3, above_range=(75, 100))
    patches, labels = sampler.batch(1, 64)
    assert sampler.labels == (10, 40, ABOVE) and set(labels.tolist()) == {0, 1, 2}
    again, _ = sampler.batch(1, 64)
    assert torch.equal(patches, again)  # JPEG of a patch is deterministic too
    above = patches[labels == 2]
    assert above.shape[0] > 0 and above.min() >= 0 and above.max() <= 1


def test_training_is_deterministic_and_resumes(qf_project, monkeypatch):
    whole = _run(qf_project, "whole")
    train_qf(whole, CPU, progress=False)
    again = _run(qf_project, "again")
    train_qf(again, CPU, progress=False)
    first, second = (load_checkpoint(r.release)["model"] for r in (whole, again))
    assert all(torch.equal(first[k], second[k]) for k in first)

    original = QFSampler.batch

    def interrupt(self, step, *args, **kwargs):
        if step == 4:
            raise KeyboardInterrupt
        return original(self, step, *args, **kwargs)

    cut = _run(qf_project, "cut")
    monkeypatch.setattr(QFSampler, "batch", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_qf(cut, CPU, progress=False)
    assert load_checkpoint(cut.checkpoint)["step"] == 2
    monkeypatch.setattr(QFSampler, "batch", original)
    train_qf(cut, CPU, progress=False)
    resumed = load_checkpoint(cut.release)["model"]
    assert all(torch.equal(first[k], resumed[k]) for k in first)


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


def test_evaluation_writes_tables_metrics_and_figure(qf_project, tmp_path):
    run = _run(qf_project, "whole")
    train_qf(run, CPU, progress=False)
    net = load_predictor(run.release)
    tables = evaluate_qf(net, run.prepared_dir, ["test"], 4, progress=False)
    images = len(list((run.prepared_dir / "sets/test/gt").glob("*.png")))
    assert net.labels == (10, 40, ABOVE)  # params: train_qf.above_range
    assert tables["test"].to_numpy().sum() == 4 * images  # QF 10, 40; 90 and uncompressed
    assert list(tables["test"].sum(axis=0)) == [images, images, 2 * images]
    metrics = write_qf_reports(tables, [{"step": 6, "loss": 0.5}], tmp_path / "r", tmp_path / "f")
    assert (tmp_path / "r/confusion/test.csv").is_file() and (tmp_path / "r/metrics.json").is_file()
    assert (tmp_path / "f/train_qf_confusion.png").is_file()
    assert 0 <= metrics["test"]["mean_class_accuracy"] <= 1 and metrics["train"]["steps"] == 6


def test_a_generator_file_is_not_a_predictor(tmp_path):
    net = build_generator("tiny")
    save_atomic({"model": net.state_dict(), "model_args": generator_args(net)}, tmp_path / "g.pt")
    with pytest.raises(TrainingError, match="not a QF predictor"):
        load_predictor(tmp_path / "g.pt")


def test_a_trained_predictor_tells_pristine_images_from_compressed_ones(qf_project, photo):
    run = _run(qf_project, "longer")
    run.steps, run.batch_size, run.channels = 80, 16, 8
    train_qf(run, CPU, progress=False)
    net = load_predictor(run.release)
    assert predict(net, photo, 8).quality == ABOVE
    assert predict(net, jpeg_compress(photo, 95).pixels, 8).label == "above 40"
    assert predict(net, jpeg_compress(photo, 10).pixels, 8).quality == 10


def test_a_predictor_file_whose_weights_do_not_fit_is_a_clear_error(tmp_path):
    from artifact_removal.qf_predictor import save_predictor

    save_predictor(QFNet((10, 40), 4, above=True), tmp_path / "p.pt")
    saved = load_checkpoint(tmp_path / "p.pt")
    saved["above"] = False
    save_atomic(saved, tmp_path / "p.pt")
    with pytest.raises(TrainingError, match="do not fit"):
        load_predictor(tmp_path / "p.pt")
