"""The study's order: which executed notebook of `reports/` is which chapter of the book.

A stage notebook `notebooks/NN_name.ipynb` is chapter NN. The pipeline runs some of them once
per QF (`02_train_ssim_q10.ipynb`, `02_train_ssim_q20.ipynb`, ...): such a chapter gets a page
that lists its runs, one page each. Chapters fall into the parts of `PARTS` by number; a
notebook added later lands in "More" until it is given a part.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

# The parts of the book, in the study's order, and the chapters (stage notebook numbers) in each.
PARTS = (
    ("The data", ("01",)),
    ("Training", ("02", "03", "04", "05")),
    ("Results", ("06", "07")),
    ("Video", ("08",)),
    ("People and machines", ("09", "10")),
)
OTHER_PART = "More"
REPORT = re.compile(r"^(?P<number>\d\d)_(?P<name>.+?)(?:_q(?P<quality>\d+))?$")


@dataclass(frozen=True)
class Page:
    """One page of the book made from one executed notebook."""

    docname: str  # the page's name in the book (the notebook's stem)
    title: str  # what the table of contents shows
    notebook: Path  # the executed notebook in reports/


@dataclass(frozen=True)
class Chapter:
    """A stage notebook's chapter: one page, or one page per run (QF) of the stage."""

    number: str  # "02"
    docname: str  # the chapter's page: the notebook's own, or the generated list of its runs
    title: str  # the notebook's first heading, e.g. "02 · Train the SSIM generator"
    pages: tuple[Page, ...]

    @property
    def runs(self) -> bool:
        """Whether the chapter is a list of runs (pages) rather than a single page."""
        return len(self.pages) > 1 or self.pages[0].docname != self.docname


def first_heading(notebook: Path) -> str:
    """The text of the first Markdown heading of a notebook (its title), or its stem."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        for line in "".join(cell["source"]).splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return notebook.stem


def _run_title(name: str, quality: str | None, names: set[str]) -> str:
    """A run's title in its chapter's list: `QF 10`, with the method when several share it."""
    label = f"QF {quality}" if quality else name
    return f"{name.removeprefix('train_')} · {label}" if len(names) > 1 and quality else label


def _order(match: re.Match) -> tuple[str, int]:
    return match["name"], int(match["quality"] or 0)


def chapters(reports: Path) -> list[Chapter]:
    """The chapters made from `reports/NN_*.ipynb`, by number; runs of a stage by QF."""
    groups: dict[str, list[re.Match]] = {}
    for notebook in sorted(reports.glob("[0-9][0-9]_*.ipynb")):
        if found := REPORT.match(notebook.stem):
            groups.setdefault(found["number"], []).append(found)
    result = []
    for number, found in sorted(groups.items()):
        found.sort(key=_order)
        names = {m["name"] for m in found}
        pages = tuple(
            Page(
                m.string, _run_title(m["name"], m["quality"], names), reports / f"{m.string}.ipynb"
            )
            for m in found
        )
        title = first_heading(pages[0].notebook)
        single = len(pages) == 1 and not found[0]["quality"]
        docname = pages[0].docname if single else f"{number}_{found[0]['name']}"
        result.append(Chapter(number, docname, title, pages))
    return result


def parts(found: list[Chapter]) -> list[tuple[str, list[Chapter]]]:
    """The chapters under their parts, in `PARTS` order; unknown numbers under `OTHER_PART`."""
    by_number = {chapter.number: chapter for chapter in found}
    placed = [
        (caption, [by_number[n] for n in numbers if n in by_number]) for caption, numbers in PARTS
    ]
    known = {n for _, numbers in PARTS for n in numbers}
    other = [chapter for chapter in found if chapter.number not in known]
    return [(caption, group) for caption, group in [*placed, (OTHER_PART, other)] if group]
