"""Videos that are cut short, and the segments of an interrupted run (issue 27, cases 2 and
4): said, never restored short or taken as inputs, never written through a link."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

from artifact_removal.data.video import ClipError, read_clip
from artifact_removal.restore.run import restore_files
from artifact_removal.restore.video import VideoError, parts_folder, restore_video

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
    from artifact_removal.restore import video

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
        "from artifact_removal.restore.video import restore_video\n"
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
    from artifact_removal.restore.video import VideoOutput

    source = _written(tmp_path / "in.mkv", _pan(photo, 12))
    target = tmp_path / "out.mkv"
    output = VideoOutput(codec, crf=6)
    restore_video(source, target, lambda f: f, {"id": 1}, output, progress=False)
    with av.open(str(target)) as container:
        assert container.streams.video[0].average_rate == 25


def test_a_full_disk_and_a_damaged_video_are_said_in_words(models, photo, tmp_path,
                                                           monkeypatch):  # fmt: skip
    import errno

    from artifact_removal.restore import video

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


# --- issue 40, item 7: every stream kept, a copy cut short refused ---------------------------

SUBTITLES = "1\n00:00:00,000 --> 00:00:00,120\nbonjour\n\n2\n00:00:00,160 --> 00:00:00,280\nmonde\n"


def _cues() -> tuple[list, bytes]:
    """SUBTITLES decoded, to encode in any subtitle codec: (packet, subtitle set) per cue, and
    the decoder's header (the styles an encoder needs)."""
    import io

    with av.open(io.BytesIO(SUBTITLES.encode()), format="srt") as srt:
        text = srt.streams.subtitles[0]
        cues = [(p, text.codec_context.decode2(p)) for p in srt.demux(text) if p.size]
        return cues, text.codec_context.subtitle_header


def _many_streams(path, frames: np.ndarray):
    """`frames` as H.264, a second small (32x48) video stream, and French subtitles (SubRip in
    Matroska, mov_text in MP4)."""
    with av.open(str(path), "w") as container:
        streams = [container.add_stream("libx264", rate=25) for _ in range(2)]
        for stream, (h, w) in zip(streams, [frames.shape[1:3], (32, 48)], strict=True):
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        subtitles = container.add_stream("subrip" if path.suffix == ".mkv" else "mov_text")
        subtitles.metadata["language"] = "fre"
        cues, subtitles.codec_context.subtitle_header = _cues()  # set before the first mux
        for t, rgb in enumerate(frames):
            for stream in streams:
                pixels = np.ascontiguousarray(rgb[: stream.height, : stream.width])
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts = t
                container.mux(stream.encode(frame))
        for stream in streams:
            container.mux(stream.encode(None))
        for cue, subtitle in cues:
            packet = subtitles.codec_context.encode_subtitle(subtitle)
            packet.pts, packet.dts, packet.duration = cue.pts, cue.dts, cue.duration
            packet.time_base, packet.stream = cue.time_base, subtitles
            container.mux(packet)
    return path


def _streams(path) -> list[tuple[str, str, str | None]]:
    """(type, codec, language) of each stream, as ffprobe lists them."""
    with av.open(str(path)) as container:
        return [(s.type, s.codec_context.name, s.metadata.get("language"))
                for s in container.streams]  # fmt: skip


def _packets_of(path, index: int) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams[index]) if p.size]


@pytest.mark.parametrize(("quality", "status"), [(40, "restored"), (20, "copied")])
def test_more_video_and_subtitle_streams_are_carried_unchanged(quality, status, models, photo,
                                                               tmp_path):  # fmt: skip
    """A second video stream and the subtitles go into the output packet by packet, for a
    restored video as for one copied as it is (CRF 20: better than the generators' 32..40);
    the notes say so."""
    (tmp_path / "in").mkdir()
    source = _many_streams(tmp_path / "in" / "clip.mkv", _pan(photo, 8))
    report = restore_files([source], tmp_path / "out", **_common(models) | {"quality": quality})
    (result,) = report.results
    assert result.status == status, report.summary()
    out = tmp_path / "out" / "clip.mkv"
    assert _streams(out) == _streams(source)
    assert [(kind, language) for kind, _, language in _streams(out)] == [
        ("video", None), ("video", None), ("subtitle", "fre")]  # fmt: skip
    assert _packets_of(out, 1) == _packets_of(source, 1)  # the second picture, unchanged
    assert _packets_of(out, 2) == _packets_of(source, 2)
    assert (_packets_of(out, 0) == _packets_of(source, 0)) == (status == "copied")
    assert "1 more video stream(s) copied unchanged, not restored" in "; ".join(result.notes)
    assert "1 subtitle stream(s) copied unchanged" in result.notes
    assert not report.failed


@pytest.mark.parametrize("quality", [40, 20])
def test_a_stream_the_output_cannot_hold_fails_the_file(quality, models, photo, tmp_path):
    """MP4 subtitles (mov_text) have no place in Matroska, where FFV1 output goes: the file
    fails with the reason, before anything is restored, rather than losing them silently."""
    from artifact_removal.restore.video import VideoOutput

    (tmp_path / "in").mkdir()
    source = _many_streams(tmp_path / "in" / "clip.mp4", _pan(photo, 8))
    assert _streams(source)[2] == ("subtitle", "mov_text", "fre")
    common = _common(models) | {"quality": quality, "video": VideoOutput("ffv1")}
    report = restore_files([source], tmp_path / "out", **common)
    (result,) = report.results
    assert report.failed == [result] and result.status == "failed", report.summary()
    assert result.error.startswith("its subtitle stream #2 (mov_text) cannot be carried into "
                                   "Matroska (.mkv)"), result.error  # fmt: skip
    assert "nothing was written" in result.error
    assert not (tmp_path / "out" / "clip.mkv").exists()
    assert not parts_folder(tmp_path / "out" / "clip.mkv").exists()


@pytest.mark.parametrize("kind", ["mp4", "mkv"])
def test_a_truncated_video_is_not_copied_short(kind, models, photo, tmp_path):
    """A cut-short file better than the generators (given CRF 20) is copied as it is: it is
    refused as a restore refuses it, and nothing is written."""
    frames = _pan(photo, 30, size=(48, 64))
    whole = _written(tmp_path / f"whole.{kind}", frames)
    with av.open(str(whole)) as container:
        ends = sorted(p.pos + p.size for p in container.demux(video=0) if p.size)
    cut = tmp_path / "in" / f"cut.{kind}"
    cut.parent.mkdir()
    cut.write_bytes(whole.read_bytes()[: ends[17]])
    common = _common(models) | {"quality": 20}
    report = restore_files([cut], tmp_path / "out", **common)
    (result,) = report.results
    assert result.status == "failed", report.summary()
    assert result.error.startswith("truncated: its container "), result.error
    assert "nothing was written" in result.error
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    whole_report = restore_files([whole], tmp_path / "out2", **common)
    assert whole_report.results[0].status == "copied", whole_report.summary()
