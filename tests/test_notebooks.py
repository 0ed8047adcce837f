"""Notebook hygiene: one parameters cell, no outputs, no definitions; stripping keeps tags."""

from __future__ import annotations

import ast

import nbformat
import pytest

from artifact_removal.stages.notebooks import KERNEL_NAME, strip_folder, strip_notebook

from .conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS][:1] == ["01_prepare_data.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    assert all(not c.outputs and c.execution_count is None for c in code)
    for cell in code:
        tree = ast.parse(cell.source)
        defined = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
        ]
        assert not defined, f"{path.name}: define functions in src/, not in notebooks"
    assert notebook.cells[0].cell_type == "markdown"
    assert notebook.cells[0].source.startswith(f"# {path.name[:2]} · ")
    assert notebook.metadata.kernelspec.name == KERNEL_NAME


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_only_assigns(path):
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    assert all(isinstance(n, ast.Assign) for n in ast.parse(cell.source).body)


def test_strip_removes_outputs_and_keeps_tags(tmp_path):
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"], "papermill": {}}),
            nbformat.v4.new_code_cell(
                "x", execution_count=3, outputs=[nbformat.v4.new_output("stream", text="1")]
            ),
        ],
        metadata={"papermill": {"duration": 1.0}},
    )
    stripped = strip_notebook(notebook)
    assert stripped.cells[0].metadata == {"tags": ["parameters"]}
    assert stripped.cells[1].outputs == [] and stripped.cells[1].execution_count is None
    assert "papermill" not in stripped.metadata

    (tmp_path / "src").mkdir()
    nbformat.write(notebook, tmp_path / "src/01_x.ipynb")
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst/99_gone.ipynb").write_text("{}")
    copies = strip_folder(tmp_path / "src", tmp_path / "dst")
    assert [p.name for p in copies] == ["01_x.ipynb"]
    assert not (tmp_path / "dst/99_gone.ipynb").exists()
    first = copies[0].read_bytes()
    strip_folder(tmp_path / "src", tmp_path / "dst")
    assert copies[0].read_bytes() == first


def test_committed_notebooks_are_already_stripped(tmp_path):
    copies = strip_folder(REPO / "notebooks", tmp_path)
    for copy in copies:
        original = nbformat.read(REPO / "notebooks" / copy.name, as_version=4)
        assert nbformat.read(copy, as_version=4) == strip_notebook(original)
