"""RGB <-> Y'CbCr for video, in one place: the matrix and the range a stream declares.

A video stream stores Y'CbCr and says (or leaves unsaid) how it was made from RGB: the matrix
(BT.601 for SD, BT.709 for HD and most phone video, BT.2020 for UHD) and the range (limited,
16..235, or full, 0..255). FFmpeg's converter assumes BT.601 limited unless told otherwise, so a
restored BT.709 clip converted by it and tagged BT.709 decodes with shifted colours. Here every
frame that enters or leaves the project goes through these functions, with the stream's own
matrix and range: decoding (`frame_to_rgb`) and encoding (`rgb_to_frame`) use the same
arithmetic, in numpy, and give the same bytes on every machine and in every process (FFmpeg's
converter inside the encoder did not: the same clip encoded twice could differ).

A stream that declares no matrix is read as BT.601, as FFmpeg reads it. 4:2:0 chroma is the
mean of each 2x2 block on the way in and repeated on the way out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Kr and Kb of each matrix (ITU-R BT.601, BT.709, BT.2020 non-constant luminance; SMPTE 240M)
MATRICES = {
    "bt601": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
    "bt2020": (0.2627, 0.0593),
    "smpte240m": (0.212, 0.087),
}
# FFmpeg's AVColorSpace codes -> matrix; AVColorRange: 1 limited ("MPEG"), 2 full ("JPEG")
_CODES = {1: "bt709", 5: "bt601", 6: "bt601", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}
CODE_OF = {"bt601": 6, "bt709": 1, "bt2020": 9, "smpte240m": 7}
LIMITED, FULL = 1, 2
# 8-bit planar Y'CbCr formats read directly (`yuvj`: full range by name)
_PLANAR = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}


@dataclass(frozen=True)
class YUVSpace:
    """How Y'CbCr relates to RGB: a matrix of `MATRICES` and the range."""

    matrix: str = "bt601"
    full_range: bool = False

    def __post_init__(self):
        if self.matrix not in MATRICES:
            raise ValueError(f"unknown matrix {self.matrix!r}: one of {', '.join(MATRICES)}")

    @classmethod
    def of(cls, colorspace: int | None, color_range: int | None, pix_fmt: str = "") -> YUVSpace:
        """The space FFmpeg's codes declare (unspecified: BT.601, limited unless `yuvj`)."""
        matrix = _CODES.get(int(colorspace or 2), "bt601")
        return cls(matrix, int(color_range or 0) == FULL or pix_fmt.startswith("yuvj"))

    @property
    def codes(self) -> dict[str, int]:
        """The tags an encoder writes for this space (colorspace, color_range)."""
        return {
            "colorspace": CODE_OF[self.matrix],
            "color_range": FULL if self.full_range else LIMITED,
        }

    def _scales(self) -> tuple[float, float, float]:
        """(luma offset, luma scale, chroma scale) of the range, in 8-bit levels."""
        return (0.0, 255.0, 255.0) if self.full_range else (16.0, 219.0, 224.0)


def rgb_to_planes(
    rgb: np.ndarray, space: YUVSpace = YUVSpace(), chroma: str = "420"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Y, Cb, Cr) uint8 planes of an (H, W, 3) uint8 RGB image; with `chroma` "420" Cb and Cr
    are the means of 2x2 blocks, (ceil(H/2), ceil(W/2)), else full size."""
    kr, kb = MATRICES[space.matrix]
    offset, luma, chroma_scale = space._scales()
    f = rgb.astype(np.float32) / 255
    y = kr * f[..., 0] + (1 - kr - kb) * f[..., 1] + kb * f[..., 2]
    pb = (f[..., 2] - y) / (2 * (1 - kb))
    pr = (f[..., 0] - y) / (2 * (1 - kr))
    if chroma == "420":
        pb, pr = _halved(pb), _halved(pr)
    elif chroma != "444":
        raise ValueError(f"chroma must be 420 or 444, not {chroma!r}")

    def level(x: np.ndarray, base: float, scale: float) -> np.ndarray:
        return np.rint(base + scale * x).clip(0, 255).astype(np.uint8)

    return level(y, offset, luma), level(pb, 128, chroma_scale), level(pr, 128, chroma_scale)


def _halved(plane: np.ndarray) -> np.ndarray:
    """Means of 2x2 blocks (edges replicated for odd sizes)."""
    h, w = plane.shape
    plane = np.pad(plane, ((0, h % 2), (0, w % 2)), mode="edge")
    return plane.reshape(plane.shape[0] // 2, 2, plane.shape[1] // 2, 2).mean(axis=(1, 3))


def planes_to_rgb(
    y: np.ndarray, cb: np.ndarray, cr: np.ndarray, space: YUVSpace = YUVSpace()
) -> np.ndarray:
    """(H, W, 3) uint8 RGB of uint8 planes; subsampled chroma is repeated to Y's size."""
    h, w = y.shape
    ry, rx = -(-h // cb.shape[0]), -(-w // cb.shape[1])
    if (ry, rx) != (1, 1):
        cb = np.repeat(np.repeat(cb, ry, axis=0), rx, axis=1)[:h, :w]
        cr = np.repeat(np.repeat(cr, ry, axis=0), rx, axis=1)[:h, :w]
    kr, kb = MATRICES[space.matrix]
    offset, luma, chroma_scale = space._scales()
    yy = (y.astype(np.float32) - offset) / luma
    pb = (cb.astype(np.float32) - 128) / chroma_scale
    pr = (cr.astype(np.float32) - 128) / chroma_scale
    r = yy + 2 * (1 - kr) * pr
    b = yy + 2 * (1 - kb) * pb
    g = (yy - kr * r - kb * b) / (1 - kr - kb)
    return np.rint(np.stack([r, g, b], axis=-1) * 255).clip(0, 255).astype(np.uint8)


def rgb_to_frame(rgb: np.ndarray, space: YUVSpace = YUVSpace(), chroma: str = "420"):
    """An av.VideoFrame (yuv420p, or yuv444p) of an (H, W, 3) uint8 image, tagged with the
    space; 4:2:0 needs even sizes."""
    import av

    y, cb, cr = rgb_to_planes(np.asarray(rgb), space, chroma)
    if chroma == "420" and (y.shape[0] % 2 or y.shape[1] % 2):
        raise ValueError(f"4:2:0 needs an even width and height, not {y.shape[::-1]}")
    frame = av.VideoFrame(y.shape[1], y.shape[0], f"yuv{chroma}p")
    for plane, data in zip(frame.planes, (y, cb, cr), strict=True):
        rows = np.zeros((plane.height, plane.line_size), np.uint8)  # with the row padding
        rows[:, : plane.width] = data
        plane.update(rows)
    frame.colorspace, frame.color_range = space.codes["colorspace"], space.codes["color_range"]
    return frame


def _plane(plane) -> np.ndarray:
    """One 8-bit plane of a frame, without its row padding."""
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def frame_to_rgb(frame) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a decoded av.VideoFrame, by the matrix and range it declares.

    8-bit planar Y'CbCr goes through `planes_to_rgb`; RGB formats are copied; anything else
    (NV12, 10-bit) through FFmpeg's converter, told the frame's matrix and range."""
    name = frame.format.name
    if name in _PLANAR:
        space = YUVSpace.of(frame.colorspace, frame.color_range, name)
        return planes_to_rgb(*(_plane(p) for p in frame.planes[:3]), space)
    if not name.startswith(("yuv", "nv", "p0", "p2", "y2", "uyvy", "yuyv")):  # RGB or gray
        return frame.to_ndarray(format="rgb24")
    space = YUVSpace.of(frame.colorspace, frame.color_range, name)
    return frame.reformat(
        format="rgb24",
        src_colorspace=CODE_OF[space.matrix],
        src_color_range=space.codes["color_range"],
        dst_color_range=FULL,
    ).to_ndarray()
