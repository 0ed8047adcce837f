"""Stage video (notebook 08): H.264 clips, generators trained on their frames, whole clips
restored and scored frame by frame and over time, a synced player.

The clips are the video stage's prepared data (`data/video.py`): camera motion over the
corpus' photographs, and any lossless clips the user adds. The methods of `video.methods`
(registry entries whose codec is H.264) are trained through the run engine for each CRF of
`degradation.h264.crfs`, and the test clips at `video.crf` are restored with the generator of
that CRF. Scores per clip and method: PSNR (RGB, Y) and SSIM (Y) per frame against the
original, averaged; NIQE and BRISQUE on every `video.niqe_every`-th frame; the flicker error
and tOF over time (`metrics/temporal.py`); frames per second of the restoration alone at the
clip's size (the 720p rate is the benchmark's, `benchmarks/bench_video.py`). VIIDEO is omitted:
its one Python port is unvalidated (../DESIGN notes it breaks on numpy 2 and ranks synthetic
clips non-monotonically), so no figure of it is reported.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..config import Params, resolve_path
from ..data.images import read_png
from ..data.prepared import quality_dir
from ..degradations.codecs import codec_of
from ..inference.releases import load_generator
from ..inference.torch_backend import restore_float
from ..methods import get as get_method
from ..methods import models_dir as models_dir_of
from ..methods import qualities_of
from ..methods.predictors import trained_in
from ..metrics.full_reference import psnr, ssim
from ..metrics.no_reference import brisque, niqe_or_nan
from ..metrics.temporal import flicker_error, tof
from .player import Player as Player
from .player import player_page as player_page
from .player import stacked_clip as stacked_clip

COLUMNS = ["psnr_rgb", "psnr_y", "ssim_y", "niqe", "brisque", "flicker", "tof"]
STAGE = "video"  # this stage, as the registries name it (`Method.stage`, `Predictor.stage`)


def check_methods(params: Params) -> list[str]:
    """`video.methods`, each a registered method trained on H.264 frames."""
    methods = list(params.video.methods)
    wrong = [m for m in methods if "video.methods" not in codec_of(get_method(m).codec).shown_in]
    if wrong:
        raise ValueError(
            f"video.methods: {wrong} are not trained on H.264 frames; video "
            "methods are registry entries with codec h264 (`artifact-removal "
            "methods`)"
        )
    return methods


def train_video_methods(
    params: Params, root: Path, device: torch.device, progress: bool = True
) -> pd.DataFrame:
    """Train every video method for every CRF, and the CRF predictor (resuming or reusing
    finished runs, as the run engine does); one row of validation scores per run."""
    from ..training.engine import train
    from ..training.run import Run

    rows = []
    runs = [(name, crf) for name in check_methods(params) for crf in qualities_of(params, name)]
    for name, crf in [*runs, *((p.name, None) for p in trained_in(STAGE))]:
        run = Run.from_params(params, name, crf, Path(root))
        train(run, device, progress=progress)
        row = {"run": name, "crf": crf, "release": str(run.release.relative_to(root))}
        metrics = json.loads((run.live_dir / "metrics.json").read_text())
        for key, value in metrics.items():  # the last step's scores, one level flattened
            for part, number in value.items() if isinstance(value, dict) else [("", value)]:
                if isinstance(number, int | float):
                    row[f"{key}_{part}".strip("_")] = number
        rows.append(row)
    return pd.DataFrame(rows)


def crf_confusion(params: Params, root: Path, device: torch.device) -> tuple[pd.DataFrame, dict]:
    """The CRF predictor on its test frames (each class's at a CRF that counts as it, with
    drawn x264 settings: `data.video.predictor_data`): the confusion matrix (rows: predicted,
    columns: the true CRF's class) and its accuracies."""
    from ..inference.qf import predict_set
    from ..inference.releases import load_predictor
    from ..metrics.classification import accuracies, confusion_matrix, named

    (predictor,) = trained_in(STAGE)
    net = load_predictor(predictor.release(params, root), device)
    folder = predictor.prepared(params, root) / "sets" / "test"
    found = predict_set(net, folder, params.train_qf.predict_patches, device, progress=False)
    table = confusion_matrix(*found, net.labels)
    return named(table), accuracies(table)


@dataclass
class TestClip:
    """One test clip: its original frames and its frames through H.264 at the scored CRF."""

    name: str
    original: np.ndarray
    h264: np.ndarray
    fps: float


def test_clips(params: Params, root: Path) -> list[TestClip]:
    """The prepared test clips at `video.crf`, in name order."""
    out = resolve_path(params.video.prepared_dir, root)
    table = pd.read_csv(out / "clips.csv")
    table = table[(table["split"] == "test") & (table["crf"] == params.video.crf)]
    folder = out / "sets" / "test"
    clips = []
    for row in table.sort_values("clip").itertuples():
        names = [f"{row.clip}_{t:04d}.png" for t in range(row.frames)]
        original = np.stack([_rgb(read_png(folder / "gt" / n)) for n in names])
        h264 = np.stack([read_png(folder / quality_dir(params.video.crf) / n) for n in names])
        clips.append(TestClip(row.clip, original, h264, row.fps))
    return clips


def _rgb(frame: np.ndarray) -> np.ndarray:
    return np.repeat(frame[:, :, None], 3, axis=2) if frame.ndim == 2 else frame


def restore_frames(
    net: torch.nn.Module, frames: np.ndarray, device: torch.device, batch: int = 4
) -> tuple[np.ndarray, float]:
    """A clip's frames restored in batches, and the seconds the network took."""
    out = np.empty_like(frames)
    start = time.perf_counter()
    for k in range(0, len(frames), batch):
        restored = restore_float(net, frames[k : k + batch], device)
        out[k : k + batch] = np.rint(restored).clip(0, 255).astype(np.uint8)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def _niqe(frames: np.ndarray) -> float:
    """Mean NIQE of frames; NaN (no warning) when they are all too small for its blocks."""
    values = [v for v in (niqe_or_nan(f) for f in frames) if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def _scores(original: np.ndarray, frames: np.ndarray, every: int) -> dict[str, float]:
    sampled = frames[::every]
    return {
        "psnr_rgb": float(np.mean([psnr(g, p) for g, p in zip(original, frames, strict=True)])),
        "psnr_y": float(np.mean([psnr(g, p, "y") for g, p in zip(original, frames, strict=True)])),
        "ssim_y": float(np.mean([ssim(g, p, "y") for g, p in zip(original, frames, strict=True)])),
        "niqe": _niqe(sampled),
        "brisque": float(np.mean([brisque(f) for f in sampled])),
        "flicker": flicker_error(frames, original),
        "tof": tof(frames, original),
    }


@dataclass
class VideoEvaluation:
    """Per clip and version (original, h264, each method): scores; and every version's
    frames, for figures and the player."""

    table: pd.DataFrame
    frames: dict[str, dict[str, np.ndarray]]
    fps: dict[str, float]  # clip -> its frame rate
    crf: int

    def summary(self) -> pd.DataFrame:
        """Means over clips, one row per version, in the table's order."""
        order = list(dict.fromkeys(self.table["version"]))
        means = self.table.groupby("version", sort=False)[COLUMNS].mean()
        return means.loc[order]


def evaluate_video(
    params: Params, root: Path, device: torch.device, progress: bool = True
) -> VideoEvaluation:
    """Restore every test clip with every video method at `video.crf`, and score it."""
    from tqdm.auto import tqdm

    crf, every = params.video.crf, params.video.niqe_every
    nets = {}
    for name in check_methods(params):
        path = resolve_path(models_dir_of(params, name), root) / f"q{crf}.pt"
        nets[name] = load_generator(path, device).eval()
    rows, frames, rates = [], {}, {}
    for clip in tqdm(test_clips(params, root), desc="clips", unit="clip", disable=not progress):
        versions = {"original": clip.original, "h264": clip.h264}
        for name, net in nets.items():
            versions[name] = restore_frames(net, clip.h264, device)[0]
        frames[clip.name], rates[clip.name] = versions, clip.fps
        for version, pixels in versions.items():
            row = {"clip": clip.name, "version": version}
            if version == "original":
                row |= {
                    "niqe": _niqe(pixels[::every]),
                    "brisque": float(np.mean([brisque(f) for f in pixels[::every]])),
                }
            else:
                row |= _scores(clip.original, pixels, every)
            rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=["clip", "version", *COLUMNS])
    return VideoEvaluation(table, frames, rates, crf)


def published_video() -> pd.DataFrame:
    """The 2020 paper's Table 2 (the project's copy, stages/published.yaml)."""
    from ..config import parse_yaml

    text = resources.files(__package__).joinpath("published.yaml").read_text()
    entry = parse_yaml(text, "published.yaml")["video_h264_720p"]
    return pd.DataFrame.from_dict(entry["rows"], orient="index", columns=entry["columns"])


def beside_paper(summary: pd.DataFrame, crf: int) -> pd.DataFrame:
    """Our NIQE, BRISQUE and FPS (at the clips' size) beside the 2020 paper's Table 2 (720p);
    VIIDEO is theirs only (see the module docstring)."""
    ours = summary[["niqe", "brisque"]].rename(index=lambda v: f"{v} (here, CRF {crf})")
    paper = published_video().rename(index=lambda v: f"{v} (paper, 720p)")
    return pd.concat([ours, paper])[["niqe", "brisque", "fps", "viideo"]]


def xt_slice(frames: np.ndarray, row: int) -> np.ndarray:
    """One scanline over time: (T, W, 3), time downwards. A steady restoration draws smooth
    streaks where the camera moves; flicker draws horizontal stripes."""
    return frames[:, row]


def video_figures(evaluation: VideoEvaluation, out_dir: Path, clip: str | None = None) -> dict:
    """Frames of one clip across versions (the middle frame) and their x-t slices, saved."""
    from .plots import panel_row, save_figure

    clip = clip or next(iter(evaluation.frames))
    versions = evaluation.frames[clip]
    names = list(versions)
    middle = len(versions["original"]) // 2
    height, width = versions["original"].shape[1:3]
    frame_fig = panel_row(
        [versions[v][middle] for v in names], names, (slice(0, height), slice(0, width)), width=3.0
    )
    row = height // 2
    slices = [np.repeat(xt_slice(versions[v], row), 4, axis=0) for v in names]  # 4 px per frame
    xt_fig = panel_row(
        slices, [f"{v}: row {row} over time" for v in names], (slice(None), slice(None)), width=3.0
    )
    return {
        "frames": save_figure(frame_fig, out_dir / f"{clip}_frames.png"),
        "xt": save_figure(xt_fig, out_dir / f"{clip}_xt.png"),
        "figures": (frame_fig, xt_fig),
    }


def write_reports(
    evaluation: VideoEvaluation, params: Params, root: Path, predictor: dict | None = None
) -> dict[str, Path]:
    """Tables (CSV, Markdown), metrics JSON (with the CRF predictor's accuracies,
    `predictor`, when given) and the player page of the stage."""
    from ..fileio import write_csv, write_json, write_text

    out = resolve_path(params.video.out_dir, root)
    summary = evaluation.summary()
    paths = {
        "table": write_csv(out / "clips.csv", evaluation.table, index=False, float_format="%.4f"),
        "summary": write_csv(out / "summary.csv", summary, float_format="%.4f"),
    }
    text = (
        f"H.264 CRF {evaluation.crf}, mean over {evaluation.table['clip'].nunique()} test "
        "clips; PSNR/SSIM per frame vs the original; NIQE/BRISQUE on every "
        f"{params.video.niqe_every}th frame; flicker (8-bit levels) and tOF (pixels): lower "
        "is better; frames per second: benchmarks/RESULTS.md (a timing is no stage output)\n\n"
        + summary.round(4).to_markdown()
        + "\n\nBeside the 2020 paper's Table 2 (720p):\n\n"
        + beside_paper(summary, evaluation.crf).round(3).to_markdown()
        + "\n"
    )
    paths["markdown"] = write_text(out / "summary.md", text)
    metrics = {
        v: {
            k: (None if pd.isna(x) else round(float(x), 4)) for k, x in row.items() if k != "fps"
        }  # a timing: it would change the metrics file on every rerun
        for v, row in summary.iterrows()
    }
    paths["metrics"] = write_json(
        resolve_path(params.reports.metrics_dir, root) / "video.json",
        {"crf": evaluation.crf, "versions": metrics, "crf_predictor": predictor or {}},
    )
    players = [
        Player.of(v, evaluation.fps[c], params.video.player_crf, c)
        for c, v in evaluation.frames.items()
    ]
    paths["player"] = write_text(
        out / "player.html", player_page(players, f"Restored clips, H.264 CRF {evaluation.crf}")
    )
    return paths


def picture_type_figure(frames: pd.DataFrame, clip: str):
    """PSNR of each frame of one clip at every CRF, marked by picture type (I, P, B): the
    keyframes stand out, and so does the quality's rhythm that a viewer sees as flicker."""
    import matplotlib.pyplot as plt

    rows = frames[frames["clip"] == clip]
    fig, ax = plt.subplots(figsize=(7, 3))
    markers = {"I": ("s", "tab:red"), "P": ("o", "tab:blue"), "B": ("^", "tab:green")}
    for crf, group in rows.groupby("crf"):
        ax.plot(group["t"], group["psnr_rgb"], color="0.6", lw=1)
        ax.annotate(
            f"CRF {crf}",
            (group["t"].iloc[-1], group["psnr_rgb"].iloc[-1]),
            fontsize=8,
            xytext=(4, 0),
            textcoords="offset points",
        )
        for kind, (marker, colour) in markers.items():
            part = group[group["type"] == kind]
            ax.scatter(
                part["t"],
                part["psnr_rgb"],
                marker=marker,
                color=colour,
                s=18,
                label=kind if crf == rows["crf"].min() else None,
            )
    ax.set_xlabel("frame")
    ax.set_ylabel("PSNR RGB (dB)")
    ax.set_title(f"{clip}: each frame through H.264, by picture type", fontsize=10)
    ax.legend(title="type", fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig
