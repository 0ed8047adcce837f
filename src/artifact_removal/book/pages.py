"""The book's generated pages: a chapter's list of runs, the published figures beside ours, the
study page, and the landing page's tables of contents. Each returns MyST Markdown."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..stages.published_tables import (
    markdown_table,
    published_figures,
    published_no_reference,
    published_rows,
)
from .chapters import Chapter

SHOWN = ("psnr_rgb", "psnr_y", "ssim_y", "psnrb_y", "niqe", "brisque")  # summary.csv columns


def toctree(entries: list[str], caption: str | None = None, hidden: bool = False) -> str:
    """A MyST `toctree` directive listing `entries` (`docname` or `Title <docname>`)."""
    options = [f":caption: {caption}"] if caption else []
    options += [":hidden:"] if hidden else []
    options += [":maxdepth: 1"]
    return "\n".join(["```{toctree}", *options, "", *entries, "```", ""])


def selector(chapter: Chapter, current: str | None) -> str:
    """The line that switches between a chapter's runs: `QF 5 · QF 10 · ...`, each a link to its
    page but `current` (bold), in the order of the chapter (QFs by number)."""
    links = [
        f"**{page.title}**" if page.docname == current else f"[{page.title}]({page.docname}.ipynb)"
        for page in chapter.pages
    ]
    return " · ".join(links)


def runs_page(chapter: Chapter, searched: str) -> str:
    """A chapter whose stage runs once per QF: one entry in the book's contents, with the QF
    selector that leads to each run's page (those pages stay out of the contents, and each
    carries the same selector); the search box finds the run titled `searched` only."""
    return "\n".join(
        [
            f"# {chapter.title}",
            "",
            f"The pipeline runs this chapter's notebook once per quality factor, so it has "
            f"{len(chapter.pages)} reports: the same notebook, each run with its own QF. Pick "
            "one; each page carries this line to move to another. The runs differ in their "
            f"numbers and pictures, not their text: the search box finds the words of one of "
            f"them ({searched}), not each copy.",
            "",
            selector(chapter, None),
            "",
        ]
    )


def _ours(summary: pd.DataFrame, set_name: str, quality: int) -> pd.DataFrame:
    rows = summary[(summary["set"] == set_name) & (summary["quality"] == quality)]
    columns = [c for c in SHOWN if c in rows and rows[c].notna().any()]
    return rows[["method", *columns]]


def published_page(tables: Path, quality: int) -> str:
    """Our evaluation at `quality` on every test set, each beside the published rows of the
    same set and QF where the papers have them (else the published sets at that QF, marked as
    other images), and the no-reference scores of the 2020 paper as context."""
    lines = [
        "# Published figures beside ours",
        "",
        f"Each test set of this run at QF {quality} (the figures' QF, `evaluate.figure_quality`),"
        " from `reports/evaluate/tables/summary.csv`, and the published tables of the papers "
        "and their peers (`src/artifact_removal/stages/published.yaml`, with sources). Numbers "
        "on other images are context for the shape of ours, not rows to compare.",
        "",
    ]
    if not (tables / "summary.csv").exists():
        return "\n".join([*lines[:2], "The evaluation (stage `evaluate`) has not run yet.", ""])
    summary = pd.read_csv(tables / "summary.csv")
    for set_name in sorted(summary["set"].unique()):
        ours = markdown_table(_ours(summary, set_name, quality))
        lines += [f"## {set_name}, QF {quality}", "", ours]
        same = published_rows(set_name, quality)
        if same is not None:
            lines += ["", "Published, the same set and QF:", "", markdown_table(same)]
        lines.append("")
    lines += _other_sets(set(summary["set"]), quality)
    lines += [
        "## No-reference scores, Galteri et al. 2020",
        "",
        markdown_table(published_no_reference()),
    ]
    return "\n".join(lines) + "\n"


def _other_sets(ours: set[str], quality: int) -> list[str]:
    """The published sets this run did not evaluate, at `quality`, marked as other images."""
    lines = []
    for set_name in sorted(set(published_figures()["sets"]) - ours):
        rows = published_rows(set_name, quality)
        if rows is not None:
            lines += [f"## {set_name}, QF {quality} (published; not evaluated here)", ""]
            lines += [markdown_table(rows), ""]
    return lines


def study_page(title: str) -> str:
    """The rating session of the DSIS study (`reports/study/study.html`) inside the book."""
    return "\n".join(
        [
            f"# {title}",
            "",
            "The page a rater opens (chapter 09 says how the study is built and analysed). It "
            "keeps the ratings in this browser and exports them as a CSV file to hand in; "
            '<a href="study/study.html">open it on its own</a> to rate in a full window.',
            "",
            '<iframe src="study/study.html" title="the rating session" '
            'style="width: 100%; height: 900px; border: 1px solid #ccc"></iframe>',
            "",
        ]
    )
