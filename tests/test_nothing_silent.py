"""Nothing lost, nothing silent, part three (issue 40): exports, the Python API, what a file
really is, errors that read as errors, outputs that are trusted only when whole.

Each numbered case of the probe has its tests here (the number in the name); cases 7 and 11
are in test_video_reliability.py and test_study.py, case 10's book archive in test_book.py.
"""

from __future__ import annotations

import json
import shutil
from importlib.resources import files
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from artifact_removal.cli import main
from artifact_removal.inference import export as export_module
from artifact_removal.inference.choice import RestoreError
from artifact_removal.inference.export import export_onnx
from artifact_removal.restore.run import restore_files

from .test_video import _pan, _write_clip


def _restore(inputs, out, models, *extra) -> list[str]:
    """The CLI's restore arguments for the tiny test generators, on the CPU."""
    return ["restore", *map(str, inputs), "-o", str(out), "--models", str(models / "gan"),
            "--predictor", str(models / "qf" / "predictor.pt"), "--device", "cpu",
            *extra]  # fmt: skip


def _jpeg(photo: np.ndarray, path: Path, quality: int = 20, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(photo).save(path, format="JPEG", quality=quality, **options)
    return path


def _files(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` (hidden ones too), by relative name."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


def _onnx_restore(folder: Path, inputs: Path, out: Path, method: str) -> int:
    return main(["restore", str(inputs), "-o", str(out), "--backend", "onnxruntime",
                 "--models", str(folder), "--method", method, "--device", "cpu"])  # fmt: skip


def _error_line(capsys) -> str:
    """The `error:` line a command printed last on stderr (after any progress bar), with no
    traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.splitlines()[-1].startswith("error: "), err
    return err.splitlines()[-1]


@pytest.fixture(scope="module")
def few(models, tmp_path_factory) -> Path:
    """Release folders of few generators (an ONNX export takes seconds each): ssim/ and gan/
    with QF 10 and 20, the GAN's weights unlike the ssim ones of the same QF (in `models` the
    two are equal: q10 holds q40's weights, q20 q10's), and one/ with the ssim q10 alone."""
    from artifact_removal.checkpoints import load_checkpoint, save_atomic

    folder = tmp_path_factory.mktemp("few")
    for name in ("ssim", "one"):
        (folder / name).mkdir()
    for quality, other in ((10, 40), (20, 10)):
        shutil.copy(models / "ssim" / f"q{quality}.pt", folder / "ssim" / f"q{quality}.pt")
        release = load_checkpoint(models / "gan" / f"q{quality}.pt")
        release["model"] = load_checkpoint(models / "gan" / f"q{other}.pt")["model"]
        save_atomic(release, folder / "gan" / f"q{quality}.pt")
    shutil.copy(models / "ssim" / "q10.pt", folder / "one" / "q10.pt")
    return folder


@pytest.fixture(scope="module")
def ssim_export(few, tmp_path_factory) -> Path:
    """The ssim generators of `few`, exported (no predictor)."""
    folder = tmp_path_factory.mktemp("ssim_export") / "export"
    export_onnx("ssim", folder, None, few / "ssim", None, False)
    return folder


# 1. An export never mixes with an earlier one ---------------------------------------------------


def test_1_an_export_killed_half_way_leaves_the_earlier_one_whole(
    few, ssim_export, photo, tmp_path, capsys, monkeypatch
):
    folder = tmp_path / "export"
    shutil.copytree(ssim_export, folder)
    before = _files(folder)
    _jpeg(photo, tmp_path / "in" / "a.jpg", 10)
    assert _onnx_restore(folder, tmp_path / "in", tmp_path / "first", "ssim") == 0
    checked = export_module._check_generator
    calls = []

    def killed_at_the_second(net, path):  # q10.onnx and q20.onnx are written by then
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return checked(net, path)

    monkeypatch.setattr(export_module, "_check_generator", killed_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        export_onnx("gan", folder, None, few / "gan", None, False)
    assert _files(folder) == before  # the ssim export, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "first", "in"]  # no leftover
    capsys.readouterr()
    assert _onnx_restore(folder, tmp_path / "in", tmp_path / "again", "ssim") == 0
    assert "restoring with ssim" in capsys.readouterr().out
    assert _files(tmp_path / "again") == _files(tmp_path / "first")


def test_1_a_file_changed_after_the_export_is_refused(ssim_export, photo, tmp_path, capsys):
    folder = tmp_path / "export"
    shutil.copytree(ssim_export, folder)
    shutil.copyfile(folder / "q10.onnx", folder / "q20.onnx")  # other weights, the same name
    _jpeg(photo, tmp_path / "in" / "a.jpg", 10)
    assert _onnx_restore(folder, tmp_path / "in", tmp_path / "out", "ssim") == 2
    assert "q20.onnx: not the file(s) its manifest describes" in _error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_1_a_folder_of_other_files_is_refused_and_kept(few, ssim_export, tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"my": "own manifest"}')
    (folder / "crf_reading.json").write_text('{"my": "notes"}')
    before = _files(folder)
    code = main(["export", "--method", "ssim", "-o", str(folder), "--models", str(few / "one")])
    assert code == 2
    assert "holds files that an export did not write" in _error_line(capsys)
    assert _files(folder) == before
    shutil.copytree(ssim_export, tmp_path / "export")
    (tmp_path / "export" / "notes.txt").write_text("mine")
    assert main(["export", "--method", "ssim", "-o", str(tmp_path / "export"),
                 "--models", str(few / "one")]) == 2  # fmt: skip
    assert "holds an earlier export and other files (notes.txt)" in _error_line(capsys)


def test_1_an_export_over_another_keeps_none_of_its_files(few, ssim_export, tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(ssim_export, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "ladder.json").write_text('{"levels": {}}')  # as an export with a ladder has
    manifest["ladder"] = "ladder.json"
    manifest.setdefault("files", {})["ladder.json"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    export_onnx("gan", folder, None, few / "one", None, False)  # a gan of QF 10 alone
    written = json.loads((folder / "manifest.json").read_text())
    assert written["method"] == "gan" and written["ladder"] is None
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "q10.onnx"]


def test_1_an_export_keeps_its_folders_permissions_and_follows_links(
    few, ssim_export, tmp_path, monkeypatch
):
    folder = tmp_path / "export"
    shutil.copytree(ssim_export, folder)
    folder.chmod(0o750)
    export_onnx("gan", folder, None, few / "one", None, False)
    assert folder.stat().st_mode & 0o777 == 0o750
    (tmp_path / "link").symlink_to(folder)
    export_onnx("ssim", tmp_path / "link", None, few / "one", None, False)
    assert (tmp_path / "link").is_symlink()
    assert json.loads((folder / "manifest.json").read_text())["method"] == "ssim"
    monkeypatch.chdir(folder)
    export_onnx("gan", ".", None, few / "one", None, False)  # -o . inside the export
    assert json.loads((folder / "manifest.json").read_text())["method"] == "gan"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "link"]


def test_1_what_a_killed_export_left_is_removed_unless_an_export_holds_it(few, tmp_path):
    import fcntl
    import os

    abandoned = tmp_path / ".export.k3x9q0a1.export"  # as a kill -9 leaves it
    abandoned.mkdir()
    (abandoned / "q10.onnx").write_bytes(b"half")
    busy = tmp_path / ".export.b7y2m4c8.export"  # another export building now
    busy.mkdir()
    held = os.open(busy, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        export_onnx("ssim", tmp_path / "export", None, few / "one", None, False)
        assert not abandoned.exists() and busy.is_dir()
    finally:
        os.close(held)


# 2. The API takes one path -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [str, Path])
def test_2_restore_files_takes_one_path_as_str_or_path(kind, models, photo, tmp_path,
                                                       monkeypatch):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    _jpeg(photo, tmp_path / "photos" / "a.jpg", 20)
    _jpeg(photo[::-1], tmp_path / "photos" / "b.jpg", 20)
    report = restore_files(kind("photos"), "out", method="gan", models_dir=models / "gan",
                           device="cpu", progress=False)  # fmt: skip
    assert sorted(r.source.name for r in report.results) == ["a.jpg", "b.jpg"]
    assert not report.failed and sorted(p.name for p in Path("out").iterdir()) == [
        "a.jpg", "b.jpg"
    ]  # fmt: skip
    with pytest.raises(RestoreError, match="inputs must be"):
        restore_files(b"photos", "out", method="gan", models_dir=models / "gan", device="cpu")


# 3. What a file is, its content says ----------------------------------------------------------


def test_3_a_jpeg_named_as_a_video_is_restored_as_the_jpeg_it_is(models, photo, tmp_path, capsys):
    _jpeg(photo, tmp_path / "in" / "fake.mp4", 20)
    _jpeg(photo, tmp_path / "same" / "fake.jpg", 20)
    assert main(_restore([tmp_path / "in"], tmp_path / "out", models)) == 0
    assert "fake.mp4 -> " in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fake.jpg"]  # a JPEG
    assert main(_restore([tmp_path / "same"], tmp_path / "reference", models)) == 0
    assert (tmp_path / "out" / "fake.jpg").read_bytes() == (
        tmp_path / "reference" / "fake.jpg").read_bytes()  # fmt: skip


def test_3_a_video_named_as_a_jpeg_is_restored_as_a_video(models, photo, tmp_path):
    _write_clip(tmp_path / "clip.mp4", _pan(photo, 6, size=(48, 64)), audio=False)
    (tmp_path / "in").mkdir()
    (tmp_path / "clip.mp4").rename(tmp_path / "in" / "clip.jpg")
    report = restore_files(tmp_path / "in", tmp_path / "out", method="video_ssim",
                           models_dir=models / "video_ssim", quality=40, device="cpu",
                           progress=False)  # fmt: skip
    assert not report.failed
    (result,) = report.results
    assert result.output.name == "clip.mkv" and result.notes[0].startswith("video, 6 frames")
    with av.open(str(result.output)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 6


def test_3_stills_in_video_containers_and_raw_files_are_not_videos(models, photo, tmp_path,
                                                                     capsys):  # fmt: skip
    """AVIF and HEIC are ISO-BMFF files, as MP4 is: FFmpeg would read them as one-frame videos.
    Camera raws are TIFFs with a small preview. An audio file's cover is not a video."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(photo).save(folder / "still.avif")  # Pillow here decodes AVIF
    (folder / "phone.heic").write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(64))
    Image.fromarray(photo).save(folder / "camera.nef", format="TIFF")
    with av.open(str(folder / "song.mp4"), "w") as container:
        sound = container.add_stream("aac", rate=48000)
        sound.layout = "stereo"
        for start in range(0, 48000, 1024):
            frame = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp",
                                               layout="stereo")  # fmt: skip
            frame.sample_rate, frame.pts = 48000, start
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    assert main(_restore([folder], tmp_path / "out", models)) == 1
    printed = capsys.readouterr().out
    assert f"{folder / 'still.avif'} -> {tmp_path / 'out' / 'still.png'}" in printed
    for name, reason in (("phone.heic", "HEIC images cannot be read here"),
                         ("camera.nef", "Nikon raw images cannot be read here"),
                         ("song.mp4", "holds no video stream (an audio file")):  # fmt: skip
        assert f"{folder / name}: {reason}" in printed
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["still.png"]


# 4. Errors from the world outside are error lines with exit code 2 ----------------------------


def test_4_export_to_a_place_that_cannot_be_a_folder(models, tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    for target, said in ((tmp_path / "file", "is a file; -o names the folder"),
                         (tmp_path / "file" / "sub", "file is a file, not a folder"),
                         (Path("/sys/x"), "cannot write the export /sys/x")):  # fmt: skip
        code = main(["export", "--method", "ssim", "-o", str(target),
                     "--models", str(models / "ssim")])  # fmt: skip
        assert code == 2 and said in _error_line(capsys)
    assert (tmp_path / "file").read_text() == "mine"


def test_4_an_export_that_fails_half_way_leaves_nothing(models, tmp_path, capsys, monkeypatch):
    real = export_module._onnx_export
    calls = []

    def disk_full(net, example, path, dims):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", str(path))
        return real(net, example, path, dims)

    monkeypatch.setattr(export_module, "_onnx_export", disk_full)
    code = main(["export", "--method", "ssim", "-o", str(tmp_path / "x"),
                 "--models", str(models / "ssim")])  # fmt: skip
    line = _error_line(capsys)
    assert code == 2 and "(q20.onnx: No space left on device); nothing was changed" in line
    assert list(tmp_path.iterdir()) == []


def test_4_restore_into_a_place_that_cannot_be_a_folder(models, photo, tmp_path, capsys):
    source = _jpeg(photo, tmp_path / "a.jpg")
    (tmp_path / "file").write_text("mine")
    for target, said in ((tmp_path / "file" / "sub", ": Not a directory"), (Path("/sys/x"), ":")):
        assert main(_restore([source], target, models)) == 2
        assert f"cannot make the output folder {target}{said}" in _error_line(capsys)


def test_4_a_manifest_with_a_bad_generator_key(ssim_export, photo, tmp_path, capsys):
    folder = tmp_path / "export"
    shutil.copytree(ssim_export, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["generators"]["abc"] = manifest["generators"].pop("20")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    _jpeg(photo, tmp_path / "in" / "a.jpg", 10)
    assert _onnx_restore(folder, tmp_path / "in", tmp_path / "out", "ssim") == 2
    assert "generator key 'abc' is not a QF" in _error_line(capsys)


def test_4_an_input_link_that_cannot_be_read_is_named(models, tmp_path, capsys):
    if not Path("/proc/1/cwd").is_symlink():
        pytest.skip("no /proc/1/cwd here")
    try:
        Path("/proc/1/cwd").stat()
        pytest.skip("/proc/1/cwd can be followed here")
    except OSError:
        pass
    assert main(_restore(["/proc/1/cwd"], tmp_path / "out", models)) == 1
    assert "/proc/1/cwd: symbolic link that cannot be followed" in capsys.readouterr().out


# 5. A rerun trusts only whole outputs -----------------------------------------------------------


def test_5_a_damaged_png_is_restored_again(models, photo, tmp_path, capsys):
    source = _jpeg(photo, tmp_path / "in" / "a.jpg", 10)
    out = tmp_path / "out"
    assert main(_restore([source], out, models, "--format", "png")) == 0
    whole = (out / "a.png").read_bytes()
    (out / "a.png").write_bytes(whole[: len(whole) // 2])
    capsys.readouterr()
    assert main(_restore([source], out, models, "--format", "png")) == 0
    printed = capsys.readouterr().out
    assert "a.png: an earlier run's output of the same input and settings, damaged" in printed
    assert "restored 1 of 1 inputs" in printed and (out / "a.png").read_bytes() == whole


def test_5_a_cut_video_is_restored_again(models, photo, tmp_path):
    (tmp_path / "in").mkdir()
    clip = _write_clip(tmp_path / "in" / "clip.mkv", _pan(photo, 12, size=(48, 64)), audio=False)
    options = {"method": "video_ssim", "models_dir": models / "video_ssim", "quality": 40,
               "device": "cpu", "progress": False}  # fmt: skip
    first = restore_files(clip, tmp_path / "out", **options).results[0]
    whole = first.output.read_bytes()
    first.output.write_bytes(whole[: len(whole) // 3])
    with av.open(str(first.output)) as container:
        assert sum(1 for _ in container.decode(video=0)) < 12  # cut: fewer frames decode
    report = restore_files(clip, tmp_path / "out", **options)
    assert report.damaged == [first.output] and report.results[0].status == "restored"
    assert first.output.read_bytes() == whole


def test_5_a_video_whose_sound_runs_on_is_whole(models, photo, tmp_path):
    """Matroska says a duration for the whole file, sound included; the picture's own is its
    track's. Neither a copy nor a rerun may take the picture for cut short."""
    (tmp_path / "in").mkdir()
    with_sound = _write_clip(tmp_path / "sound.mp4", _pan(photo, 10, size=(48, 64)))
    remuxed = tmp_path / "in" / "sound.mkv"  # the same, the picture ending 0.2 s before the sound
    with av.open(str(with_sound)) as source, av.open(str(remuxed), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if not packet.size:
                continue
            if packet.stream.type == "video" and packet.pts * packet.time_base > 0.2:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    options = {"method": "video_ssim", "models_dir": models / "video_ssim", "device": "cpu",
               "progress": False}  # fmt: skip
    first = restore_files(remuxed, tmp_path / "out", quality=40, **options)
    assert not first.failed, first.summary()
    again = restore_files(remuxed, tmp_path / "out", quality=40, **options)
    assert again.damaged == [] and [r.status for r in again.results] == ["done"]
    copied = restore_files(remuxed, tmp_path / "copied", quality=20, **options)
    assert [r.status for r in copied.results] == ["copied"], copied.summary()


# 6. Earlier outputs in an input folder are not inputs -------------------------------------------


def test_6_earlier_outputs_inside_an_input_folder_are_not_restored_again(models, photo, tmp_path,
                                                                        capsys):  # fmt: skip
    folder = tmp_path / "in"
    _jpeg(photo, folder / "a.jpg", 20)
    assert main(_restore([folder], folder / "out", models)) == 0
    capsys.readouterr()
    assert main(_restore([folder], folder / "out2", models)) == 0  # no input failed
    printed = capsys.readouterr().out
    assert sorted(p.name for p in (folder / "out2").rglob("*")) == ["a.jpg"]
    assert "1 outputs of earlier restores in the input folders" in printed
    assert f"\n  {folder / 'out' / 'a.jpg'}\n" in printed
    assert "restored 1 of 2 inputs (1 earlier outputs)" in printed


# 8. Notes and refusals that say what is true ----------------------------------------------------


def test_8_a_jpeg_copied_byte_for_byte_claims_no_conversion(models, photo, tmp_path, capsys):
    with Image.open(files("skimage") / "data" / "rocket.jpg") as rocket:  # Adobe RGB (1998)
        profile = rocket.info["icc_profile"]
    source = _jpeg(photo, tmp_path / "in" / "adobe.jpg", 92, icc_profile=profile)
    assert main(_restore([source], tmp_path / "out", models, "--format", "jpeg")) == 0
    printed = capsys.readouterr().out
    assert "copied without restoring" in printed and "converted from ICC" not in printed
    with Image.open(tmp_path / "out" / "adobe.jpg") as copied:
        assert copied.info["icc_profile"] == profile


@pytest.mark.parametrize(
    "options, said",
    [
        (["--strength", "-0.1"], "not -0.1: below 0"),
        (["--strength", "nan"], "from 0 to 1, not nan"),
        (["--overlap", "0"], "overlap (0, at least 8)"),
        (
            ["--format", "png", "--image-quality", "80"],
            "PNG is lossless: give --format auto, jpeg or webp",
        ),
    ],
)
def test_8_bad_options_are_refused_with_what_is_wrong(options, said, models, photo, tmp_path,
                                                      capsys):  # fmt: skip
    source = _jpeg(photo, tmp_path / "a.jpg")
    assert main(_restore([source], tmp_path / "out", models, *options)) == 2
    line = _error_line(capsys)
    assert said in line and "beyond 1" not in line
    assert not (tmp_path / "out").exists()


# 9. A failed Ray run leaves nothing; ray:// addresses can work ----------------------------------


def test_9_a_ray_run_that_cannot_start_leaves_no_output_folder(models, photo, tmp_path, capsys,
                                                               monkeypatch):  # fmt: skip
    from artifact_removal.restore import on_ray

    def unreachable(address):
        raise RestoreError(f"--ray {address}: cannot reach a Ray cluster (test)")

    monkeypatch.setattr(on_ray, "connect", unreachable)
    source = _jpeg(photo, tmp_path / "a.jpg")
    assert main(_restore([source], tmp_path / "out" / "deep", models, "--ray=auto")) == 2
    assert "cannot reach a Ray cluster" in _error_line(capsys)
    assert not (tmp_path / "out" / "deep").exists()


def test_9_rays_client_extra_is_installed_for_ray_addresses():
    """`--ray ray://HOST:10001` goes through Ray Client, which needs grpcio (ray[client])."""
    import grpc  # noqa: F401
    from ray.util.client import ray as client  # noqa: F401


# 10. Small things said right ------------------------------------------------------------------


def test_10_a_name_with_a_newline_stays_on_its_line(models, photo, tmp_path, capsys):
    _jpeg(photo, tmp_path / "in" / "two\nlines.jpg", 20)
    assert main(_restore([tmp_path / "in"], tmp_path / "out", models)) == 0
    lines = capsys.readouterr().out.splitlines()
    (line,) = [x for x in lines if "lines.jpg" in x]
    assert line.count("two\\nlines.jpg") == 2  # the input and its output


def test_10_a_manifest_of_an_unknown_method(ssim_export, photo, tmp_path, capsys):
    folder = tmp_path / "export"
    shutil.copytree(ssim_export, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest | {"method": "nosuch"}))
    _jpeg(photo, tmp_path / "in" / "a.jpg", 10)
    assert main(["restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--backend",
                 "onnxruntime", "--models", str(folder), "--device", "cpu"]) == 2  # fmt: skip
    line = _error_line(capsys)
    assert "method 'nosuch', which this version does not know" in line
    assert "give --method nosuch" not in line


def test_10_overwrite_never_replaces_a_folder(models, photo, tmp_path, capsys):
    source = _jpeg(photo, tmp_path / "a.jpg")
    (tmp_path / "out" / "a.jpg").mkdir(parents=True)
    (tmp_path / "out" / "a.jpg" / "keep.txt").write_text("mine")
    assert main(_restore([source], tmp_path / "out", models, "--overwrite")) == 1
    printed = capsys.readouterr().out
    assert f"{tmp_path / 'out' / 'a.jpg'} is in the way and is a folder, not a file" in printed
    assert (tmp_path / "out" / "a.jpg" / "keep.txt").read_text() == "mine"
