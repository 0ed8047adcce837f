"""Running the stage notebooks: papermill for execution, nbconvert for the HTML rendering.

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
import sys
from pathlib import Path

import nbformat

from ..config import parse_yaml
from ..fileio import write_text

KERNEL_NAME = "artifact-removal"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


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
    papermill.execute_notebook(
        str(notebook),
        str(output),
        parameters=parameters or {},
        kernel_name=kernel,
        cwd=str(cwd),
        progress_bar=True,
        coalesce_streams=True,  # keep the final state of text progress bars, not every update
    )
    if html:
        render_html(output)
    return output


def offline_copy(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy whose widgets show as their fallback, so the page needs no network.

    A live widget view needs the Jupyter widget manager, which nbconvert loads from a CDN.
    Each widget output also carries a static form: `text/html` for this package's widgets
    (a working slider), `text/plain` for others (a progress bar's last state).
    """
    notebook = copy.deepcopy(notebook)
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and len(data) > 1:
                del data[WIDGET_VIEW]
    return notebook


def render_html(notebook: str | Path) -> Path:
    """A standalone HTML rendering of an executed notebook, next to it."""
    from nbconvert import HTMLExporter

    notebook = Path(notebook)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(
        offline_copy(nbformat.read(notebook, as_version=4))
    )
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
