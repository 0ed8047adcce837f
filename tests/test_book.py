"""The course book: chapters in the study's order, the site built offline, its formulas MathML."""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile

import nbformat
import pandas as pd
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from artifact_removal.book.build import BOOK_ZIP, BookError, assemble, build_book, zip_folder
from artifact_removal.book.chapters import OTHER_PART, chapters, parts
from artifact_removal.cli import main
from artifact_removal.config import load_params
from artifact_removal.stages.published_tables import published_rows

from .browser import requested_urls
from .conftest import REPO


def report(folder, stem: str, title: str, *, html: str = "", formula: str = "",
           exercises: str = "") -> None:  # fmt: skip
    """An executed notebook as the pipeline leaves it in reports/: a title, a parameters cell
    (the defaults and the stage's injected values), a formula, an output."""
    nb = nbformat.v4.new_notebook()
    kernel = {"name": "artifact-removal", "language": "python", "display_name": "Python"}
    nb.metadata = {"kernelspec": kernel, "language_info": {"name": "python"}}
    params = nbformat.v4.new_code_cell("quality = 10", metadata={"tags": ["parameters"]})
    injected = nbformat.v4.new_code_cell("quality = 20", metadata={"tags": ["injected-parameters"]})
    shown = nbformat.v4.new_code_cell("'shown'")
    shown.outputs = [nbformat.v4.new_output("display_data", {"text/html": html or "<b>out</b>"})]
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {title}\n\nText {formula}"),
        params,
        injected,
        shown,
    ] + ([nbformat.v4.new_markdown_cell(f"## Exercises\n\n{exercises}")] if exercises else [])
    nbformat.write(nb, folder / f"{stem}.ipynb")


@pytest.fixture
def project(tmp_path):
    """A project after a (pretend) `make repro`: params, course pages, executed notebooks."""
    shutil.copy(REPO / "params.yaml", tmp_path)
    shutil.copytree(REPO / "course", tmp_path / "course")
    reports = tmp_path / "reports"
    reports.mkdir()
    report(reports, "01_prepare_data", "01 · Prepare the data", formula=r"$Q = \lfloor x \rceil$",
           exercises="Worked solutions: `course/solutions/01_prepare_data.md` (in the book, at "
           "the end).")  # fmt: skip
    for quality in (5, 10, 40):
        report(
            reports,
            f"02_train_ssim_q{quality}",
            "02 · Train the SSIM generator",
            formula=r"$$ l = 1 - \mathrm{SSIM}(x, y) $$",
        )
    report(reports, "07_compare", "07 · Compare", html='<div id="slider">wipe</div>')
    report(reports, "11_new", "11 · A later notebook")
    return tmp_path


def test_chapters_follow_the_study_and_list_runs_by_quality(project):
    found = chapters(project / "reports")
    assert [c.number for c in found] == ["01", "02", "07", "11"]
    ssim = found[1]
    assert ssim.runs and ssim.docname == "02_train_ssim"
    assert ssim.title == "02 · Train the SSIM generator"
    assert [p.title for p in ssim.pages] == ["QF 5", "QF 10", "QF 40"]  # by number, not text
    assert not found[0].runs and found[0].docname == "01_prepare_data"
    grouped = dict(parts(found))
    assert [c.number for c in grouped["Training"]] == ["02"]
    assert [c.number for c in grouped[OTHER_PART]] == ["11"]  # a new notebook is not lost


def test_assemble_writes_the_sources_with_parameters_shown_once(project, tmp_path):
    source = tmp_path / "src"
    assemble(project, source)
    index = (source / "index.md").read_text()
    assert index.startswith("# Compression artifact removal: the study")
    assert ":caption: Training" in index and "02_train_ssim" in index
    run = nbformat.read(source / "02_train_ssim_q10.ipynb", as_version=4)
    assert run.cells[0].source.startswith("# 02 · Train the SSIM generator, QF 10\n\nRuns")
    tags = [c.metadata.get("tags", []) for c in run.cells]
    assert ["injected-parameters"] not in tags and run.cells[1].source.startswith("quality = 20")
    # one entry per chapter in the contents; a QF selector on its page and on every run's page
    selector = "[QF 5](02_train_ssim_q5.ipynb) · **QF 10** · [QF 40](02_train_ssim_q40.ipynb)"
    assert selector in run.cells[0].source and run.metadata["orphan"] is True
    chapter = (source / "02_train_ssim.md").read_text()
    assert "[QF 10](02_train_ssim_q10.ipynb)" in chapter and "toctree" not in chapter
    assert (source / "solutions").is_dir() and (source / "conf.py").exists()


def test_a_handout_leaves_the_solutions_out_and_says_so(project, tmp_path):
    """`make handout` (`book --no-solutions`): the same book for a class, without the worked
    solutions; the landing page says they are left out instead of where they are."""
    with_them, handout = tmp_path / "with", tmp_path / "handout"
    assemble(project, with_them)
    assemble(project, handout, solutions=False)
    assert (with_them / "solutions").is_dir() and not (handout / "solutions").exists()
    index = (handout / "index.md").read_text()
    assert ":caption: Solutions" in (with_them / "index.md").read_text()
    assert ":caption: Solutions" not in index and "solutions/" not in index
    assert "left out of this copy" in index and "at the\nend of the book" not in index
    assert {p.name for p in handout.glob("*.ipynb")} == {p.name for p in with_them.glob("*.ipynb")}
    said = "Worked solutions: `course/solutions/01_prepare_data.md` (in the book, at the end)."
    for folder, kept in ((with_them, True), (handout, False)):
        text = json.dumps(nbformat.read(folder / "01_prepare_data.ipynb", as_version=4).cells)
        assert (said[:40] in text) is kept
        assert ("Worked solutions are left out of this copy." in text) is not kept


def test_no_executed_notebook_is_a_clear_error(tmp_path):
    shutil.copytree(REPO / "course", tmp_path / "course")
    (tmp_path / "reports").mkdir()
    with pytest.raises(BookError, match="no executed notebook: run `make repro` first"):
        build_book(tmp_path)


def test_the_book_builds_offline_with_mathml_and_a_zip(project, browser):
    index = build_book(project)
    site = index.parent
    assert {p.name for p in site.glob("*.html")} >= {
        "index.html",
        "01_prepare_data.html",
        "02_train_ssim.html",
        "02_train_ssim_q5.html",
        "07_compare.html",
        "11_new.html",
        "search.html",
        "lab.html",
    }
    index = json.loads(re.search(r"setIndex\((.*)\)", (site / "searchindex.js").read_text(),
                                 re.S).group(1))  # fmt: skip
    found = {index["docnames"][i] for at in index["terms"].values()
             for i in (at if isinstance(at, list) else [at])}  # fmt: skip
    assert "02_train_ssim_q5" in found and "02_train_ssim" in found  # one run of the chapter
    assert not {"02_train_ssim_q10", "02_train_ssim_q40"} & found  # not its near-copies
    page = (site / "02_train_ssim_q10.html").read_text()
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in page
    assert "$" not in page and not re.search(r"<(script|link)[^>]+(src|href)=\"(https?:)?//", page)
    assert '<div id="slider">wipe</div>' in (site / "07_compare.html").read_text()
    with zipfile.ZipFile(project / BOOK_ZIP) as archive:
        assert "index.html" in archive.namelist()
    browser.get_log("performance")
    for name in ("index.html", "02_train_ssim_q10.html", "search.html"):
        browser.get((site / name).as_uri())
        urls = requested_urls(browser)
        assert urls and all(u.split(":", 1)[0] in ("file", "data", "blob") for u in urls), urls
    text = browser.execute_script("return document.body.innerText")
    assert "Search" in text
    # a search quotes each page it finds, offline (the pages' text in _static/excerpts.js)
    browser.get((site / "search.html").as_uri() + "?q=generator")
    WebDriverWait(browser, 20).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#search-results li p.context")
    )
    quoted = browser.execute_script(
        "return [...document.querySelectorAll('#search-results li p.context')]"
        ".map(p => p.textContent)"
    )
    assert quoted and any("generator" in q.lower() for q in quoted), quoted
    assert all(u.split(":", 1)[0] in ("file", "data", "blob") for u in requested_urls(browser))


def test_book_command_says_what_is_missing(project, monkeypatch, capsys):
    for notebook in (project / "reports").glob("*.ipynb"):
        notebook.unlink()
    (project / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(project)
    assert main(["book"]) == 2
    assert "holds no executed notebook: run `make repro` first" in capsys.readouterr().err


def test_published_page_sets_ours_beside_the_papers(project):
    """At the figures' QF: our rows of each set, the papers' rows of the same set below them."""
    quality = load_params(project / "params.yaml").evaluate.figure_quality
    tables = project / "reports" / "evaluate" / "tables"
    tables.mkdir(parents=True)
    pd.DataFrame(
        {
            "set": ["live1_gray"] * 2,
            "quality": [quality] * 2,
            "method": ["jpeg", "ssim"],
            "psnr_y": [27.77, 28.9],
            "ssim_y": [0.79, 0.81],
            "niqe": [None, None],
        }
    ).to_csv(tables / "summary.csv", index=False)
    source = project / "src"
    assemble(project, source)
    page = (source / "published.md").read_text()
    assert f"## live1_gray, QF {quality}" in page and "28.9000" in page
    published = published_rows("live1_gray", quality)
    assert "Published, the same set and QF:" in page
    assert f"{published['psnr_y'].iloc[0]:.4f}" in page
    assert "niqe" not in page.split("Published")[0]  # an empty column is left out
    assert "not evaluated here" in page  # classic5, bsds500_gray at that QF


def _site(folder) -> None:
    """A small built site: pages in nested folders, written in an order that is not sorted."""
    for name, text in [("z.html", "z"), ("_static/b.css", "b"), ("a/i.html", "a"), ("m.js", "m")]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text * 100)


def test_the_book_zip_is_the_same_bytes_for_the_same_files(tmp_path, monkeypatch):
    """Issue 40, item 10: build/book.zip depends on the files, not on when they were written."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    site = tmp_path / "html"
    site.mkdir()
    _site(site)
    first = zip_folder(site, tmp_path / "one" / "book.zip").read_bytes()
    for number, path in enumerate(sorted(p for p in site.rglob("*"))):
        os.utime(path, (1_700_000_000 + number, 1_800_000_000 + 7 * number))  # rebuilt later
    (site / "m.js").chmod(0o600)
    assert zip_folder(site, tmp_path / "two" / "book.zip").read_bytes() == first
    with zipfile.ZipFile(tmp_path / "two" / "book.zip") as archive:
        names = [i.filename for i in archive.infolist() if not i.is_dir()]
        assert names == sorted(names) and "a/i.html" in names
        assert archive.read("z.html") == b"z" * 100
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01 00:00 UTC
    with zipfile.ZipFile(zip_folder(site, tmp_path / "three" / "book.zip")) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2026, 1, 1, 0, 0, 0)}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "soon")
    with pytest.raises(BookError, match="SOURCE_DATE_EPOCH='soon' is not a whole number"):
        zip_folder(site, tmp_path / "four" / "book.zip")
