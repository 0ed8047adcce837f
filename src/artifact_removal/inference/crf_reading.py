"""A video's CRF read from its H.264 stream: the quantizers the decoder uses, the CRF that x264
would have used to choose them.

An H.264 stream carries one quantization parameter (QP) per 16x16 macroblock; FFmpeg's decoder
exports them on request (`export_side_data=venc_params`). They are what makes the artifacts,
so they tell the generator to use more surely than one frame's pixels (the CRF predictor, a
CNN, reads CRF 40 on a textured photograph as 26 to 35: benchmarks/RESULTS.md). The QPs are not
the CRF, though: x264 moves each macroblock's QP away from the frame's (adaptive quantization),
and each frame's away from the rate factor by its type. Both are undone here:

- variance AQ (x264's default, `aq-mode=1`): a macroblock's QP is raised by
  1.0397 * strength * (log2(E) - 14.427), E its AC energy (the sum of the variances of its
  16x16 luma and two 8x8 chroma blocks, 8-bit); E is estimated from the decoded picture;
- frame types: an I frame is coded 6 * log2(ipratio) = 2.91 QP finer than a P frame, a B frame
  6 * log2(pbratio) = 2.27 coarser (x264's defaults 1.40 and 1.30);
- a macroblock with nothing to code (skipped, or no residual) sends no QP and keeps the one
  before it in raster order: a QP equal to its predecessor's is left out.

The mean of what is left, over the first `FRAMES` frames, is the stream's QP; a line fitted on
the corpus' clips through x264 at CRFs 20 to 47 with drawn presets, GOP lengths and B-frames
(stage `crf_reading`) maps it to a CRF. On held-out photographs' clips the reading is within 3
of the true CRF for 96 to 100% of clips (`benchmarks/crf_reading.py`). Other encoders choose
QPs by rules of their own: for them the reading says which x264 CRF makes such quantizers,
which is what the generators need. Streams other than 8-bit 4:2:0 H.264 are not read; the
CNN decides for them.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FRAMES = 48  # frames read from the start of a video
AQ_STRENGTH = 1.0397  # x264's variance AQ: 1.0397 * aq-strength (1.0 by default)
AQ_CENTRE = 14.427  # log2 of the AC energy x264's variance AQ leaves unchanged (8-bit)
TYPE_OFFSET = {"I": 6 * math.log2(1.40), "P": 0.0, "B": -6 * math.log2(1.30)}
READ_FORMATS = ("yuv420p", "yuvj420p")
AQ_SEEN = 0.5  # QP per QP of estimated AQ offset, within frames: AQ is on


class ReadingError(ValueError):
    """A fit file that cannot be used."""


@dataclass(frozen=True)
class QPQuality:
    """The CRF that the stream's quantizers correspond to: a video's counterpart of a JPEG's
    tables, for H.264 that does not carry x264's settings."""

    quality: int
    qp: float  # the stream's mean QP with AQ and frame types undone
    kind = "H.264 QPs"  # what told the quality, in messages

    def __str__(self) -> str:
        return f"{self.qp:.1f} ~ CRF {self.quality}"


def _ac_energy(plane: np.ndarray, size: int) -> np.ndarray:
    """Per `size` x `size` block: sum of squares minus the square of the sum over its count."""
    h, w = plane.shape[0] // size * size, plane.shape[1] // size * size
    blocks = plane[:h, :w].astype(np.float64).reshape(h // size, size, w // size, size)
    return (blocks**2).sum((1, 3)) - blocks.sum((1, 3)) ** 2 / (size * size)


def aq_offsets(planes: list[np.ndarray]) -> np.ndarray:
    """x264's variance-AQ offset of each macroblock, from a decoded 4:2:0 frame's Y, U and V
    planes (uint8)."""
    energy = _ac_energy(planes[0], 16)
    rows, cols = energy.shape
    for plane in planes[1:3]:
        energy = energy + _ac_energy(plane, 8)[:rows, :cols]
    return AQ_STRENGTH * (np.log2(np.maximum(energy, 1)) - AQ_CENTRE)


def _planes(frame) -> list[np.ndarray]:
    """A decoded frame's planes as arrays (without the padding at the end of each line)."""
    return [
        np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width]
        for p in frame.planes
    ]


def frame_qps(
    qp_map: np.ndarray, offsets: np.ndarray, picture_type: str
) -> tuple[np.ndarray, np.ndarray]:
    """A frame's macroblock QPs with the frame type undone, and their AQ offsets; those that
    only repeat the QP before them (no QP sent) left out."""
    rows, cols = min(qp_map.shape[0], offsets.shape[0]), min(qp_map.shape[1], offsets.shape[1])
    qp = qp_map[:rows, :cols].astype(np.float64).ravel()
    sent = np.r_[True, qp[1:] != qp[:-1]]
    return (qp + TYPE_OFFSET.get(picture_type, 0.0))[sent], offsets[:rows, :cols].ravel()[sent]


def aq_followed(frames: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Whether the QPs follow x264's variance AQ: within each frame, the QPs rise with the
    offsets by at least `AQ_SEEN` QP per QP of offset (x264 at its defaults: about 1; with
    `aq-mode=0`, or the `ultrafast` preset, or an encoder without AQ: about 0)."""
    qp = np.concatenate([q - q.mean() for q, _ in frames])
    offsets = np.concatenate([o - o.mean() for _, o in frames])
    spread = float((offsets**2).sum())
    return spread > 0 and float((qp * offsets).sum()) / spread >= AQ_SEEN


def stream_qp(source: str | Path | bytes, frames: int = FRAMES) -> float | None:
    """The mean QP of an H.264 stream's first `frames` frames with frame types and, where the
    QPs follow it, AQ undone; None when the stream is not 8-bit 4:2:0 H.264, or its decoder
    exports no QPs."""
    import av
    from av.video.frame import PictureType

    read = []
    try:
        with av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source)) as file:
            stream = file.streams.video[0]
            if stream.codec_context.name != "h264":
                return None
            stream.codec_context.options = {"export_side_data": "venc_params"}
            for number, frame in enumerate(file.decode(stream)):
                if number >= frames:
                    break
                if frame.format.name not in READ_FORMATS:
                    return None
                params = [s for s in frame.side_data if s.type.name == "VIDEO_ENC_PARAMS"]
                if not params or frame.height < 16 or frame.width < 16:
                    continue
                kind = PictureType(frame.pict_type).name
                read.append(frame_qps(params[0].qp_map(), aq_offsets(_planes(frame)), kind))
    except (av.FFmpegError, IndexError, OSError, ValueError):
        return None
    read = [(q, o) for q, o in read if q.size]
    if not read:
        return None
    qp = np.concatenate([q for q, _ in read])
    return float(
        (qp - np.concatenate([o for _, o in read])).mean() if aq_followed(read) else qp.mean()
    )


@dataclass(frozen=True)
class QPFit:
    """CRF = slope * QP + intercept, fitted on clips of known CRF (stage `crf_reading`), with
    how well it held on clips it was not fitted on."""

    slope: float
    intercept: float
    fitted_on: int  # clips
    validation: dict  # clips, mean absolute error, share within 3 CRF steps

    def crf(self, qp: float) -> int:
        """The CRF of a stream's QP, in x264's range 0..51."""
        return int(np.clip(round(self.slope * qp + self.intercept), 0, 51))

    def read(self, source: str | Path | bytes, frames: int = FRAMES) -> QPQuality | None:
        """A stream's CRF, or None when it cannot be read (`stream_qp`)."""
        qp = stream_qp(source, frames)
        return None if qp is None else QPQuality(self.crf(qp), qp)

    def save(self, path: str | Path) -> Path:
        from ..fileio import write_json

        return write_json(path, asdict(self))

    @classmethod
    def load(cls, path: str | Path) -> QPFit:
        try:
            data = json.loads(Path(path).read_text())
            return cls(
                float(data["slope"]),
                float(data["intercept"]),
                int(data["fitted_on"]),
                dict(data["validation"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as err:
            why = f"no {err}" if isinstance(err, KeyError) else str(err)
            raise ReadingError(
                f"{path}: not a CRF reading fit ({why}); rerun `dvc repro crf_reading`"
            ) from None
