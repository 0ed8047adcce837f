"""The training stages' figures: curves, samples, and a restored held-out crop.

`write_reports(result, figures_dir)` draws the figures that the run's method names (its
`reports` field: a generator's curves and a restored crop, the GAN's samples besides, NoGAN's
stopping point besides) or the QF predictor's, so a new method has reports without a line here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..data.images import colourfulness
from ..data.prepared import load_pairs
from ..inference.releases import load_generator, load_predictor
from ..inference.torch_backend import restore_array
from ..methods import METHODS
from ..methods import get as get_method
from ..methods.predictors import PREDICTORS
from ..metrics.full_reference import psnr
from ..metrics.no_reference import niqe_or_nan
from ..training.run import TrainResult
from .plots import (
    crops_across_methods,
    gan_curves,
    gan_samples,
    restoration_example,
    save_figure,
    stopping_curve,
    training_curves,
)
from .qf_report import qf_tables, write_confusion, write_reliability

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
    example = restoration_example(
        gt, lq, pred, run.figure_crop, (f"JPEG QF {run.quality}", run.name, "original")
    )
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
    figures["samples"] = gan_samples(
        samples, jpeg, original, best, title=f"{name}: a held-out crop as training goes"
    )
    gt, lq = _example_pair(result)
    start = METHODS[run.name].starts_from
    versions = {
        "original": gt,
        f"JPEG QF {run.quality}": lq,
        start: restore_array(load_generator(run.start_from), lq, CPU),
        run.name: restore_array(load_generator(run.release), lq, CPU),
    }
    notes = {
        label: f"PSNR-Y {psnr(gt, image, 'y'):.2f}, NIQE {niqe_or_nan(image):.2f}"
        for label, image in versions.items()
        if label != "original"
    }
    notes["original"] = f"NIQE {niqe_or_nan(gt):.2f}"
    notes[run.name] += f"\n{loss}"
    figures["example"] = crops_across_methods(versions, run.figure_crop, name, notes)
    for key, figure in figures.items():
        save_figure(figure, figures_dir / f"{tag}_{key}.png")
    return figures


def nogan_reports(result: TrainResult, figures_dir: Path) -> dict:
    """NoGAN's GAN phase: its curves, the stopping rule's curve with the chosen point, the
    held-out crop before, at and after it, and pre-GAN against post-GAN on a crop."""
    run, recipe = result.run, result.recipe
    s, best = run.settings, recipe.best_step
    tag = f"train_{run.name}_q{run.quality}"
    name = f"NoGAN, QF {run.quality}, loss {recipe.criterion.name}, encoder {recipe.encoder_name}"
    reference = next(
        (e.get(f"val_pred_{recipe.score_name}") for e in result.history if e["step"] == 0), None
    )
    curves = result.curves.rename(
        columns={"c_loss": "d_loss", "c_accuracy": "d_accuracy", "g_adv": "l_adv"}
    )  # the critic plays D's part
    terms = [c for c in ("g_lpips", "g_l1", "g_mse", "g_ssim") if c in curves]
    curves["l_p"] = curves[terms].sum(axis=1, min_count=1)  # the pre-GAN loss's terms
    figures = {
        "curves": gan_curves(curves, best, name),
        "stopping": stopping_curve(
            recipe.rule.history,
            reference,
            best,
            recipe.score_name,
            (s.stop.max_colour_shift, s.stop.max_high_frequency),
            f"{name}: the stopping point",
        ),
    }
    checks = [c["step"] for c in recipe.rule.history]
    before = [c for c in checks if c < best][-1:] if best else []
    around = {0, *before, *([best, checks[-1]] if best else [])}
    jpeg, original = recipe.held_out.references()
    samples = {k: v.numpy() for k, v in recipe.samples.items() if k in around}
    figures["samples"] = gan_samples(
        samples,
        jpeg,
        original,
        best,
        most=len(samples),
        title=f"{name}: before, at and after the stopping point",
        start="pre-GAN",
    )
    gt, lq = _example_pair(result)
    versions = {
        "original": gt,
        f"JPEG QF {run.quality}": lq,
        "pre-GAN": restore_array(load_generator(run.start_from), lq, CPU),
        "NoGAN": restore_array(load_generator(run.release), lq, CPU),
    }
    notes = {
        label: f"PSNR-Y {psnr(gt, image, 'y'):.2f}, NIQE {niqe_or_nan(image):.2f}"
        for label, image in versions.items()
        if label != "original"
    }
    notes["original"] = f"NIQE {niqe_or_nan(gt):.2f}"
    figures["example"] = crops_across_methods(versions, run.figure_crop, name, notes)
    for key, figure in figures.items():
        save_figure(figure, figures_dir / f"{tag}_{key}.png")
    return figures


def qf_reports(result: TrainResult, figures_dir: Path) -> dict:
    """The predictor's confusion matrix on the validation split, and the reliability of its
    calibrated confidence on the held-out test split: CSVs and figures."""
    run = result.run
    net = load_predictor(run.release)
    out = run.live_dir.parent / "train_qf_confusion"
    tables = qf_tables(
        net, {"val": run.prepared_dir / "sets" / "val"}, run.settings.predict_patches
    )
    metrics = write_confusion(tables, out, figures_dir / "train_qf_confusion.png")
    test = run.prepared_dir / "sets" / "test"
    reliability = write_reliability(
        net,
        {"test": test},
        run.settings.predict_patches,
        out,
        figures_dir / "train_qf_reliability.png",
        images=run.settings.report_images,
    )
    return {"tables": tables, "metrics": metrics, "reliability": reliability}


# the `reports` a method or predictor declares -> what draws them (`methods.REPORT_FIGURES`
# names a method's figures)
REPORTS: dict[str, Callable[[TrainResult, Path], dict]] = {
    "generator": generator_reports,
    "gan": gan_reports,
    "nogan": nogan_reports,
    "qf": qf_reports,
}


def write_reports(result: TrainResult, figures_dir: Path) -> dict:
    """The figures (and tables) of a finished run, written under `figures_dir`: the report
    its method (or predictor) declares."""
    name = result.run.name
    kind = PREDICTORS[name].reports if name in PREDICTORS else get_method(name).reports
    if kind is None:
        raise ValueError(f"{name}: its stage draws its report, not write_reports")
    return REPORTS[kind](result, figures_dir)
