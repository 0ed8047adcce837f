"""What `restore` can be told, in one place: each option's default, its help and its flag.

`RestoreOptions` are the options of `restore.run.restore_files` and of
`artifact-removal restore`; `VideoOutput` says how a restored video is encoded. The command
line's parser is made from these fields (`cli.parser`), so a default or a help text is written
once, here. This module imports neither torch nor the video libraries: `--help` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..degradations.h264 import PRESETS
from .video_probe import VideoError

AUTO = "auto"
# Restored videos, by default: x264 at the input's CRF minus this, in this chroma; measured so
# that a video stays within about 3 times its input's bytes (benchmarks/video_output.py,
# benchmarks/RESULTS.md "Videos a user keeps"). --archive: near-lossless instead.
CRF_BELOW_INPUT = 6
DEFAULT_CHROMA = "444"
ARCHIVE_CRF = 6
BACKENDS = ("torch", "onnxruntime")
MAX_MEGAPIXELS = 100.0  # restore's default pixel budget
CODECS = ("h264", "ffv1")
CHROMA = ("444", "420")  # H.264 output: full-resolution colour, or half (4:2:0)
# Containers that hold H.264 and the audio they held before: the output keeps the input's kind
# where it can, Matroska otherwise (it holds any audio codec).
KEEP_CONTAINER = {".mp4": ".mp4", ".m4v": ".mp4", ".mov": ".mov", ".mkv": ".mkv"}


def pixel_limit(max_megapixels: float) -> int:
    """Pillow's decompression-bomb limit for a run: at least its own, and --max-megapixels
    (what is over that is refused, with a note, before decoding)."""
    from PIL import Image

    return max(Image.MAX_IMAGE_PIXELS or 0, int(max_megapixels * 1e6))


def check_tiles(tile: int, overlap: int) -> None:
    """Tiles of at least 64 pixels and an overlap of at least 8 (the cross-fade needs some),
    both multiples of 8 (the JPEG block grid); else a RestoreError that says so."""
    from ..inference.choice import RestoreError

    ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (tile, overlap))
    if not ok or tile % 8 or overlap % 8 or tile < 64 or overlap < 8:
        raise RestoreError(
            f"tile ({tile!r}, at least 64) and overlap ({overlap!r}, at least 8) must be "
            "multiples of 8"
        )


def cli(help: str | Callable[[], str], **argparse: Any) -> dict[str, Any]:
    """A field's metadata: what the command line shows of it. `help` (a text, or a function
    that makes it), and `flag`, `metavar`, `choices` (a list, or a function), `group`
    (options that exclude each other), as argparse takes them."""
    return {"help": help, **argparse}


def crf_value(text: str) -> int | str:
    """--crf's value: auto, or a whole number (its range is checked by `VideoOutput`)."""
    return text if text == AUTO else int(text)


@dataclass(frozen=True)
class VideoOutput:
    """How the restored picture is encoded: `h264` (libx264 at `crf`, `preset`, with `chroma`
    444, full-resolution colour, or 420, what every player decodes) or `ffv1` (lossless RGB,
    in Matroska)."""

    codec: str = field(
        default="h264",
        metadata=cli(
            "restored videos: h264 (libx264, in the input's MP4/MOV/MKV, else MKV) or ffv1 "
            "(lossless RGB, MKV)",
            flag="--video-codec",
            choices=list(CODECS),
        ),
    )
    crf: int | str = field(
        default=AUTO,
        metadata=cli(
            lambda: (
                "H.264 quality of restored videos, 0 (lossless) .. 51, lower is better; auto: "
                f"the input's CRF minus {CRF_BELOW_INPUT}, which keeps a video within about 3 "
                "times its input's bytes (benchmarks/RESULTS.md, 'Videos a user keeps')"
            ),
            metavar="N",
            type=crf_value,
        ),
    )
    preset: str = field(
        default="medium",
        metadata=cli(
            "x264 speed preset of restored videos (ultrafast .. veryslow)", metavar="NAME"
        ),
    )
    chroma: str = field(
        default=DEFAULT_CHROMA,
        metadata=cli(
            "H.264 colour of restored videos: 444 keeps the restored colour, 420 plays on "
            "every device",
            choices=list(CHROMA),
        ),
    )
    archive: bool = field(
        default=False,
        metadata=cli(
            f"near-lossless videos: H.264 at CRF {ARCHIVE_CRF}, 4:4:4 (writing costs about 0.1 "
            "dB; 14 to 76 times the input's bytes), in place of --crf and --chroma"
        ),
    )

    def __post_init__(self):
        if self.codec not in CODECS:
            raise VideoError(f"video codec must be one of {', '.join(CODECS)}, not {self.codec!r}")
        if self.crf != AUTO and not (isinstance(self.crf, int) and 0 <= self.crf <= 51):
            raise VideoError(f"CRF must be auto or in 0..51, not {self.crf!r}")
        if self.archive and (self.crf != AUTO or self.chroma != DEFAULT_CHROMA):
            raise VideoError(
                f"--archive writes CRF {ARCHIVE_CRF} in 4:4:4: give it, or --crf and --chroma"
            )
        if self.chroma not in CHROMA:
            raise VideoError(f"chroma must be one of {', '.join(CHROMA)}, not {self.chroma!r}")
        if self.preset not in PRESETS:
            raise VideoError(
                f"x264 preset must be one of {', '.join(PRESETS)}, not {self.preset!r}"
            )

    def suffix(self, source: Path) -> str:
        """The output's suffix for an input file."""
        if self.codec == "ffv1":
            return ".mkv"
        return KEEP_CONTAINER.get(source.suffix.lower(), ".mkv")

    def settings(self) -> dict:
        crf = f"input-{CRF_BELOW_INPUT}" if self.crf == AUTO else self.crf  # what auto is
        settings = {"codec": self.codec, "crf": crf, "preset": self.preset,
                    "chroma": self.chroma}  # fmt: skip
        return settings | {"archive": True} if self.archive else settings

    def for_input(self, crf: float | None) -> VideoOutput:
        """The encoding of one video whose input is H.264 at `crf` (None: not known):
        `--archive`'s, or the given CRF, or (auto) `crf - CRF_BELOW_INPUT`, the archive's CRF
        when the input's is not known."""
        if self.archive:
            return replace(self, crf=ARCHIVE_CRF, chroma="444", archive=False)
        if self.crf == AUTO:
            below = ARCHIVE_CRF if crf is None else round(crf) - CRF_BELOW_INPUT
            return replace(self, crf=int(min(max(below, 0), 51)))
        return self

    def describe(self) -> str:
        """e.g. 'H.264 at the input's CRF - 6, 4:2:0, preset medium'."""
        if self.codec == "ffv1":
            return "FFV1 (lossless RGB, MKV)"
        if self.archive:
            return f"H.264 at CRF {ARCHIVE_CRF}, 4:4:4 (--archive: near-lossless)"
        crf = f"the input's CRF - {CRF_BELOW_INPUT}" if self.crf == AUTO else f"CRF {self.crf}"
        chroma = ":".join(self.chroma)
        return f"H.264 at {crf}, {chroma}, preset {self.preset}"


H264_OUTPUT = VideoOutput()  # the default: libx264 at the input's CRF - CRF_BELOW_INPUT
# What `restore.video.restore_video` writes when not told: it does not know the input's CRF
ARCHIVE_OUTPUT = VideoOutput(crf=ARCHIVE_CRF, chroma="444")

IMAGE_FORMATS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
# Each format's suffixes: an output of `--format auto` keeps its input's suffix when it is one
# of these (`photo.JPEG` stays `photo.JPEG`), else takes the first.
FORMAT_SUFFIXES = {"png": (".png",), "jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
                   "webp": (".webp",)}  # fmt: skip
IMAGE_QUALITY = 95  # of JPEG and WebP outputs unless given


@dataclass(frozen=True)
class ImageOutput:
    """How a restored image is written: `auto` (each in its input's format: a JPEG as a JPEG, a
    WebP as a WebP, at `image_quality`; a PNG and any other format as PNG), `png` (lossless,
    8 or 16 bits), `jpeg` (4:4:4, at `image_quality`) or `webp` (lossy at `image_quality`,
    4:2:0 as lossy WebP always is; lossless at 100). Each keeps the input's EXIF and an sRGB
    ICC profile. An input left as it is in the format it would be written in is copied byte
    for byte (`restore.copies`)."""

    format: str = field(
        default=AUTO,
        metadata=cli(
            "restored images: auto (each in its input's format: JPEG as JPEG, WebP as WebP, "
            "the rest as PNG; 16 bits: PNG), png (lossless), jpeg (4:4:4) or webp, JPEG and "
            "WebP at --image-quality; a restored PNG is often 5 to 10 times its JPEG input",
            choices=[AUTO, *IMAGE_FORMATS],
        ),
    )
    image_quality: int | None = field(
        default=None,
        metadata=cli(
            f"quality of JPEG and WebP outputs, 1..100 (WebP: 100 is lossless; default "
            f"{IMAGE_QUALITY}); PNG outputs are lossless and take none",
            metavar="N",
        ),
    )

    def __post_init__(self):
        if self.format != AUTO and self.format not in IMAGE_FORMATS:
            raise ValueError(
                f"image format must be one of {AUTO}, {', '.join(IMAGE_FORMATS)}, "
                f"not {self.format!r}"
            )
        if self.image_quality is None:
            return
        if self.format == "png":
            raise ValueError(
                f"--image-quality {self.image_quality} sets the quality of JPEG and WebP "
                "outputs; PNG is lossless: give --format auto, jpeg or webp, or leave it out"
            )
        if not 1 <= self.image_quality <= 100:
            raise ValueError(f"image quality must be in 1..100, not {self.image_quality}")

    @property
    def suffix(self) -> str:
        """The suffix of this format's outputs (`auto`: see `suffix_for`)."""
        return IMAGE_FORMATS[self.format]

    @property
    def quality(self) -> int:
        """The JPEG or WebP quality to write at (the default unless given)."""
        return IMAGE_QUALITY if self.image_quality is None else self.image_quality

    def for_input(self, still_format: str | None, bits: int = 8) -> ImageOutput:
        """The format one input is written in: this one, or for `auto` the input's own
        (`still_format`, from `restore.kinds.still_format`) where it is JPEG or WebP and the
        output 8-bit, else PNG."""
        if self.format != AUTO:
            return self
        if still_format in ("jpeg", "webp") and bits == 8:
            return ImageOutput(still_format, self.image_quality)
        return ImageOutput("png")

    def suffix_for(self, source: Path, still_format: str | None, bits: int = 8) -> str:
        """An input's output suffix: its format's (`for_input`), the input's own suffix where
        it names that format (`a.JPEG` stays `.JPEG`)."""
        written = self.for_input(still_format, bits).format
        own = source.suffix
        return own if own.lower() in FORMAT_SUFFIXES[written] else IMAGE_FORMATS[written]

    def describe(self, bits: int = 8) -> str:
        """How a run writes its images, in a line (the run's header says it)."""
        webp = "lossless" if self.quality == 100 else f"quality {self.quality}"
        if self.format == AUTO and bits == 8:
            return (
                f"writing each image in its own format: JPEG as JPEG (4:4:4, quality "
                f"{self.quality}), WebP as WebP ({webp}), the rest as PNG; an image left as it "
                "is is copied byte for byte (--format png: every image lossless)"
            )
        if self.format in (AUTO, "png"):
            return f"writing every image as PNG ({bits}-bit, lossless)"
        if self.format == "jpeg":
            return f"writing every image as JPEG (4:4:4, quality {self.quality})"
        return f"writing every image as WebP ({webp})"

    def settings(self) -> dict:
        """What an output depends on; empty for PNG (recorded as before `auto` came)."""
        return {} if self.format == "png" else {"format": self.format, "q": self.quality}


AUTO_OUTPUT = ImageOutput()  # the default: each image in its own format


def _method_choices() -> list[str]:
    from ..methods import METHODS

    return [AUTO, *METHODS]


def _method_help() -> str:
    from ..methods import method_help

    return method_help()


@dataclass(frozen=True)
class RestoreOptions:
    """How `restore_files` restores (see its docstring for what each option does)."""

    method: str = field(default=AUTO, metadata=cli(_method_help, choices=_method_choices))
    strength: float | None = field(
        default=None,
        metadata=cli(
            "the perception-distortion dial, 0..1, for a method fine-tuned from another (gan, "
            "nogan, video_gan): 0 restores with the generator it starts from (the SSIM one: "
            "closest to the original), 1 with its own (the GAN: most natural), a value between "
            "with their weights interpolated (default: the method's own)",
            metavar="S",
            type=float,
        ),
    )
    quality: int | str = field(
        default=AUTO,
        metadata=cli(
            "auto: from the JPEG's quantization tables, else the QF predictor (for the video "
            "methods: x264's settings in the stream, else the CRF its H.264 QPs read as, else the "
            "CRF predictor); or the JPEG QF (video methods: the CRF) for every input",
            metavar="auto|QF",
        ),
    )
    device: str = field(default=AUTO, metadata=cli("auto (CUDA when present), cpu, cuda[:N]"))
    backend: str = field(
        default="torch",
        metadata=cli(
            "what runs the networks: torch, or onnxruntime on a folder that `artifact-removal "
            "export --format onnx` wrote (given with --models DIR; no torch needed)",
            choices=list(BACKENDS),
        ),
    )
    models_dir: str | Path | None = field(
        default=None,
        metadata=cli(
            "folder of q<QF>.pt generators (default: the project's models/<method>)",
            flag="--models",
            metavar="DIR",
        ),
    )
    predictor: str | Path | None = field(
        default=None,
        metadata=cli(
            "QF predictor file (default: the project's models/qf/predictor.pt)", metavar="FILE"
        ),
    )
    tile: int = field(
        default=512,
        metadata=cli(
            "restore in tiles of this side (multiple of 8, at least 64): memory stays flat "
            "whatever the image's size",
            metavar="PX",
        ),
    )
    overlap: int = field(
        default=64,
        metadata=cli(
            "overlap of neighbouring tiles, cross-faded (a multiple of 8, at least 8; below "
            "the generator's reach, about 32 px, seams can show)",
            metavar="PX",
        ),
    )
    bits: int = field(
        default=8,
        metadata=cli(
            "PNG bit depth; 16 keeps the generator's output before rounding", choices=[8, 16]
        ),
    )
    image: ImageOutput = field(default=AUTO_OUTPUT, metadata=cli("how restored images are written"))
    overwrite: bool = field(
        default=False,
        metadata=cli(
            "restore every input again and replace existing output files (default: skip the "
            "outputs an earlier run finished with the same input and settings; stop, writing "
            "nothing, at any other file in the way, and list them)",
            group="existing",
        ),
    )
    skip_existing: bool = field(
        default=False,
        metadata=cli("keep existing output files and skip their inputs", group="existing"),
    )
    restore_uncompressed: bool = field(
        default=False,
        metadata=cli(
            "restore inputs of better quality than the generators are trained for (JPEG above QF "
            "75 on the default ladder, no sign of JPEG compression, H.264 below CRF 26) with the "
            "gentlest generator (default: copy them without restoring, with a note)",
        ),
    )
    max_megapixels: float = field(
        default=MAX_MEGAPIXELS, metadata=cli("skip larger images, with a note", metavar="MP")
    )
    video: VideoOutput = field(default=H264_OUTPUT, metadata=cli("how restored videos are encoded"))
    segment_frames: int = field(
        default=240,
        metadata=cli(
            "a video is written in segments of N frames; a rerun after an interruption keeps the "
            "finished ones",
            metavar="N",
        ),
    )
    batch: int = field(
        default=4, metadata=cli("video frames through the network at once", metavar="N")
    )
    ray: str | None = field(
        default=None,
        metadata=cli(
            "restore on a Ray cluster, a task per image or video: --ray alone starts Ray on "
            "this machine (or joins RAY_ADDRESS's), --ray auto joins a local cluster, --ray "
            "ray://HOST:10001 a remote one (paths must be the same on every node); needs "
            "requirements-ray.txt",
            metavar="ADDRESS",
            nargs="?",
            const="",
        ),
    )
    io_workers: int = field(
        default=1,
        metadata=cli(
            "threads that encode and write outputs while the network restores the next image "
            "(a thread reads and judges the images ahead, too); 0: one step after the other. "
            "The outputs are the same either way",
            metavar="N",
        ),
    )
