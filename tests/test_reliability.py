"""Nothing lost, nothing silent: restore and the pipeline under name clashes, planted links,
concurrent runs, interruption, bad parameter files, damaged model files and odd inputs.

Each numbered case of the reliability probe has its test here (the number in the name).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artifact_removal.archs.qf_net import QFNet
from artifact_removal.checkpoints import CheckpointError, load_checkpoint, save_atomic
from artifact_removal.cli import main
from artifact_removal.config import ConfigError, load_params, parse_yaml
from artifact_removal.data.images import read_png
from artifact_removal.fileio import FolderBusy, FolderLock, write_atomic
from artifact_removal.inference.choice import RestoreError
from artifact_removal.inference.releases import load_generator, predictor_release
from artifact_removal.inference.tiles import restore_tiled
from artifact_removal.restore.outputs import unique_names
from artifact_removal.restore.records import record_of
from artifact_removal.restore.run import restore_files

from .conftest import QUALITIES, REPO


def _restore(inputs, out, models, *extra) -> list[str]:
    """The CLI's restore arguments for the tiny test generators, on the CPU."""
    return ["restore", *map(str, inputs), "-o", str(out), "--models", str(models / "gan"),
            "--predictor", str(models / "qf" / "predictor.pt"), "--device", "cpu",
            *extra]  # fmt: skip


def _jpeg(photo: np.ndarray, path: Path, quality: int = 20, shift: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.roll(photo, shift, axis=1)).save(path, quality=quality)
    return path


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def _pngs(folder: Path) -> dict[str, bytes]:
    """Every file below `folder`, by relative name."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


# 1. Silent overwrite -------------------------------------------------------------------------


def test_1_same_names_in_three_folders_give_three_outputs(models, photo, tmp_path, capsys):
    for i, folder in enumerate(("c1", "c2", "c3")):
        _jpeg(photo, tmp_path / folder / "IMG_0001.jpg", shift=40 * i)
    dirs = [tmp_path / f"c{i}" for i in (1, 2, 3)]
    assert main(_restore(dirs, tmp_path / "out", models)) == 0
    printed = capsys.readouterr().out
    assert sorted(_pngs(tmp_path / "out")) == ["IMG_0001-2.jpg", "IMG_0001.jpg",
                                               "IMG_0001.jpg.jpg"]  # fmt: skip
    assert "restored 3 of 3 inputs" in printed
    records = {record_of(p)["source"] for p in (tmp_path / "out").glob("*.jpg")}
    assert len(records) == 3  # three different inputs behind the three outputs


def test_1_names_are_unique_by_construction():
    rels = [Path("a.jpg"), Path("a.png"), Path("a.jpg"), Path("A.JPG"), Path("a.png.jpg")]
    names = unique_names(rels, taken=[Path("a-3.png")])
    assert len({n.as_posix().casefold() for n in names}) == len(rels)
    assert "a-3.png" not in {n.as_posix() for n in names}
    assert [n.as_posix() for n in names] == ["a.png", "a.png.png", "a.jpg.png", "A-2.png",
                                             "a.png.jpg.png"]  # fmt: skip


def test_1_existing_files_are_refused_then_kept_or_replaced_on_request(models, photo, tmp_path):
    _jpeg(photo, tmp_path / "in" / "a.jpg")
    _jpeg(photo, tmp_path / "in" / "b.jpg", shift=50)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jpg").write_bytes(b"the user's own file")
    with pytest.raises(RestoreError, match=r"(?s)1 output file\(s\) already exist.*a\.jpg.*"
                       r"Nothing was written.*--overwrite.*--skip-existing"):  # fmt: skip
        restore_files([tmp_path / "in"], out, models_dir=models / "gan", device="cpu",
                      predictor=models / "qf/predictor.pt", progress=False)  # fmt: skip
    assert (
        sorted(_pngs(out)) == ["a.jpg"] and (out / "a.jpg").read_bytes() == b"the user's own file"
    )
    report = restore_files([tmp_path / "in"], out, models_dir=models / "gan", device="cpu",
                           predictor=models / "qf/predictor.pt", progress=False,
                           skip_existing=True)  # fmt: skip
    assert [r.status for r in report.results] == ["kept", "restored"]
    assert (out / "a.jpg").read_bytes() == b"the user's own file"
    report = restore_files([tmp_path / "in"], out, models_dir=models / "gan", device="cpu",
                           predictor=models / "qf/predictor.pt", progress=False,
                           overwrite=True)  # fmt: skip
    assert [r.status for r in report.results] == ["restored", "restored"]
    assert _pixels(out / "a.jpg").shape == photo.shape


def test_1_an_output_folder_inside_the_input_is_not_read_back(models, photo, tmp_path, capsys):
    _jpeg(photo, tmp_path / "in" / "a.jpg")
    args = _restore([tmp_path / "in"], tmp_path / "in" / "restored", models)
    assert main(args) == 0
    assert main(args) == 0  # the second run does not take its own outputs as inputs
    printed = capsys.readouterr().out
    assert "1 already done" in printed and "restored 0 of 1 inputs (1 already done)" in printed
    assert main(_restore([tmp_path / "in"], tmp_path / "in", models)) == 2
    assert "both an input and the output folder" in capsys.readouterr().err


def test_1_names_never_make_a_file_where_a_folder_is_needed():
    names = unique_names([Path("x.png/b.jpg"), Path("x.jpg"), Path("x.png")])
    assert [n.as_posix() for n in names] == ["x.png/b.png", "x.jpg.png", "x.png.png"]


def test_1_a_file_in_the_way_of_an_output_folder_is_reported(models, photo, tmp_path, capsys):
    _jpeg(photo, tmp_path / "in" / "raw" / "a.jpg")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "raw").write_text("a file, not a folder")
    assert main(_restore([tmp_path / "in"], tmp_path / "out", models)) == 1
    assert f"{tmp_path / 'out' / 'raw'} is a file where its output folder should be" in (
        capsys.readouterr().out
    )


# 2. Planted links, concurrent writers --------------------------------------------------------


def test_2_a_symlinked_folder_in_the_output_never_leads_onto_an_input(models, photo, tmp_path,
                                                                      capsys):  # fmt: skip
    source = _jpeg(photo, tmp_path / "in" / "sub" / "a.png")
    original = source.read_bytes()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").symlink_to(tmp_path / "in" / "sub")
    for extra in ((), ("--overwrite",), ("--skip-existing",)):
        capsys.readouterr()
        assert main(_restore([tmp_path / "in"], tmp_path / "out", models, *extra)) == 1
        assert "through a symbolic link in the output folder; not written" in (
            capsys.readouterr().out
        )
        assert source.read_bytes() == original
        assert sorted(p.name for p in (tmp_path / "in" / "sub").iterdir()) == ["a.png"]


def test_2_written_files_have_the_usual_permissions_and_long_names_work(tmp_path):
    write_atomic(tmp_path / "a.txt", "x")
    mask = os.umask(0o022)
    os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask
    long = tmp_path / ("n" * 250 + ".png")
    write_atomic(long, b"x")
    assert long.read_bytes() == b"x"


def test_2_a_planted_symlink_never_redirects_a_write(models, photo, tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".good.jpg.part").symlink_to(victim)
    for i in range(20):  # names an attacker might guess
        (out / f".good.jpg.{i:08d}.part").symlink_to(victim)
    good = _jpeg(photo, tmp_path / "good.jpg")
    assert main(_restore([good], out, models)) == 0
    assert victim.read_bytes() == b"precious" and _pixels(out / "good.jpg").shape == photo.shape
    (out / "good.jpg").unlink()
    (out / "good.jpg").symlink_to(victim)  # the output name itself: refused, then replaced
    assert main(_restore([good], out, models)) == 2
    assert main(_restore([good], out, models, "--overwrite")) == 0
    assert victim.read_bytes() == b"precious" and not (out / "good.jpg").is_symlink()


def test_2_write_atomic_refuses_to_replace_when_asked_and_cleans_up(tmp_path):
    target = tmp_path / "t.bin"
    write_atomic(target, b"one")
    with pytest.raises(FileExistsError):
        write_atomic(target, b"two", replace=False)
    with pytest.raises(ZeroDivisionError):
        write_atomic(tmp_path / "u.bin", lambda f: 1 / 0)
    assert target.read_bytes() == b"one" and sorted(p.name for p in tmp_path.iterdir()) == ["t.bin"]


def test_2_concurrent_checkpoint_writers_do_not_collide(tmp_path):
    target = tmp_path / "q10.pt"
    errors = []

    def writer(seed: int) -> None:
        try:
            for step in range(25):
                save_atomic({"model": {"w": torch.full((256,), float(seed))}, "step": step}, target)
        except Exception as err:  # any failure fails the test below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    saved = load_checkpoint(target)
    assert saved["step"] == 24 and len(set(saved["model"]["w"].tolist())) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["q10.pt"]


def test_2_nested_output_folders_exclude_each_other_siblings_do_not(tmp_path):
    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "other").mkdir()
    with FolderLock(tmp_path / "out" / "sub", "restore"):
        with pytest.raises(FolderBusy, match="out is in use by another restore"):
            FolderLock(tmp_path / "out", "restore").__enter__()
        with FolderLock(tmp_path / "out" / "other", "restore"):
            pass
    with FolderLock(tmp_path / "out", "restore"), pytest.raises(FolderBusy, match="through"):
        FolderLock(tmp_path / "out" / "sub", "restore").__enter__()


def test_2_a_locked_folder_is_refused_at_once_and_free_after(tmp_path):
    busy = pytest.raises(FolderBusy, match=r"in use by another second; wait for it")
    with FolderLock(tmp_path, "first"), busy:
        FolderLock(tmp_path, "second").__enter__()
    with FolderLock(tmp_path, "third"):
        pass


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "artifact_removal", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


@pytest.mark.parametrize("rounds", [3, pytest.param(10, marks=pytest.mark.slow)])
def test_2_two_restores_into_one_folder_again_and_again(rounds, models, photo, tmp_path):
    """Both succeed, or one is refused with a message; never mixed or missing bytes."""
    inputs = [_jpeg(photo, tmp_path / "in" / f"img{i:02d}.jpg", 10 + 10 * i, 30 * i)
              for i in range(4)]  # fmt: skip
    assert main(_restore(inputs, tmp_path / "reference", models)) == 0
    reference = _pngs(tmp_path / "reference")
    for round_ in range(rounds):
        out = tmp_path / f"out{round_}"
        runs = [_cli(*_restore(inputs, out, models)) for _ in range(2)]
        done = [(run.wait(timeout=300), *run.communicate()) for run in runs]
        codes = sorted(code for code, _, _ in done)
        assert codes in ([0, 0], [0, 2]), done
        for code, printed, error in done:
            if code == 2:
                assert "is in use by another artifact-removal restore; wait" in error
            else:
                assert "restored" in printed and "not restored" not in printed
        assert _pngs(out) == reference, f"round {round_}"


# 3. Parameter files ---------------------------------------------------------------------------


def test_3_params_are_read_as_dvc_reads_them():
    from dvc.utils.serialize import parse_yaml as dvc_parse_yaml

    text = "lr_g: 1e-3\nchroma: 4:2:0\nflag: yes\nsteps: 010\n"
    assert parse_yaml(text) == dvc_parse_yaml(text, "params.yaml")
    assert parse_yaml(text) == {"lr_g": 0.001, "chroma": "4:2:0", "flag": "yes", "steps": 10}


def test_3_a_duplicate_key_is_refused_with_its_line(tmp_path, capsys):
    text = (REPO / "params.yaml").read_text()
    assert "\n  steps: " in text
    doubled = text.replace("\n  steps: ", "\n  steps: 5\n  steps: ", 1)
    (tmp_path / "params.yaml").write_text(doubled)
    (tmp_path / "dvc.yaml").write_text((REPO / "dvc.yaml").read_text())
    line = doubled[: doubled.index("\n  steps: 5")].count("\n") + 3  # the second `steps:`
    with pytest.raises(ConfigError, match=rf"line {line}: found duplicate key \"steps\""):
        load_params(tmp_path / "params.yaml")
    assert main(["train", "--quality", "10", "--params", str(tmp_path / "params.yaml")]) == 2
    assert "duplicate key" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


def test_3_the_check_stage_stops_before_anything_runs(tmp_path, capsys):
    from artifact_removal.stages.check import main as check

    (tmp_path / "params.yaml").write_text(
        (REPO / "params.yaml").read_text().replace("\n  steps: ", "\n  stepz: ", 1)
    )
    assert check([str(tmp_path / "params.yaml"), str(tmp_path / "stamp")]) == 2
    error = capsys.readouterr().err
    assert "stepz" in error and "no output was deleted" in error
    assert not (tmp_path / "stamp").exists()
    assert check([str(REPO / "params.yaml"), str(tmp_path / "stamp")]) == 0
    stamp = (tmp_path / "stamp").read_text()
    (tmp_path / "other.yaml").write_text(
        (REPO / "params.yaml").read_text().replace("seed: ", "seed: 1", 1)
    )
    assert check([str(tmp_path / "other.yaml"), str(tmp_path / "stamp")]) == 0
    assert (tmp_path / "stamp").read_text() == stamp  # a valid edit changes nothing downstream


def test_3_every_stage_depends_on_the_check():
    stages = parse_yaml((REPO / "dvc.yaml").read_text())["stages"]
    assert stages["check_params"]["deps"][0] == "params.yaml"
    for name, stage in stages.items():
        if name != "check_params":
            assert "build/params.checked" in stage.get("do", stage)["deps"], name


# 4. Damaged and wrong model files -------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.9])
def test_4_a_truncated_file_is_named_in_one_line(models, tmp_path, fraction):
    data = (models / "gan" / "q10.pt").read_bytes()
    (tmp_path / "q10.pt").write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError) as caught:
        load_generator(tmp_path / "q10.pt")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'q10.pt'}: truncated") and "\n" not in message


def test_4_a_truncated_release_stops_restore_once_before_any_image(models, photo, tmp_path,
                                                                   capsys):  # fmt: skip
    folder = tmp_path / "gan"
    folder.mkdir()
    for quality in QUALITIES:
        data = (models / "gan" / f"q{quality}.pt").read_bytes()
        (folder / f"q{quality}.pt").write_bytes(data[: len(data) // 4] if quality == 40 else data)
    inputs = [_jpeg(photo, tmp_path / f"{i}.jpg", 10) for i in range(3)]
    args = [*map(str, inputs), "-o", str(tmp_path / "out"), "--models", str(folder),
            "--device", "cpu"]  # fmt: skip
    assert main(["restore", *args]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"{folder / 'q40.pt'}: truncated" in error
    assert not _pngs(tmp_path / "out")


def test_4_wrong_files_say_what_they_are(models, tmp_path):
    with pytest.raises(CheckpointError, match=r"not a generator's release file \(it holds "
                       r"qf_predictor\)"):  # fmt: skip
        load_generator(models / "qf" / "predictor.pt")
    release = torch.load(models / "gan" / "q10.pt", weights_only=True)
    release["model_args"]["channels"] = 8
    torch.save(release, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"another architecture .*size mismatch.* more\)$"):
        load_generator(tmp_path / "other.pt")
    release = torch.load(models / "gan" / "q10.pt", weights_only=True) | {"format": 9}
    torch.save(release, tmp_path / "newer.pt")
    with pytest.raises(CheckpointError, match=r"newer version of artifact-removal \(file format "
                       r"9; this version reads format 1"):  # fmt: skip
        load_generator(tmp_path / "newer.pt")


def test_4_malformed_files_are_one_line_too(models, tmp_path):
    release = torch.load(models / "gan" / "q10.pt", weights_only=True)
    for broken in ({"model_args": "x"}, {"model": [1, 2]}, {"model_args": {"preset": 3}}):
        torch.save(release | broken, tmp_path / "bad.pt")
        with pytest.raises(CheckpointError, match=r"bad\.pt: not a valid generator file"):
            load_generator(tmp_path / "bad.pt")


def test_4_train_on_a_missing_gpu_is_one_line(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(["train", "--quality", "10", "--device", "cuda",
                 "--params", str(REPO / "params.yaml")]) == 2  # fmt: skip
    assert (
        capsys.readouterr().err
        == "error: device: 'cuda' was asked for, but torch sees no CUDA GPU\n"
    )


# 5. Interruption ------------------------------------------------------------------------------


def test_5_leftovers_are_removed_and_finished_outputs_skipped(models, photo, tmp_path, capsys):
    inputs = [_jpeg(photo, tmp_path / "in" / f"{i}.jpg", 10, 20 * i) for i in range(3)]
    out = tmp_path / "out"
    assert main(_restore(inputs[:2], out, models)) == 0
    (out / ".2.jpg.k3x9_q0a.part").write_bytes(b"\xff\xd8 half")
    capsys.readouterr()
    assert main(_restore(inputs, out, models)) == 0
    printed = capsys.readouterr().out
    assert "removed 1 unfinished file(s) of an interrupted run" in printed
    assert "2 already done" in printed and "restored 1 of 3 inputs (2 already done)" in printed
    assert sorted(_pngs(out)) == ["0.jpg", "1.jpg", "2.jpg"]


def test_5_kill_9_during_a_restore_then_rerun(models, photo, tmp_path):
    inputs = [_jpeg(np.tile(photo, (2, 2, 1)), tmp_path / "in" / f"{i:02d}.jpg", 10, 13 * i)
              for i in range(8)]  # fmt: skip
    assert main(_restore(inputs, tmp_path / "reference", models, "--tile", "128")) == 0
    out = tmp_path / "out"
    run = _cli(*_restore(inputs, out, models, "--tile", "128"))
    deadline = time.monotonic() + 240
    while not list(out.glob("*.jpg")) and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    run.send_signal(signal.SIGKILL)
    run.wait()
    finished = set(out.glob("*.jpg"))  # complete files only: temporary ones are hidden
    rerun = _cli(*_restore(inputs, out, models, "--tile", "128"))
    printed, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0
    if 0 < len(finished) < len(inputs):
        assert f"{len(finished)} already done" in printed
    assert _pngs(out) == _pngs(tmp_path / "reference")


# 6. Nothing skipped without a word ------------------------------------------------------------


def test_6_every_input_not_restored_is_listed(models, photo, tmp_path, capsys):
    folder = tmp_path / "in"
    _jpeg(photo, folder / "a.jpg")
    _jpeg(photo, tmp_path / "elsewhere" / "b.jpg")
    (folder / "linked").symlink_to(tmp_path / "elsewhere")
    (folder / "loop1").symlink_to(folder / "loop2")
    (folder / "loop2").symlink_to(folder / "loop1")
    (folder / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    (folder / "photo.heic").write_bytes(b"\0\0\0\x18ftypheic")
    (folder / "photo.avif").write_bytes(b"\0\0\0\x18ftypavif")
    (folder / "notes.txt").write_text("hello")
    Image.fromarray(photo).save(folder / "no_suffix", format="JPEG", quality=20)
    assert main(_restore([folder], tmp_path / "out", models)) == 1
    printed = capsys.readouterr().out
    assert "restored 2 of 9 inputs (7 skipped)" in printed
    for name, reason in (("linked", "symbolic link to a folder, not followed"),
                         ("loop1", "symbolic link loop"), ("loop2", "symbolic link loop"),
                         ("gone.jpg", "broken symbolic link"),
                         ("photo.heic", "HEIC images cannot be read"),
                         ("photo.avif", "AVIF images cannot be read"),
                         ("notes.txt", "not an image or video file (suffix '.txt'")):  # fmt: skip
        assert f"{folder / name}: {reason}" in printed
    assert sorted(_pngs(tmp_path / "out")) == ["a.jpg", "no_suffix.jpg"]
    assert main(_restore([folder / "photo.heic"], tmp_path / "out2", models)) == 1
    assert "HEIC images cannot be read" in capsys.readouterr().out


# 7. Memory ------------------------------------------------------------------------------------


def test_7_tiled_memory_does_not_grow_with_the_image_beyond_its_pixels(photo):
    import tracemalloc

    def peak(height: int) -> int:
        image = np.ascontiguousarray(np.resize(photo, (height, 256, 3)))
        tracemalloc.start()
        restore_tiled(lambda rgb: rgb.astype(np.float32), image, tile=64, overlap=16)
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return used

    small, large = peak(1024), peak(4096)
    added_pixels = (4096 - 1024) * 256
    assert (large - small) / added_pixels < 4  # the uint8 output (3 bytes) and no more


def test_7_the_budget_also_moves_pillows_decompression_bomb_guard(models, photo, tmp_path,
                                                               monkeypatch):  # fmt: skip
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 192x256 is a "bomb" to Pillow now
    Image.fromarray(photo).save(tmp_path / "a.jpg", quality=20)
    report = restore_files([tmp_path / "a.jpg"], tmp_path / "out", models_dir=models / "gan",
                           device="cpu", progress=False, max_megapixels=1)  # fmt: skip
    assert not report.failed and Image.MAX_IMAGE_PIXELS == 1000


def test_7_images_over_the_pixel_budget_are_refused_before_decoding(models, tmp_path, capsys):
    Image.new("RGB", (10000, 9000), (90, 120, 150)).save(tmp_path / "huge.png")
    assert (tmp_path / "huge.png").stat().st_size < 1_000_000
    assert main(_restore([tmp_path / "huge.png"], tmp_path / "out", models,
                         "--max-megapixels", "50")) == 1  # fmt: skip
    printed = capsys.readouterr().out
    assert (
        "huge.png: too large: 90.0 megapixels, over the limit of 50 (--max-megapixels)" in printed
    )


# 8. Never-compressed inputs ----------------------------------------------------------------------


@pytest.fixture
def above_predictor(tmp_path) -> Path:
    """A predictor sure that every image is above its QFs (never compressed)."""
    net = QFNet(QUALITIES, 4, above=True).eval()
    with torch.no_grad():
        net.head.bias[-1] = 50.0
    path = tmp_path / "above.pt"
    save_atomic(predictor_release(net) | {"method": "qf_predictor"}, path)
    return path


def test_8_uncompressed_images_are_copied_unless_asked(models, photo, tmp_path, above_predictor):
    Image.fromarray(photo).save(tmp_path / "clean.png")
    Image.fromarray(photo).save(tmp_path / "clean.webp", lossless=True)
    Image.fromarray(photo).convert("P").save(tmp_path / "clean.gif")
    inputs = [tmp_path / n for n in ("clean.png", "clean.webp", "clean.gif")]
    common = {"models_dir": models / "gan", "device": "cpu", "progress": False,
              "predictor": above_predictor}  # fmt: skip
    report = restore_files(inputs, tmp_path / "out", **common)
    assert [r.status for r in report.results] == ["copied"] * 3 and not report.failed
    assert "no sign of JPEG compression" in report.summary()
    assert np.array_equal(read_png(tmp_path / "out" / "clean.png"), photo)
    report = restore_files(inputs[:1], tmp_path / "asked", restore_uncompressed=True, **common)
    assert report.results[0].status == "restored"
    assert report.results[0].choice.generators == {40: 1.0}  # the gentlest
    assert not np.array_equal(read_png(tmp_path / "asked" / "clean.png"), photo)
    report = restore_files(inputs[:1], tmp_path / "given", quality=20, **common)
    assert report.results[0].status == "restored"  # a given quality is always used


def test_restore_tiled_equals_the_old_whole_image_sums(photo):
    """The band-by-band accumulation gives what accumulating over the whole image gave."""
    image = np.ascontiguousarray(np.resize(photo, (300, 200, 3)))

    def restorer(rgb):  # a local, nonlinear map: tiles must blend exactly as the whole
        return np.sqrt(rgb.astype(np.float32) * 255)

    whole = np.rint(restorer(image)).astype(np.uint8)
    tiled = restore_tiled(restorer, image, tile=64, overlap=16)
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1
    floats = restore_tiled(restorer, image, tile=64, overlap=16, rounded=False)
    assert np.abs(floats - restorer(image)).max() < 1e-3
