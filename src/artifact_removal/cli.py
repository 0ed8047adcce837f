"""Command line: `artifact-removal COMMAND ...` (also `python -m artifact_removal`).

Everything a stage notebook does can be done from here, without Jupyter.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .config import ConfigError, apply_profile, find_project_root, load_params, resolve_path
from .methods import METHODS

MAX_MEGAPIXELS = 100.0  # restore's default pixel budget (here so that --help needs no torch)


def _corpus(args: argparse.Namespace) -> int:
    """Make sure the raw corpus is present (the embedded default is built when tracked)."""
    from .data.corpus import ensure_corpus

    print(f"{args.raw_dir}: {ensure_corpus(args.raw_dir, args.dvc_file)}")
    return 0


def _project(args: argparse.Namespace):
    """(params, project root, device or None) of a command with --params [and --device]."""
    params = load_params(args.params)
    root = find_project_root(Path(args.params).resolve().parent if args.params else None)
    device = None
    if hasattr(args, "device"):
        from .runtime import select_device

        try:
            device = select_device(args.device or params.device)
        except (ValueError, RuntimeError) as err:
            raise ConfigError(str(err)) from None
    return params, root, device


def _main_process() -> bool:
    """True unless this is a process other than rank 0 of a torchrun job."""
    return int(os.environ.get("RANK", "0")) == 0


def _pretrained(args: argparse.Namespace) -> int:
    """Record which ImageNet backbones torchvision's cache holds (models/pretrained.yaml)."""
    from .pretrained import MANIFEST, refresh_manifest

    root = find_project_root()
    entries, notes = refresh_manifest(root)
    for note in notes:
        print(note)
    print(f"{MANIFEST}: " + ", ".join(f"{k} {v.split(' ')[0]}" for k, v in entries.items()))
    return 0


def _fetch_models(args: argparse.Namespace) -> int:
    """Fetch NIQE's pristine model and the ImageNet files the project can use (or list them);
    record the ImageNet ones in the project's models/pretrained.yaml."""
    from .pretrained import BACKBONES, MANIFEST, cache_path, fetch, inspect, refresh_manifest

    names = args.only or ["niqe", *BACKBONES]
    if "niqe" in names:
        from .metrics.no_reference import NIQE_FILE, MissingModelError, cache_dir, fetch_niqe_model

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
            print(f"{name}: not fetched ({err.__class__.__name__}: {err}); copy "
                  f"{BACKBONES[name]} into {folder} by hand")  # fmt: skip
    if not args.list and (Path.cwd() / "params.yaml").is_file():
        entries, _ = refresh_manifest(find_project_root())
        print(f"{MANIFEST}: " + ", ".join(f"{k} {v.split(' ')[0]}" for k, v in entries.items()))
    if failed:
        print(
            "offline? `artifact-removal fetch-models --list` shows each file and its hash; "
            "torchvision downloads them from https://download.pytorch.org/models/<file>"
        )
    return 1 if failed else 0


def _prepare(args: argparse.Namespace) -> int:
    """The prepare stage without a notebook."""
    from .data.prepare import prepare_corpus, summarize_jpeg
    from .runtime import seed_everything
    from .stages.prepare import print_report, write_prepare_reports

    params, root, _ = _project(args)
    seed_everything(params.seed)
    prepared = prepare_corpus(params, root)
    write_prepare_reports(prepared, params, root)
    print_report(prepared)
    print(summarize_jpeg(prepared.images).round(4).to_string())
    return 0


def _prepare_set(args: argparse.Namespace) -> int:
    """One extra evaluation set (stage prepare_set@NAME)."""
    from .stages.prepare import prepare_set_command

    params, root, _ = _project(args)
    prepare_set_command(params, args.name, root)
    return 0


def _train(args: argparse.Namespace) -> int:
    """Train a method's generators (what its notebook does), one QF or all."""
    from .methods import get, qualities_of
    from .stages.train_reports import write_reports
    from .training.engine import Run, train

    get(args.method)
    params, root, device = _project(args)
    for quality in args.quality or qualities_of(params, args.method):
        run = Run.from_params(params, args.method, quality, root)
        result = train(run, device)
        if _main_process():
            write_reports(result, resolve_path(params.reports.dir, root) / "figures")
            val = [e for e in result.history if any(k.startswith("val_pred") for k in e)]
            scores = {k[4:]: round(v, 3) for k, v in (val[-1] if val else {}).items()
                      if k.startswith("val_pred")}  # fmt: skip
            print(f"{run.label}: {run.release} {scores}")
    return 0


def _train_qf(args: argparse.Namespace) -> int:
    """Train the QF predictor (what notebook 05 does) and score it on the validation split."""
    from .stages.train_reports import write_reports
    from .training.engine import PREDICTOR, Run, train

    params, root, device = _project(args)
    run = Run.from_params(params, PREDICTOR, None, root)
    result = train(run, device)
    if _main_process():
        reports = write_reports(result, resolve_path(params.reports.dir, root) / "figures")
        from .metrics.classification import named

        for name, table in reports["tables"].items():
            accuracy = reports["metrics"][name]["mean_class_accuracy"]
            print(f"{name}: mean class accuracy {accuracy:.2%} (rows predicted QF, columns target)")
            print(named(table).to_string())
        print(f"QF predictor: {run.release}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    """Restore the user's images; exit code 1 when any file failed."""
    from .inference.files import restore_files
    from .inference.video import VideoError, VideoOutput

    try:
        video = VideoOutput(args.video_codec, args.crf, args.preset, args.chroma)
    except VideoError as err:
        raise ConfigError(str(err)) from None
    report = restore_files(
        args.inputs, args.output, method=args.method, quality=args.quality, device=args.device,
        models_dir=args.models, predictor=args.predictor, tile=args.tile, overlap=args.overlap,
        bits=args.bits, overwrite=args.overwrite, skip_existing=args.skip_existing,
        restore_uncompressed=args.restore_uncompressed, max_megapixels=args.max_megapixels,
        video=video, segment_frames=args.segment_frames, batch=args.batch, announce=print,
    )  # fmt: skip
    print(report.summary())
    return 1 if report.failed else 0


def _evaluate(args: argparse.Namespace) -> int:
    """The evaluate stage without a notebook: tables, metrics and figures."""
    from .stages.evaluate import (
        evaluate_predictor,
        evaluation_figures,
        quality_table,
        run_evaluation,
    )

    params, root, device = _project(args)
    gallery, evaluation, summary = run_evaluation(params, root, device)
    evaluation_figures(gallery, evaluation, summary, params, root)
    qf = evaluate_predictor(params, root, device)
    for set_name in params.test_sets:
        table = quality_table(summary, set_name, params.evaluate.figure_quality)
        print(f"{set_name}, QF {params.evaluate.figure_quality}:")
        print(table.round(4).to_string(index=False, na_rep=""))
        accuracy = qf["metrics"][set_name]["mean_class_accuracy"]
        print(f"QF predictor on {set_name}: mean class accuracy {accuracy:.2%}")
    print(f"LPIPS: {evaluation.lpips_note or 'computed'}")
    print(f"evaluated in {evaluation.seconds:.1f} s")
    return 0


def _methods(args: argparse.Namespace) -> int:
    """The method registry, one line per method."""
    from .methods import describe

    for row in describe():
        print(", ".join(f"{k}: {v}" for k, v in row.items()))
    return 0


def _notebook(args: argparse.Namespace) -> int:
    """Run a notebook with papermill and render it to HTML (what the DVC stages do)."""
    from .stages.notebooks import main as notebooks

    options = [x for pair in args.parameter or [] for x in ("-p", *pair)]
    return notebooks(["run", args.notebook, args.output, *options]
                     + (["--no-html"] if args.no_html else []))  # fmt: skip


def _strip(args: argparse.Namespace) -> int:
    """Stripped copies of the notebooks for the pipeline."""
    from .stages.notebooks import strip_folder

    for path in strip_folder(args.src, args.dst):
        print(f"stripped {path}")
    return 0


def _profile(args: argparse.Namespace) -> int:
    """Merge a profile into params.yaml."""
    changed = apply_profile(args.profile, args.params)
    print(f"{args.profile}: " + (", ".join(changed) if changed else "nothing changed"))
    return 0


class _Help(argparse.RawDescriptionHelpFormatter):
    """Help that states each option's default (unless it has none or says it itself) and keeps
    the line breaks of descriptions and examples."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (not action.option_strings or action.default in (None, False, argparse.SUPPRESS)
                or "default" in text):  # fmt: skip
            return text
        return f"{text} (default: %(default)s)"


RESTORE_EXAMPLES = """examples:
  artifact-removal restore photos/ -o restored/          # GAN, each image's quality found
  artifact-removal restore scan.png -o out/ --quality 20 # you know the JPEG quality
  artifact-removal restore a.jpg -o out/ --method ssim --bits 16
  artifact-removal restore clip.mp4 -o out/              # a video: out/clip.mp4, sound kept

Run it inside the project (after `make repro`) or give --models and --predictor. Each image's
line says how its quality was found and which generator restored it; the exit code is 0 when
every input was restored, 1 when some were not (listed with their reason), 2 on an error."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per task."""
    parser = argparse.ArgumentParser(
        prog="artifact-removal", description=__doc__, formatter_class=_Help,
        epilog="`artifact-removal COMMAND --help` tells more of each command.",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, help: str, **kwargs) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=kwargs.pop("description", help),
                           formatter_class=_Help, **kwargs)  # fmt: skip
        p.set_defaults(func=func)
        return p

    def project_options(p: argparse.ArgumentParser, device: bool = True) -> None:
        p.add_argument("--params", default=None, metavar="FILE",
                       help="params file (default: the project's params.yaml)")  # fmt: skip
        if device:
            p.add_argument(
                "--device",
                default=None,
                help="auto, cpu, cuda or cuda:N (default: params.yaml's device)",
            )

    p = command("corpus", _corpus, "build or fetch the raw corpus tracked by data.dvc")
    p.add_argument("--raw-dir", default="data/raw", help="the corpus folder")
    p.add_argument("--dvc-file", default="data.dvc", help="the DVC file that tracks it")

    p = command("prepare", _prepare, "split, compress and index the corpus (stage prepare)")
    project_options(p, device=False)

    p = command("prepare-set", _prepare_set,
                "prepare one extra evaluation set (stage prepare_set@NAME)")  # fmt: skip
    p.add_argument("name", help="a name in data.extra_sets")
    project_options(p, device=False)

    command("pretrained", _pretrained, "record the ImageNet backbones torchvision's cache holds "
            "in models/pretrained.yaml (make repro runs it)")  # fmt: skip

    from .pretrained import BACKBONES

    p = command(
        "fetch-models",
        _fetch_models,
        "fetch NIQE's pristine model (from PyPI) and the "
        "ImageNet weights the project can use (into torchvision's cache), checking "
        "their hashes; or list them",
    )
    p.add_argument("--list", action="store_true",
                   help="only list each file, its hash and whether the cache holds it "
                   "(default: fetch what is missing)")  # fmt: skip
    p.add_argument("--only", action="append", choices=["niqe", *BACKBONES], metavar="NAME",
                   help=f"one of niqe, {', '.join(BACKBONES)}; repeat for several "
                   "(default: all; make fetches niqe only, as ImageNet files need the "
                   "internet)")  # fmt: skip

    methods = list(METHODS)
    p = command("train", _train, "train a method's generators (stage train_<method>)")
    p.add_argument("--method", default=methods[0], choices=methods,
                   help="which method (`artifact-removal methods` lists them)")  # fmt: skip
    p.add_argument("--quality", type=int, action="append", metavar="QF",
                   help="a JPEG QF to train for; repeat for several (default: all the method "
                   "is trained for: degradation.qualities, or train_nogan.qualities)")  # fmt: skip
    project_options(p)

    p = command("train-qf", _train_qf, "train the QF predictor (stage train_qf)")
    project_options(p)

    command("methods", _methods, "list the registered methods")

    p = command("restore", _restore, "restore your own images (into PNGs) and videos",
                description="Restore JPEG-compressed images (files or folders, searched "
                "recursively) with the\ngenerator trained for each image's quality; each "
                "becomes a PNG in OUTDIR, keeping\nthe folders' layout, EXIF and colour "
                "profile. A video (.mp4, .mkv, .mov, ...) becomes a\nvideo of the same frames, "
                "timing and colour metadata, its audio copied unchanged;\nan interrupted one "
                "resumes from its last finished segment.",
                epilog=RESTORE_EXAMPLES)  # fmt: skip
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                   help="folder for the PNGs (created if missing)")  # fmt: skip
    p.add_argument("--method", default="auto", choices=["auto", *methods],
                   help="auto (default): gan for images, video_ssim for videos; gan: sharper, "
                   "more natural textures; ssim: the closest to the original in PSNR/SSIM, "
                   "smoother; nogan, nogan_pre: Mameli et al.'s U-Net after and before its GAN "
                   "phase (trained for train_nogan.qualities; other QFs use the nearest); "
                   "video_ssim, video_gan: trained on H.264 frames, per CRF")  # fmt: skip
    p.add_argument("--quality", default="auto", metavar="auto|QF",
                   help="auto: from the JPEG's quantization tables, else the QF predictor (for "
                   "the video methods: x264's settings in the stream, else the CRF its H.264 "
                   "QPs read as, else the CRF predictor); or the JPEG QF (video methods: the "
                   "CRF) for every input")  # fmt: skip
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda[:N]")
    p.add_argument("--models", default=None, metavar="DIR",
                   help="folder of q<QF>.pt generators (default: the project's "
                   "models/<method>)")  # fmt: skip
    p.add_argument(
        "--predictor",
        default=None,
        metavar="FILE",
        help="QF predictor file (default: the project's models/qf/predictor.pt)",
    )
    p.add_argument("--tile", type=int, default=512, metavar="PX",
                   help="restore in tiles of this side (multiple of 8, at least 64): memory "
                   "stays flat whatever the image's size")  # fmt: skip
    p.add_argument(
        "--overlap",
        type=int,
        default=64,
        metavar="PX",
        help="overlap of neighbouring tiles, cross-faded (multiple of 8)",
    )
    p.add_argument(
        "--bits",
        type=int,
        default=8,
        choices=[8, 16],
        help="PNG bit depth; 16 keeps the generator's output before rounding",
    )
    existing = p.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true",
                          help="restore every input again and replace existing output "
                          "files (default: skip the outputs an earlier run finished with the "
                          "same input and settings; stop, writing nothing, at any other file "
                          "in the way, and list them)")  # fmt: skip
    existing.add_argument("--skip-existing", action="store_true",
                          help="keep existing output files and skip their inputs")  # fmt: skip
    p.add_argument("--restore-uncompressed", action="store_true",
                   help="restore inputs of better quality than the generators are trained for "
                   "(JPEG above QF 75 on the default ladder, no sign of JPEG compression, H.264 "
                   "below CRF 26) with the gentlest generator (default: copy them without "
                   "restoring, with a note)")  # fmt: skip
    p.add_argument(
        "--max-megapixels",
        type=float,
        default=MAX_MEGAPIXELS,  # inference.files' own default, kept equal by a test
        metavar="MP",
        help="skip larger images, with a note",
    )
    p.add_argument("--video-codec", default="h264", choices=["h264", "ffv1"],
                   help="restored videos: h264 (libx264, in the input's MP4/MOV/MKV, else MKV) "
                   "or ffv1 (lossless RGB, MKV)")  # fmt: skip
    p.add_argument(
        "--crf",
        type=int,
        default=6,
        metavar="N",
        help="H.264 quality of restored videos, 0 (lossless) .. 51; lower is better (6: writing "
        "costs about 0.1 dB at most)",
    )
    p.add_argument("--chroma", default="444", choices=["444", "420"],
                   help="H.264 colour of restored videos: 444 keeps the restored colour (4:2:0 "
                   "costs 0.3 to 0.6 dB of PSNR), 420 plays on every device")  # fmt: skip
    p.add_argument(
        "--preset",
        default="medium",
        metavar="NAME",
        help="x264 speed preset of restored videos (ultrafast .. veryslow)",
    )
    p.add_argument("--segment-frames", type=int, default=240, metavar="N",
                   help="a video is written in segments of N frames; a rerun after an "
                   "interruption keeps the finished ones")  # fmt: skip
    p.add_argument(
        "--batch", type=int, default=4, metavar="N", help="video frames through the network at once"
    )

    p = command("evaluate", _evaluate, "score every method at every QF, and the QF predictor, "
                "on every test set (stage evaluate)")  # fmt: skip
    project_options(p)

    p = command("notebook", _notebook, "execute a notebook with papermill, render HTML")
    p.add_argument("notebook", help="the notebook to run")
    p.add_argument("output", help="the executed copy to write (and its .html beside it)")
    p.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="a value for the notebook's parameters cell; repeat for several",
    )
    p.add_argument("--no-html", action="store_true", help="do not render the HTML")

    p = command("strip-notebooks", _strip, "copies of notebooks without outputs")
    p.add_argument("src", help="folder of notebooks")
    p.add_argument("dst", help="folder for the stripped copies")

    p = command("profile", _profile, "merge a profile (e.g. profiles/tiny.yaml) into params")
    p.add_argument("profile", help="a YAML file of overrides, e.g. profiles/paper.yaml")
    project_options(p, device=False)
    return parser


# The errors that mean "this cannot be done, and here is why": printed as one line, exit 2.
# Named by module, so that `--help` imports neither torch nor the notebook tools: a command
# that raised one of them has imported its module already.
KNOWN_ERRORS = {
    "artifact_removal.checkpoints": "CheckpointError",
    "artifact_removal.data.corpus": "CorpusError",
    "artifact_removal.data.prepared": "DataError",
    "artifact_removal.inference.ensemble": "RestoreError",
    "artifact_removal.inference.gallery": "MissingRelease",
    "artifact_removal.metrics.no_reference": "MissingModelError",
    "artifact_removal.pretrained": "MissingWeightsError",
    "artifact_removal.stages.notebooks": "NotebookError",
    "artifact_removal.training.engine": "TrainingError",
}


def _known(err: BaseException) -> bool:
    """True for a ConfigError or one of `KNOWN_ERRORS` (from modules already imported)."""
    classes = [ConfigError] + [getattr(sys.modules[m], name) for m, name in KNOWN_ERRORS.items()
                               if m in sys.modules]  # fmt: skip
    return isinstance(err, tuple(classes))


def main(argv: list[str] | None = None) -> int:
    """Entry point; known errors print one clear message and exit non-zero."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:  # Ctrl-C: what is finished is kept (written atomically)
        print("\ninterrupted: finished files and video segments are kept; run the same "
              "command again to go on from there", file=sys.stderr)  # fmt: skip
        return 130
    except Exception as err:
        if not _known(err):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
