"""A Sphinx extension: formulas as MathML, which browsers render with no script.

Sphinx's own HTML math renderers load MathJax (from a CDN unless told otherwise) or need LaTeX
installed. This one turns each formula into MathML when the page is built, with the converter
the HTML reports use (`stages.notebooks.tex_to_mathml`), so the book reads the same offline.
Enabled by `extensions = ["artifact_removal.book.mathml"]` and `html_math_renderer = "mathml"`.
"""

from __future__ import annotations

from docutils import nodes

from ..stages.notebooks import math_html

NAME = "mathml"


def visit_math(translator, node: nodes.math) -> None:
    """An inline formula: `<math>` in a span."""
    translator.body.append(translator.starttag(node, "span", "", CLASS="math"))
    translator.body.append(math_html(node.astext(), "inline") + "</span>")
    raise nodes.SkipNode


def visit_displaymath(translator, node: nodes.math_block) -> None:
    """A displayed formula (`$$...$$`, a `math` directive): one `<math display="block">` per
    equation (equations are separated by blank lines), with its number when it has one."""
    translator.body.append(translator.starttag(node, "div", CLASS="math"))
    if node.get("number"):
        translator.body.append(f'<span class="eqno">({node["number"]})</span>')
    for part in (p for p in node.astext().split("\n\n") if p.strip()):
        translator.body.append(math_html(part, "block"))
    translator.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app) -> dict:
    """Register the renderer; the book's configuration selects it."""
    app.add_html_math_renderer(NAME, (visit_math, None), (visit_displaymath, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
