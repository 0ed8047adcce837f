"""Command line: `artifact-removal COMMAND ...` (also `python -m artifact_removal`).

Everything a stage notebook does can be done from here, without Jupyter.

    commands    what each command does
    parser      every command's options and help
    options     the options dataclasses as arguments, and back
"""

from __future__ import annotations

import sys

from ..config import ConfigError
from ..restore.options import MAX_MEGAPIXELS
from .parser import build_parser

__all__ = ["MAX_MEGAPIXELS", "build_parser", "main"]

# The errors that mean "this cannot be done, and here is why": printed as one line, exit 2.
# Named by module, so that `--help` imports neither torch nor the notebook tools: a command
# that raised one of them has imported its module already.
KNOWN_ERRORS = {
    "artifact_removal.checkpoints": "CheckpointError",
    "artifact_removal.data.corpus": "CorpusError",
    "artifact_removal.data.prepared": "DataError",
    "artifact_removal.inference.choice": "RestoreError",
    "artifact_removal.inference.gallery": "MissingRelease",
    "artifact_removal.metrics.no_reference": "MissingModelError",
    "artifact_removal.pretrained": "MissingWeightsError",
    "artifact_removal.stages.notebooks": "NotebookError",
    "artifact_removal.training.run": "TrainingError",
}


def _known(err: BaseException) -> bool:
    """True for a ConfigError or one of `KNOWN_ERRORS` (from modules already imported)."""
    classes = [ConfigError] + [
        getattr(sys.modules[m], name) for m, name in KNOWN_ERRORS.items() if m in sys.modules
    ]
    return isinstance(err, tuple(classes))


def describe(err: BaseException) -> str | None:
    """The one line that says what went wrong, for the errors a command can meet in the world
    outside it: its own (`KNOWN_ERRORS`), and what the system says of a file or folder (a
    permission, a full disk, a file where a folder should be: OSError names the path), or of
    memory. None for anything else: a defect, whose traceback is shown."""
    if _known(err):
        return str(err)
    if isinstance(err, OSError) and err.strerror:
        names = [str(n) for n in (err.filename, err.filename2) if n is not None]
        return f"{' -> '.join(names)}: {err.strerror}" if names else err.strerror
    if isinstance(err, MemoryError):
        return "out of memory"
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point; known errors print one clear message and exit non-zero."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:  # Ctrl-C: what is finished is kept (written atomically)
        print(
            "\ninterrupted: finished files and video segments are kept; run the same "
            "command again to go on from there",
            file=sys.stderr,
        )
        return 130
    except Exception as err:
        line = describe(err)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return 2
