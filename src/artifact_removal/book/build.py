"""Building the book: a Sphinx source folder from `course/` and `reports/`, then the site.

`make book` (or `artifact-removal book`) runs `build_book` after `make repro`; `make handout`
(`artifact-removal book --no-solutions`) builds the same without the worked solutions, for a
class:

1. `build/book/source` is made afresh: the hand-written pages of `course/` (the landing page,
   the lab profile, the worked solutions), each executed notebook of `reports/` with its
   parameters shown once (as in the HTML reports), the generated pages (`pages`), the study's
   folder as static files, and `conf.py`;
2. Sphinx with MyST-NB renders it to `build/book/html` (notebooks are not executed again:
   their outputs are the pipeline's), with the book theme, a search page and formulas as
   MathML (`mathml`); `build/book.zip` holds the same site to hand out (`zip_folder`: the
   same bytes for the same site, whenever it was built).

Every page opens from `file://` with no request to another host: the theme's scripts, fonts
and search index are files of the site, the notebooks' outputs are self-contained (widgets in
static form, pictures and videos inline), and no MathJax is needed.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import time
import zipfile
from importlib import resources
from pathlib import Path

import nbformat

from ..config import load_params
from ..fileio import write_atomic, write_text
from ..stages.notebooks import one_parameters_cell
from . import pages
from .chapters import REPORT, Chapter, chapters, parts

COURSE = "course"  # the hand-written pages, relative to the project root
BOOK_ZIP = Path("build") / "book.zip"  # the site in one file, relative to the project root
HANDOUT_ZIP = Path("build") / "handout.zip"  # the same without the worked solutions
# What the landing page says of the solutions, and what a handout without them says instead
SOLUTIONS_SAID = "worked solutions are at the\nend of the book"
WITHOUT_SOLUTIONS = "their worked solutions are\nleft out of this copy"
# What a notebook says of its solutions' file ("Worked solutions: `course/solutions/02_x.md`
# (in the book, at the end)."), replaced in a handout
SOLUTIONS_LINE = re.compile(r"Worked solutions:\s*`course/solutions/[^`]+`(\s*\([^)]*\))?\.?")
ZIP_EARLIEST = (1980, 1, 1, 0, 0, 0)  # the range of a zip entry's time (MS-DOS format)
ZIP_LATEST = (2107, 12, 31, 23, 59, 58)
ZIP_LEVEL = 9  # deflate's level for the book's zip
CONF = """# Made by artifact_removal.book.build; edit that module, not this file.
project = "Compression artifact removal: the study"
author = "the artifact-removal authors"
copyright = "the artifact-removal authors; published figures belong to their papers"
extensions = ["myst_nb", "artifact_removal.book.mathml"]
html_math_renderer = "mathml"
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
myst_dmath_double_inline = True  # `$$...$$` inside a paragraph is displayed, as in the reports
html_theme = "sphinx_book_theme"
html_title = "Compression artifact removal"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "search_bar_text": "Search the book...",
}
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_show_search_summary = True  # quoted from _static/excerpts.js (offline_search.js)
html_static_path = ["_static"]
html_js_files = ["offline_search.js"]
html_context = {"default_mode": "light"}
html_extra_path = ["_extra"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]
"""


class BookError(RuntimeError):
    """The book cannot be built; the message says what is missing and how to make it."""


def _landing(course: Path, found: list[Chapter], extra: list[str], solutions: bool) -> str:
    """The landing page (course/index.md) with the book's tables of contents after it; without
    `solutions`, it says they are left out."""
    text = (course / "index.md").read_text(encoding="utf-8").rstrip() + "\n\n"
    if not solutions:
        text = text.replace(SOLUTIONS_SAID, WITHOUT_SOLUTIONS)
    text += pages.toctree(["lab", *extra], caption="Start here", hidden=True)
    for caption, group in parts(found):
        text += pages.toctree([c.docname for c in group], caption=caption, hidden=True)
    worked = sorted(p.stem for p in (course / "solutions").glob("*.md")) if solutions else []
    if worked:
        text += pages.toctree([f"solutions/{s}" for s in worked], caption="Solutions", hidden=True)
    return text


def _retitle(node: nbformat.NotebookNode, title: str, new: str) -> int | None:
    """Give a notebook's first heading `title` the text `new` (a run's page in the search);
    the index of its cell back (None when there is none)."""
    for i, cell in enumerate(node.cells):
        if cell.cell_type == "markdown" and f"# {title}" in cell.source:
            cell.source = cell.source.replace(title, new, 1)
            return i
    return None


def searched_run(chapter: Chapter, quality: int) -> str:
    """The run of a chapter of runs that the search box finds: the one at `quality` (the
    figures' QF), else the first. The others hold the same text with their own numbers, and
    twelve near-copies of every page would crowd out the rest of the book."""
    for page in chapter.pages:
        found = REPORT.match(page.docname)
        if found and found["quality"] and int(found["quality"]) == quality:
            return page.docname
    return chapter.pages[0].docname


def _without_solutions(node: nbformat.NotebookNode) -> None:
    """A handout's copy of a notebook: where it says which file holds the worked solutions,
    it says they are left out of this copy."""
    for cell in node.cells:
        if cell.cell_type == "markdown":
            cell.source = SOLUTIONS_LINE.sub(
                "Worked solutions are left out of this copy.", cell.source
            )


def _notebooks(found: list[Chapter], source: Path, quality: int, solutions: bool = True) -> None:
    """Each executed notebook, its parameters shown once; a list page for a chapter of runs,
    whose runs but one (`searched_run`) are left out of the search index (`nosearch`)."""
    for chapter in found:
        searched = searched_run(chapter, quality) if chapter.runs else None
        for page in chapter.pages:
            node = one_parameters_cell(nbformat.read(page.notebook, as_version=4))
            if not solutions:
                _without_solutions(node)
            if chapter.runs:  # "03 · Train the GAN" becomes "03 · Train the GAN, QF 10"
                at = _retitle(node, chapter.title, f"{chapter.title}, {page.title}")
                line = f"Runs of this chapter: {pages.selector(chapter, page.docname)}"
                if at is not None:  # the selector under the heading's line
                    cell = node.cells[at]
                    head, found, rest = cell.source.partition(f"{chapter.title}, {page.title}")
                    end = rest.find("\n")
                    end = len(rest) if end < 0 else end
                    cell.source = f"{head}{found}{rest[:end]}\n\n{line}\n{rest[end:]}".rstrip()
                node.metadata["orphan"] = True  # reached by the selector, not the contents
                if page.docname != searched:
                    node.metadata["nosearch"] = True  # Sphinx indexes no words of it
            nbformat.write(node, source / f"{page.docname}.ipynb")
        if chapter.runs:
            searched_title = next(p.title for p in chapter.pages if p.docname == searched)
            (source / f"{chapter.docname}.md").write_text(pages.runs_page(chapter, searched_title))


def _generated(root: Path, reports: Path, source: Path, quality: int) -> list[str]:
    """The published-figures page (at the figures' QF), and the study page where the run made
    the study."""
    tables = reports / "evaluate" / "tables"
    (source / "published.md").write_text(pages.published_page(tables, quality))
    made = ["published"]
    study = reports / "study"
    if (study / "study.html").exists():
        shutil.copytree(study, source / "_extra" / "study")
        (source / "study.md").write_text(pages.study_page("The rating session"))
        made.append("study")
    return made


def assemble(root: Path, source: Path, solutions: bool = True) -> list[Chapter]:
    """Make the Sphinx source folder `source` (emptied first) for the project at `root`, with
    the worked solutions or (a class handout) without them."""
    reports, course = root / "reports", root / COURSE
    found = chapters(reports)
    if not found:
        raise BookError(f"{reports} holds no executed notebook: run `make repro` first")
    shutil.rmtree(source, ignore_errors=True)
    left_out = ["index.md"] + ([] if solutions else ["solutions"])
    shutil.copytree(course, source, ignore=shutil.ignore_patterns(*left_out))
    (source / "_extra").mkdir(exist_ok=True)
    (source / "_static").mkdir(exist_ok=True)
    script = resources.files(__package__).joinpath("offline_search.js").read_text()
    (source / "_static" / "offline_search.js").write_text(script)
    quality = load_params(root / "params.yaml").evaluate.figure_quality
    _notebooks(found, source, quality, solutions)
    extra = _generated(root, reports, source, quality)
    (source / "index.md").write_text(_landing(course, found, extra, solutions))
    (source / "conf.py").write_text(CONF)
    return found


def build_book(
    root: Path, out: Path | None = None, quiet: bool = True, solutions: bool = True
) -> Path:
    """Assemble and build the book of the project at `root` into `out` (default
    build/book/html, or build/handout/html without `solutions`) and zip it (`BOOK_ZIP`, or
    `HANDOUT_ZIP`); returns the landing page (index.html)."""
    from sphinx.application import Sphinx
    from sphinx.util.console import nocolor

    work = root / "build" / ("book" if solutions else "handout")
    out = out or work / "html"
    source = work / "source"
    assemble(root, source, solutions)
    shutil.rmtree(out, ignore_errors=True)
    warnings = io.StringIO()
    status = None if quiet else sys.stdout
    nocolor()
    app = Sphinx(
        source,
        source,
        out,
        work / "doctrees",
        "html",
        status=status,
        warning=warnings,
        freshenv=True,
    )
    app.build()
    if app.statuscode:
        raise BookError(f"Sphinx failed:\n{warnings.getvalue()}")
    if warnings.getvalue():
        print(warnings.getvalue(), end="", file=sys.stderr)
    write_excerpts(out)
    zip_folder(out, root / (BOOK_ZIP if solutions else HANDOUT_ZIP))
    return out / "index.html"


def searched_pages(site: Path) -> set[str]:
    """The pages whose words the site's search index holds (not those marked `nosearch`)."""
    text = (site / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(re.search(r"setIndex\((.*)\)", text, re.S).group(1))
    found = set()
    for at in [*index["terms"].values(), *index["titleterms"].values()]:
        found.update(at if isinstance(at, list) else [at])
    return {index["docnames"][i] for i in found}


def write_excerpts(site: Path) -> Path:
    """_static/excerpts.js: the text of each page the search can find, from which the search
    page quotes its results offline (`offline_search.js`)."""
    from bs4 import BeautifulSoup

    texts = {}
    for name in sorted(searched_pages(site)):
        soup = BeautifulSoup((site / f"{name}.html").read_text(encoding="utf-8"), "html.parser")
        main = soup.find(attrs={"role": "main"}) or soup
        for tag in [*main.find_all(["script", "style"]), *main.select(".headerlink")]:
            tag.decompose()
        texts[name] = " ".join(main.get_text(" ").split())
    target = site / "_static" / "excerpts.js"
    body = json.dumps(texts, ensure_ascii=False, sort_keys=True)
    write_text(target, f"window.AR_EXCERPTS = {body};\n")
    return target


def zip_time() -> tuple[int, int, int, int, int, int]:
    """The time every entry of the book's zip carries: SOURCE_DATE_EPOCH (UTC) when it is set,
    else 1980-01-01 00:00 (the earliest a zip holds), so the zip depends on files alone."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return ZIP_EARLIEST
    try:
        stamp = time.gmtime(int(epoch))[:6]
    except (ValueError, OverflowError, OSError):
        raise BookError(f"SOURCE_DATE_EPOCH={epoch!r} is not a whole number of seconds") from None
    return min(max(stamp, ZIP_EARLIEST), ZIP_LATEST)


def zip_entry(name: str, directory: bool, when: tuple) -> zipfile.ZipInfo:
    """A zip entry that says nothing of the machine: the time given, Unix mode 0755 for a
    folder and 0644 for a file, deflated."""
    info = zipfile.ZipInfo(name + "/" if directory else name, date_time=when)
    info.create_system = 3  # Unix, wherever the zip is made
    info.external_attr = ((0o40755 if directory else 0o100644) << 16) | (0x10 if directory else 0)
    info.compress_type = zipfile.ZIP_STORED if directory else zipfile.ZIP_DEFLATED
    return info


def zip_folder(folder: Path, archive: Path) -> Path:
    """`folder`'s files and folders in the zip `archive` (written atomically), the same bytes
    for the same files: entries sorted by path, each with `zip_time`, fixed modes, deflated at
    `ZIP_LEVEL`."""
    when = zip_time()
    paths = sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix())

    def write(target) -> None:
        with zipfile.ZipFile(target, "w") as out:
            for path in paths:
                info = zip_entry(path.relative_to(folder).as_posix(), path.is_dir(), when)
                data = b"" if path.is_dir() else path.read_bytes()
                out.writestr(info, data, compresslevel=ZIP_LEVEL)

    return write_atomic(archive, write)
