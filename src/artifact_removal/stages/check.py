"""Stage `check_params`, the first of the pipeline: params.yaml checked before anything runs.

DVC deletes a stage's outputs before it runs the stage's command, so a stage that found a
misspelt key itself would already have lost its results (and metrics kept out of DVC's cache
would be gone for good). Every stage therefore depends on this one: it reads params.yaml as DVC
does (`config.parse_yaml`: YAML 1.2, duplicate keys refused with their line) and validates it
(unknown keys, missing keys and wrong types named). When it fails, `dvc repro` stops before any
other stage runs. Its output is a stamp whose content never changes, so a valid edit of
params.yaml makes stale only the stages whose own parameters changed.

    python -m artifact_removal.stages.check params.yaml build/params.checked
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..config import ConfigError, load_params
from ..fileio import write_text

STAMP = "params.yaml passed validation (dvc.yaml stage check_params)\n"


def main(argv: list[str] | None = None) -> int:
    """Validate PARAMS, then write the stamp file; exit 2 with the problems when invalid."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m artifact_removal.stages.check PARAMS STAMP", file=sys.stderr)
        return 2
    params_path, stamp = map(Path, args)
    try:
        load_params(params_path.resolve())
    except ConfigError as err:
        print(
            f"error: {err}\nNothing was run and no output was deleted: fix {params_path} "
            "and run again.",
            file=sys.stderr,
        )
        return 2
    write_text(stamp, STAMP)
    print(f"{params_path}: valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
