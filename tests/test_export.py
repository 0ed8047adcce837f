"""ONNX export (`inference.export`) and restoring from it with ONNX Runtime, without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from artifact_removal.cli import main
from artifact_removal.data.images import read_png
from artifact_removal.inference.export import export_onnx

from .conftest import QUALITIES, REPO


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory):
    """The GAN generators and QF predictor of the `models` fixture, exported."""
    folder = tmp_path_factory.mktemp("export") / "gan"
    export_onnx("gan", folder, None, models / "gan", models / "qf" / "predictor.pt", False)
    return folder


@pytest.fixture
def photos(tmp_path, photo, gray_photo):
    """JPEGs at three QFs, a gray one, a PNG copy (no tables: the predictor decides), a crop off
    the block grid and one smaller than a patch."""
    folder = tmp_path / "in"
    folder.mkdir()
    for quality in (10, 25, 40):
        Image.fromarray(photo).save(folder / f"q{quality}.jpg", quality=quality)
    Image.fromarray(gray_photo).save(folder / "gray.jpg", quality=20)
    Image.open(folder / "q25.jpg").save(folder / "copy.png")
    Image.open(folder / "q10.jpg").crop((3, 5, 150, 120)).save(folder / "crop.png")
    Image.fromarray(photo[:20, :30]).save(folder / "tiny.jpg", quality=10)
    return folder


def test_the_manifest_names_every_file_and_how_close_it_came(exported, models):
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["method"] == "gan" and manifest["codec"] == "jpeg"
    assert sorted(map(int, manifest["generators"])) == list(QUALITIES)
    for quality, entry in manifest["generators"].items():
        assert (exported / entry["file"]).is_file() and entry["source"] == f"q{quality}.pt"
        assert entry["max_difference"] < 1e-3  # of 255 levels
        assert entry["release"]["loss"] == "random_vgg19_relu1_2"
    predictor = manifest["predictor"]
    assert predictor["labels"] == list(QUALITIES) and predictor["max_difference"] < 1e-4
    assert (exported / "grid.onnx").is_file() and manifest["ladder"] is None


def test_onnxruntime_restores_as_pytorch_does(exported, models, photos, tmp_path, capsys):
    common = ["--device", "cpu", "--tile", "64", "--overlap", "16", "--format", "png"]
    torch_out, onnx_out = tmp_path / "torch", tmp_path / "onnx"
    code = main(["restore", str(photos), "-o", str(torch_out), "--models", str(models / "gan"),
                 "--predictor", str(models / "qf/predictor.pt"), *common])  # fmt: skip
    assert code == 0
    by_torch = capsys.readouterr().out
    code = main(["restore", str(photos), "-o", str(onnx_out), "--backend", "onnxruntime",
                 "--models", str(exported), *common])  # fmt: skip
    assert code == 0
    by_onnx = capsys.readouterr().out
    assert "device onnxruntime CPUExecutionProvider" in by_onnx
    lines = [line.split("] ", 1)[-1] for line in by_torch.splitlines()[1:]]  # QFs and choices
    assert lines == [line.split("] ", 1)[-1] for line in by_onnx.splitlines()[1:]]
    assert len(list(torch_out.rglob("*.png"))) == 7
    for path in sorted(torch_out.rglob("*.png")):
        a, b = read_png(path).astype(int), read_png(onnx_out / path.name).astype(int)
        assert a.shape == b.shape and np.abs(a - b).max() <= 1, path.name  # within 1/255


def test_it_runs_where_torch_is_not_installed(exported, photos, tmp_path):
    """A child process in which `import torch` fails restores the folder from the export."""
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from artifact_removal.cli import main\n"
        f"code = main(['restore', {str(photos)!r}, '-o', {str(tmp_path / 'out')!r}, "
        f"'--backend', 'onnxruntime', '--models', {str(exported)!r}, '--device', 'cpu'])\n"
        "assert 'torch' not in sys.modules or sys.modules['torch'] is None\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "restored 7 of 7 inputs" in done.stdout
    assert len([p for p in (tmp_path / "out").iterdir() if p.suffix in (".png", ".jpg")]) == 7


def test_a_unet_exports_too(tmp_path):
    from artifact_removal.archs.unet import UNet, UNetConfig
    from artifact_removal.checkpoints import save_atomic
    from artifact_removal.inference.releases import generator_release

    torch.manual_seed(0)
    net = UNet(UNetConfig("mobilenet_v3_small", width=0.25))
    save_atomic(generator_release(net) | {"quality": 20, "method": "nogan"},
                tmp_path / "unet" / "q20.pt")  # fmt: skip
    manifest = export_onnx("nogan", tmp_path / "out", None, tmp_path / "unet", None, False)
    assert manifest["generators"]["20"]["max_difference"] < 1e-3
    assert manifest["predictor"] is None


def test_bad_export_folders_are_clear_errors(exported, photos, tmp_path, capsys):
    def restore(*options) -> str:
        assert main(["restore", str(photos / "q10.jpg"), "-o", str(tmp_path / "o"),
                     "--backend", "onnxruntime", *options]) == 2  # fmt: skip
        return capsys.readouterr().err

    assert "give it with --models DIR" in restore()
    assert "no manifest.json" in restore("--models", str(tmp_path))
    assert "not of ssim" in restore("--models", str(exported), "--method", "ssim")
    assert "need the torch backend" in restore("--models", str(exported), "--strength", "0.5")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text((exported / "manifest.json").read_text())
    assert "names files that are not there" in restore("--models", str(broken))
    assert not (tmp_path / "o").exists()


def test_the_export_command_says_what_it_wrote(models, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside a project: only what is given
    code = main(["export", "--method", "ssim", "--format", "onnx", "-o", str(tmp_path / "x"),
                 "--models", str(models / "ssim")])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0 and "/x/q10.onnx: ssim q10 from q10.pt, at most" in printed
    assert "no predictor exported" in printed
    assert str(REPO) not in json.dumps(json.loads((tmp_path / "x/manifest.json").read_text()))
