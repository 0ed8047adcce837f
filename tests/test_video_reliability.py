"""Videos that are cut short, and the segments of an interrupted run (issue 27, cases 2 and
4): said, never restored short or taken as inputs, never written through a link."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

from artifact_removal.data.video import ClipError, read_clip
from artifact_removal.inference.files import restore_files
from artifact_removal.inference.video import VideoError, parts_folder, restore_video

from .test_video import _lossless, _pan, _write_clip


def _common(models) -> dict:
    return {"method": "video_ssim", "models_dir": models / "video_ssim", "quality": 40,
            "device": "cpu", "progress": False, "predictor": models / "none.pt"}  # fmt: skip


def _written(path, frames: np.ndarray):
    """H.264 in MP4 with its index first (faststart, as for streaming), or in Matroska."""
    options = {"movflags": "faststart"} if path.suffix == ".mp4" else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "30"})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for t, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = t
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("kind", ["mp4", "mkv"])
def test_a_truncated_video_is_not_restored_short(kind, models, photo, tmp_path):
    """A file cut short (a copy that stopped, a download that did not finish) decodes fewer
    frames than its container promises: the run says so and writes nothing."""
    frames = _pan(photo, 30)
    whole = _written(tmp_path / f"whole.{kind}", frames)
    with av.open(str(whole)) as container:  # cut after the 18th frame's packet
        ends = sorted(p.pos + p.size for p in container.demux(video=0) if p.size)
    cut = tmp_path / "in" / f"cut.{kind}"
    cut.parent.mkdir()
    cut.write_bytes(whole.read_bytes()[: ends[17]])
    report = restore_files([cut], tmp_path / "out", **_common(models))
    (result,) = report.results
    assert result.status == "failed", report.summary()
    assert result.error.startswith("truncated: its container ")
    assert not (tmp_path / "out" / cut.name).exists()
    assert not parts_folder(tmp_path / "out" / cut.name).exists()  # no leftovers
    whole_report = restore_files([whole], tmp_path / "out2", **_common(models))
    assert whole_report.results[0].status == "restored", whole_report.summary()


def test_an_interrupted_runs_segments_are_not_inputs(models, photo, tmp_path):
    """A run over a parent folder meets `.clip.mp4.segments/` of an interrupted run: it is
    listed as what it is, and none of its segments is restored as a video."""
    (tmp_path / "work").mkdir()
    clip = _write_clip(tmp_path / "work" / "clip.mp4", _pan(photo, 8), audio=False)
    parts = parts_folder(tmp_path / "work" / "restored" / "clip.mp4")
    parts.mkdir(parents=True)
    (parts / "manifest.json").write_text(json.dumps({"record": {}}))
    (parts / "segment_000000.mp4").write_bytes(clip.read_bytes())
    report = restore_files([tmp_path / "work"], tmp_path / "out", **_common(models))
    restored = [r.source.name for r in report.results if r.status == "restored"]
    assert restored == ["clip.mp4"], report.summary()
    skipped = [r for r in report.results if r.source == parts]
    assert skipped and "interrupted video restore's segments" in skipped[0].error


def test_a_planted_segments_link_is_not_written_through(photo, tmp_path):
    clip = _write_clip(tmp_path / "clip.mp4", _pan(photo, 8), audio=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = tmp_path / "out" / "clip.mp4"
    target.parent.mkdir()
    parts_folder(target).symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(VideoError, match="never written through"):
        restore_video(clip, target, lambda f: f, {"id": 1}, progress=False)
    assert list(elsewhere.iterdir()) == []


def test_import_clip_says_missing_truncated_and_takes_lossless_h264(photo, tmp_path):
    """Case 8 and the clip importer's share of case 2: a missing clip is not "damaged", a
    truncated FFV1 clip is refused, lossless H.264 (x264 at CRF 0) is taken as clean."""
    with pytest.raises(ClipError, match="not found"):
        read_clip(tmp_path / "missing.mkv")
    frames = _pan(photo, 30)
    whole = _lossless(tmp_path / "whole.mkv", frames, "ffv1", "bgr0")
    with av.open(str(whole)) as container:
        ends = sorted(p.pos + p.size for p in container.demux(video=0) if p.size)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: ends[11]])
    with pytest.raises(ClipError, match="truncated"):
        read_clip(cut)
    lossless = _write_clip(tmp_path / "lossless.mp4", frames[:4], audio=False, crf=0)
    clip = read_clip(lossless)
    assert clip.frames.shape == (4, *frames.shape[1:]) and "lossless" in clip.notes[0]
    with pytest.raises(ClipError, match="lossy codec"):
        read_clip(_write_clip(tmp_path / "lossy.mp4", frames[:4], audio=False, crf=30))


# --- case 3: memory; case 5: kill -9; case 8: what is said ------------------------------------


def test_a_segment_streams_a_batch_at_a_time(photo, tmp_path, monkeypatch):
    """Issue 27, case 3: frames are decoded as the network takes them, never a whole segment
    ahead, so memory depends on the batch, not on --segment-frames."""
    from artifact_removal.inference import video

    source = _written(tmp_path / "in.mp4", _pan(photo, 30))
    decoded, ahead = [0], []
    frames = video._frames

    def counted(path, skip_before):
        for item in frames(path, skip_before):
            decoded[0] += 1
            yield item

    def restore(batch: np.ndarray) -> np.ndarray:
        ahead.append(decoded[0] - restored[0])
        restored[0] += len(batch)
        return batch

    restored = [0]
    monkeypatch.setattr(video, "_frames", counted)
    done = restore_video(source, tmp_path / "out.mp4", restore, {"id": 1}, segment_frames=30,
                         batch=4, progress=False)  # fmt: skip
    assert done.frames == 30 and restored[0] == 30
    assert max(ahead) <= 4  # one batch decoded ahead of the network, not the segment's 30


def test_a_video_killed_and_rerun_is_byte_identical(photo, tmp_path):
    """Issue 27, case 5: kill -9 during a restore, run it again: the output is the bytes of an
    uninterrupted run (finished segments kept, x264's threads fixed)."""
    import hashlib
    import signal
    import subprocess
    import sys
    import time

    source = _written(tmp_path / "in.mp4", _pan(photo, 40))
    child = (
        "import sys, time, numpy as np\n"
        "from artifact_removal.inference.video import restore_video\n"
        "def slow(frames):\n"
        "    time.sleep(float(sys.argv[3]))\n"
        "    return (255 - frames.astype(np.int16)).astype(np.uint8)\n"
        "restore_video(sys.argv[1], sys.argv[2], slow, {'id': 1}, segment_frames=8, batch=4,\n"
        "              progress=False)\n"
    )

    def run(target, pause: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", child, str(source), str(target), pause])

    assert run(tmp_path / "whole.mp4", "0").wait(timeout=120) == 0
    target = tmp_path / "killed.mp4"
    killed = run(target, "0.4")
    parts = parts_folder(target)
    deadline = time.monotonic() + 120
    while len(list(parts.glob("segment_*.mp4"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    kept = len(list(parts.glob("segment_*.mp4")))
    assert not target.exists() and 2 <= kept < 5  # killed half-way
    assert run(target, "0").wait(timeout=120) == 0
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(target) == digest(tmp_path / "whole.mp4")


@pytest.mark.parametrize("codec", ["h264", "ffv1"])
def test_a_matroska_output_keeps_the_frame_rate(codec, photo, tmp_path):
    """Issue 27, case 8: a restored MKV said 12800 frames/s on average (the segments' time
    base); it says the input's 25."""
    from artifact_removal.inference.video import VideoOutput

    source = _written(tmp_path / "in.mkv", _pan(photo, 12))
    target = tmp_path / "out.mkv"
    restore_video(source, target, lambda f: f, {"id": 1}, VideoOutput(codec), progress=False)
    with av.open(str(target)) as container:
        assert container.streams.video[0].average_rate == 25


def test_a_full_disk_and_a_damaged_video_are_said_in_words(models, photo, tmp_path,
                                                           monkeypatch):  # fmt: skip
    import errno

    from artifact_removal.inference import video

    (tmp_path / "in").mkdir()
    source = _written(tmp_path / "in" / "clip.mp4", _pan(photo, 12))
    damaged = tmp_path / "in" / "damaged.mp4"
    data = bytearray(source.read_bytes())
    start = len(data) * 8 // 10
    data[start : start + 2000] = bytes(2000)  # frames zeroed: the decoder stops there
    damaged.write_bytes(bytes(data))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(video, "write_atomic", full)
    report = restore_files([source], tmp_path / "out", **_common(models))
    (result,) = report.results
    assert result.status == "failed"
    assert result.error.startswith(f"no space left to write clip.mp4 in {tmp_path / 'out'}")
    assert "what was finished is kept" in result.error
    monkeypatch.undo()
    report = restore_files([damaged], tmp_path / "out", **_common(models))
    (result,) = report.results
    assert result.status == "failed"
    assert "Errno" not in result.error and "damaged" in result.error, result.error
