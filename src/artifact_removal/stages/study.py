"""Stages study and human_study (notebook 09): a DSIS study that people run, and its analysis.

The papers' strongest evidence is people's: in a DSIS test (Double Stimulus Impairment Scale:
the reference, then the test image, scored for how annoying its impairments are) the GAN
scored a MOS of 68.3 against 49.5 for the SSIM generator (0-100 scale, the talk). Here the
study is built from the corpus' held-out images: for each of `study.images` images, its
busiest `study.crop` square as the original (shown both as the reference and, hidden, as a
test image), as JPEG and as each method of `study.methods` restores it, at each QF of
`study.qualities`. Each rater sees the trials in their own seeded order, with `study.repeats`
trials shown twice to measure consistency.

The stage `study` (`python -m artifact_removal.stages.study`) builds the study once into
`study.out_dir`: the standalone page `study.html` (one file, images inlined, nothing fetched),
`study.json` and the pictures. It does not read the ratings, so handing ratings in never
rebuilds what the raters saw. Raters score on the page (ratings kept in the browser, exported
as CSV) or in the notebook's widget (`StudyWidget`: the kernel writes each rating to the
rater's CSV in `study.ratings_dir` as it is given, atomically, and confirms it). Either way a
closed window resumes where it stopped, in the same rating session: each rating carries the
session's id, so that two people who type the same name stay two raters. The stage
`human_study` (notebook 09) reads every CSV of `study.ratings_dir` (`metrics/subjective.py`):
raters screened, MOS with 95% intervals per condition, box plots as the 2020 paper's Fig. 4,
and the talk's MOS beside ours.

This module is the stages' entry point and the name the notebook imports from; the work is in
`study_order.py` (the rater's order, as study.js computes it), `study_build.py` (the trials,
the pictures, the page), `study_ratings.py` (the raters' CSVs, the widget, the checks) and
`study_analysis.py` (screening, MOS, tables and figures).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..config import ConfigError, load_params, resolve_path
from ..data.prepared import DataError
from ..fileio import write_text
from ..metrics.subjective import RatingsError
from .study_analysis import (
    StudyResult,
    analyse,
    beside_talk,
    condition_slug,
    conditions_figure,
    mos_boxplot,
    published_mos,
    write_analysis,
)
from .study_build import (
    INTRO,
    STUDY_JS,
    Study,
    Trial,
    build_study,
    load_study,
    page_html,
    picture_array,
    session_html,
    study_of,
    write_study,
)
from .study_order import MASK, random_stream, rater_hash, trial_sequence
from .study_ratings import (
    NAME_CHARS,
    RatingLog,
    StudyWidget,
    check_ratings,
    check_row,
    rater_file,
    trial_index,
)

__all__ = [
    "INTRO",
    "MASK",
    "NAME_CHARS",
    "RATINGS_STAMP",
    "STUDY_JS",
    "RatingLog",
    "Study",
    "StudyResult",
    "StudyWidget",
    "Trial",
    "analyse",
    "beside_talk",
    "build_study",
    "check_main",
    "check_ratings",
    "check_row",
    "condition_slug",
    "conditions_figure",
    "load_study",
    "main",
    "mos_boxplot",
    "page_html",
    "picture_array",
    "published_mos",
    "random_stream",
    "rater_file",
    "rater_hash",
    "session_html",
    "study_of",
    "trial_index",
    "trial_sequence",
    "write_analysis",
    "write_study",
]


RATINGS_STAMP = "the ratings passed validation against the study (dvc.yaml stage check_ratings)\n"


def check_main(args: list[str]) -> int:
    """Stage `check_ratings`: every rater's CSV checked against the built study before
    human_study runs (DVC deletes a stage's outputs before its command: a bad file must stop
    the run here, with the last analysis still in place). Writes STAMP; exit 2 with the file,
    line and problem when a rating does not fit the study."""
    from ..config import find_project_root

    if len(args) != 2:
        print(
            "usage: python -m artifact_removal.stages.study check-ratings PARAMS STAMP",
            file=sys.stderr,
        )
        return 2
    params_path, stamp = Path(args[0]).resolve(), Path(args[1])
    try:
        params = load_params(params_path)
        root = find_project_root(params_path.parent)
        study = load_study(resolve_path(params.study.out_dir, root))
        ratings = check_ratings(study, resolve_path(params.study.ratings_dir, root))
    except (ConfigError, RatingsError, OSError) as err:
        print(
            f"error: {err}\nNothing was analysed and no earlier result was deleted: fix the "
            "file (or move it out of study.ratings_dir) and run again.",
            file=sys.stderr,
        )
        return 2
    for note in ratings.notes:
        print(f"note: {note}")
    write_text(stamp, RATINGS_STAMP)
    print(
        f"study {study.id}: {len(ratings.table)} rating(s) of {len(ratings.raters)} rater(s) "
        "fit the study"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stage `study`: build the study of PARAMS (default params.yaml) into `study.out_dir`;
    `check-ratings PARAMS STAMP`: stage `check_ratings` (`check_main`)."""
    from ..config import find_project_root
    from ..runtime import select_device

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["check-ratings"]:
        return check_main(args[1:])
    try:
        params_path = Path(args[0] if args else "params.yaml").resolve()
        params = load_params(params_path)
        root = find_project_root(params_path.parent)
        study = build_study(params, root, select_device(params.device))
    except (ConfigError, DataError, RatingsError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    paths = write_study(study, resolve_path(params.study.out_dir, root))
    print(
        f"study {study.id}: {len(study.trials)} trials on {len(study.pictures)} pictures, "
        f"{params.study.repeats} repeated; page {paths['page'].relative_to(root)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
