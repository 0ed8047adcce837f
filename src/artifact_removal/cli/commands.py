"""What each command does: one function per command, taking the parsed arguments and returning
the exit code. Heavy modules (torch, the notebook tools) are imported inside them, so that
`--help` stays fast."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..config import ConfigError, apply_profile, find_project_root, load_params, resolve_path


def run_corpus(args: argparse.Namespace) -> int:
    """Make sure the raw corpus and the papers' test sets that params name are present (built
    from a local copy, downloaded, or the embedded corpus; see data/corpus.py), and say which.
    With --said: only say it again, from what the prepare stage recorded."""
    from ..data.corpus import CorpusError, CorpusState, ensure_corpus, ensure_test_sets
    from ..data.prepared import corpus_record_of, missing_test_sets

    params, root, _ = _project(args)
    data = params.data
    if args.said:
        said = corpus_record_of(resolve_path(data.prepared_dir, root))
        if said:
            state = CorpusState(said["holds"], "as prepared", said["missing"])
            print("\n".join(state.lines()))
        sets = {name: resolve_path(data.sets_dir, root) / name for name in data.extra_sets}
        for name, lines in missing_test_sets(sets).items():
            print(f"warning: test set {name} is missing ({lines[0]}); the tables left it out")
        return 0
    try:
        state = ensure_corpus(
            resolve_path(args.raw_dir or data.raw_dir, root),
            resolve_path(args.dvc_file, root),
            data.corpus,
            data.local_copy,
            root,
        )
        print("\n".join(state.lines()))
        for line in ensure_test_sets(data.extra_sets, data.local_copy, root):
            print(f"test set {line}")
    except CorpusError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _project(args: argparse.Namespace):
    """(params, project root, device or None) of a command with --params [and --device]."""
    params = load_params(args.params)
    root = find_project_root(Path(args.params).resolve().parent if args.params else None)
    device = None
    if hasattr(args, "device"):
        from ..runtime import select_device

        try:
            device = select_device(args.device or params.device)
        except (ValueError, RuntimeError) as err:
            raise ConfigError(str(err)) from None
    return params, root, device


def _main_process() -> bool:
    """True unless this is a process other than rank 0 of a torchrun job."""
    return int(os.environ.get("RANK", "0")) == 0


def run_pretrained(args: argparse.Namespace) -> int:
    """Record which ImageNet backbones torchvision's cache holds (models/pretrained.yaml)."""
    from ..pretrained import MANIFEST, refresh_manifest

    root = find_project_root()
    entries, notes = refresh_manifest(root)
    for note in notes:
        print(note)
    print(f"{MANIFEST}: " + ", ".join(f"{k} {v.split(' ')[0]}" for k, v in entries.items()))
    return 0


def run_fetch_models(args: argparse.Namespace) -> int:
    """Fetch NIQE's pristine model and the ImageNet files the project can use (or list them);
    record the ImageNet ones in the project's models/pretrained.yaml."""
    from ..pretrained import BACKBONES, MANIFEST, cache_path, fetch, inspect, refresh_manifest

    names = args.only or ["niqe", *BACKBONES]
    if "niqe" in names:
        from ..metrics.no_reference import NIQE_FILE, MissingModelError, cache_dir, fetch_niqe_model

        names = [n for n in names if n != "niqe"]
        if args.list:
            there = (cache_dir() / NIQE_FILE).is_file()
            print(f"NIQE model: {cache_dir() / NIQE_FILE} ({'present' if there else 'absent'})")
        else:
            try:
                print(f"NIQE model: {fetch_niqe_model()}")
            except MissingModelError as err:
                print(f"NIQE model: not fetched ({err})")
                if not names:
                    return 1
    if not names:
        return 0
    folder = cache_path("x").parent
    print(f"torchvision's cache: {folder} (TORCH_HOME moves it)")
    failed = []
    for name in names:
        if args.list:
            entry = inspect(name)[0]
            state = "present, hash checked" if entry != "absent" else "absent"
            prefix = BACKBONES[name].rsplit("-", 1)[-1].split(".")[0]
            print(f"  {name:20} {BACKBONES[name]:34} sha256 {prefix}...  {state}")
            continue
        try:
            print(fetch(name))
        except OSError as err:  # offline, refused, timed out
            failed.append(name)
            print(
                f"{name}: not fetched ({err.__class__.__name__}: {err}); copy "
                f"{BACKBONES[name]} into {folder} by hand"
            )
    if not args.list and (Path.cwd() / "params.yaml").is_file():
        entries, _ = refresh_manifest(find_project_root())
        print(f"{MANIFEST}: " + ", ".join(f"{k} {v.split(' ')[0]}" for k, v in entries.items()))
    if failed:
        print(
            "offline? `artifact-removal fetch-models --list` shows each file and its hash; "
            "torchvision downloads them from https://download.pytorch.org/models/<file>"
        )
    return 1 if failed else 0


def run_prepare(args: argparse.Namespace) -> int:
    """The prepare stage without a notebook."""
    from ..data.prepare import prepare_corpus, summarize_jpeg
    from ..runtime import seed_everything
    from ..stages.prepare import print_report, write_prepare_reports

    params, root, _ = _project(args)
    seed_everything(params.seed)
    prepared = prepare_corpus(params, root)
    write_prepare_reports(prepared, params, root)
    print_report(prepared)
    print(summarize_jpeg(prepared.images).round(4).to_string())
    return 0


def run_prepare_set(args: argparse.Namespace) -> int:
    """One extra evaluation set (stage prepare_set@NAME)."""
    from ..stages.prepare import prepare_set_command

    params, root, _ = _project(args)
    prepare_set_command(params, args.name, root)
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Train a method's generators (what its notebook does), one QF or all."""
    from ..methods import get, qualities_of
    from ..stages.train_reports import write_reports
    from ..training.engine import train
    from ..training.run import Run

    get(args.method)
    params, root, device = _project(args)
    for quality in args.quality or qualities_of(params, args.method):
        run = Run.from_params(params, args.method, quality, root)
        result = train(run, device)
        if _main_process():
            write_reports(result, resolve_path(params.reports.dir, root) / "figures")
            val = [e for e in result.history if any(k.startswith("val_pred") for k in e)]
            scores = {
                k[4:]: round(v, 3)
                for k, v in (val[-1] if val else {}).items()
                if k.startswith("val_pred")
            }
            print(f"{run.label}: {run.release} {scores}")
    return 0


def run_train_qf(args: argparse.Namespace) -> int:
    """Train the QF predictor (what notebook 05 does) and score it on the validation split."""
    from ..methods.predictors import predictor_of
    from ..stages.train_reports import write_reports
    from ..training.engine import train
    from ..training.run import Run

    params, root, device = _project(args)
    run = Run.from_params(params, predictor_of("jpeg").name, None, root)
    result = train(run, device)
    if _main_process():
        reports = write_reports(result, resolve_path(params.reports.dir, root) / "figures")
        from ..metrics.classification import named

        for name, table in reports["tables"].items():
            accuracy = reports["metrics"][name]["mean_class_accuracy"]
            print(f"{name}: mean class accuracy {accuracy:.2%} (rows predicted QF, columns target)")
            print(named(table).to_string())
        print(f"QF predictor: {run.release}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    """Restore the user's images (`api.restore_files`); exit code 1 when any file failed."""
    from ..api import restore_files
    from ..restore.options import RestoreOptions
    from ..restore.video import VideoError
    from .options import options_from

    try:
        options = options_from(args, RestoreOptions)
    except (VideoError, ValueError) as err:
        raise ConfigError(str(err)) from None
    report = restore_files(args.inputs, args.output, options, announce=print)
    print(report.summary())
    return 1 if report.failed else 0


def run_export(args: argparse.Namespace) -> int:
    """Export a method to ONNX (`inference.export`)."""
    from ..inference.export import export_onnx
    from ..inference.setups import find_project

    manifest = export_onnx(args.method, args.output, find_project(), args.models, args.predictor)
    for quality, entry in manifest["generators"].items():
        print(
            f"{args.output}/{entry['file']}: {args.method} q{quality} from {entry['source']}, "
            f"at most {entry['max_difference']:.2g} of 255 from PyTorch"
        )
    predictor = manifest["predictor"]
    if predictor:
        print(
            f"{args.output}/{predictor['file']} (+ {predictor['grid']}): the predictor, logits at "
            f"most {predictor['max_difference']:.2g} from PyTorch"
        )
    else:
        print("no predictor exported (none found): restore will need --quality N")
    ladder = "copied" if manifest["ladder"] else "none"
    print(f"{args.output}/manifest.json; measured ladder: {ladder}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """The evaluate stage without a notebook: tables, metrics and figures."""
    from ..data.prepared import scored_sets
    from ..stages.evaluate import (
        evaluate_predictor,
        evaluation_figures,
        quality_table,
        run_evaluation,
    )

    params, root, device = _project(args)
    gallery, evaluation, summary = run_evaluation(params, root, device)
    evaluation_figures(gallery, evaluation, summary, params, root)
    from ..stages.strength_curve import write_strength_curves

    for set_name, (curve, _) in write_strength_curves(gallery, params, root).items():
        dialled = curve.dropna(subset=["strength"])
        if len(dialled):
            print(f"{set_name}, QF {params.evaluate.figure_quality}, the strength dial:")
            shown = dialled[["method", "strength", "psnr_y", "niqe"]]
            print(shown.round(3).to_string(index=False))
    qf = evaluate_predictor(params, root, device)
    for set_name in scored_sets(params, root):
        table = quality_table(summary, set_name, params.evaluate.figure_quality)
        print(f"{set_name}, QF {params.evaluate.figure_quality}:")
        print(table.round(4).to_string(index=False, na_rep=""))
        accuracy = qf["metrics"][set_name]["mean_class_accuracy"]
        print(f"QF predictor on {set_name}: mean class accuracy {accuracy:.2%}")
    print(f"LPIPS: {evaluation.lpips_note or 'computed'}")
    print(f"evaluated in {evaluation.seconds:.1f} s")
    return 0


def run_methods(args: argparse.Namespace) -> int:
    """The method registry, one line per method; the methods `restore` uses without --method
    say so."""
    from ..methods import METHODS, describe

    for row in describe():
        line = ", ".join(f"{k}: {v}" for k, v in row.items())
        kind = METHODS[row["method"]].default_for
        print(f"{line}, default: restore's method for {kind}s" if kind else line)
    return 0


def run_notebook(args: argparse.Namespace) -> int:
    """Run a notebook with papermill and render it to HTML (what the DVC stages do)."""
    from ..stages.notebooks import main as notebooks

    options = [x for pair in args.parameter or [] for x in ("-p", *pair)]
    return notebooks(
        ["run", args.notebook, args.output, *options] + (["--no-html"] if args.no_html else [])
    )


def run_strip(args: argparse.Namespace) -> int:
    """Stripped copies of the notebooks for the pipeline."""
    from ..stages.notebooks import strip_folder

    for path in strip_folder(args.src, args.dst):
        print(f"stripped {path}")
    return 0


def run_book(args: argparse.Namespace) -> int:
    """Build the course book from the executed notebooks of reports/."""
    try:
        from ..book.build import BOOK_ZIP, HANDOUT_ZIP, BookError, build_book
    except ImportError as err:
        raise ConfigError(
            f"the book needs Sphinx and MyST-NB ({err.name} is missing): "
            "pip install -r requirements-book.txt (make venv installs it)"
        ) from None
    root = find_project_root()
    try:
        out = Path(args.output).resolve() if args.output else None
        index = build_book(root, out, quiet=not args.verbose, solutions=not args.no_solutions)
    except BookError as err:
        raise ConfigError(str(err)) from None
    archive = root / (HANDOUT_ZIP if args.no_solutions else BOOK_ZIP)
    kind = "the handout (no solutions)" if args.no_solutions else "the book"
    print(f"{kind}: {index} (opens from the file, offline); to hand out: {archive}")
    return 0


def run_profile(args: argparse.Namespace) -> int:
    """Merge a profile into params.yaml."""
    changed = apply_profile(args.profile, args.params)
    print(f"{args.profile}: " + (", ".join(changed) if changed else "nothing changed"))
    return 0
