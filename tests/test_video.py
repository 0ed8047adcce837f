"""Video: the H.264 degradation, temporal metrics, and restoring whole videos (sound kept,
interrupted runs resumed without redoing finished segments)."""

from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from artifact_removal.cli import main
from artifact_removal.data.video import MOTIONS, ClipError, camera_motion, read_clip
from artifact_removal.degradations.h264 import H264, decode_clip, h264_compress
from artifact_removal.metrics.full_reference import psnr
from artifact_removal.metrics.temporal import flicker_error, tof
from artifact_removal.restore.records import video_record
from artifact_removal.restore.video import (
    VideoError,
    VideoInfo,
    VideoOutput,
    parts_folder,
    probe,
    restore_video,
)


def _pan(photo: np.ndarray, frames: int, size=(96, 128), step=2) -> np.ndarray:
    """A clip panning over a still, `step` pixels a frame."""
    h, w = size
    return np.stack([photo[t % 40 : t % 40 + h, step * t : step * t + w] for t in range(frames)])


def _write_clip(path: Path, frames: np.ndarray, fps=Fraction(25), audio=True, crf=35,
                rotation=0) -> Path:  # fmt: skip
    """An H.264 MP4 of `frames`, with a stereo AAC tone as long as the picture (and a phone's
    display rotation, when given)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps, options={"crf": str(crf)})
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        if audio:
            sound = container.add_stream("aac", rate=48000)
            sound.layout = "stereo"
        for t, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = t
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio:
            samples = int(len(frames) / fps * 48000)
            tone = (0.3 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 48000)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = np.ascontiguousarray(np.stack([tone[start : start + 1024]] * 2))
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = 48000, start
                container.mux(sound.encode(frame))
            container.mux(sound.encode(None))
    return path


def _audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def _timing(path: Path) -> tuple:
    """Frame count, every frame's timestamp, the time base and the average frame rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = [frame.pts for frame in container.decode(stream)]
        return len(pts), pts, stream.time_base, stream.average_rate


def _invert(frames: np.ndarray) -> np.ndarray:
    return 255 - frames


# H.264 degradation ---------------------------------------------------------------------------


def test_h264_keeps_shape_and_picture_types_and_is_deterministic(photo):
    clip = _pan(photo, 16, size=(95, 127))  # odd: padded for yuv420p, cropped back
    settings = H264(crf=30, gop=8, bframes=2)
    out = h264_compress(clip, settings)
    assert out.frames.shape == clip.shape and out.frames.dtype == np.uint8
    assert out.picture_types[0] == "I" and out.picture_types[8] == "I"  # a keyframe per GOP
    assert {"P", "B"} <= set(out.picture_types)
    assert out.fps == 25 and 0 < out.bits_per_pixel < 24
    assert h264_compress(clip, settings).data == out.data


def test_h264_quality_falls_as_crf_rises(photo):
    clip = _pan(photo, 8)
    scores = []
    for crf in (18, 30, 45):
        decoded = h264_compress(clip, H264(crf)).frames
        scores.append(np.mean([psnr(g, p) for g, p in zip(clip, decoded, strict=True)]))
    assert scores[0] > scores[1] > scores[2] > 20


@pytest.mark.parametrize(("field", "value", "message"), [
    ("crf", 52, "CRF"), ("crf", -1, "CRF"), ("preset", "quick", "preset"), ("gop", 0, "GOP"),
    ("bframes", 17, "B-frames")])  # fmt: skip
def test_h264_settings_are_checked(field, value, message):
    with pytest.raises(ValueError, match=message):
        H264(**{"crf": 23, field: value})


# Temporal metrics ----------------------------------------------------------------------------


def test_flicker_error_known_answer():
    gt = np.full((5, 8, 8, 3), 100, np.uint8)
    pred = gt.copy()
    pred[1::2] += 2  # 100, 102, 100, 102, 100: every frame difference is off by 2
    assert flicker_error(gt, gt) == 0
    assert flicker_error(pred, gt) == pytest.approx(2.0)
    assert flicker_error(gt + 7, gt) == 0  # a constant error does not flicker


def test_tof_sees_motion_the_restoration_lost(photo):
    moving = _pan(photo, 4, step=1)
    still = np.stack([moving[0]] * 4)
    assert tof(moving, moving) == 0
    assert 0.6 < tof(still, moving) < 1.4  # one pixel a frame of motion missing
    with pytest.raises(ValueError, match="T >= 2"):
        tof(moving[:1], moving[:1])


def test_compression_raises_both_temporal_errors(photo):
    clip = _pan(photo, 8)
    light, heavy = (h264_compress(clip, H264(crf)).frames for crf in (20, 45))
    assert flicker_error(light, clip) < flicker_error(heavy, clip)
    assert tof(light, clip) < tof(heavy, clip)


# Restoring a whole video ---------------------------------------------------------------------


@pytest.fixture
def clip(photo, tmp_path) -> Path:
    return _write_clip(tmp_path / "clip.mp4", _pan(photo, 30))


def test_restored_video_keeps_frames_timing_and_audio(clip, tmp_path):
    target = tmp_path / "out" / "clip.mp4"
    result = restore_video(clip, target, _invert, {"id": 1}, segment_frames=8, progress=False)
    assert (result.frames, result.restored, result.segments, result.reused) == (30, 30, 4, 0)
    assert _timing(target) == _timing(clip)
    assert _audio_packets(target) == _audio_packets(clip)  # copied, not re-encoded
    assert video_record(target) == {"id": 1} and video_record(clip) is None
    assert not parts_folder(target).exists()
    source, restored = decode_clip(clip).frames, decode_clip(target).frames
    assert np.abs((255 - source.astype(int)) - restored).mean() < 3  # CRF 6 of the inverse
    assert probe(target).describe().startswith("h264 128x96 yuv444p, 25.000 fps, 30 frames")


def test_a_phones_rotation_is_kept(photo, tmp_path):
    portrait = _write_clip(tmp_path / "phone.mp4", _pan(photo, 6), audio=False, rotation=90)
    assert probe(portrait).rotation == 90
    target = tmp_path / "out" / "phone.mp4"
    restore_video(portrait, target, _invert, {}, segment_frames=4, progress=False)
    assert probe(target).rotation == 90  # restored as stored, shown turned as the input
    assert probe(_write_clip(tmp_path / "flat.mp4", _pan(photo, 2), audio=False)).rotation == 0


def test_ffv1_output_is_lossless(clip, tmp_path):
    target = tmp_path / "clip.mkv"
    restore_video(clip, target, _invert, {}, VideoOutput("ffv1"), segment_frames=7,
                  progress=False)  # fmt: skip
    assert np.array_equal(decode_clip(target).frames, 255 - decode_clip(clip).frames)
    assert _audio_packets(target) == _audio_packets(clip)


def test_interrupted_restore_resumes_without_redoing_finished_segments(clip, tmp_path):
    whole = tmp_path / "whole.mp4"
    restore_video(clip, whole, _invert, {"id": 1}, segment_frames=8, progress=False)
    seen = []

    def dies_at_frame_20(frames):
        seen.extend(range(len(frames)))
        if len(seen) > 20:
            raise KeyboardInterrupt
        return _invert(frames)

    target = tmp_path / "cut.mp4"
    with pytest.raises(KeyboardInterrupt):
        restore_video(clip, target, dies_at_frame_20, {"id": 1}, segment_frames=8, batch=4,
                      progress=False)  # fmt: skip
    parts = parts_folder(target)
    assert sorted(p.name for p in parts.glob("segment_*")) == ["segment_000000.mp4",
                                                               "segment_000001.mp4"]  # fmt: skip
    assert not target.exists()
    calls = []

    def counts(frames):
        calls.append(len(frames))
        return _invert(frames)

    result = restore_video(clip, target, counts, {"id": 1}, segment_frames=8, progress=False)
    assert (result.reused, result.restored, sum(calls)) == (2, 14, 14)
    assert target.read_bytes() == whole.read_bytes()


def test_changed_settings_start_over(clip, tmp_path):
    target = tmp_path / "out.mp4"
    parts = parts_folder(target)
    parts.mkdir()
    (parts / "manifest.json").write_text(json.dumps({"record": {"id": "old"}}))
    (parts / "segment_000000.mp4").write_bytes(b"stale")
    result = restore_video(clip, target, _invert, {"id": "new"}, segment_frames=8,
                           progress=False)  # fmt: skip
    assert result.reused == 0 and _timing(target)[0] == 30


def test_bad_videos_say_what_is_wrong(clip, tmp_path):
    (tmp_path / "text.mp4").write_text("not a video")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    with av.open(str(tmp_path / "sound.mkv"), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                           layout="mono")  # fmt: skip
        frame.sample_rate, frame.pts = 48000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(VideoError, match="damaged, truncated, or not a video"):
        probe(tmp_path / "text.mp4")
    with pytest.raises(VideoError, match="damaged, truncated, or not a video"):
        probe(truncated)
    with pytest.raises(VideoError, match="no video stream"):
        probe(tmp_path / "sound.mkv")
    with pytest.raises(VideoError, match="codec"):
        VideoOutput("vp9")


def test_cli_restores_a_video_beside_images(models, clip, photo, tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    clip.rename(folder / "clip.mp4")
    Image.fromarray(photo[:64, :64]).save(folder / "still.jpg", quality=20)
    (folder / "broken.mkv").write_bytes(b"\x1a\x45\xdf\xa3 nothing else")
    args = ["restore", str(folder), "-o", str(tmp_path / "out"), "--models", str(models / "gan"),
            "--predictor", str(models / "qf" / "predictor.pt"), "--device", "cpu",
            "--quality", "20", "--segment-frames", "10", "--method", "gan"]  # fmt: skip
    assert main(args) == 1  # the broken file
    printed = capsys.readouterr().out
    assert "clip.mp4 -> " in printed and "video, 30 frames" in printed
    assert "broken.mkv: cannot be read as a video" in printed
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4", "still.jpg"]
    assert _timing(out / "clip.mp4") == _timing(folder / "clip.mp4")
    assert _audio_packets(out / "clip.mp4") == _audio_packets(folder / "clip.mp4")
    assert main(args) == 1
    assert "2 already done" in capsys.readouterr().out


# Clean clips -------------------------------------------------------------------------------


def test_camera_motion_is_seeded_subpixel_motion(photo):
    for motion in MOTIONS:
        clip = camera_motion(photo, (48, 64), 6, motion, seed=3)
        assert clip.shape == (6, 48, 64, 3) and clip.dtype == np.uint8
        assert np.array_equal(clip, camera_motion(photo, (48, 64), 6, motion, seed=3))
        assert np.abs(np.diff(clip.astype(int), axis=0)).mean() > 0.5  # the camera moves
    gray = camera_motion(photo[..., 0], (48, 64), 3, "pan", seed=0)
    assert np.array_equal(gray[..., 0], gray[..., 2])
    with pytest.raises(ClipError, match="too small"):
        camera_motion(photo[:50, :50], (48, 64), 3, "pan", seed=0)
    with pytest.raises(ClipError, match="camera motion must be one of"):
        camera_motion(photo, (48, 64), 3, "dolly", seed=0)


def _lossless(path: Path, frames: np.ndarray, codec: str, pix_fmt: str, fmt: str | None = None,
              stamps=None) -> Path:  # fmt: skip
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if stamps is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for t, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = t if stamps is None else stamps[t]
            if stamps is not None:
                frame.time_base = Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_read_clip_takes_lossless_video_and_says_what_it_converted(photo, tmp_path):
    clip = _pan(photo, 4)
    ffv1 = read_clip(_lossless(tmp_path / "a.mkv", clip, "ffv1", "bgr0"))
    assert np.array_equal(ffv1.frames, clip) and ffv1.fps == 25 and ffv1.notes == ()
    y4m = read_clip(_lossless(tmp_path / "b.y4m", clip, "rawvideo", "yuv444p", "yuv4mpegpipe"))
    assert y4m.frames.shape == clip.shape and np.abs(y4m.frames.astype(int) - clip).mean() < 2
    deep = read_clip(_lossless(tmp_path / "c.mkv", clip, "ffv1", "yuv420p10le"))
    assert deep.notes == ("yuv420p10le (10-bit) converted to 8-bit RGB",)
    vfr = read_clip(_lossless(tmp_path / "d.mkv", clip, "ffv1", "bgr0", stamps=[0, 40, 80, 200]))
    assert any("variable frame rate" in n for n in vfr.notes)
    assert len(read_clip(tmp_path / "a.mkv", max_frames=2).frames) == 2


def test_read_clip_refuses_what_it_cannot_use(photo, tmp_path):
    with pytest.raises(ClipError, match="lossy codec"):
        read_clip(_write_clip(tmp_path / "lossy.mp4", _pan(photo, 3), audio=False))
    (tmp_path / "junk.y4m").write_text("YUV4MPEG2 nonsense")
    with pytest.raises(ClipError, match="damaged, truncated, or not a video"):
        read_clip(tmp_path / "junk.y4m")
    frames = tmp_path / "frames"
    frames.mkdir()
    from PIL import Image

    for k, rgb in enumerate(_pan(photo, 3)):
        Image.fromarray(rgb).save(frames / f"{k:03d}.png")
    assert read_clip(frames).frames.shape == (3, 96, 128, 3)
    Image.fromarray(photo[:10, :10]).save(frames / "999.png")
    with pytest.raises(ClipError, match=r"frame 999\.png is 10x10"):
        read_clip(frames)


# The stage ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def video_stage(prepared_project, tmp_path_factory):
    """The video stage's work on a copy of the tiny prepared project: clips, both methods
    trained for CRF 40, the test clips restored and scored, the reports written."""
    import shutil

    import torch

    from artifact_removal.config import load_params
    from artifact_removal.data.video import prepare_video
    from artifact_removal.stages.video import (
        crf_confusion,
        evaluate_video,
        train_video_methods,
        write_reports,
    )

    project = tmp_path_factory.mktemp("video") / "project"
    shutil.copytree(prepared_project, project)
    params = load_params(project / "params.yaml")
    frames, clips, _ = prepare_video(params, project, progress=False)
    runs = train_video_methods(params, project, torch.device("cpu"), progress=False)
    evaluation = evaluate_video(params, project, torch.device("cpu"), progress=False)
    confusion, scores = crf_confusion(params, project, torch.device("cpu"))
    frames_per_class = 2 * 3  # video.predictor_frames of the tiny profile, its 3 CRF classes
    assert int(confusion.to_numpy().sum()) == frames_per_class * len(
        clips[clips["split"] == "test"]
    )
    paths = write_reports(evaluation, params, project, scores)
    return project, frames, clips, runs, evaluation, paths


def test_the_stage_prepares_trains_restores_and_scores(video_stage):
    project, frames, clips, runs, evaluation, paths = video_stage
    assert set(clips["split"]) == {"train", "val", "test"} and set(clips["crf"]) == {40}
    assert (
        set(frames["type"]) <= {"I", "P", "B"} and frames.groupby("clip")["t"].count().eq(6).all()
    )
    sets = project / "data/video/sets"
    clip = clips[clips["split"] == "train"]["clip"].iloc[0]
    assert (sets / "train/q40" / f"{clip}.mp4").is_file()
    assert len(list((sets / "train/q40").glob(f"{clip}_*.png"))) == 6
    assert (project / "data/video/patches/train_64.csv").is_file()
    test = clips[clips["split"] == "test"]
    assert set(test["preset"]) == {"ultrafast"} and set(test["gop"]) == {4}  # degradation.h264
    trained = clips[clips["split"] != "test"]  # settings drawn from video.train_encoders
    assert set(trained["preset"]) <= {"ultrafast", "veryfast"} and set(trained["gop"]) <= {4, 50}
    crf = project / "data/video/crf"  # the CRF predictor's frames: 2 a clip, at each class
    assert len(list((crf / "sets/train/q30").glob(f"{clip}_*.png"))) == 2
    assert {p.name for p in (crf / "sets/test").iterdir()} == {"gt", "q30", "q40", "q50"}
    assert (crf / "patches/train_64.csv").is_file()
    assert list(runs["run"]) == ["video_ssim", "video_gan", "crf"]
    assert (project / "models/crf/predictor.pt").is_file()
    assert (project / "models/video_ssim/q40.pt").is_file()
    assert (project / "models/video_gan/q40.pt").is_file()
    summary = evaluation.summary()
    assert list(summary.index) == ["original", "h264", "video_ssim", "video_gan"]
    assert summary.loc["h264", "flicker"] > 0 and "fps" not in summary  # timings: the benchmark
    assert np.isfinite(summary.loc[["h264", "video_ssim"], ["psnr_rgb", "ssim_y", "tof"]]).all(
        axis=None
    )
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["crf"] == 40 and "video_gan" in metrics["versions"]
    assert "fps" not in metrics["versions"]["video_ssim"]  # a timing is no metric: reruns differ
    assert 0 <= metrics["crf_predictor"]["accuracy"] <= 1  # classes 30, 40, 50: a few steps
    assert (
        "temperature" in json.loads((project / "reports/train_crf/metrics.json").read_text())["val"]
    )
    assert "Table 2" in paths["markdown"].read_text()


def test_video_methods_restore_a_users_video(video_stage, photo, tmp_path, capsys):
    project = video_stage[0]
    clip = _write_clip(tmp_path / "mine.mp4", _pan(photo, 5), crf=40)
    args = ["restore", str(clip), "-o", str(tmp_path / "out"), "--method", "video_ssim",
            "--models", str(project / "models/video_ssim"), "--quality", "40",
            "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "generator q40" in out and "; CRF predictor " in out  # what reads its quality
    assert _timing(tmp_path / "out/mine.mp4") == _timing(clip)
    no_predictor = ["--predictor", str(tmp_path / "none.pt")]  # whatever the repository holds
    assert main([*args[:-4], "--device", "cpu", "-o", str(tmp_path / "other"), *no_predictor]) == 0
    assert "x264 settings CRF 40 -> generator q40" in capsys.readouterr().out  # the stream says
    other = tmp_path / "mpeg4.mkv"  # another encoder: no settings in the stream
    with av.open(str(other), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for t, rgb in enumerate(_pan(photo, 5)):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = t
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    unknown = ["restore", str(other), *args[2:-4], "--device", "cpu", "-o", str(tmp_path / "x"),
               *no_predictor]  # fmt: skip
    assert main(unknown) == 1
    assert "give the CRF with --quality N, or train the CRF predictor" in capsys.readouterr().out
    predictor = ["--predictor", str(project / "models/crf/predictor.pt")]
    assert main([*args[:-4], "--device", "cpu", "-o", str(tmp_path / "auto"), *predictor]) == 0
    out = capsys.readouterr().out  # the stream's settings decide; the CNN's answer is shown
    assert "x264 settings CRF 40, CNN " in out and "-> generator q40" in out


def test_the_player_plays_steps_and_wipes(video_stage, browser):
    """The standalone page's player, in Chromium: it plays (time moves on), a step moves
    exactly one frame, and the wipe shows the two chosen versions of the same frame."""
    from selenium.webdriver.common.by import By

    page = video_stage[5]["player"]
    browser.get(page.as_uri())
    player = browser.find_element(By.CSS_SELECTOR, ".ar-player")
    wait = __import__("selenium.webdriver.support.ui", fromlist=["WebDriverWait"]).WebDriverWait
    wait(browser, 20).until(lambda _: player.get_attribute("data-frame") is not None)
    player.find_element(By.CSS_SELECTOR, ".ar-play").click()
    wait(browser, 20).until(lambda _: float(player.get_attribute("data-time")) > 0.05)
    player.find_element(By.CSS_SELECTOR, ".ar-play").click()  # pause
    wait(browser, 10).until(lambda _: browser.execute_script(
        "return arguments[0].querySelector('video').paused", player))  # fmt: skip
    player.find_element(By.CSS_SELECTOR, ".ar-back").click()  # to a frame before the last
    wait(browser, 10).until(lambda _: player.get_attribute("data-seeked") == "1")
    frame = int(player.get_attribute("data-frame"))
    player.find_element(By.CSS_SELECTOR, ".ar-next").click()
    wait(browser, 10).until(lambda _: int(player.get_attribute("data-frame")) == frame + 1)
    # left: the original, right: its negative drawn from the same frame -> the halves differ
    pixels = browser.execute_script("""
        const c = arguments[0].querySelector('canvas'), x = c.getContext('2d');
        const w = c.width, h = c.height;
        const left = x.getImageData(0, 0, Math.floor(w / 2) - 2, h).data;
        const right = x.getImageData(Math.floor(w / 2) + 2, 0, Math.floor(w / 2) - 2, h).data;
        let sum = 0; for (let i = 0; i < left.length; i++) sum += left[i];
        return [w, h, sum / left.length, right.length];""", player)  # fmt: skip
    assert pixels[:2] == [96, 64] and pixels[2] > 10 and pixels[3] > 0


def test_extra_clips_are_imported_then_used(small_project, photo):
    from artifact_removal.config import apply_profile, load_params
    from artifact_removal.data.video import default_clips
    from artifact_removal.stages.clips import import_clip
    from artifact_removal.stages.clips import main as clips_main

    clip = _pan(photo, 8)[:, :70, :100]
    _lossless(small_project / "mine.mkv", clip, "ffv1", "yuv420p10le")
    _write_clip(small_project / "lossy.mp4", clip, audio=False)
    (small_project / "extra.yaml").write_text(
        "video:\n  extra_clips: {mine: mine.mkv, lossy: lossy.mp4}\n"
    )
    apply_profile(small_project / "extra.yaml", small_project / "params.yaml")
    params = load_params(small_project / "params.yaml")
    with pytest.raises(ClipError, match=r"video\.extra_clips\.mine: not imported yet"):
        default_clips(params, small_project)
    folder = import_clip(params, "mine", small_project)
    assert read_clip(folder / "clip.mkv").frames.shape == (6, 70, 100, 3)  # clips.frames: 6
    with pytest.raises(ClipError, match=r"video.extra_clips.lossy \(lossy.mp4\): is h264, a lossy"):
        import_clip(params, "lossy", small_project)
    (small_project / "extra.yaml").write_text("video:\n  extra_clips: {mine: mine.mkv}\n")
    apply_profile(small_project / "extra.yaml", small_project / "params.yaml")
    clips, notes = default_clips(load_params(small_project / "params.yaml"), small_project)
    mine = next(c for c in clips if c.name == "mine")
    assert mine.split == "test" and mine.frames.shape == (6, 70, 100, 3)
    assert "mine: yuv420p10le (10-bit) converted to 8-bit RGB" in notes
    assert clips_main(["nothing"]) == 2


def test_what_a_restored_video_does_not_keep_is_said():
    from artifact_removal.restore.one_video import video_notes

    info = VideoInfo(64, 48, 10, Fraction(25), Fraction(1, 12800), "yuv420p", "h264", 1)
    assert video_notes(info) == ()
    deep = replace(info, pix_fmt="yuv420p10le", subtitle_streams=2)
    assert video_notes(deep) == ("yuv420p10le (10-bit) restored in 8 bits",
                                  "2 subtitle stream(s) copied unchanged")  # fmt: skip


def test_training_clips_have_their_own_length_and_the_crf_reading_its_own_cap(small_project):
    """`video.clips.train_frames` sets the length of the training clips, `frames` the others';
    the CRF reading films at most `crf_reading.photographs`, whatever the video stage takes."""
    from artifact_removal.config import SPLITS, apply_profile, load_params
    from artifact_removal.data.video import default_clips
    from artifact_removal.stages.crf_reading import still_photographs

    (small_project / "lengths.yaml").write_text(
        "video:\n  clips: {frames: 5, train_frames: 3, photographs: [0, 0, 0]}\n"
        "crf_reading: {photographs: [2, 1, 0]}\n"
    )
    apply_profile(small_project / "lengths.yaml", small_project / "params.yaml")
    params = load_params(small_project / "params.yaml")
    clips, _ = default_clips(params, small_project)
    lengths = {split: {len(c.frames) for c in clips if c.split == split} for split in SPLITS}
    assert lengths == {"train": {3}, "val": {5}, "test": {5}}
    stills = still_photographs(params, small_project)
    counted = {split: sum(s == split for s, _ in stills) for split in SPLITS}
    assert counted["train"] == 2 and counted["val"] == 1
    assert counted["test"] == len([c for c in clips if c.split == "test"])
