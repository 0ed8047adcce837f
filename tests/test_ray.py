"""`restore --ray`: an archive restored on a local Ray cluster of two workers gives the bytes of
a single process, and a worker or a driver killed with SIGKILL loses nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from PIL import Image

from artifact_removal.restore.run import restore_files

from .test_video import _pan, _write_clip


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance with two CPUs: two workers."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


@pytest.fixture
def archive(tmp_path, photo) -> Path:
    """Eight 768x576 JPEGs at four QFs in two folders, and a 30-frame H.264 clip."""
    folder = tmp_path / "archive"
    for i in range(8):
        big = np.asarray(Image.fromarray(np.roll(photo, 17 * i, axis=1)).resize((768, 576)))
        (folder / f"roll{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(big).save(folder / f"roll{i % 2}" / f"p{i}.jpg", quality=10 + 10 * (i % 4))
    _write_clip(folder / "clip.mp4", _pan(photo, 30))
    return folder


def _options(models) -> dict:
    return {"models_dir": models / "gan", "predictor": models / "qf" / "predictor.pt",
            "device": "cpu", "method": "gan", "quality": 20, "segment_frames": 8,
            "progress": False}  # fmt: skip


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


def _outputs(folder: Path) -> list[Path]:
    """The finished outputs in a folder (not the hidden ones: segments, temporary files)."""
    if not folder.is_dir():
        return []
    return [p for p in folder.rglob("*") if p.is_file() and not any(
            part.startswith(".") for part in p.relative_to(folder).parts)]  # fmt: skip


def _task_workers() -> list[psutil.Process]:
    """The Ray worker processes running a restore task now (Ray names them ray::_task)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if cmdline.startswith("ray::_task"):
            found.append(process)
    return found


def test_ray_gives_the_bytes_of_one_process_and_survives_a_killed_worker(
    cluster, models, archive, tmp_path
):
    single = restore_files([archive], tmp_path / "single", **_options(models))
    killed = []

    def kill_one_worker() -> None:  # SIGKILL to a worker in the middle of a task, once
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            workers = _task_workers()
            if workers:
                time.sleep(0.3)
                workers[0].send_signal(signal.SIGKILL)
                killed.append(workers[0].pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    on_ray = restore_files([archive], tmp_path / "ray", ray="", **_options(models))
    killer.join()
    assert killed, "no Ray worker was seen running a task"
    assert not on_ray.failed and len(on_ray.results) == len(single.results) == 9
    assert [(r.source, r.status) for r in on_ray.results] == [
        (r.source, r.status) for r in single.results
    ]
    assert _files(tmp_path / "ray") == _files(tmp_path / "single")  # no temporary file left
    clip = next(r for r in on_ray.results if r.source.name == "clip.mp4")  # in 4 segment tasks
    assert clip.notes[0].startswith("video, 30 frames, ") and "frames/s" in clip.notes[0]


@pytest.mark.slow
def test_a_killed_driver_resumes_where_it_stopped(models, archive, tmp_path):
    """The command with --ray (a Ray instance of its own), killed once outputs appear; run
    again, it finishes the rest, and the outputs are a single process's bytes."""
    single = tmp_path / "single"
    restore_files([archive], single, **_options(models))
    flags = ["--models", str(models / "gan"), "--predictor", str(models / "qf/predictor.pt"),
             "--device", "cpu", "--method", "gan", "--quality", "20",
             "--segment-frames", "8"]  # fmt: skip
    command = [sys.executable, "-m", "artifact_removal", "restore", str(archive), "-o",
               str(tmp_path / "out"), *flags, "--ray"]  # fmt: skip
    env = {**os.environ, "RAY_ADDRESS": ""}
    driver = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_outputs(tmp_path / "out")) < 2:
        time.sleep(0.1)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 60  # its Ray instance notices, and its workers stop
    while time.monotonic() < deadline and _task_workers():
        time.sleep(0.2)
    finished = len(_outputs(tmp_path / "out"))
    assert 2 <= finished < 9, "the driver was not killed half-way"
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"restored {9 - finished} of 9 inputs ({finished} already done)" in again.stdout
    assert _files(tmp_path / "out") == _files(single)


def test_an_input_taken_for_the_address_is_said(models, archive, tmp_path, capsys):
    from artifact_removal.cli import main

    photo = str(archive / "roll0" / "p0.jpg")
    code = main(["restore", "--ray", photo, str(archive / "roll1"), "-o", str(tmp_path / "o"),
                 "--models", str(models / "gan"), "--device", "cpu"])  # fmt: skip
    assert code == 2 and "put --ray after the inputs" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # said before anything is written


@pytest.mark.slow
def test_a_ray_client_address_restores_as_one_process(models, tmp_path, photo):
    """`--ray ray://HOST:10001` (the README's remote cluster) through Ray Client, against a head
    started with `ray start`: the bytes of a single process (issue 40, case 9)."""
    from .conftest import free_port

    folder = tmp_path / "in"
    folder.mkdir()
    for quality in (10, 40):
        Image.fromarray(photo).save(folder / f"q{quality}.jpg", quality=quality)
    single = tmp_path / "single"
    restore_files(folder, single, **_options(models))
    ray = Path(sys.executable).parent / "ray"
    port, client = free_port(), free_port()
    # its own temporary folder (short: Ray's sockets live there), so that the head's address
    # is not left in /tmp/ray for a later ray.init() to join
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    head = subprocess.Popen(
        [str(ray), "start", "--head", "--block", f"--port={port}", f"--temp-dir={temp}",
         f"--ray-client-server-port={client}", "--num-cpus=1", "--include-dashboard=false",
         "--min-worker-port=0", "--max-worker-port=0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "RAY_ADDRESS": ""},
    )  # fmt: skip
    try:
        flags = ["--models", str(models / "gan"), "--predictor", str(models / "qf/predictor.pt"),
                 "--device", "cpu", "--method", "gan", "--quality", "20"]  # fmt: skip
        command = [sys.executable, "-m", "artifact_removal", "restore", str(folder), "-o",
                   str(tmp_path / "out"), *flags, f"--ray=ray://127.0.0.1:{client}"]  # fmt: skip
        deadline = time.monotonic() + 120
        while True:  # the head takes a few seconds to listen
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "restored 2 of 2 inputs" in done.stdout
        assert _files(tmp_path / "out") == _files(single)
    finally:
        head.send_signal(signal.SIGTERM)  # --block: the head stops what it started
        head.wait(timeout=60)
        shutil.rmtree(temp, ignore_errors=True)
