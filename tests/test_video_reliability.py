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
