"""A video's CRF read from its H.264 QPs (issue 26): the reading follows the CRF on content it
was not fitted on, streams it cannot read say so, and restore uses it for streams without x264's
settings."""

from __future__ import annotations

import math

import av
import numpy as np
import pytest
from av.bitstream import BitStreamFilterContext
from skimage import data as skdata

from artifact_removal.config import load_params
from artifact_removal.data.video import camera_motion
from artifact_removal.degradations.h264 import H264, encode_h264, x264_quality
from artifact_removal.inference.crf_reading import (
    AQ_CENTRE,
    AQ_STRENGTH,
    TYPE_OFFSET,
    QPFit,
    QPQuality,
    ReadingError,
    aq_followed,
    aq_offsets,
    frame_qps,
    stream_qp,
)
from artifact_removal.restore.records import video_record
from artifact_removal.restore.run import restore_files
from artifact_removal.stages import crf_reading as stage
from artifact_removal.stages.crf_reading import errors, fit

from .conftest import CRFS


def _clip(still: np.ndarray, seed: int, frames: int = 96) -> np.ndarray:
    return camera_motion(still, (144, 256), frames, "pan", seed)


def _without_x264_settings(source, target):
    """The stream with its SEI units (x264's settings among them) taken out, as another encoder
    would have written it; the picture is the same."""
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        drop_sei = BitStreamFilterContext("filter_units=remove_types=6", stream, out)
        for packet in src.demux(stream):
            for filtered in drop_sei.filter(packet if packet.size else None):
                filtered.stream = out
                dst.mux(filtered)
    return target


def test_aq_offsets_follow_x264s_variance_formula():
    flat = [np.full((32, 48), 128, np.uint8), np.full((16, 24), 128, np.uint8),
            np.full((16, 24), 128, np.uint8)]  # fmt: skip
    offsets = aq_offsets(flat)
    assert offsets.shape == (2, 3)
    assert np.allclose(offsets, AQ_STRENGTH * (0 - AQ_CENTRE))  # no energy: log2(max(0, 1))
    checker = flat[0].copy()
    checker[::2] = 138  # rows of 128 and 138: variance 25 over 256 pixels, energy 6400
    offsets = aq_offsets([checker, flat[1], flat[2]])
    assert np.allclose(offsets, AQ_STRENGTH * (math.log2(6400) - AQ_CENTRE))


def test_frame_qps_undo_the_frame_type_and_leave_out_repeated_qps():
    qp = np.array([[30, 30, 31], [33, 33, 30]])
    offsets = np.arange(6.0).reshape(2, 3)
    sent, aq = frame_qps(qp, offsets, "P")
    assert list(sent) == [30, 31, 33, 30] and list(aq) == [0, 2, 3, 5]  # a repeat sent no QP
    assert np.allclose(frame_qps(qp, offsets, "I")[0], np.array([30, 31, 33, 30]) + 2.9125,
                       atol=1e-3)  # fmt: skip
    assert np.allclose(frame_qps(qp, offsets, "B")[0], np.array([30, 31, 33, 30]) +
                       TYPE_OFFSET["B"])  # fmt: skip


def test_aq_is_undone_only_where_the_qps_follow_it():
    rng = np.random.default_rng(0)
    offsets = rng.normal(0, 3, 200)
    assert aq_followed([(30 + np.round(offsets), offsets)])
    assert not aq_followed([(np.full(200, 30.0), offsets)])  # aq-mode=0: one QP a frame
    assert not aq_followed([(30 + rng.normal(0, 1, 200), offsets)])  # unrelated to them
    assert not aq_followed([(np.full(4, 30.0), np.zeros(4))])


def test_the_reading_holds_on_photographs_it_was_not_fitted_on():
    """A line fitted on three photographs' clips reads the CRF of two others' within 3 (9 of 10
    streams at least), whatever the x264 settings; the QP rises with the CRF."""
    fitted_on = [skdata.astronaut(), skdata.coffee(), skdata.immunohistochemistry()]
    held_out = [skdata.chelsea(), skdata.rocket()]
    drawn = [H264(crf, preset, gop, bframes) for crf, preset, gop, bframes in [
        (22, "veryfast", 250, 3), (28, "medium", 12, 0), (34, "slow", 50, 2),
        (40, "medium", 250, 3), (46, "veryfast", 12, 2)]]  # fmt: skip
    qps, crfs = [], []
    for i, still in enumerate(fitted_on):
        frames = _clip(still, i)
        for settings in drawn:
            qps.append(stream_qp(encode_h264(frames, settings)))
            crfs.append(settings.crf)
    line = fit(qps, crfs)
    assert 0.8 < line[0] < 1.05  # close to one QP step per CRF step
    qps, crfs = [], []
    for i, still in enumerate(held_out):
        frames = _clip(still, 10 + i)
        for settings in drawn[::-1]:
            qps.append(stream_qp(encode_h264(frames, settings)))
            crfs.append(settings.crf)
    assert qps[:5] == sorted(qps[:5], reverse=True)
    result = errors(line, qps, crfs)
    assert result["clips"] == 10 and result["within_3"] >= 0.9 and result["max"] <= 4, result


def test_streams_it_cannot_read_give_none(tmp_path):
    frames = _clip(skdata.astronaut(), 0, frames=8)
    from artifact_removal.data.video import write_lossless

    assert stream_qp(write_lossless(tmp_path / "clip.mkv", frames, 25)) is None  # FFV1
    assert stream_qp(tmp_path / "missing.mp4") is None
    (tmp_path / "text.mp4").write_text("not a video")
    assert stream_qp(tmp_path / "text.mp4") is None


def test_a_fit_file_is_checked(tmp_path):
    line = QPFit(0.9, 1.0, 90, {"clips": 20, "within_3": 1.0})
    line.save(tmp_path / "fit.json")
    assert QPFit.load(tmp_path / "fit.json") == line
    assert line.crf(40.0) == 37 and line.crf(-5.0) == 0 and line.crf(80.0) == 51
    (tmp_path / "bad.json").write_text('{"slope": 1}')
    why = r"bad.json: not a CRF reading fit \(no 'intercept'\); rerun `dvc repro crf_reading`"
    with pytest.raises(ReadingError, match=why):
        QPFit.load(tmp_path / "bad.json")


def test_restore_reads_the_crf_of_a_stream_without_x264_settings(models, project, tmp_path,
                                                                 monkeypatch):  # fmt: skip
    """Another encoder's H.264 (here x264's with its settings taken out) is restored with the
    generators of the CRF its QPs read as; with x264's settings, those decide."""
    monkeypatch.chdir(project)
    params = load_params(project / "params.yaml")
    QPFit(1.0, 0.0, 1, {}).save(project / params.crf_reading.out)  # CRF = QP
    frames = _clip(skdata.chelsea(), 3, frames=24)
    made = tmp_path / "x264.mp4"
    made.write_bytes(encode_h264(frames, H264(44, "medium", 250, 3)))
    other = _without_x264_settings(made, tmp_path / "other.mp4")
    assert x264_quality(made) is not None and x264_quality(other) is None
    qp = stream_qp(other)
    report = restore_files([other], tmp_path / "out", method="video_ssim", device="cpu",
                           models_dir=models / "video_ssim", predictor=tmp_path / "none.pt",
                           progress=False)  # fmt: skip
    choice = report.results[0].choice
    assert report.results[0].status == "restored", report.summary()
    assert choice.tables == QPQuality(round(qp), qp)
    assert choice.generators == {max(CRFS): 1.0}  # the QPs read far above the CRFs (32, 40)
    assert f"H.264 QPs {qp:.1f} ~ CRF {round(qp)}" in report.summary()
    first = video_record(tmp_path / "out" / "other.mp4")["settings"]
    QPFit(1.0, -20.0, 1, {}).save(project / params.crf_reading.out)  # another line: CRF 24
    again = restore_files([other], tmp_path / "out", method="video_ssim", device="cpu",
                          models_dir=models / "video_ssim", predictor=tmp_path / "none.pt",
                          progress=False, overwrite=True)  # fmt: skip
    assert again.results[0].status == "copied"  # below the CRFs: the input as it is
    assert "(H.264 QPs) is below the CRFs" in again.summary()
    assert video_record(tmp_path / "out" / "other.mp4")["settings"] != first


def test_the_stage_fits_the_corpus_and_says_how_it_holds(small_project, capsys):
    params = load_params(small_project / "params.yaml")
    line = stage.run(small_project / "params.yaml", progress=False)
    saved = QPFit.load(small_project / params.crf_reading.out)
    assert saved == line and line.fitted_on > 0 and 0.5 < line.slope < 1.5, line
    assert line.validation["clips"] > 0
    printed = capsys.readouterr().out
    assert "fitted on" in printed and "train:" in printed
