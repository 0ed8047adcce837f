"""Running the stage notebooks: papermill for execution, nbconvert for the HTML rendering.

The HTML reports work offline: no script comes from a CDN. Formulas in markdown cells
(`$...$`, `$$...$$`) become MathML when the page is built, which browsers render natively, and
each tqdm progress bar shows its final state as static HTML.

Stages run a *stripped copy* of each notebook (outputs and execution counts removed), so that
opening and running a notebook by hand does not make the pipeline stale: DVC compares hashes,
and the stripped copy only changes when the code or the text does.

The DVC stages call this module directly, `python -m artifact_removal.stages.notebooks run NB
OUT -p NAME VALUE` and `... strip SRC DST`, rather than the command line, so that a stage
depends on this runner and not on every command of `cli.py`.
"""

from __future__ import annotations

import argparse
import copy
import html
import os
import re
import sys
import warnings
from pathlib import Path

import nbformat
from jinja2 import pass_context
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

from ..config import parse_yaml
from ..fileio import write_text

KERNEL_NAME = "artifact-removal"
# tqdm reads its defaults from TQDM_* variables: stage notebooks draw bars without elapsed time
# and rate, so that a report is the same file whenever it is made
TQDM_FORMAT = "TQDM_BAR_FORMAT"
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# The "lab" template without the blocks that load require.js, MathJax, mermaid and the widget
# manager from a CDN: the page needs none of them once math is MathML and widgets are static.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
"""
# tqdm.notebook's bar: an HBox of the description, the progress and the counts; its texts
# in BAR_FORMAT's shape, spaces written as figure spaces.
FIGURE_SPACE = "\u2007"
BAR_PERCENT = re.compile(rf"^(?P<desc>.*:{FIGURE_SPACE})[{FIGURE_SPACE}\d]{{2}}\d%$")
BAR_COUNTS = re.compile(rf"^(?P<pad>{FIGURE_SPACE}*)\d+/(?P<total>\d+)$")
TQDM_BOXES = {("HTMLModel", f"{kind}ProgressModel", "HTMLModel") for kind in ("Float", "Int")}
# ipywidgets' colours for a progress bar's `bar_style`, as JupyterLab's theme names them.
BAR_COLORS = {"success": "success", "info": "info", "warning": "warn", "danger": "error"}


class NotebookError(RuntimeError):
    """A notebook that cannot be run; the message says why and how to fix it."""


def strip_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Outputs, execution counts and run metadata removed; cell tags kept."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        tags = cell.metadata.get("tags")
        cell.metadata = nbformat.NotebookNode({"tags": tags} if tags else {})
    for key in ("widgets", "papermill", "execution"):
        notebook.metadata.pop(key, None)
    return notebook


def strip_folder(src: str | Path, dst: str | Path) -> list[Path]:
    """Write a stripped copy of every notebook in `src` to `dst`; returns the copies."""
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for stale in dst.glob("*.ipynb"):
        if not (src / stale.name).exists():
            stale.unlink()
    written = []
    for path in sorted(src.glob("*.ipynb")):
        notebook = strip_notebook(nbformat.read(path, as_version=4))
        write_text(dst / path.name, nbformat.writes(notebook) + "\n")
        written.append(dst / path.name)
    return written


def check_kernel(name: str = KERNEL_NAME) -> None:
    """Fail early, with the fix, when the project's Jupyter kernel is not installed."""
    from jupyter_client.kernelspec import KernelSpecManager

    if name not in KernelSpecManager().find_kernel_specs():
        raise NotebookError(
            f"Jupyter kernel '{name}' is not installed. `make venv` installs it, or run: "
            f"python -m ipykernel install --sys-prefix --name {name}"
        )


def local_kernel_manager() -> type:
    """papermill's kernel manager talking to the kernel over local sockets (ZeroMQ IPC, files
    in Jupyter's runtime folder) instead of TCP on localhost: nothing listens on a port, and
    the kernel has no reason to warn on every stage that its TCP traffic is unencrypted."""
    import uuid

    from jupyter_client import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets import default

    class LocalKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self) -> str:
            return "ipc"

        @default("ip")
        def _ip_default(self) -> str:  # the sockets' path prefix: `<prefix>-1` .. `-5`
            folder = Path(jupyter_runtime_dir())
            folder.mkdir(parents=True, exist_ok=True)
            return str(folder / f"ar-kernel-{uuid.uuid4().hex[:12]}")

    return LocalKernelManager


def run_notebook(
    notebook: str | Path,
    output: str | Path,
    parameters: dict | None = None,
    kernel: str = KERNEL_NAME,
    html: bool = True,
    cwd: str | Path = ".",
) -> Path:
    """Execute `notebook` with papermill into `output` (and `output` as .html); returns output."""
    import papermill

    check_kernel(kernel)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    saved = os.environ.get(TQDM_FORMAT)
    os.environ[TQDM_FORMAT] = BAR_FORMAT  # the kernel inherits it: bars without times
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters or {},
            kernel_name=kernel,
            cwd=str(cwd),
            progress_bar=True,
            kernel_manager_class=local_kernel_manager(),
            coalesce_streams=True,  # keep the final state of text progress bars
        )
    finally:
        if saved is None:
            os.environ.pop(TQDM_FORMAT)
        else:
            os.environ[TQDM_FORMAT] = saved
    executed = with_corpus_note(
        reproducible(nbformat.read(output, as_version=4)), (parameters or {}).get("params_path")
    )
    write_text(output, nbformat.writes(executed) + "\n")
    if html:
        render_html(output, executed)
    return output


def with_corpus_note(
    notebook: nbformat.NotebookNode, params_path: str | None
) -> nbformat.NotebookNode:
    """The report with a warning under its title when the corpus fell back to the embedded
    one or a test set is missing (`data.corpus.corpus_note`): what was missing, how to get it,
    that figures are weaker."""
    if not params_path or not Path(params_path).is_file():
        return notebook
    from ..config import load_params, resolve_path
    from ..data.prepared import corpus_note, missing_test_sets

    params_file = Path(params_path).resolve()
    data = load_params(params_file).data
    root = params_file.parent
    sets = {name: resolve_path(data.sets_dir, root) / name for name in data.extra_sets}
    note = corpus_note(resolve_path(data.prepared_dir, root), missing_test_sets(sets))
    if note:
        cell = nbformat.v4.new_markdown_cell(f"> {note}")
        cell.id = "corpus-note"
        notebook.cells.insert(1, cell)
    return notebook


def reproducible(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The executed notebook as the pipeline keeps it: the same bytes from the same inputs.

    papermill and nbclient record when each cell ran, and a live widget's output names a random
    model id; both would change the report's hash in `dvc.lock` on every run (and a fresh
    clone's `make repro` would leave `dvc.lock` modified). Timings are dropped and widgets keep
    their static form (`offline_copy`); progress bars were drawn without times (`BAR_FORMAT`).
    """
    notebook = offline_copy(notebook)
    for key in ("start_time", "end_time", "duration"):
        notebook.metadata.get("papermill", {}).pop(key, None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"  # papermill gives it a random id
    return notebook


def tex_to_mathml(tex: str, display: str = "inline") -> str:
    """MathML for a TeX formula, `display` "inline" or "block"; ValueError if it is malformed."""
    from latex2mathml.converter import convert

    tex = tex.strip()
    try:
        mathml = convert(tex, display=display)
    except Exception as err:  # latex2mathml's errors share no base class of their own
        raise ValueError(f"cannot render the formula {tex!r}: {err!r}") from err
    unknown = re.search(r">[^<]*(\\[A-Za-z]+)", mathml)  # a command it passed through as text
    if unknown:
        raise ValueError(f"cannot render the formula {tex!r}: unknown {unknown[1]}")
    return mathml


def math_html(tex: str, display: str) -> str:
    """A formula as MathML; a malformed one stays visible as its TeX source, with a warning."""
    try:
        return tex_to_mathml(tex, display)
    except ValueError as err:
        warnings.warn(str(err), stacklevel=2)
        source = html.escape(f"$${tex}$$" if display == "block" else f"${tex}$")
        return f'<code class="ar-math-error" title="{html.escape(str(err))}">{source}</code>'


class MathMLRenderer(IPythonRenderer):
    r"""nbconvert's markdown renderer, with math as MathML instead of TeX left for MathJax.

    nbconvert's parser finds the math (`$...$`, `$$...$$`, `\(...\)`, `\[...\]`,
    `\begin{env}...\end{env}`), never inside code spans or fenced code blocks.
    """

    def inline_math(self, body: str) -> str:
        return math_html(body, "inline")

    def block_math(self, body: str) -> str:
        return math_html(body, "block")

    def latex_environment(self, name: str, body: str) -> str:
        return math_html(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")


class OfflineHTMLExporter(HTMLExporter):
    """nbconvert's "lab" HTML exporter whose pages load nothing from outside."""

    def __init__(self, **kwargs):
        super().__init__(template_name="lab", raw_template=OFFLINE_TEMPLATE, **kwargs)

    @pass_context
    def markdown2html(self, context, source: str) -> str:
        """Markdown to HTML as HTMLExporter does it, math as MathML."""
        cell = context.get("cell", {})
        renderer = MathMLRenderer(
            escape=False,
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
            **self.lexer_options,
        )
        return MarkdownWithMath(renderer=renderer).render(source)


def widget_text(value: str) -> str:
    """An HTML widget's value as escaped text: what tqdm shows, no markup of its own."""
    return html.escape(html.unescape(value))


def progress_html(model_id: str, models: dict) -> str | None:
    """Static HTML of a tqdm progress bar's state in `models` (the notebook's widget state):
    description, bar filled to value/max, counts; None if the widget is not a tqdm bar."""
    box = models.get(model_id, {})
    ids = box.get("state", {}).get("children", [])
    parts = [models.get(i.removeprefix("IPY_MODEL_"), {}) for i in ids]
    names = tuple(p.get("model_name") for p in parts)
    if box.get("model_name") != "HBoxModel" or names not in TQDM_BOXES:
        return None
    left, bar, right = (p["state"] for p in parts)
    low, high = bar.get("min", 0), bar.get("max", 100)
    done = min(max(bar.get("value", 0), low), high) - low
    color = f"var(--jp-{BAR_COLORS.get(bar.get('bar_style', ''), 'brand')}-color1)"
    texts = final_texts(left.get("value", ""), right.get("value", ""), done, high - low)
    return (
        '<div class="ar-progress" style="display: flex; align-items: center; gap: 0.5em">'
        f"<span>{widget_text(texts[0])}</span>"
        f'<progress value="{done}" max="{high - low}" '
        f'style="width: 20em; accent-color: {color}"></progress>'
        f"<span>{widget_text(texts[1])}</span></div>"
    )


def final_texts(left: str, right: str, done: float, total: float) -> tuple[str, str]:
    """A bar's texts with its percentage and count read from the bar itself.

    tqdm writes its texts only when it redraws, at most every `mininterval` seconds, but sets
    the bar's value when it closes; a bar closed with `leave=False` keeps the texts of its last
    redraw, which depends on timing (70/72 in one run, 72/72 in the next). Texts in
    `BAR_FORMAT`'s shape are rewritten from the bar, so a report is the same file every run;
    others are kept as they are.
    """
    percent, counts = BAR_PERCENT.match(left), BAR_COUNTS.match(right)
    if percent is None or counts is None or total <= 0 or int(counts["total"]) != total:
        return left, right
    figure = f"{100 * done / total:3.0f}%".replace(" ", FIGURE_SPACE)
    return f"{percent['desc']}{figure}", f"{counts['pad']}{done:.0f}/{counts['total']}"


def offline_copy(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy whose widgets show in static form, so the page needs no network.

    A live widget view needs the Jupyter widget manager, which nbconvert loads from a CDN.
    A tqdm progress bar becomes static HTML of its final state, read from the notebook's
    widget state (its `text/plain` is its first state). Other widget outputs keep their static
    form: `text/html` for this package's widgets (a working slider), else `text/plain`.
    """
    notebook = copy.deepcopy(notebook)
    widgets = notebook.metadata.pop("widgets", {})
    models = widgets.get(WIDGET_STATE, {}).get("state", {})
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW not in data:
                continue
            bar = progress_html(data[WIDGET_VIEW].get("model_id", ""), models)
            if bar is not None:  # its text/plain is the first state: drop it
                data.clear()
                data["text/html"] = bar
            if len(data) > 1:
                del data[WIDGET_VIEW]
    return notebook


ASSIGNMENT = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>.*?)(?P<comment>\s+#.*)?$")


def one_parameters_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with its parameters shown once: papermill keeps the notebook's `parameters`
    cell (the defaults) and adds an `injected-parameters` cell after it (what the stage
    passed), so a report would show two. Here the defaults' cell shows the values that ran
    (each passed value in place of its default, its comment kept, new names added) and the
    injected cell is left out. Only the rendering changes; the executed notebook keeps both."""
    cells = notebook.cells
    tags = [cell.metadata.get("tags", []) for cell in cells]
    injected = next((i for i, t in enumerate(tags) if "injected-parameters" in t), None)
    defaults = next((i for i, t in enumerate(tags) if "parameters" in t), None)
    if injected is None or defaults is None:
        return notebook
    passed = {}
    for line in cells[injected].source.splitlines():
        found = ASSIGNMENT.match(line)
        if found:
            passed[found["name"]] = found["value"]
    lines = []
    for line in cells[defaults].source.splitlines():
        found = ASSIGNMENT.match(line)
        if found and found["name"] in passed:
            line = f"{found['name']} = {passed.pop(found['name'])}{found['comment'] or ''}"
        lines.append(line)
    lines += [f"{name} = {value}  # passed by the stage" for name, value in passed.items()]
    notebook = copy.deepcopy(notebook)
    notebook.cells[defaults].source = "\n".join(lines)
    del notebook.cells[injected]
    return notebook


def render_html(notebook: str | Path, node: nbformat.NotebookNode | None = None) -> Path:
    """A standalone HTML rendering of an executed notebook, next to it; it loads nothing from
    outside (math as MathML, widgets in static form), and shows the parameters once
    (`one_parameters_cell`). `node`: the notebook already read and made static
    (`reproducible`), so it is not read and copied again."""
    notebook = Path(notebook)
    if node is None:
        node = offline_copy(nbformat.read(notebook, as_version=4))
    body, _ = OfflineHTMLExporter().from_notebook_node(one_parameters_cell(node))
    target = notebook.with_suffix(".html")
    write_text(target, body)
    return target


def main(argv: list[str] | None = None) -> int:
    """`run NOTEBOOK OUTPUT [-p NAME VALUE]... [--no-html]` or `strip SRC DST`."""
    parser = argparse.ArgumentParser(prog="python -m artifact_removal.stages.notebooks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a notebook with papermill, render HTML")
    run.add_argument("notebook")
    run.add_argument("output")
    run.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"))
    run.add_argument("--no-html", action="store_true")
    strip = sub.add_parser("strip", help="copies of notebooks without outputs")
    strip.add_argument("src")
    strip.add_argument("dst")
    args = parser.parse_args(argv)
    try:
        if args.command == "strip":
            for path in strip_folder(args.src, args.dst):
                print(f"stripped {path}")
            return 0
        parameters = {name: parse_yaml(value, f"-p {name}") for name, value in args.parameter or []}
        print(
            f"wrote {run_notebook(args.notebook, args.output, parameters, html=not args.no_html)}"
        )
        return 0
    except NotebookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
