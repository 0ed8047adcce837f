"""Do no harm: inputs better than any generator was trained for are left as they are, with a
note; videos go to the methods trained on video (issue 26)."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from artifact_removal.cli import main
from artifact_removal.degradations.codecs import codec_of
from artifact_removal.degradations.h264 import StreamQuality, x264_quality
from artifact_removal.inference.choice import (
    INPUT,
    QualityChoice,
    RestoreError,
    ensemble_weights,
)
from artifact_removal.inference.torch_backend import blend
from artifact_removal.restore.records import video_record
from artifact_removal.restore.run import restore_files
from artifact_removal.restore.video import (
    VideoError,
    VideoOutput,
)

from .conftest import CRFS, QUALITIES
from .test_video import _audio_packets, _pan, _write_clip

LADDER = (5, 10, 20, 30, 40, 60)


def test_the_input_is_the_rung_beyond_the_gentlest_generator():
    top = codec_of("jpeg").pass_through_level(LADDER)
    assert top == 75
    assert ensemble_weights(95, LADDER, "blend", top) == {INPUT: 1.0}
    assert ensemble_weights(75, LADDER, "blend", top) == {INPUT: 1.0}
    assert ensemble_weights(70, LADDER, "blend", top) == {60: pytest.approx(1 / 3), INPUT:
                                                          pytest.approx(2 / 3)}  # fmt: skip
    assert ensemble_weights(65, LADDER, "nearest", top) == {60: 1.0}
    assert ensemble_weights(70, LADDER, "nearest", top) == {INPUT: 1.0}
    assert ensemble_weights(60, LADDER, "blend", top) == {60: 1.0}
    assert ensemble_weights(3, LADDER, "blend", top) == {5: 1.0}  # the strongest below
    assert ensemble_weights(95, LADDER) == {60: 1.0}  # without the rung: the old nearest end


def test_for_h264_the_input_is_below_the_lowest_crf():
    low = codec_of("h264").pass_through_level((32, 40))
    assert low == 26
    assert ensemble_weights(23, (32, 40), "blend", low) == {INPUT: 1.0}
    assert ensemble_weights(29, (32, 40), "blend", low) == {INPUT: 0.5, 32: 0.5}
    assert ensemble_weights(45, (32, 40), "blend", low) == {40: 1.0}


def test_the_input_in_a_blend_is_the_input_itself(photo):
    restorer = blend([None], [1.0], "cpu")
    assert np.array_equal(restorer(photo), photo.astype(np.float32))
    choice = QualityChoice(None, None, 70, 70.0, {60: 0.33, INPUT: 0.67})
    assert choice.describe() == "given 70 -> generator 0.33 q60 + 0.67 input"
    assert QualityChoice(None, None, 95, 95.0, {INPUT: 1.0}).describe() == (
        "given 95 -> input left as it is"
    )


def _common(models) -> dict:
    return {"models_dir": models / "ssim", "method": "ssim", "device": "cpu", "progress": False,
            "predictor": models / "qf" / "predictor.pt"}  # fmt: skip


def test_a_high_quality_jpeg_is_copied_with_a_note(models, photo, tmp_path):
    """A camera's QF-95 JPEG: the tables say 95, far above the ladder (10..40 here): the file
    is copied as it is, and the line says why and how to restore anyway."""
    path = tmp_path / "in" / "camera.jpg"
    path.parent.mkdir()
    Image.fromarray(photo).save(path, quality=95)
    report = restore_files([path], tmp_path / "out", **_common(models))
    result = report.results[0]
    assert result.status == "copied" and not report.failed
    assert (tmp_path / "out" / "camera.jpg").read_bytes() == path.read_bytes()
    summary = report.summary()
    assert "QF 95 (tables) is above the QFs its generators are trained for (10..40)" in summary
    assert "--restore-uncompressed restores it with the gentlest generator (q40)" in summary
    asked = restore_files([path], tmp_path / "asked", restore_uncompressed=True,
                          **_common(models))  # fmt: skip
    assert asked.results[0].status == "restored"
    assert asked.results[0].choice.generators == {40: 1.0}
    given = restore_files([path], tmp_path / "given", quality=40, **_common(models))
    assert given.results[0].choice.generators == {40: 1.0}  # a quality in range is used


def test_between_the_top_and_the_rung_the_generator_fades_out(models, photo, tmp_path):
    path = tmp_path / "q50.jpg"
    Image.fromarray(photo).save(path, quality=50)
    report = restore_files([path], tmp_path / "out", **_common(models))
    assert report.results[0].status == "restored"
    assert report.results[0].choice.generators == {40: pytest.approx(1/3), INPUT:
                                                   pytest.approx(2/3)}  # fmt: skip
    assert "-> generator 0.33 q40 + 0.67 input" in report.summary()


def test_a_video_without_method_goes_to_a_video_method(models, photo, tmp_path, capsys):
    clip = _write_clip(tmp_path / "clip.mp4", _pan(photo, 12), crf=40)
    args = ["restore", str(clip), "-o", str(tmp_path / "out"), "--models",
            str(models / "video_ssim"), "--quality", "40", "--device", "cpu",
            "--predictor", str(tmp_path / "none.pt")]  # not the repository's  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "restoring with video_ssim: " in out
    assert "given 40, x264 settings CRF 40 -> generator q40" in out
    assert video_record(tmp_path / "out" / "clip.mp4")["source"]


def test_an_image_method_does_not_read_a_crf_as_a_qf(models, photo, tmp_path):
    """x264's CRF 40 says nothing of the JPEG QF an image generator is trained for: with
    --method ssim the QF predictor decides (the stream's settings are not used)."""
    clip = _write_clip(tmp_path / "clip.mp4", _pan(photo, 12), crf=40)
    report = restore_files([clip], tmp_path / "out", **_common(models))
    choice = report.results[0].choice
    assert choice.tables is None and choice.cnn is not None, report.summary()
    assert "x264 settings" not in report.summary()


def test_a_video_better_than_the_ladder_is_copied_packet_for_packet(models, photo, tmp_path):
    clip = _write_clip(tmp_path / "clip.mp4", _pan(photo, 12), crf=20)
    common = _common(models) | {"models_dir": models / "video_ssim", "quality": 20,
                                "method": "video_ssim"}  # fmt: skip
    report = restore_files([clip], tmp_path / "out", **common)
    result = report.results[0]
    assert result.status == "copied", report.summary()
    assert "CRF 20 (given) is below the CRFs its generators are trained for (32..40)" in (
        report.summary()
    )
    out = tmp_path / "out" / "clip.mp4"

    def video_packets(path):
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]

    assert video_packets(out) == video_packets(clip)
    assert _audio_packets(out) == _audio_packets(clip)
    again = restore_files([clip], tmp_path / "out", **common)
    assert again.results[0].status == "done"  # the record is in the copy: a rerun skips it


def test_images_and_videos_with_one_models_folder_need_a_method(models, photo, tmp_path):
    clip = _write_clip(tmp_path / "clip.mp4", _pan(photo, 6), crf=40)
    Image.fromarray(photo).save(tmp_path / "still.jpg", quality=20)
    common = _common(models) | {"method": "auto"}
    with pytest.raises(RestoreError, match="give --method"):
        restore_files([clip, tmp_path / "still.jpg"], tmp_path / "out", **common)
    assert not (tmp_path / "out").exists()


def test_the_fixtures_ladders():
    assert codec_of("jpeg").pass_through_level(QUALITIES) == 55
    assert codec_of("h264").pass_through_level(CRFS) == 26


def test_an_x264_stream_says_its_crf(photo, tmp_path):
    clip = _write_clip(tmp_path / "clip.mp4", _pan(photo, 4), crf=23, audio=False)
    assert x264_quality(clip) == StreamQuality(23, "crf")
    assert str(x264_quality(clip)) == "CRF 23"
    assert x264_quality(tmp_path / "missing.mp4") is None


def test_a_video_whose_stream_says_a_low_crf_is_copied_without_asking(models, photo, tmp_path):
    clip = _write_clip(tmp_path / "clip.mp4", _pan(photo, 12), crf=20)
    common = _common(models) | {"models_dir": models / "video_ssim", "method": "video_ssim",
                                "predictor": tmp_path / "none.pt"}  # fmt: skip
    report = restore_files([clip], tmp_path / "out", **common)
    assert report.results[0].status == "copied", report.summary()
    assert "CRF 20 (x264 settings) is below the CRFs" in report.summary()


def test_restored_videos_keep_their_colour_unless_asked(models, photo, tmp_path):
    clip = _write_clip(tmp_path / "clip.mp4", _pan(photo, 6), crf=40, audio=False)
    common = _common(models) | {"models_dir": models / "video_ssim", "method": "video_ssim",
                                "quality": 40}  # fmt: skip

    def pix_fmt(path):
        with av.open(str(path)) as container:
            return container.streams.video[0].codec_context.pix_fmt

    restore_files([clip], tmp_path / "default", **common)
    assert pix_fmt(tmp_path / "default" / "clip.mp4") == "yuv444p"  # 4:2:0 costs 0.3-0.6 dB
    restore_files([clip], tmp_path / "420", video=VideoOutput(chroma="420"), **common)
    assert pix_fmt(tmp_path / "420" / "clip.mp4") == "yuv420p"
    with pytest.raises(VideoError, match="chroma must be one of 444, 420"):
        VideoOutput(chroma="422")


def test_restored_videos_are_written_below_their_input_crf_unless_archived(models, photo,
                                                                         tmp_path):  # fmt: skip
    """Issue 43: by default a restored video is written at its input's CRF minus
    `CRF_BELOW_INPUT` (within about 3 times its bytes), said in its notes; `--archive`
    writes near-lossless CRF 6, 4:4:4; a CRF given is kept."""
    from artifact_removal.restore.options import ARCHIVE_CRF, CRF_BELOW_INPUT

    clip = _write_clip(tmp_path / "clip.mp4", _pan(photo, 6), crf=40, audio=False)
    common = _common(models) | {"models_dir": models / "video_ssim", "method": "video_ssim",
                                "quality": 40}  # fmt: skip
    for name, video, crf in (
        ("auto", VideoOutput(), 40 - CRF_BELOW_INPUT),
        ("archive", VideoOutput(archive=True), ARCHIVE_CRF),
        ("given", VideoOutput(crf=30), 30),
    ):
        report = restore_files([clip], tmp_path / name, video=video, **common)
        (result,) = report.results
        assert result.status == "restored", report.summary()
        assert x264_quality(result.output) == StreamQuality(crf, "crf"), name
        assert f"written as H.264 at CRF {crf}" in " ".join(result.notes)
    # an image method's level is a JPEG QF, not a CRF: the stream's own CRF decides
    image = _common(models) | {"models_dir": models / "ssim", "method": "ssim", "quality": 10}
    (result,) = restore_files([clip], tmp_path / "image", **image).results
    assert x264_quality(result.output) == StreamQuality(40 - CRF_BELOW_INPUT, "crf")
    assert VideoOutput().for_input(3).crf == 0  # never below lossless
    assert VideoOutput().for_input(None).crf == ARCHIVE_CRF  # a CRF not known: near-lossless
    with pytest.raises(VideoError, match="--archive writes CRF 6 in 4:4:4: give it, or --crf"):
        VideoOutput(crf=20, archive=True)
    with pytest.raises(VideoError, match=r"CRF must be auto or in 0\.\.51"):
        VideoOutput(crf=60)


def test_for_crfs_the_gentle_answer_is_the_lower_crf():
    from artifact_removal.inference.qf import gentle_answer

    assert gentle_answer({32: 0.5, 40: 0.5}, higher_is_gentler=False) == 32
    assert gentle_answer({32: 0.1, 40: 0.9}, higher_is_gentler=False) == 40  # sure of it
    choice = QualityChoice(None, None, None, 40.0, {40: 1.0}, "CRF")
    assert choice.unit == "CRF" and choice.unsure is None  # no predictor: nothing to doubt


@pytest.mark.parametrize("read, warned", [(10, True), (40, False)])
def test_tables_and_pixels_that_disagree_are_said(models, photo, tmp_path, monkeypatch, read,
                                                  warned):  # fmt: skip
    """A JPEG saved twice, at QF 10 and then 40: its tables say 40, its blocks 10. The QF
    predictor, sure of 10 (stood in for: the test's predictor is untrained), makes a warning
    under its line; restored as the tables say all the same."""
    from artifact_removal.inference.ensemble import Ensemble
    from artifact_removal.inference.qf_answer import QFPrediction

    once = tmp_path / "once.jpg"
    Image.fromarray(photo).save(once, quality=10)
    with Image.open(once) as first:
        first.convert("RGB").save(tmp_path / "twice.jpg", quality=40)
    others = [q for q in (10, 20, 40) if q != read]
    answer = QFPrediction(read, {read: 0.9, others[0]: 0.06, others[1]: 0.04})
    monkeypatch.setattr(Ensemble, "predict", lambda self, predictor, pixels: answer)
    report = restore_files([tmp_path / "twice.jpg"], tmp_path / "out", **_common(models))
    (result,) = report.results
    assert result.choice.generators == {40: 1.0}  # the tables decide
    said = "its tables say QF 40 and its pixels look like QF 10 (CNN, 96%): saved more than once?"
    assert (said in report.summary()) == warned
    assert ("--quality 10 restores it as the pixels say" in (result.warning or "")) == warned
