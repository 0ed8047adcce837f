"""The training stages' figures: curves, samples, and a restored held-out crop.

`write_reports(result, figures_dir)` picks the figures of the run's method (the GAN and the QF
predictor have their own); any other generator gets its curves and a restored crop, so a new
method has reports without a line here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..data.images import colourfulness
from ..data.prepared import load_pairs
from ..inference.releases import load_generator, load_predictor
from ..inference.restore import restore_array
from ..methods import METHODS
from ..metrics.full_reference import psnr
from ..metrics.no_reference import niqe_or_nan
from ..training.engine import PREDICTOR, TrainResult
from .plots import (
    crops_across_methods,
    gan_curves,
    gan_samples,
    restoration_example,
    save_figure,
    training_curves,
)
from .qf_report import qf_tables, write_confusion

CPU = torch.device("cpu")


def _example_pair(result: TrainResult):
    """The most colourful validation image (test when there is none): (gt, lq)."""
    run = result.run
    pairs = load_pairs(run.prepared_dir / "sets" / "val", run.quality) or load_pairs(
        run.prepared_dir / "sets" / "test", run.quality
    )
    return max(pairs, key=lambda pair: colourfulness(pair[0]))  # colour shows more


def generator_reports(result: TrainResult, figures_dir: Path) -> dict:
    """Loss/validation curves and a restored validation crop, as figures and PNG files."""
    run = result.run
    tag = f"train_{run.name}_q{run.quality}"  # unpadded, as dvc.yaml names it
    curves = training_curves(result.curves, f"{run.name} generator, QF {run.quality}")
    gt, lq = _example_pair(result)
    pred = restore_array(load_generator(run.release), lq, CPU)
    example = restoration_example(gt, lq, pred, run.figure_crop,
                                  (f"JPEG QF {run.quality}", run.name, "original"))  # fmt: skip
    figures = {"curves": curves, "example": example}
    for key, figure in figures.items():
        save_figure(figure, figures_dir / f"{tag}_{key}.png")
    return figures


def gan_reports(result: TrainResult, figures_dir: Path) -> dict:
    """Curves, samples as training went, and the released GAN beside the generator it started
    from on a held-out crop; each titled with the perceptual loss, written as PNG."""
    run, recipe = result.run, result.recipe
    loss, best = recipe.perceptual.name, recipe.best_step
    tag, name = f"train_{run.name}_q{run.quality}", f"GAN, QF {run.quality}, loss {loss}"
    figures = {"curves": gan_curves(result.curves, best, name)}
    jpeg, original = recipe.held_out.references()
    samples = {int(k): v.numpy() for k, v in recipe.samples.items()}
    figures["samples"] = gan_samples(samples, jpeg, original, best,
                                     title=f"{name}: a held-out crop as training goes")  # fmt: skip
    gt, lq = _example_pair(result)
    start = METHODS[run.name].starts_from
    versions = {"original": gt, f"JPEG QF {run.quality}": lq,
                start: restore_array(load_generator(run.start_from), lq, CPU),
                run.name: restore_array(load_generator(run.release), lq, CPU)}  # fmt: skip
    notes = {label: f"PSNR-Y {psnr(gt, image, 'y'):.2f}, NIQE {niqe_or_nan(image):.2f}"
             for label, image in versions.items() if label != "original"}  # fmt: skip
    notes["original"] = f"NIQE {niqe_or_nan(gt):.2f}"
    notes[run.name] += f"\n{loss}"
    figures["example"] = crops_across_methods(versions, run.figure_crop, name, notes)
    for key, figure in figures.items():
        save_figure(figure, figures_dir / f"{tag}_{key}.png")
    return figures


def qf_reports(result: TrainResult, figures_dir: Path) -> dict:
    """The predictor's confusion matrix on the validation split: CSV and figure."""
    run = result.run
    net = load_predictor(run.release)
    tables = qf_tables(net, {"val": run.prepared_dir / "sets" / "val"},
                       run.settings.predict_patches)  # fmt: skip
    metrics = write_confusion(tables, run.live_dir.parent / "train_qf_confusion",
                              figures_dir / "train_qf_confusion.png")  # fmt: skip
    return {"tables": tables, "metrics": metrics}


REPORTS: dict[str, Callable[[TrainResult, Path], dict]] = {
    "gan": gan_reports,
    PREDICTOR: qf_reports,
}


def write_reports(result: TrainResult, figures_dir: Path) -> dict:
    """The figures (and tables) of a finished run, written under `figures_dir`."""
    return REPORTS.get(result.run.name, generator_reports)(result, figures_dir)
