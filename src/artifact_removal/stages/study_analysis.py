"""The DSIS study's analysis: raters screened, MOS per condition beside the talk's, the box
plot and the figure of an image's conditions, and the tables and metrics written for DVC."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Params, parse_yaml, resolve_path
from ..fileio import write_csv, write_json, write_text
from ..metrics.subjective import mos_table, screen_raters
from .study_build import Study, picture_array
from .study_ratings import check_ratings


@dataclass
class StudyResult:
    """Ratings read back, the raters' screening and the MOS table."""

    ratings: pd.DataFrame
    notes: list[str]
    screening: pd.DataFrame
    mos: pd.DataFrame

    @property
    def kept(self) -> list[str]:
        return list(self.screening.index[self.screening["kept"]])


def analyse(study: Study, ratings_dir: str | Path, max_repeat_gap: float) -> StudyResult:
    """Read every rater's CSV of this study, check it against the study, screen the raters,
    and compute the MOS (the conditions in the study's order)."""
    ratings = check_ratings(study, ratings_dir)
    screening = screen_raters(ratings.table, max_repeat_gap)
    kept = list(screening.index[screening["kept"]])
    order = list(dict.fromkeys(t.condition for t in study.trials))
    return StudyResult(
        ratings.table, ratings.notes, screening, mos_table(ratings.table, kept, order)
    )


def published_mos() -> pd.DataFrame:
    """The talk's DSIS MOS (0-100): mean and standard deviation per method."""
    found = parse_yaml(resources.files(__package__).joinpath("published.yaml").read_text())
    rows = found["subjective"]["mos_dsis_0_100"]
    return pd.DataFrame({m: {"mos": v[0], "std": v[1]} for m, v in rows.items()}).T


def beside_talk(result: StudyResult) -> pd.DataFrame:
    """Our MOS per condition, and the talk's for the methods it scored (ssim, gan)."""
    ours = result.mos[["method", "quality", "raters", "mos", "std", "ci95"]].copy()
    talk = published_mos()
    ours["talk_mos"] = ours["method"].map(talk["mos"])
    ours["talk_std"] = ours["method"].map(talk["std"])
    return ours


def mos_boxplot(result: StudyResult):
    """Scores per condition as box plots (the 2020 paper's Fig. 4), MOS marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.4 * max(len(result.mos), 3) + 1, 3.6))
    kept = result.ratings[~result.ratings["repeat"] & result.ratings["rater"].isin(result.kept)]
    groups = [
        kept[(kept["method"] == row.method) & (kept["quality"] == row.quality)]["score"]
        for row in result.mos.itertuples()
    ]
    if groups:
        ax.boxplot(groups, tick_labels=list(result.mos.index))
        ax.plot(range(1, len(groups) + 1), result.mos["mos"], "D", color="tab:red", label="MOS")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no ratings yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(-2, 102)
    ax.set_ylabel("score (0-100)")
    ax.set_title(f"DSIS scores of {len(result.kept)} rater(s)", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _markdown(table: pd.DataFrame) -> str:
    """A table rounded to 2 decimals, blanks where there is no value."""
    return table.round(2).astype(object).where(table.notna(), "").to_markdown()


def _text(value: object) -> str:
    """A rater's name, a file name or a note as text in Markdown: HTML's special characters
    escaped (a name is never markup) and table bars kept inside their cell."""
    return html.escape(str(value), quote=False).replace("|", "\\|")


def condition_slug(condition: str) -> str:
    """A condition's metrics file name: `original`, `jpeg-q20`, `gan-q20`."""
    return re.sub(r"[^A-Za-z0-9_]+", "-", condition.replace(", QF ", "-q")).strip("-")


def write_analysis(result: StudyResult, study: Study, params: Params, root: Path) -> dict:
    """Tables, the box plot, the summary and the metrics of the study's analysis: the metrics
    as `<metrics_dir>/study/study.json` (raters, ratings) and a file per condition in
    `conditions/` (MOS, std, ci95, scores), so `dvc metrics show` gives a row each."""
    from ..fileio import write_figure

    out = resolve_path(params.study.results_dir, root)
    table = beside_talk(result)
    notes = "".join(f"- {_text(n)}\n" for n in result.notes)
    rejected = result.screening[~result.screening["kept"]][["reason"]]
    rejected.index = [_text(name) for name in rejected.index]
    text = (
        f"# DSIS study {study.id}\n\n{len(result.screening)} rater(s), {len(result.kept)} "
        f"kept; {len(result.ratings)} rating(s). MOS over the kept raters' first scores "
        "(0-100, higher is better), standard deviation, 95% confidence half-width "
        "(Student's t). The talk's MOS (its own images and QF) beside ours.\n\n"
        + (_markdown(table) if len(table) else "No ratings yet.")
        + "\n\n"
        + ("Raters set aside:\n\n" + rejected.to_markdown() + "\n\n" if len(rejected) else "")
        + notes
    )
    metrics_dir = resolve_path(params.reports.metrics_dir, root) / "study"
    for stale in (metrics_dir / "conditions").glob("*.json"):
        stale.unlink()  # a condition no longer rated leaves no row behind
    paths = {
        "mos": write_csv(out / "mos.csv", table, float_format="%.3f"),
        "raters": write_csv(out / "raters.csv", result.screening, float_format="%.3f"),
        "summary": write_text(out / "summary.md", text),
        "boxplot": write_figure(out / "figures" / "mos_boxplot.png", mos_boxplot(result)),
        "metrics": write_json(
            metrics_dir / "study.json",
            {
                "study": study.id,
                "raters": len(result.screening),
                "kept": len(result.kept),
                "ratings": len(result.ratings),
                "conditions": len(result.mos),
            },
        ),
    }
    for condition, row in result.mos.iterrows():
        values = {
            k: (None if pd.isna(row[k]) else round(float(row[k]), 3))
            for k in ("mos", "std", "ci95")
        }
        write_json(
            metrics_dir / "conditions" / f"{condition_slug(condition)}.json",
            values | {"scores": int(row["scores"]), "raters": int(row["raters"])},
        )
    return paths


def conditions_figure(study: Study, image: str | None = None):
    """One image of the study in every condition it is shown in, labelled (for the report;
    the raters see no labels)."""
    import matplotlib.pyplot as plt

    image = image or study.trials[0].image
    trials = [t for t in study.trials if t.image == image]
    fig, axes = plt.subplots(1, len(trials), figsize=(2.4 * len(trials), 2.8))
    for ax, trial in zip(np.atleast_1d(axes), trials, strict=True):
        pixels = picture_array(study, trial.picture)
        ax.imshow(
            pixels,
            cmap="gray" if pixels.ndim == 2 else None,
            vmin=0,
            vmax=255,
            interpolation="nearest",
        )
        ax.set_title(trial.condition, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{image}: the trials' test images (the reference is the original)", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig
