"""`artifact-removal restore`: the user's files, good and bad, end to end on the CPU."""

from __future__ import annotations

import hashlib
import io
import json
from importlib.resources import files

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from artifact_removal.archs.qf_labels import ABOVE
from artifact_removal.cli import main
from artifact_removal.data.images import read_png
from artifact_removal.inference.choice import (
    INPUT,
    QualityChoice,
    RestoreError,
    ensemble_weights,
)
from artifact_removal.inference.qf import QFPrediction, gentle_answer
from artifact_removal.inference.setups import find_generators
from artifact_removal.restore.options import ImageOutput
from artifact_removal.restore.run import restore_files

QUALITIES = (10, 20, 40)


@pytest.fixture
def inputs(tmp_path, photo, gray_photo):
    """A folder of good files (JPEGs at mixed QFs, gray, CMYK, EXIF-rotated, ICC-tagged,
    RGBA, 16-bit, smaller than a patch) and bad ones (truncated, not an image)."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(photo).save(folder / "q10.jpg", quality=10)
    Image.fromarray(photo).save(folder / "sub" / "q25.jpg", quality=25)
    Image.fromarray(gray_photo).save(folder / "gray.jpg", quality=20)
    Image.fromarray(photo).convert("CMYK").save(folder / "cmyk.jpg", quality=40)
    exif = Image.Exif()
    exif[0x0112], exif[0x010F], exif[0x0132] = 6, "TestCam", "2026:11:26 08:00:00"
    Image.fromarray(photo).save(folder / "rotated.jpg", quality=20, exif=exif)
    with Image.open(files("skimage") / "data" / "rocket.jpg") as rocket:  # Adobe RGB (1998)
        small = rocket.crop((0, 0, 200, 160))
        small.save(folder / "adobe.jpg", quality=40, icc_profile=rocket.info["icc_profile"])
    rgba = np.dstack([photo, np.full(photo.shape[:2], 128, np.uint8)])
    Image.fromarray(rgba).save(folder / "rgba.png")
    cv2.imwrite(str(folder / "deep.png"), photo[:, :, ::-1].astype(np.uint16) * 257)
    Image.fromarray(photo[:5, :7]).save(folder / "tiny.jpg", quality=10)
    (folder / "truncated.jpg").write_bytes((folder / "q10.jpg").read_bytes()[:300])
    (folder / "notes.png").write_text("not an image")
    return folder


def test_a_folder_of_good_and_bad_files(models, inputs, tmp_path, photo, capsys):
    out = tmp_path / "out"
    code = main(["restore", str(inputs), "-o", str(out), "--models", str(models / "gan"),
                 "--predictor", str(models / "qf" / "predictor.pt"), "--device", "cpu",
                 "--tile", "128", "--overlap", "32"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 1
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["adobe.jpg", "cmyk.jpg", "deep.png", "gray.jpg", "q10.jpg",
                       "rgba.png", "rotated.jpg", "sub/q25.jpg", "tiny.jpg"]  # fmt: skip
    # each in its input's format (`--format auto`): JPEGs as JPEGs, the rest as PNGs
    assert "tables 10, CNN" in printed and "-> generator q10" in printed
    assert "tables 25, CNN" in printed and "-> generator q20\n" in printed  # GAN: the nearest
    assert "2 not restored:" in printed and "truncated.jpg: corrupt or truncated" in printed
    assert "notes.png: not an image" in printed and "restored 9 of 11 inputs (2 failed)" in printed
    assert _pixels(out / "q10.jpg").shape == photo.shape
    assert _pixels(out / "gray.jpg").ndim == 2
    assert _pixels(out / "rotated.jpg").shape == (photo.shape[1], photo.shape[0], 3)
    with Image.open(out / "rotated.jpg") as rotated:  # EXIF kept, its orientation applied
        assert dict(rotated.getexif()) == {0x010F: "TestCam", 0x0132: "2026:11:26 08:00:00"}
    first, second = printed.splitlines()[:2]  # what restores and how, before the first image
    assert first.startswith("restoring with gan: GAN") and "q10 q20 q40" in first
    assert second.startswith("writing each image in its own format: JPEG as JPEG (4:4:4, "
                             "quality 95)")  # fmt: skip
    assert "perceptual loss random_vgg19_relu1_2" in first and "device cpu" in first
    assert _pixels(out / "tiny.jpg").shape == (5, 7, 3)
    with Image.open(out / "adobe.jpg") as restored:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(restored.info["icc_profile"]))
    assert "sRGB" in ImageCms.getProfileDescription(profile)
    assert not list(out.rglob(".*.part"))


def _pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def test_without_tables_the_predictor_decides_or_the_user(models, tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "a.jpg", quality=20)
    Image.open(tmp_path / "a.jpg").save(tmp_path / "a.png")
    common = {"models_dir": models / "gan", "device": "cpu", "progress": False}
    report = restore_files([tmp_path / "a.png"], tmp_path / "o1",
                           predictor=models / "qf" / "predictor.pt", **common)  # fmt: skip
    choice = report.results[0].choice
    assert choice.tables is None and choice.cnn is not None and choice.used in QUALITIES
    report = restore_files([tmp_path / "a.png"], tmp_path / "o2",
                           predictor=tmp_path / "none.pt", **common)  # fmt: skip
    assert "no QF predictor" in report.failed[0].error and "--quality" in report.failed[0].error
    report = restore_files([tmp_path / "a.png"], tmp_path / "o3", quality=30,
                           predictor=tmp_path / "none.pt", **common)  # fmt: skip
    assert not report.failed and report.results[0].choice.generators == {20: 1.0}  # a tie: lower
    report = restore_files([tmp_path / "a.png"], tmp_path / "o4", quality=30, method="ssim",
                           models_dir=models / "ssim", device="cpu", progress=False)  # fmt: skip
    assert report.results[0].choice.generators == {20: 0.5, 40: 0.5}  # SSIM: the blend


def test_an_unsure_predictor_is_named_with_its_alternatives():
    probabilities = {10: 0.45, 20: 0.05, 40: 0.4, ABOVE: 0.1}
    cnn = QFPrediction(gentle_answer(probabilities), probabilities)
    assert cnn.quality == 40 and cnn.confidence == pytest.approx(0.55)  # 40 or a neighbour
    unsure = QualityChoice(None, cnn, None, 40.0, {40: 1.0})
    assert unsure.unsure == (
        "the QF predictor is unsure (10 45%, 40 40%, above 40 10%); restored as QF 40, the "
        "gentlest of its likely answers: if you know the quality, give it with --quality N"
    )
    sure = QFPrediction(10, {10: 0.9, 20: 0.1})
    assert QualityChoice(None, sure, None, 10, {10: 1}).unsure is None
    assert QualityChoice(12, cnn, None, 12.0, {10: 1.0}).unsure is None  # the tables decided
    assert QualityChoice(None, cnn, 30, 30.0, {20: 1.0}).unsure is None  # the user did


def test_16_bit_output_keeps_exif(models, tmp_path, photo):
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    Image.fromarray(photo).save(tmp_path / "a.jpg", quality=10, exif=exif)
    restore_files([tmp_path / "a.jpg"], tmp_path / "o16", bits=16, models_dir=models / "gan",
                  device="cpu", progress=False)  # fmt: skip
    with Image.open(tmp_path / "o16" / "a.png") as deep:
        assert dict(deep.getexif()) == {0x010F: "TestCam"}
    assert cv2.imread(str(tmp_path / "o16" / "a.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_16_bit_output_matches_the_8_bit_one(models, tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "a.jpg", quality=10)
    common = {"models_dir": models / "gan", "device": "cpu", "progress": False,
              "image": ImageOutput("png")}  # fmt: skip
    restore_files([tmp_path / "a.jpg"], tmp_path / "o8", **common)
    restore_files([tmp_path / "a.jpg"], tmp_path / "o16", bits=16, **common)
    eight = read_png(tmp_path / "o8" / "a.png").astype(float)
    deep = cv2.imread(str(tmp_path / "o16" / "a.png"), cv2.IMREAD_UNCHANGED)
    assert deep.dtype == np.uint16
    assert np.abs(deep[:, :, ::-1] / 257 - eight).max() <= 0.5 + 1e-6


def test_tiled_output_equals_whole_image_output(models, tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "a.jpg", quality=10)
    common = {"models_dir": models / "gan", "device": "cpu", "progress": False,
              "image": ImageOutput("png")}  # fmt: skip
    restore_files([tmp_path / "a.jpg"], tmp_path / "whole", tile=512, **common)
    restore_files([tmp_path / "a.jpg"], tmp_path / "tiled", tile=64, overlap=32, **common)
    whole, tiled = (read_png(tmp_path / d / "a.png").astype(int) for d in ("whole", "tiled"))
    assert np.abs(whole - tiled).max() <= 1


def test_no_generators_say_how_to_get_them(tmp_path, capsys):
    with pytest.raises(RestoreError, match=r"make repro.*--models"):
        find_generators("gan", tmp_path, None)
    with pytest.raises(RestoreError, match=r"not inside a project.*--models"):
        find_generators("gan", None, None)
    (tmp_path / "x.jpg").write_bytes(b"")
    assert main(["restore", str(tmp_path / "x.jpg"), "-o", str(tmp_path / "o"),
                 "--models", str(tmp_path)]) == 2  # fmt: skip
    assert "no gan generators" in capsys.readouterr().err


def test_bad_options_are_refused(models, tmp_path):
    for options, message in (({"quality": "high"}, "quality must be"),
                             ({"quality": 0}, "quality must be"),
                             ({"bits": 12}, "bits must be"),
                             ({"tile": 100}, "multiples of 8"),
                             ({"method": "dncnn"}, "unknown method")):  # fmt: skip
        with pytest.raises(RestoreError, match=message):
            restore_files([tmp_path], tmp_path / "o", models_dir=models / "gan", **options)


def test_an_output_that_is_a_file_is_a_clear_error(models, tmp_path, photo, capsys):
    Image.fromarray(photo).save(tmp_path / "a.jpg", quality=10)
    (tmp_path / "out.png").write_bytes(b"mine")
    code = main(["restore", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out.png"),
                 "--models", str(models / "gan"), "--device", "cpu"])  # fmt: skip
    assert code == 2 and (tmp_path / "out.png").read_bytes() == b"mine"
    said = capsys.readouterr().err
    assert "out.png is a file; the output (-o) is a folder for the outputs" in said


def test_outside_a_project_restore_asks_for_the_models(tmp_path, monkeypatch, capsys):
    """Not the models of whatever repository the package was installed from: an error."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.jpg").write_bytes(b"")
    assert main(["restore", "a.jpg", "-o", "out"]) == 2
    assert "is not inside a project" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_ensemble_weights():
    assert ensemble_weights(20, QUALITIES) == {20: 1.0}
    assert ensemble_weights(15, QUALITIES) == {10: 0.5, 20: 0.5}
    assert ensemble_weights(25, QUALITIES) == {20: 0.75, 40: 0.25}
    assert ensemble_weights(5, QUALITIES) == {10: 1.0}
    assert ensemble_weights(90, QUALITIES) == {40: 1.0}


def test_gan_ensembles_take_the_nearest_generator_never_a_blend():
    assert ensemble_weights(25, QUALITIES, "nearest") == {20: 1.0}
    assert ensemble_weights(35, QUALITIES, "nearest") == {40: 1.0}
    assert ensemble_weights(15, QUALITIES, "nearest") == {10: 1.0}  # a tie: the lower QF
    assert ensemble_weights(40, QUALITIES, "nearest") == {40: 1.0}
    from artifact_removal.methods import METHODS

    assert METHODS["gan"].combine == "nearest" and METHODS["ssim"].combine == "blend"


def test_an_image_above_the_ensemble_is_left_as_it_is():
    cnn = QFPrediction(ABOVE, {10: 0.1, 20: 0.1, 40: 0.1, ABOVE: 0.7})
    weights = ensemble_weights(cnn.quality, QUALITIES, "blend", pass_through=55)
    choice = QualityChoice(None, cnn, None, float(cnn.quality), weights)
    assert weights == {INPUT: 1.0} and choice.passed_through
    assert choice.describe() == "CNN above 40 (80%) -> input left as it is"


@pytest.mark.parametrize("kind", ["jpeg", "webp"])
def test_jpeg_and_webp_outputs_keep_exif_and_are_recognised_on_rerun(models, tmp_path, photo, kind):
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    Image.fromarray(photo).save(tmp_path / "a.jpg", quality=10, exif=exif)
    common = {"models_dir": models / "gan", "device": "cpu", "progress": False}
    out = tmp_path / "out"
    report = restore_files([tmp_path / "a.jpg"], out, image=ImageOutput(kind, 90), **common)
    target = out / ("a.jpg" if kind == "jpeg" else "a.webp")
    assert report.results[0].output == target and not report.failed
    with Image.open(target) as written:
        assert written.format == kind.upper() and written.size == photo.shape[1::-1]
        assert dict(written.getexif()) == {0x010F: "TestCam"}
        if kind == "jpeg":  # 4:4:4: no channel sampled at half resolution
            assert {h for _, h, _, _ in written.layer} == {1}
        pixels = np.asarray(written.convert("RGB")).astype(float)
    png = restore_files([tmp_path / "a.jpg"], tmp_path / "png", **common).results[0].output
    assert np.abs(pixels - read_png(png)).mean() < 3  # the same restoration, lossy-coded
    again = restore_files([tmp_path / "a.jpg"], out, image=ImageOutput(kind, 90), **common)
    assert again.results[0].status == "done"
    with pytest.raises(RestoreError, match="not what this run would write"):
        restore_files([tmp_path / "a.jpg"], out, image=ImageOutput(kind, 80), **common)
    with pytest.raises(RestoreError, match="needs --format png"):
        restore_files([tmp_path / "a.jpg"], tmp_path / "o16", image=ImageOutput(kind), bits=16,
                      **common)  # fmt: skip


def test_a_jpeg_left_as_it_is_is_copied_byte_for_byte(models, tmp_path, photo, capsys):
    """...the same bytes (an archive's checksums hold), its record in the folder's list of
    copies; a rerun skips it; the output folder given as input knows it for an earlier output;
    an edited copy is never replaced unasked; `--format png` asks for its pixels as a PNG."""
    Image.fromarray(photo).save(tmp_path / "cam.JPG", quality=92, comment=b"Created with GIMP")
    out = tmp_path / "out"
    args = ["restore", str(tmp_path / "cam.JPG"), "-o", str(out), "--models", str(models / "gan"),
            "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "copied without restoring" in printed and "its bytes unchanged" in printed
    original = (tmp_path / "cam.JPG").read_bytes()
    assert (out / "cam.JPG").read_bytes() == original  # its own name, suffix and bytes
    listing = json.loads((out / ".artifact-removal.json").read_text())
    entry = listing["copies"]["cam.JPG"]
    assert entry["sha256"] == hashlib.sha256(original).hexdigest()
    assert hashlib.sha256(original).hexdigest().startswith(entry["record"]["source"])
    assert (
        f"wrote {len(original) / 1e3:.1f} kB for {len(original) / 1e3:.1f} kB of inputs (1.0 "
        "times their size)" in printed
    )
    assert main(args) == 0 and "1 already done by an earlier run" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [".artifact-removal.json", "cam.JPG"]
    common = {"models_dir": models / "gan", "device": "cpu", "progress": False}
    again = restore_files([out], tmp_path / "o2", **common)  # the outputs as inputs
    assert [r.status for r in again.results] == ["earlier output"]
    jpeg = restore_files([tmp_path / "cam.JPG"], tmp_path / "o3", image=ImageOutput("jpeg"),
                         **common)  # fmt: skip
    assert jpeg.results[0].status == "copied" and (tmp_path / "o3/cam.JPG").read_bytes() == original
    png = restore_files([tmp_path / "cam.JPG"], tmp_path / "o4", image=ImageOutput("png"),
                        **common)  # fmt: skip
    assert png.results[0].status == "copied" and read_png(tmp_path / "o4/cam.png").shape == (
        photo.shape)  # fmt: skip
    (out / "cam.JPG").write_bytes(original[:-2] + b"\x00\xff\xd9")  # an edit, or damage
    with pytest.raises(RestoreError, match="already exist"):
        restore_files([tmp_path / "cam.JPG"], out, **common)
    with pytest.raises(SystemExit):
        main(["restore", str(tmp_path / "cam.JPG"), "-o", str(tmp_path / "o5"), "--format", "gif"])
    assert "invalid choice: 'gif'" in capsys.readouterr().err


def test_a_copy_a_stopped_run_did_not_list_is_taken_again(models, tmp_path, photo):
    """A run killed after a copy and before its list was written: the rerun finds the input's
    own bytes there and copies it again (nothing to lose), now listed."""
    Image.fromarray(photo).save(tmp_path / "cam.jpg", quality=92)
    common = {"models_dir": models / "gan", "device": "cpu", "progress": False}
    restore_files([tmp_path / "cam.jpg"], tmp_path / "out", **common)
    (tmp_path / "out" / ".artifact-removal.json").unlink()
    again = restore_files([tmp_path / "cam.jpg"], tmp_path / "out", **common)
    assert again.results[0].status == "copied"
    assert (tmp_path / "out" / ".artifact-removal.json").is_file()


def test_format_auto_keeps_each_inputs_format(models, tmp_path, photo):
    """The default: a JPEG comes back a JPEG (4:4:4, its record in a comment), a WebP a WebP,
    a PNG and a TIFF PNGs; `--bits 16` gives PNGs."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(photo).save(folder / "a.jpeg", quality=10)
    Image.fromarray(photo).save(folder / "b.webp", quality=10)
    Image.fromarray(photo).save(folder / "c.png")
    Image.fromarray(photo).save(folder / "d.tif")
    Image.fromarray(photo).save(folder / "e.png", format="JPEG", quality=10)  # a JPEG by content
    common = {"models_dir": models / "gan", "device": "cpu", "progress": False,
              "quality": 10, "restore_uncompressed": True}  # fmt: skip
    report = restore_files([folder], tmp_path / "out", **common)
    written = {r.source.name: r.output.name for r in report.results}
    assert written == {"a.jpeg": "a.jpeg", "b.webp": "b.webp", "c.png": "c.png",
                       "d.tif": "d.png", "e.png": "e.jpg"}  # fmt: skip
    formats = {}
    for name in written.values():
        with Image.open(tmp_path / "out" / name) as image:
            formats[name] = image.format
            if image.format == "JPEG":
                assert image.layers == 3 and image.info["comment"].startswith(b"artifact-removal")
                assert {s[1:3] for s in image.layer} == {(1, 1)}  # 4:4:4: no halved colour
    assert formats == {"a.jpeg": "JPEG", "b.webp": "WEBP", "c.png": "PNG", "d.png": "PNG",
                       "e.jpg": "JPEG"}  # fmt: skip
    deep = restore_files([folder / "a.jpeg"], tmp_path / "deep", bits=16, **common)
    assert deep.results[0].output.name == "a.png"


def test_reading_and_writing_beside_the_network_changes_nothing(models, inputs, tmp_path):
    """...but the time: the same bytes (the sRGB profile's date fixed), results and log."""
    common = {"models_dir": models / "gan", "predictor": models / "qf" / "predictor.pt",
              "device": "cpu", "progress": False, "tile": 64, "overlap": 16}  # fmt: skip
    runs = {}
    for workers in (0, 1, 3):
        logged = []
        report = restore_files([inputs], tmp_path / f"w{workers}", io_workers=workers,
                               log=logged.append, **common)  # fmt: skip
        files = {
            p.relative_to(tmp_path / f"w{workers}"): p.read_bytes()
            for p in sorted((tmp_path / f"w{workers}").rglob("*"))
            if p.is_file()
        }
        order = [(r.source.name, r.status, r.error) for r in report.results]
        runs[workers] = (files, order, logged)
    assert runs[0][0] and runs[0] == runs[1] == runs[3]  # bytes, results and log, in order
    assert [name for name, *_ in runs[0][1]][:3] == ["adobe.jpg", "cmyk.jpg", "deep.png"]
    with pytest.raises(RestoreError, match="io workers"):
        restore_files([inputs], tmp_path / "bad", io_workers=-1, **common)
