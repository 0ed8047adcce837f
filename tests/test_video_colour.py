"""Video colour and reproducibility (issue 27, cases 1 and 5): restored video keeps the
input's matrix and range, and the same input gives the same bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from artifact_removal.degradations.h264 import H264, decode_clip, encode_h264
from artifact_removal.degradations.yuv import (
    YUVSpace,
    frame_to_rgb,
    planes_to_rgb,
    rgb_to_frame,
    rgb_to_planes,
)
from artifact_removal.restore.video import VideoOutput, restore_video

# saturated and grey patches: where a wrong matrix or range shows most
PATCHES = [(0, 255, 1), (255, 0, 0), (0, 0, 255), (255, 255, 0), (128, 128, 128), (20, 200, 90)]
SPACES = {"bt709": YUVSpace("bt709"), "full range": YUVSpace("bt601", True),
          "bt601": YUVSpace("bt601")}  # fmt: skip


def _patches(frames: int = 6) -> np.ndarray:
    """(T, 64, 96, 3): six 32x32 colour patches per frame."""
    image = np.zeros((64, 96, 3), np.uint8)
    for i, colour in enumerate(PATCHES):
        image[32 * (i // 3) : 32 * (i // 3 + 1), 32 * (i % 3) : 32 * (i % 3 + 1)] = colour
    return np.repeat(image[None], frames, axis=0)


def _clip(path: Path, frames: np.ndarray, space: YUVSpace, pix_fmt: str = "yuv420p") -> Path:
    """An H.264 clip whose Y'CbCr is made with `space` and tagged so, as a camera writes it."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "0"})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        for name, value in space.codes.items():
            setattr(stream.codec_context, name, value)
        for t, rgb in enumerate(frames):
            frame = rgb_to_frame(rgb, space, "420")
            frame.pts = t
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _centres(frame: np.ndarray) -> np.ndarray:
    """The colour at the centre of each patch."""
    return np.array([frame[32 * (i // 3) + 16, 32 * (i % 3) + 16] for i in range(len(PATCHES))])


def _ffmpeg_rgb(path: Path) -> np.ndarray:
    """The first frame as FFmpeg's own converter reads it, told the stream's tags: a check that
    does not go through `degradations.yuv`."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        space = YUVSpace.of(frame.colorspace, frame.color_range, frame.format.name)
        tags = space.codes
        return frame.reformat(format="rgb24", src_colorspace=tags["colorspace"],
                              src_color_range=tags["color_range"],
                              dst_color_range=2).to_ndarray()  # fmt: skip


@pytest.mark.parametrize("name", SPACES)
def test_conversion_round_trips_each_space(name):
    space = SPACES[name]
    frames = _patches(1)[0]
    back = planes_to_rgb(*rgb_to_planes(frames, space, "444"), space)
    assert np.abs(back.astype(int) - frames).max() <= 2


@pytest.mark.parametrize("name", SPACES)
def test_a_restored_clip_keeps_its_colours(name, tmp_path):
    """BT.709 (most phone and HD video), full range, BT.601: through restore with an identity
    restorer, each patch decodes (by FFmpeg, from the output's own tags) within 2 levels."""
    space = SPACES[name]
    source = _clip(tmp_path / "in.mp4", _patches(), space)
    assert np.abs(_centres(_ffmpeg_rgb(source)).astype(int) - PATCHES).max() <= 2
    for chroma in ("444", "420"):
        target = tmp_path / f"out_{chroma}.mp4"
        restore_video(source, target, lambda f: f.astype(np.float32), {"id": name},
                      VideoOutput(crf=0, chroma=chroma), progress=False)  # fmt: skip
        with av.open(str(target)) as container:
            ctx = container.streams.video[0].codec_context
            assert YUVSpace.of(ctx.colorspace, ctx.color_range) == space
        decoded = _ffmpeg_rgb(target)
        assert np.abs(_centres(decoded).astype(int) - PATCHES).max() <= 2, (chroma, decoded)
        assert np.abs(_centres(decode_clip(target).frames[0]).astype(int) - PATCHES).max() <= 2


def test_a_yuvj_clip_is_read_as_full_range(tmp_path):
    frame = rgb_to_frame(_patches(1)[0], YUVSpace("bt601", True), "444")
    as_yuvj = frame.reformat(format="yuvj444p")  # the same bytes, full range by name
    as_yuvj.color_range = 0
    assert np.abs(_centres(frame_to_rgb(as_yuvj)).astype(int) - PATCHES).max() <= 2


def _churn() -> None:
    """Work that leaves the heap and the threads as a real process does (torch, numpy)."""
    blocks = [np.random.default_rng(i).bytes(1 << 20) for i in range(64)]
    x = torch.randn(800, 800)
    (x @ x).sum()
    del blocks


def test_h264_bytes_do_not_depend_on_the_process(photo):
    """FFmpeg's RGB converter inside the encoder made the same clip differ from run to run
    after other work in the process; converted here, the bytes are the settings' only."""
    frames = np.stack([np.roll(photo[:96, :128], 3 * t, axis=1) for t in range(12)])
    digests = set()
    for _ in range(4):
        digests.add(hashlib.sha256(encode_h264(frames, H264(35, "medium"), 12)).hexdigest())
        _churn()
    assert len(digests) == 1


def test_a_restored_video_is_byte_reproducible(photo, tmp_path):
    frames = np.stack([np.roll(photo[:96, :128], 3 * t, axis=1) for t in range(16)])
    source = tmp_path / "in.mp4"
    source.write_bytes(encode_h264(frames, H264(35), 25))
    digests = set()
    for i in range(3):
        target = tmp_path / f"out{i}.mp4"
        restore_video(source, target, lambda f: 255 - f.astype(np.float32), {"id": 1},
                      segment_frames=8, progress=False)  # fmt: skip
        digests.add(hashlib.sha256(target.read_bytes()).hexdigest())
        _churn()
    assert len(digests) == 1
