"""Clean video clips that work offline (camera motion over pristine stills, and lossless clips)
and the video stage's prepared data.

No package registry ships an uncompressed natural video, so the default clips are made by
moving a virtual camera over the corpus' photographs: a pan, a slow zoom, or a hand-held
shake (a random walk of sub-pixel steps pulled back to its start). Each frame is an affine
view of the still, resampled with bicubic interpolation from a copy shrunk (area averaging)
so that the camera never magnifies by more than 1.25 or shrinks at all: no aliasing, and
the motion is sub-pixel as a real camera's is. The same still, size, motion and seed give the
same frames.

A user's own lossless clips are read (and written) by `lossless.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

# the `as` imports re-export what other modules and the tests import from here
from .lossless import LOSSLESS_CODECS as LOSSLESS_CODECS
from .lossless import ClipError, read_clip
from .lossless import LoadedClip as LoadedClip
from .lossless import truncation as truncation
from .lossless import write_lossless as write_lossless
from .prepared import spread

MOTIONS = ("pan", "zoom", "shake")
MAGNIFICATION = 1.25  # the most the camera enlarges the (shrunk) still


def _shrunk(still: np.ndarray, size: tuple[int, int], room: float) -> np.ndarray:
    """The still in RGB, area-shrunk so that a window of `size` times `room` just fits."""
    import cv2

    rgb = np.repeat(still[:, :, None], 3, axis=2) if still.ndim == 2 else still[:, :, :3]
    h, w = size
    scale = max(h * room / rgb.shape[0], w * room / rgb.shape[1])
    if scale > 1:
        raise ClipError(
            f"a {rgb.shape[1]}x{rgb.shape[0]} still is too small for {w}x{h} "
            f"clips with camera motion (it needs {room:.2f} times the clip's "
            "size)"
        )
    shape = (max(round(rgb.shape[1] * scale), w), max(round(rgb.shape[0] * scale), h))
    return cv2.resize(np.ascontiguousarray(rgb), shape, interpolation=cv2.INTER_AREA)


def _path(motion: str, frames: int, room: tuple[float, float], rng: np.random.Generator):
    """Per frame: the window centre's offset from the still's centre (x, y, in still pixels)
    and the window's scale (still pixels per clip pixel)."""
    t = np.linspace(0, 1, frames)
    free_x, free_y = room  # how far the centre may move either way at scale 1
    if motion == "pan":
        direction = rng.choice([-1, 1])
        x = direction * free_x * 0.9 * (2 * t - 1)
        y = free_y * 0.3 * np.sin(np.pi * t + rng.uniform(0, np.pi))
        scale = np.ones(frames)
    elif motion == "zoom":
        x = free_x * 0.2 * (t - 0.5) * rng.choice([-1, 1])
        y = np.zeros(frames)
        scale = 1 - (1 - 1 / MAGNIFICATION) * t  # ends magnified by MAGNIFICATION
    elif motion == "shake":
        steps = rng.normal(0, 0.6, (frames, 2))
        walk = np.zeros((frames, 2))
        for k in range(1, frames):  # pulled back towards the start: stays in the frame
            walk[k] = 0.85 * walk[k - 1] + steps[k]
        limit = np.array([free_x, free_y]) * 0.8
        x, y = np.clip(walk, -limit, limit).T
        scale = np.ones(frames)
    else:
        raise ClipError(f"camera motion must be one of {', '.join(MOTIONS)}, not {motion!r}")
    return x, y, scale


def camera_motion(
    still: np.ndarray, size: tuple[int, int], frames: int, motion: str, seed: int
) -> np.ndarray:
    """(frames, h, w, 3) uint8: a virtual camera of `size` (h, w) moving over `still` (RGB or
    gray uint8) as `motion` says; see the module docstring."""
    import cv2

    if frames < 2:
        raise ClipError(f"a clip needs at least 2 frames, not {frames}")
    image = _shrunk(still, size, MAGNIFICATION)
    h, w = size
    big_h, big_w = image.shape[:2]
    room = ((big_w - w) / 2, (big_h - h) / 2)
    x, y, scale = _path(motion, frames, room, np.random.default_rng(seed))
    out = np.empty((frames, h, w, 3), np.uint8)
    for k in range(frames):
        s = scale[k]
        # clip pixel (u, v) -> still (cx + s (u - (w-1)/2), cy + s (v - (h-1)/2))
        cx, cy = (big_w - 1) / 2 + x[k], (big_h - 1) / 2 + y[k]
        matrix = np.array([[s, 0, cx - s * (w - 1) / 2], [0, s, cy - s * (h - 1) / 2]])
        out[k] = cv2.warpAffine(
            image,
            matrix,
            (w, h),
            flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT_101,
        )
    return out


# The video stage's prepared data ---------------------------------------------------------------
#
#   <video.prepared_dir>/sets/<split>/gt/<clip>_<t>.png      clean frames
#   <video.prepared_dir>/sets/<split>/q<CRF>/<clip>.mp4      the clip through H.264 at each CRF
#   <video.prepared_dir>/sets/<split>/q<CRF>/<clip>_<t>.png  its decoded frames
#   <video.prepared_dir>/patches/<split>_<size>.csv          patch index (train, val)
#   <video.prepared_dir>/frames.csv, clips.csv               every frame and clip, with scores
#
# The layout is the image corpus' (data/prepared.py), with PNG frames where JPEG files were, so
# the patch samplers and the run engine train on frames as they do on images.


@dataclass(frozen=True)
class SourceClip:
    """A clean clip to prepare: its split, name, frames, frame rate and where it came from."""

    split: str
    name: str
    frames: np.ndarray
    fps: Fraction
    source: str


def default_clips(params, root: Path) -> tuple[list[SourceClip], list[str]]:
    """Camera-motion clips over the prepared corpus' photographs (in the train split also their
    colour variants when `video.clips.colour_variants`; never the synthetic images), the
    motions taken in turn, and the user's extra clips (test); notes for what was left out or
    converted."""
    from ..config import SPLITS, resolve_path
    from .images import read_png

    spec = params.video.clips
    sets = resolve_path(params.data.prepared_dir, root) / "sets"
    clips, notes = [], []
    turn = 0
    for split_index, split in enumerate(SPLITS):
        variants = split == "train" and spec.colour_variants
        length = spec.train_frames if split == "train" else spec.frames
        stills = spread(
            sorted(
                p
                for p in (sets / split / "gt").glob("*.png")
                if ("~" not in p.stem or variants) and not p.stem.startswith("dead_leaves")
            ),
            spec.photographs[split_index],
        )
        for k, still in enumerate(stills):
            motion = spec.motions[turn % len(spec.motions)]
            seed = params.seed * 1000 + split_index * 100 + k
            try:
                frames = camera_motion(read_png(still), tuple(spec.size), length, motion, seed)
            except ClipError as err:
                notes.append(f"{split}/{still.stem}: left out: {err}")
                continue
            turn += 1
            name = f"{still.stem.replace('~', '_')}_{motion}"
            clips.append(
                SourceClip(
                    split,
                    name,
                    frames,
                    Fraction(spec.fps),
                    f"camera {motion} over {still.name}, seed {seed}",
                )
            )
    for name, path in params.video.extra_clips.items():
        imported = resolve_path(params.video.clips_dir, root) / name
        if not (imported / "clip.mkv").is_file():
            raise ClipError(
                f"video.extra_clips.{name}: not imported yet; run `dvc repro "
                f"import_clip@{name}` (or python -m artifact_removal.stages.clips "
                f"{name})"
            )
        record = json.loads((imported / "clip.json").read_text())
        loaded = read_clip(imported / "clip.mkv")
        notes += [f"{name}: {note}" for note in record["notes"]]
        clips.append(SourceClip("test", name, loaded.frames, Fraction(record["fps"]), str(path)))
    return clips, notes


def prepare_video(params, root: str | Path, progress: bool = True):
    """Prepare the video stage's data (layout above); returns (frames, clips, notes) tables."""
    import pandas as pd
    from tqdm.auto import tqdm

    from ..config import resolve_path
    from ..degradations.h264 import H264, h264_compress
    from ..fileio import write_atomic, write_csv
    from ..metrics.full_reference import psnr, ssim
    from .images import WORKING_LEVEL, write_png
    from .prepare import patch_index
    from .prepared import quality_dir

    root = Path(root)
    out = resolve_path(params.video.prepared_dir, root)
    for stale in ("sets", "patches", PREDICTOR_DATA):
        if (out / stale).exists():
            import shutil

            shutil.rmtree(out / stale)
    clips, notes = default_clips(params, root)
    if not any(c.split == "train" for c in clips) or not any(c.split == "test" for c in clips):
        raise ClipError(
            "no training or no test clips: the corpus' train and test splits need "
            f"photographs of at least {params.video.clips.size[1]}x"
            f"{params.video.clips.size[0]} pixels (times {MAGNIFICATION})"
        )
    h264 = params.degradation.h264
    frame_rows, clip_rows = [], []
    for number, clip in enumerate(tqdm(clips, desc="clips", unit="clip", disable=not progress)):
        folder = out / "sets" / clip.split
        for t, frame in enumerate(clip.frames):
            write_png(frame, folder / "gt" / f"{clip.name}_{t:04d}.png", WORKING_LEVEL)
        for crf in h264.crfs:
            settings = (
                H264(crf, h264.preset, h264.gop, h264.bframes)
                if clip.split == "test"
                else encoder_settings(params, crf, number)
            )
            compressed = h264_compress(clip.frames, settings, clip.fps)
            write_atomic(folder / quality_dir(crf) / f"{clip.name}.mp4", compressed.data)
            decoded = zip(clip.frames, compressed.frames, compressed.picture_types, strict=True)
            for t, (gt, lq, kind) in enumerate(decoded):
                name = f"{clip.name}_{t:04d}.png"
                write_png(lq, folder / quality_dir(crf) / name, WORKING_LEVEL)
                frame_rows.append(
                    {
                        "split": clip.split,
                        "clip": clip.name,
                        "t": t,
                        "crf": crf,
                        "type": kind,
                        "psnr_rgb": psnr(gt, lq),
                        "ssim_y": ssim(gt, lq, "y"),
                    }
                )
            clip_rows.append(
                {
                    "split": clip.split,
                    "clip": clip.name,
                    "crf": crf,
                    "frames": len(clip.frames),
                    "height": clip.frames.shape[1],
                    "width": clip.frames.shape[2],
                    "fps": float(clip.fps),
                    "bpp": compressed.bits_per_pixel,
                    "source": clip.source,
                    "preset": settings.preset,
                    "gop": settings.gop,
                    "bframes": settings.bframes,
                }
            )
    frames = pd.DataFrame(frame_rows)
    table = pd.DataFrame(clip_rows)
    sizes = pd.DataFrame(
        [
            {
                "split": c.split,
                "key": f"{c.name}_{t:04d}",
                "height": c.frames.shape[1],
                "width": c.frames.shape[2],
            }
            for c in clips
            for t in range(len(c.frames))
        ]
    )
    for split in ("train", "val"):
        for spec in params.data.patches:
            index = patch_index(sizes[sizes["split"] == split], spec.size, spec.stride)
            write_csv(out / "patches" / f"{split}_{spec.size}.csv", index, index=False)
    predictor_data(params, clips, out / PREDICTOR_DATA, progress)
    write_csv(out / "frames.csv", frames, index=False, float_format="%.6f")
    write_csv(out / "clips.csv", table, index=False, float_format="%.6f")
    write_atomic(out / "notes.txt", "\n".join(notes) + ("\n" if notes else ""))
    return frames, table, notes


PREDICTOR_DATA = "crf"  # below video.prepared_dir: the CRF predictor's frames (same layout)


def encoder_settings(params, crf: int, number: int):
    """The x264 settings of a training or validation clip at `crf`: one combination of
    `video.train_encoders`, drawn from the seed, the clip's number and the CRF."""
    from ..degradations.h264 import H264

    variety = params.video.train_encoders
    rng = np.random.default_rng([params.seed, number, crf])
    return H264(
        int(crf),
        str(rng.choice(variety.presets)),
        int(rng.choice(variety.gops)),
        int(rng.choice(variety.bframes)),
    )


def predictor_data(params, clips: list[SourceClip], out: Path, progress: bool = True) -> None:
    """The CRF predictor's frames, in the prepared layout (sets/<split>/gt, sets/<split>/q<CRF>,
    patches/): `video.predictor_frames` frames of each clip (colour variants apart), and for
    each class of `video.predictor_crfs` the same frames through H.264 at a CRF drawn from
    those that count as that class (`archs.qf_net.class_cells`) with drawn x264 settings
    (`encoder_settings`), in every split: the predictor learns the CRFs between its classes
    and the settings of other tools, and is tested on them."""
    import pandas as pd
    from tqdm.auto import tqdm

    from ..archs.qf_labels import class_cells
    from ..degradations.h264 import h264_compress
    from ..fileio import write_csv
    from .images import WORKING_LEVEL, write_png
    from .prepare import patch_index
    from .prepared import quality_dir

    classes = params.video.predictor_crfs
    cells = class_cells(classes, 52)
    keys = []
    plain = [c for c in clips if "~" not in c.source]  # colour variants teach no new CRF
    for number, clip in enumerate(
        tqdm(plain, desc="crf predictor clips", unit="clip", disable=not progress)
    ):
        picks = np.unique(
            np.linspace(1, len(clip.frames) - 1, params.video.predictor_frames).round().astype(int)
        )
        folder = out / "sets" / clip.split
        for t in picks:
            write_png(clip.frames[t], folder / "gt" / f"{clip.name}_{t:04d}.png", WORKING_LEVEL)
            height, width = clip.frames.shape[1:3]
            keys.append(
                {
                    "split": clip.split,
                    "key": f"{clip.name}_{t:04d}",
                    "height": height,
                    "width": width,
                }
            )
        for label in classes:
            rng = np.random.default_rng([params.seed, number, label, 1])
            crf = int(rng.choice(cells[label]))
            settings = encoder_settings(params, crf, 1000 + number)
            decoded = h264_compress(clip.frames, settings, clip.fps).frames
            for t in picks:
                name = f"{clip.name}_{t:04d}.png"
                write_png(decoded[t], folder / quality_dir(label) / name, WORKING_LEVEL)
    sizes = pd.DataFrame(keys)
    for split in ("train", "val"):
        for spec in params.data.patches:
            index = patch_index(sizes[sizes["split"] == split], spec.size, spec.stride)
            write_csv(out / "patches" / f"{split}_{spec.size}.csv", index, index=False)
