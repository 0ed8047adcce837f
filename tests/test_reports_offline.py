"""Offline HTML reports: math as MathML, tqdm bars in their final state, nothing fetched."""

from __future__ import annotations

import json
import re
import warnings

import nbformat
import pytest
from nbconvert.filters.markdown_mistune import MarkdownWithMath

from artifact_removal.stages.notebooks import (
    KERNEL_NAME,
    WIDGET_STATE,
    WIDGET_VIEW,
    MathMLRenderer,
    offline_copy,
    progress_html,
    render_html,
    run_notebook,
    tex_to_mathml,
)

from .browser import requested_urls
from .conftest import REPO

FORMULA = r"$$ l = l_P + \lambda l_{adv} $$"
KERNELSPEC = {"name": KERNEL_NAME, "language": "python", "display_name": KERNEL_NAME}


def markdown(source: str) -> str:
    """A markdown cell's HTML, as the reports render it."""
    return MarkdownWithMath(renderer=MathMLRenderer(escape=False)).render(source)


def tqdm_state(value: float, total: float, left: str, right: str, style: str = "") -> dict:
    """Widget models of a tqdm bar, shaped as an executed notebook stores them; the box is "box"."""

    def model(name: str, **state) -> dict:
        return {"model_module": "@jupyter-widgets/controls", "model_name": name, "state": state}

    return {
        "box": model("HBoxModel", children=["IPY_MODEL_l", "IPY_MODEL_p", "IPY_MODEL_r"]),
        "l": model("HTMLModel", value=left),
        "p": model("FloatProgressModel", value=value, max=total, min=0.0, bar_style=style),
        "r": model("HTMLModel", value=right),
    }


def test_inline_and_display_math_become_mathml():
    inline = tex_to_mathml("x^2")
    assert inline.startswith("<math") and 'display="inline"' in inline and "<msup>" in inline
    page = markdown(f"The loss\n\n{FORMULA}\n\nwhere $l_P$ is perceptual.")
    assert page.count("<math") == 2 and 'display="block"' in page
    assert "$" not in page and "\\lambda" not in page
    assert "&#x003BB;" in page  # λ


def test_dollars_in_code_stay_as_they_are():
    source = "Run `echo $HOME $PATH` first.\n\n```\nprice=$5; echo $price\n```\n"
    page = markdown(source)
    assert "<math" not in page
    assert "<code>echo $HOME $PATH</code>" in page
    assert "<code>price=$5; echo $price\n</code>" in page


def test_a_malformed_formula_stays_visible_with_a_warning():
    with pytest.raises(ValueError, match="cannot render the formula 'x\\^'"):
        tex_to_mathml("x^")
    with pytest.raises(ValueError, match=r"unknown \\lamda"):
        tex_to_mathml(r"\lamda + 1")
    with pytest.warns(UserWarning, match="cannot render the formula"):
        page = markdown("a typo: $x^$ here")
    assert '<code class="ar-math-error"' in page and "$x^$</code>" in page


@pytest.mark.parametrize("path", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_formula_in_the_notebooks_renders(path):
    notebook = nbformat.read(path, as_version=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a formula that cannot be rendered warns
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                markdown(cell.source)


FS = "\u2007"  # tqdm.notebook writes spaces as figure spaces


def test_a_progress_bar_shows_its_final_state():
    right = "\u2007300/300\u2007[00:12&lt;00:00,\u200724.1it/s]"  # as tqdm writes it
    bar = progress_html("box", tqdm_state(300.0, 300.0, "train:\u2007100%", right, "success"))
    assert '<progress value="300.0" max="300.0"' in bar
    assert "300/300\u2007[00:12&lt;00:00" in bar and "train:\u2007100%" in bar
    assert "var(--jp-success-color1)" in bar
    half = progress_html("box", tqdm_state(150.0, 300.0, "a", "b"))
    assert 'value="150.0" max="300.0"' in half and "var(--jp-brand-color1)" in half


def test_a_bar_closed_between_redraws_shows_the_counts_it_closed_at():
    # leave=False: tqdm set the value at close but the texts are those of its last redraw,
    # which depend on timing; the page must be the same whichever redraw was last
    stale = [(f"val:{FS}{FS}97%", f"{FS}70/72"), (f"val:{FS}{FS}{FS}1%", f"{FS}1/72")]
    pages = {progress_html("box", tqdm_state(72.0, 72.0, *texts)) for texts in stale}
    (page,) = pages
    assert f"val:{FS}100%</span>" in page and f"{FS}72/72</span>" in page
    # texts not in the stages' bar format stay as tqdm wrote them
    assert "b</span>" in progress_html("box", tqdm_state(72.0, 72.0, "a", "b"))


def test_progress_text_is_escaped_and_other_widgets_are_not_bars():
    models = tqdm_state(1.0, 2.0, "<script>alert(1)</script>", "&lt;b&gt;1/2&lt;/b&gt;")
    bar = progress_html("box", models)
    assert "<script>" not in bar and "<b>" not in bar
    assert "&lt;script&gt;" in bar and "&lt;b&gt;1/2&lt;/b&gt;" in bar
    models["p"]["model_name"] = "DropdownModel"
    assert progress_html("box", models) is None
    assert progress_html("missing", models) is None


def tqdm_notebook() -> nbformat.NotebookNode:
    """An executed notebook with a finished tqdm bar whose output still shows its first state."""
    view = {WIDGET_VIEW: {"model_id": "box"}, "text/plain": "train: 0%| | 0/300"}
    state = tqdm_state(300.0, 300.0, "train:\u2007100%", "\u2007300/300\u2007[00:01]", "success")
    cell = nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("display_data", view)])
    widgets = {WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    return nbformat.v4.new_notebook(cells=[cell], metadata={"widgets": widgets})


def test_offline_copy_replaces_a_bar_by_its_final_state():
    copy = offline_copy(tqdm_notebook())
    data = copy.cells[0].outputs[0].data
    assert WIDGET_VIEW not in data and "widgets" not in copy.metadata
    assert "300/300" in data["text/html"] and set(data) == {"text/html"}  # not the first state


def test_the_page_references_nothing_outside(tmp_path):
    notebook = tqdm_notebook()
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell(f"# Title\n\n{FORMULA}"))
    nbformat.write(notebook, tmp_path / "nb.ipynb")
    page = render_html(tmp_path / "nb.ipynb").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", page)
    assert "<script" not in page and "mathjax" not in page.lower()


def test_an_executed_report_works_offline_in_a_browser(browser, tmp_path):
    source = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(f"# Offline\n\nThe loss is\n\n{FORMULA}\n\nand `$HOME`."),
            nbformat.v4.new_code_cell(
                "from tqdm.auto import tqdm\n\nfor _ in tqdm(range(300), desc='train'):\n    pass"
            ),
        ],
        metadata={"kernelspec": KERNELSPEC},
    )
    nbformat.write(source, tmp_path / "source.ipynb")
    run_notebook(tmp_path / "source.ipynb", tmp_path / "report.ipynb", cwd=tmp_path)
    first = {p.name: p.read_bytes() for p in tmp_path.glob("report.*")}
    run_notebook(tmp_path / "source.ipynb", tmp_path / "report.ipynb", cwd=tmp_path)
    again = {p.name: p.read_bytes() for p in tmp_path.glob("report.*")}
    assert first == again and len(first) == 2  # the same bytes: no times, no random ids
    outputs = json.dumps(nbformat.read(tmp_path / "report.ipynb", as_version=4).cells[1].outputs)
    assert "300/300" in outputs and WIDGET_VIEW not in outputs and "it/s" not in outputs
    page = (tmp_path / "report.html").as_uri()

    browser.get_log("performance")  # forget what came before
    browser.get(page)
    urls = requested_urls(browser)
    assert page in urls
    assert all(url.split(":", 1)[0] in ("file", "data", "blob") for url in urls), urls

    text = browser.execute_script("return document.body.innerText")
    assert "$$" not in text and "\\lambda" not in text and "$HOME" in text
    math, width, height = browser.execute_script(
        "const math = document.querySelector('math[display=block]');"
        "const box = math.getBoundingClientRect();"
        "return [math.textContent, box.width, box.height];"
    )
    assert "λ" in math and width > 20 and height > 10, (math, width, height)
    assert "300/300" in text and "0/300" not in text.replace("300/300", "")
    assert browser.execute_script("return document.querySelector('progress').position") == 1


def test_a_report_shows_its_parameters_once_and_the_kernel_says_nothing_of_tcp(tmp_path, capfd):
    """Issue 27, case 9: papermill's injected cell folded into the defaults' cell in the HTML
    (the passed value in place of the default, comments kept); the kernel runs over local IPC
    sockets, so no stage prints "Kernel is running over TCP without encryption"."""
    cells = [nbformat.v4.new_code_cell('quality = 10  # the QF\nmethod = "ssim"',
                                       metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("print(quality, method)")]  # fmt: skip
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}),
                   tmp_path / "source.ipynb")  # fmt: skip
    run_notebook(tmp_path / "source.ipynb", tmp_path / "report.ipynb", {"quality": 40},
                 cwd=tmp_path)  # fmt: skip
    assert "TCP" not in capfd.readouterr().err
    executed = nbformat.read(tmp_path / "report.ipynb", as_version=4)
    assert "40 ssim" in json.dumps(executed.cells[-1].outputs)
    assert len(executed.cells) == 3  # the executed notebook keeps papermill's two cells
    page = (tmp_path / "report.html").read_text()
    assert "injected-parameters" not in page and page.count("celltag_parameters") == 1
    text = re.sub(r"<[^>]+>", "", page)
    assert "quality = 40  # the QF" in text and "quality = 10" not in text
