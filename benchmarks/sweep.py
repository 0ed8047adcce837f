"""Do no harm: what `restore` does to images and clips the project did not make (issue 26).

Held-out photographs (a benchmark set, never in the training corpus; LIVE1 colour by default)
are saved by Pillow at every QF from 5 to 95 in steps of 5, as JPEG files (the tables tell
the QF) and as PNG copies of the decoded JPEG (only the QF predictor can tell it), plus the
originals, never compressed. Each form goes through `restore_files`, the function behind
`artifact-removal restore`, with each method, and is scored against the original: PSNR on Y
(BT.601, 16..235) and RGB, the gain over the input. For the PNG copies the pick of the QF
predictor is compared with every choice the ensemble offers (each generator alone, or the
input copied): within 0.1 dB of the best one counts as right.

Held-out clips are the same photographs panned by a virtual camera (`data.video.
camera_motion`), encoded by libx264 at its own defaults (preset medium, GOP 250, 3 B-frames)
at CRFs from 23 to 45, and given to `restore` as a user would, with and without `--method`;
the outputs are decoded and scored against the lossless frames (PSNR on RGB, flicker), and
the CRF predictor's answer and the CRF read from the stream's QPs against the true CRF.
Every video method is run twice, writing H.264 (the default) and lossless FFV1: the
difference is what writing the restored frames costs.

Run inside a project after `make repro`, e.g.

    python benchmarks/sweep.py --images ../shared/data/LIVE1_color --out benchmarks/sweep

It writes per-item CSVs, a summary (Markdown) and a figure into --out, and prints the summary.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from artifact_removal.data.images import read_image
from artifact_removal.data.video import camera_motion
from artifact_removal.degradations.h264 import decode_clip
from artifact_removal.inference.setups import find_project, project_reading
from artifact_removal.metrics.full_reference import psnr
from artifact_removal.metrics.no_reference import niqe_or_nan
from artifact_removal.metrics.temporal import flicker_error
from artifact_removal.restore.options import ImageOutput
from artifact_removal.restore.run import restore_files
from artifact_removal.restore.video import VideoOutput

QUALITIES = tuple(range(5, 100, 5))
CRFS = (23, 27, 31, 35, 40, 45)
NEAR = 0.1  # dB: a pick this close to the best choice counts as right
PNG = ImageOutput("png")  # the restoration itself, lossless (jpeg_output.py: what JPEG costs)


def held_out_images(folder: Path, count: int) -> dict[str, np.ndarray]:
    """`count` images of a benchmark folder, spread over its sorted names: name -> RGB uint8."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".bmp"))
    if not files:
        raise SystemExit(f"error: no PNG or BMP images in {folder}")
    pick = np.unique(np.linspace(0, len(files) - 1, min(count, len(files))).round().astype(int))
    images = {}
    for i in pick:
        pixels = read_image(files[i]).pixels
        images[files[i].stem] = np.repeat(pixels[..., None], 3, 2) if pixels.ndim == 2 else pixels
    return images


def jpeg_bytes(pixels: np.ndarray, quality: int) -> bytes:
    """What Pillow writes at `quality` (libjpeg's tables, 4:2:0): a user's JPEG file."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def write_inputs(images: dict[str, np.ndarray], work: Path) -> pd.DataFrame:
    """The images at every QF, as JPEG files and PNG copies, and the originals: one row each."""
    rows = []
    for name, pixels in images.items():
        Image.fromarray(pixels).save(work / "png" / f"{name}_orig.png")
        rows.append({"image": name, "quality": 100, "form": "png", "file": f"png/{name}_orig.png"})
        for quality in QUALITIES:
            data = jpeg_bytes(pixels, quality)
            (work / "jpeg" / f"{name}_q{quality:02d}.jpg").write_bytes(data)
            with Image.open(io.BytesIO(data)) as decoded:
                decoded.convert("RGB").save(work / "png" / f"{name}_q{quality:02d}.png")
            rows += [{"image": name, "quality": quality, "form": form,
                      "file": f"{form}/{name}_q{quality:02d}.{suffix}"}
                     for form, suffix in (("jpeg", "jpg"), ("png", "png"))]  # fmt: skip
    return pd.DataFrame(rows)


def decoded(path: Path) -> np.ndarray:
    """RGB uint8 of an image file."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def restore_images(inputs: pd.DataFrame, images: dict, work: Path, method: str,
                   quality: int | str = "auto", **options) -> pd.DataFrame:  # fmt: skip
    """Every input through `restore_files` with `method` (and `options`): the scores of input
    and output."""
    out = work / f"out_{method}_{quality}"
    started = time.perf_counter()
    files = [work / f for f in inputs.file]
    report = restore_files(files, out, method=method, quality=quality, progress=False,
                           overwrite=True, image=PNG, **options)  # fmt: skip
    seconds = time.perf_counter() - started
    by_source = {Path(r.source).resolve(): r for r in report.results}
    rows = []
    for row in inputs.itertuples():
        result = by_source[(work / row.file).resolve()]
        gt = images[row.image]
        lq = decoded(work / row.file)
        pred = decoded(result.output) if result.output else lq
        cnn = result.choice.cnn if result.choice else None
        rows.append({
            "image": row.image, "quality": row.quality, "form": row.form, "method": method,
            "given": quality, "status": result.status,
            "choice": result.choice.describe() if result.choice else result.status,
            "cnn": cnn.quality if cnn else None, "cnn_p": cnn.confidence if cnn else None,
            "unsure": bool(result.choice and result.choice.unsure),
            "psnr_y_in": psnr(gt, lq, "y"), "psnr_y": psnr(gt, pred, "y"),
            "psnr_rgb_in": psnr(gt, lq, "rgb"), "psnr_rgb": psnr(gt, pred, "rgb"),
            "niqe_in": niqe_or_nan(lq), "niqe": niqe_or_nan(pred),
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["gain_y"] = frame.psnr_y - frame.psnr_y_in
    frame["gain_rgb"] = frame.psnr_rgb - frame.psnr_rgb_in
    print(f"  {method} (quality {quality}): {len(files)} inputs in {seconds:.0f} s", flush=True)
    return frame


def oracle(inputs: pd.DataFrame, images: dict, work: Path, method: str,
           generators: dict[int, Path]) -> pd.DataFrame:  # fmt: skip
    """PSNR-Y of every choice the ensemble offers for the PNG copies: each trained QF's
    generator alone (given with --quality, from a folder that holds only it, so that no
    measured ladder applies), and the input itself (copied)."""
    copies = inputs[(inputs.form == "png") & (inputs.quality < 100)]
    frames = []
    for q, path in sorted(generators.items()):
        alone = work / "alone" / method / f"q{q}"
        alone.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, alone)
        frames.append(restore_images(copies, images, work, method, q, models_dir=alone))
    table = pd.concat(frames).pivot_table(index=["image", "quality"], columns="given",
                                          values="psnr_y")  # fmt: skip
    table["copy"] = frames[0].set_index(["image", "quality"]).psnr_y_in
    return table


def picks(restored: pd.DataFrame, choices: pd.DataFrame) -> pd.DataFrame:
    """The predictor's pick on each PNG copy beside the best choice: right within NEAR dB."""
    copies = restored[(restored.form == "png") & (restored.quality < 100)].set_index(
        ["image", "quality"]
    )
    best = choices.max(axis=1)
    copies = copies.assign(best=best, right=copies.psnr_y >= np.maximum(best, copies.psnr_y) - NEAR)
    return copies.reset_index()


def image_summary(restored: pd.DataFrame, picked: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per method, form and QF: mean and worst gain (dB, Y); for PNG copies, how often the
    predictor picked right, and how often when it was sure."""
    rows = []
    for (method, form, quality), group in restored.groupby(["method", "form", "quality"]):
        row = {"method": method, "form": form, "quality": quality,
               "gain_y": group.gain_y.mean(), "worst_y": group.gain_y.min(),
               "gain_rgb": group.gain_rgb.mean(),
               "niqe": group.niqe.mean() if "niqe" in group else np.nan,
               "copied": (group.status == "copied").mean()}  # fmt: skip
        if form == "png" and quality < 100 and method in picked:
            p = picked[method]
            p = p[p.quality == quality]
            sure = p[~p.unsure]
            row["right"] = p.right.mean()
            row["right_when_sure"] = sure.right.mean() if len(sure) else np.nan
            row["cnn"] = " ".join(str(int(q)) for q in p.cnn)
        rows.append(row)
    return pd.DataFrame(rows)


def both_counts(summary: pd.DataFrame, default: str = "auto", start: str = "ssim",
                tolerance: float = 0.05) -> pd.DataFrame:  # fmt: skip
    """Per form and QF, the default beside the SSIM generator: its gain over the input, its
    NIQE and the SSIM generator's, and whether it loses on both counts (more than `tolerance`
    dB below the input's PSNR-Y and no more natural than the SSIM generator), issue 43."""
    key = ["form", "quality"]
    ours = summary[summary.method == default].set_index(key)
    theirs = summary[summary.method == start].set_index(key)
    table = pd.DataFrame({"gain_y": ours.gain_y, "worst_y": ours.worst_y, "niqe": ours.niqe,
                          f"{start}_gain_y": theirs.gain_y,
                          f"{start}_niqe": theirs.niqe})  # fmt: skip
    table["loses_both"] = (table.gain_y < -tolerance) & (table.niqe >= table[f"{start}_niqe"])
    return table.reset_index()


def clips(images: dict[str, np.ndarray], frames: int, size: tuple[int, int], fps: int,
          seed: int) -> dict[str, np.ndarray]:  # fmt: skip
    """A panned clip over each photograph: name -> (T, H, W, 3) uint8, the ground truth."""
    return {name: camera_motion(pixels, size, frames, "pan", seed + i)
            for i, (name, pixels) in enumerate(images.items())}  # fmt: skip


def x264_default(frames: np.ndarray, crf: int, fps: int, options: dict | None = None) -> bytes:
    """MP4 of the frames as a user's tool writes it: libx264 with only a CRF given (and any
    other x264 `options`; one thread, so the bytes do not depend on the machine), yuv420p,
    BT.601 (FFmpeg's default)."""
    import av

    buffer = io.BytesIO()
    options = {"crf": str(crf), "threads": "1", **(options or {})}
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for t, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = t
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def restore_clips(truth: dict, work: Path, method: str | None, codec: str,
                  fps: int) -> pd.DataFrame:  # fmt: skip
    """Every clip at every CRF through `restore_files` (`method` None: the default one)."""
    files = sorted((work / "clips").glob("*.mp4"))
    reading, _ = project_reading(find_project())  # the project's line from H.264 QPs to CRF
    out = work / f"clips_{method or 'default'}_{codec}"
    kwargs = {} if method is None else {"method": method}
    started = time.perf_counter()
    report = restore_files(files, out, video=VideoOutput(codec), progress=False, overwrite=True,
                           **kwargs)  # fmt: skip
    seconds = time.perf_counter() - started
    rows = []
    for result in report.results:
        name, crf = result.source.stem.rsplit("_crf", 1)
        gt, lq = truth[name], decode_clip(result.source).frames
        pred = decode_clip(result.output).frames if result.output else lq
        cnn = result.choice.cnn if result.choice else None
        read = reading.read(result.source) if reading else None
        rows.append({
            "clip": name, "crf": int(crf), "method": method or "default", "codec": codec,
            "status": result.status, "error": result.error,
            "used": report.used.split(":")[0] if report.used else "",
            "cnn": cnn.quality if cnn else None, "cnn_p": cnn.confidence if cnn else None,
            "reading": read.quality if read else None,
            "frames": len(pred), "psnr_in": psnr(gt, lq, "rgb"),
            "psnr": psnr(gt, pred, "rgb") if len(pred) == len(gt) else np.nan,
            "flicker_in": flicker_error(lq, gt),
            "flicker": flicker_error(pred, gt) if len(pred) == len(gt) else np.nan,
            "bytes_in": result.source.stat().st_size,
            "bytes": result.output.stat().st_size if result.output else 0,
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["gain"] = frame.psnr - frame.psnr_in
    print(f"  clips, {method or 'default'} -> {codec}: {len(files)} in {seconds:.0f} s", flush=True)
    return frame


def clip_summary(restored: pd.DataFrame) -> pd.DataFrame:
    """Per method, output codec and CRF: mean gain, flicker against the input's, sizes, and
    the CRF predictor's answers."""
    grouped = restored.groupby(["method", "codec", "crf"])
    table = grouped.agg(used=("used", "first"), gain=("gain", "mean"), worst=("gain", "min"),
                        flicker_in=("flicker_in", "mean"), flicker=("flicker", "mean"),
                        size_ratio=("bytes", "sum"))  # fmt: skip
    table["size_ratio"] /= grouped.bytes_in.sum()
    for column in ("cnn", "reading"):
        table[column] = grouped[column].agg(lambda s: " ".join(str(int(q)) if q == q else "-"
                                                               for q in s))  # fmt: skip
    return table.reset_index()


def figure(images: pd.DataFrame, videos: pd.DataFrame | None, path: Path) -> None:
    """Gain over the input against QF (images, JPEG files and PNG copies) and against CRF
    (clips), per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 3 if videos is not None and len(videos) else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), constrained_layout=True)
    titles = {"jpeg": "JPEG files (tables)", "png": "PNG copies (QF predictor)"}
    for ax, (form, title) in zip(axes, titles.items(), strict=False):
        part = images[(images.form == form) & (images.quality < 100)]
        for method, group in part.groupby("method"):
            ax.plot(group.quality, group.gain_y, marker="o", ms=3, label=method)
        ax.axhline(0, color="k", lw=0.8)
        ax.set(title=title, xlabel="JPEG QF", ylabel="gain over the input, PSNR-Y (dB)")
        ax.legend()
    if panels == 3:
        ax = axes[2]
        for (method, codec), group in videos.groupby(["method", "codec"]):
            ax.plot(group.crf, group.gain, marker="o", ms=3, label=f"{method} -> {codec}")
        ax.axhline(0, color="k", lw=0.8)
        ax.set(title="clips (x264 defaults)", xlabel="CRF", ylabel="gain over H.264, PSNR RGB (dB)")
        ax.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sweep_images(args, images: dict, inputs: pd.DataFrame, work: Path) -> pd.DataFrame:
    """Every method on every image input, the predictor's picks against the oracle; writes
    the CSVs into --out and returns the summary."""
    from artifact_removal.inference.setups import find_generators, find_project

    restored, picked = [], {}
    for method in args.methods:
        result = restore_images(inputs, images, work, method)
        if (args.oracle is None and method != "auto") or method in (args.oracle or ()):
            generators = find_generators(method, None, find_project())
            picked[method] = picks(result, oracle(inputs, images, work, method, generators))
        restored.append(result)
    restored = pd.concat(restored)
    restored.to_csv(args.out / "images.csv", index=False)
    for method, table in picked.items():
        table.to_csv(args.out / f"picks_{method}.csv", index=False)
    summary = image_summary(restored, picked)
    summary.to_csv(args.out / "images_summary.csv", index=False)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=Path("../shared/data/LIVE1_color"),
                        help="a folder of never-compressed PNG/BMP images")  # fmt: skip
    parser.add_argument("--count", type=int, default=8, help="images taken from it")
    parser.add_argument("--methods", nargs="+", default=["auto", "ssim", "gan"],
                        help="methods restore runs with; auto: its default")  # fmt: skip
    parser.add_argument("--oracle", nargs="*", default=None, metavar="METHOD",
                        help="methods whose every choice is tried on the PNG copies, to judge "
                        "the QF predictor's picks (default: all of --methods)")  # fmt: skip
    parser.add_argument("--video-methods", nargs="*", default=["video_ssim"])
    parser.add_argument("--clips", type=int, default=4, help="clips (0: no videos)")
    parser.add_argument("--frames", type=int, default=36)
    parser.add_argument("--size", type=int, nargs=2, default=(240, 352), metavar=("H", "W"))
    parser.add_argument("--seed", type=int, default=26)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/sweep"))
    parser.add_argument(
        "--clips-only",
        action="store_true",
        help="rerun the clips only; keep the images' results in --out",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")
    images = held_out_images(args.images, args.count)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sweep-") as tmp:
        work = Path(tmp)
        (work / "png").mkdir(), (work / "jpeg").mkdir(), (work / "clips").mkdir()
        inputs = write_inputs(images, work)
        print(f"{len(images)} images of {args.images} x {len(QUALITIES)} QFs", flush=True)

        if args.clips_only:  # the images' results of an earlier run, kept as they are
            summary = pd.read_csv(args.out / "images_summary.csv")
        else:
            summary = sweep_images(args, images, inputs, work)
        videos = None
        if args.clips and args.video_methods is not None:
            truth = clips(dict(list(images.items())[: args.clips]), args.frames,
                          tuple(args.size), 25, args.seed)  # fmt: skip
            for name, frames in truth.items():
                for crf in CRFS:
                    data = x264_default(frames, crf, 25)
                    (work / "clips" / f"{name}_crf{crf}.mp4").write_bytes(data)
            runs = [(None, "h264")] + [(m, c) for m in args.video_methods for c in ("h264", "ffv1")]
            videos = pd.concat([restore_clips(truth, work, m, c, 25) for m, c in runs])
            videos.to_csv(args.out / "clips.csv", index=False)
            videos = clip_summary(videos)
            videos.to_csv(args.out / "clips_summary.csv", index=False)
    figure(summary, videos, args.out / "sweep.png")
    pd.set_option("display.width", 200)
    print(summary.round(3).to_string(index=False))
    if {"auto", "ssim"} <= set(summary.method):
        check = both_counts(summary)
        check.to_csv(args.out / "default_check.csv", index=False)
        print("\nthe default (auto) beside ssim; loses_both: below the input by more than "
              "0.05 dB and no more natural than ssim")  # fmt: skip
        print(check.round(3).to_string(index=False))
    if videos is not None:
        print(videos.round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
