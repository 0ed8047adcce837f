"""The command line's parser: every command, its options and their help."""

from __future__ import annotations

import argparse

from ..methods import METHODS
from ..restore.options import RestoreOptions
from .commands import (
    run_book,
    run_corpus,
    run_evaluate,
    run_export,
    run_fetch_models,
    run_methods,
    run_notebook,
    run_prepare,
    run_prepare_set,
    run_pretrained,
    run_profile,
    run_restore,
    run_strip,
    run_train,
    run_train_qf,
)
from .options import add_options

DESCRIPTION = """Command line: `artifact-removal COMMAND ...` (also `python -m artifact_removal`).

Everything a stage notebook does can be done from here, without Jupyter.
"""


class _Help(argparse.RawDescriptionHelpFormatter):
    """Help that states each option's default (unless it has none or says it itself) and keeps
    the line breaks of descriptions and examples."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            not action.option_strings
            or action.default in (None, False, argparse.SUPPRESS)
            or "default" in text
        ):
            return text
        return f"{text} (default: %(default)s)"


RESTORE_EXAMPLES = """examples:
  artifact-removal restore photos/ -o restored/          # GAN, each image's quality found
  artifact-removal restore scan.png -o out/ --quality 20 # you know the JPEG quality
  artifact-removal restore a.jpg -o out/ --method ssim --bits 16
  artifact-removal restore clip.mp4 -o out/              # a video: out/clip.mp4, sound kept

Run it inside the project (after `make repro`) or give --models and --predictor. Each image's
line says how its quality was found and which generator restored it; the exit code is 0 when
every input was restored, copied as it is (of better quality than the generators were trained
for) or done by an earlier run, 1 when some were not (listed with their reason), 2 on an
error."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per task."""
    parser = argparse.ArgumentParser(
        prog="artifact-removal",
        description=DESCRIPTION,
        formatter_class=_Help,
        epilog="`artifact-removal COMMAND --help` tells more of each command.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, help: str, **kwargs) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help,
            description=kwargs.pop("description", help),
            formatter_class=_Help,
            **kwargs,
        )
        p.set_defaults(func=func)
        return p

    def project_options(p: argparse.ArgumentParser, device: bool = True) -> None:
        p.add_argument(
            "--params",
            default=None,
            metavar="FILE",
            help="params file (default: the project's params.yaml)",
        )
        if device:
            p.add_argument(
                "--device",
                default=None,
                help="auto, cpu, cuda or cuda:N (default: params.yaml's device)",
            )

    p = command(
        "corpus", run_corpus, "build, copy or fetch the corpus (data.corpus) and the test sets"
    )
    project_options(p, device=False)
    p.add_argument("--raw-dir", help="the corpus folder (default: data.raw_dir)")
    p.add_argument("--dvc-file", default="data.dvc", help="the DVC file that tracks it")
    p.add_argument(
        "--said", action="store_true", help="say again which corpus the pipeline trained on"
    )

    p = command("prepare", run_prepare, "split, compress and index the corpus (stage prepare)")
    project_options(p, device=False)

    p = command(
        "prepare-set", run_prepare_set, "prepare one extra evaluation set (stage prepare_set@NAME)"
    )
    p.add_argument("name", help="a name in data.extra_sets")
    project_options(p, device=False)

    command(
        "pretrained",
        run_pretrained,
        "record the ImageNet backbones torchvision's cache holds "
        "in models/pretrained.yaml (make repro runs it)",
    )

    from ..pretrained import BACKBONES

    p = command(
        "fetch-models",
        run_fetch_models,
        "fetch NIQE's pristine model (from PyPI) and the "
        "ImageNet weights the project can use (into torchvision's cache), checking "
        "their hashes; or list them",
    )
    p.add_argument(
        "--list",
        action="store_true",
        help="only list each file, its hash and whether the cache holds it "
        "(default: fetch what is missing)",
    )
    p.add_argument(
        "--only",
        action="append",
        choices=["niqe", *BACKBONES],
        metavar="NAME",
        help=f"one of niqe, {', '.join(BACKBONES)}; repeat for several "
        "(default: all; make fetches niqe only, as ImageNet files need the "
        "internet)",
    )

    methods = list(METHODS)
    p = command("train", run_train, "train a method's generators (stage train_<method>)")
    p.add_argument(
        "--method",
        default=methods[0],
        choices=methods,
        help="which method (`artifact-removal methods` lists them)",
    )
    p.add_argument(
        "--quality",
        type=int,
        action="append",
        metavar="QF",
        help="a JPEG QF to train for; repeat for several (default: all the method "
        "is trained for: degradation.qualities, or train_nogan.qualities)",
    )
    project_options(p)

    p = command("train-qf", run_train_qf, "train the QF predictor (stage train_qf)")
    project_options(p)

    command("methods", run_methods, "list the registered methods")

    p = command(
        "restore",
        run_restore,
        "restore your own images and videos",
        description="Restore JPEG-compressed images (files or folders, searched "
        "recursively) with the\ngenerator trained for each image's quality, into OUTDIR, "
        "keeping the folders' layout,\nEXIF and colour profile; each keeps its format (a JPEG "
        "stays a JPEG, a WebP a WebP,\nthe rest become PNGs; --format for one format), and an "
        "image left as it is is copied\nbyte for byte. A video (.mp4, .mkv, .mov, ...) "
        "becomes a video of the same frames,\ntiming and colour metadata, its audio copied "
        "unchanged; an interrupted one resumes\nfrom its last finished segment. --ray spreads "
        "the inputs over a Ray cluster.",
        epilog=RESTORE_EXAMPLES,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, or folders")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTDIR",
        help="folder for the outputs (created if missing)",
    )
    add_options(p, RestoreOptions)

    p = command(
        "export",
        run_export,
        "export a method's generators and predictor to ONNX",
        description="Write each per-QF generator of a method (any height and width) and its QF "
        "(or CRF)\npredictor to ONNX, with the project's measured ladder and a manifest.json; "
        "`restore\n--backend onnxruntime --models DIR` restores from the folder without torch.",
        epilog="example:\n  artifact-removal export --method gan --format onnx -o export/gan\n"
        "  artifact-removal restore photos/ -o out/ --backend onnxruntime --models export/gan",
    )
    p.add_argument("--method", required=True, choices=list(METHODS), help="the method to export")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="the export's format")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write")
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
        help="the predictor's release file (default: the project's)",
    )

    p = command(
        "evaluate",
        run_evaluate,
        "score every method at every QF, and the QF predictor, on every test set (stage evaluate)",
    )
    project_options(p)

    p = command("notebook", run_notebook, "execute a notebook with papermill, render HTML")
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

    p = command("strip-notebooks", run_strip, "copies of notebooks without outputs")
    p.add_argument("src", help="folder of notebooks")
    p.add_argument("dst", help="folder for the stripped copies")

    p = command("book", run_book, "the study as one offline static site (after make repro)")
    p.add_argument(
        "-o", "--output", default=None, metavar="DIR", help="where (default: build/book/html)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show Sphinx's progress")
    p.add_argument(
        "--no-solutions",
        action="store_true",
        help="a class handout: the worked solutions left out (build/handout/html, "
        "build/handout.zip)",
    )

    p = command("profile", run_profile, "merge a profile (e.g. profiles/tiny.yaml) into params")
    p.add_argument("profile", help="a YAML file of overrides, e.g. profiles/paper.yaml")
    project_options(p, device=False)
    return parser
