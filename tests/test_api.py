"""The Python API (`artifact_removal.api`) and the strength dial (`inference.strength`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from artifact_removal.api import (
    ImageOutput,
    QualityUnknown,
    RestoreError,
    load,
    restore_files,
)
from artifact_removal.cli import main
from artifact_removal.data.images import read_png

QUALITIES = (10, 20, 40)


@pytest.fixture
def trained(project):
    """A project whose GAN generators are its SSIM ones moved by a seeded step, as a
    fine-tuning moves them (models/ssim, models/gan, models/qf/predictor.pt)."""
    from artifact_removal.archs.generator import build_generator
    from artifact_removal.archs.qf_net import QFNet
    from artifact_removal.checkpoints import save_atomic
    from artifact_removal.inference.releases import generator_release, predictor_release

    for i, quality in enumerate(QUALITIES):
        torch.manual_seed(i)
        net = build_generator("tiny")
        release = generator_release(net) | {"quality": quality}
        save_atomic(release | {"method": "ssim"}, project / "models/ssim" / f"q{quality}.pt")
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.05 * torch.randn_like(p))
        release = generator_release(net) | {"quality": quality, "method": "gan"}
        save_atomic(release, project / "models/gan" / f"q{quality}.pt")
    torch.manual_seed(0)
    predictor = predictor_release(QFNet(QUALITIES, 4).eval()) | {"method": "qf_predictor"}
    save_atomic(predictor, project / "models/qf/predictor.pt")
    return project


def _restore_cli(project, inputs, out, *options) -> np.ndarray:
    code = main(["restore", str(inputs), "-o", str(out), "--device", "cpu", "--format", "png",
                 *options])  # fmt: skip
    assert code == 0
    return read_png(project / out / "a.png").astype(float)


def test_strength_runs_from_the_start_method_to_the_method(trained, photo, monkeypatch):
    monkeypatch.chdir(trained)
    Image.fromarray(photo).save(trained / "in.jpg", quality=20)
    (trained / "in").mkdir()
    (trained / "in.jpg").rename(trained / "in" / "a.jpg")
    ssim = _restore_cli(trained, "in", "o_ssim", "--method", "ssim")
    gan = _restore_cli(trained, "in", "o_gan", "--method", "gan")
    assert np.abs(gan - ssim).mean() > 1  # the two methods differ
    assert np.array_equal(_restore_cli(trained, "in", "o0", "--strength", "0"), ssim)
    assert np.array_equal(_restore_cli(trained, "in", "o1", "--strength", "1"), gan)
    half = _restore_cli(trained, "in", "o5", "--strength", "0.5")
    apart = np.abs(gan - ssim).mean()
    assert 0 < np.abs(half - ssim).mean() < apart and 0 < np.abs(half - gan).mean() < apart


def test_strength_is_refused_where_it_means_nothing(trained, photo, monkeypatch, capsys):
    monkeypatch.chdir(trained)
    Image.fromarray(photo).save(trained / "a.jpg", quality=20)
    assert main(["restore", "a.jpg", "-o", "o", "--strength", "1.5"]) == 2
    assert "strength must be from 0" in capsys.readouterr().err
    assert main(["restore", "a.jpg", "-o", "o", "--method", "ssim", "--strength", "0.5"]) == 2
    assert "ssim is trained from scratch" in capsys.readouterr().err
    assert main(["restore", "a.jpg", "-o", "o", "--strength", "0.5", "--models", "models/gan"]) == 2
    assert "--models names one folder" in capsys.readouterr().err
    assert not (trained / "o").exists()


def test_the_api_restores_arrays_and_pil_images_as_restore_does(trained, photo, gray_photo):
    models = load("gan", project=trained, device="cpu")
    assert models.method == "gan" and models.qualities == QUALITIES
    assert models.describe().startswith("gan: GAN")
    Image.fromarray(photo).save(trained / "a.jpg", quality=20)
    report = restore_files(
        [trained / "a.jpg"],
        trained / "out",
        models_dir=trained / "models/gan",
        predictor=trained / "models/qf/predictor.pt",
        device="cpu",
        progress=False,
        image=ImageOutput("png"),  # lossless: the very pixels the API gives
    )
    written = read_png(trained / "out/a.png")
    with Image.open(trained / "a.jpg") as jpeg:  # a JPEG's tables tell its QF
        restored, choice = models.restore_with_choice(jpeg)
        assert isinstance(restored, Image.Image) and restored.size == jpeg.size
    assert choice.tables.quality == 20 and choice.generators == {20: 1.0}
    assert np.array_equal(np.asarray(restored), written)
    assert report.results[0].choice.generators == choice.generators
    decoded = np.asarray(Image.open(trained / "a.jpg"))
    assert np.array_equal(models.restore(decoded, quality=20), written)  # an array: no tables
    assert models.choose(decoded).tables is None
    assert models.restore(gray_photo, quality=10).shape == gray_photo.shape
    half = load("gan", project=trained, device="cpu", strength=0.5)
    assert not np.array_equal(half.restore(decoded, quality=20), written)
    assert load("gan", project=trained, device="cpu", strength=0).method == "ssim"


def test_the_api_raises_what_the_command_line_says(trained, photo, tmp_path):
    models = load("gan", project=trained, device="cpu")
    with pytest.raises(ValueError, match="uint8"):
        models.restore(photo.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        models.restore(np.zeros((32, 32, 4), np.uint8))
    with pytest.raises(RestoreError, match="quality must be"):
        models.restore(photo, quality=0)
    with pytest.raises(RestoreError, match="whole number"):
        models.restore(photo, quality=True)
    assert models.restore(photo, quality=np.int64(20)).shape == photo.shape
    with pytest.raises(RestoreError, match="strength must be"):
        load("gan", project=trained, strength=2)
    bare = load("gan", models=trained / "models/gan", predictor=tmp_path / "none.pt")
    with pytest.raises(QualityUnknown, match="--quality"):
        bare.restore(photo)
    with pytest.raises(RestoreError, match="no ssim generators"):
        load("ssim", models=tmp_path)
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    report = restore_files(
        [tmp_path / "bad.jpg"],
        tmp_path / "o",
        models_dir=trained / "models/gan",
        quality=20,
        device="cpu",
        progress=False,
    )
    assert "not an image" in report.failed[0].error


def test_interpolated_weights_lie_on_the_line_between_the_two_networks():
    from artifact_removal.archs.generator import build_generator
    from artifact_removal.inference.strength import interpolate

    torch.manual_seed(0)
    start, end = build_generator("tiny").eval(), build_generator("tiny").eval()
    end.release = {"method": "gan"}
    mixed = interpolate(start, end, 0.25)
    for key, value in mixed.state_dict().items():
        a, b = start.state_dict()[key], end.state_dict()[key]
        expected = 0.75 * a + 0.25 * b if b.is_floating_point() else b
        assert torch.allclose(value, expected, atol=1e-6), key
    assert mixed.release == {"method": "gan", "strength": 0.25}
    with pytest.raises(ValueError, match="differs between the two networks"):
        interpolate(build_generator("very_fast").eval(), end, 0.5)
