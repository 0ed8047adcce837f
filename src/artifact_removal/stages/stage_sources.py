"""The source files a stage of dvc.yaml runs: what its command and notebook import, the
trainers and method modules of the methods it trains or reads, the resources those modules
read, as deps (a folder where the stage runs all of it)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from ..checkpoints import PACKAGE, import_closure
from ..methods import METHODS, Method
from ..methods import module_of as method_module

SRC = "src/artifact_removal"

# a module's resource files, read with `resources.files(__package__).joinpath("NAME")`
RESOURCE = re.compile(r"resources\.files\(__package__\)\.joinpath\(\"([^\"]+)\"\)")


def resources_read_by(module: str) -> set[str]:
    """The files (below the package) that a module of the package reads as resources."""
    path = PACKAGE / module
    folder = Path(module).parent.as_posix()
    return {f"{folder}/{name}" for name in RESOURCE.findall(path.read_text())}


def notebook_modules(notebook: Path) -> set[str]:
    """Modules of the package that a notebook imports (dotted, below the package)."""
    found = set()
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                f"{PACKAGE.name}."
            ):
                found.add(node.module.removeprefix(f"{PACKAGE.name}."))
    return found


def modules_run_by(stage: dict, methods: list[Method], root: Path) -> set[str]:
    """What a stage's command imports: the module it runs (`python -m artifact_removal.X`),
    the notebook it runs with it, the trainers of the methods it trains, the modules of the
    methods whose sections it reads, and the modules it names in `x-modules`."""
    cmd = stage["cmd"]
    modules = {re.search(rf"python -m {PACKAGE.name}\.(\S+)", cmd).group(1)}
    notebook = re.search(r"build/notebooks/(\S+\.ipynb)", cmd)
    if notebook:
        modules |= notebook_modules(root / "notebooks" / notebook.group(1))
    modules |= {f"training.{m.trainer}" for m in methods}
    sections = [p if isinstance(p, str) else "" for p in stage.get("params", [])]
    for m in METHODS.values():  # the method's module, and its network (a release names it)
        if any(p == m.section or p.startswith(f"{m.section}.") for p in sections):
            modules |= {method_module(m.name), *m.networks}
    for name in stage.get("x-modules", []):
        if name == "methods.*":
            modules |= {method_module(m) for m in METHODS}
        else:
            modules.add(name)
    return modules - {None}  # a method registered from outside the package has no module here


def source_files(modules: set[str]) -> list[str]:
    """The files behind `modules` (their import closures, with the packages they are in, and
    the resources they read), as deps: a folder where the stage runs every file in it, else
    file by file. The method modules that the package imports to fill the registry are not
    among them unless named: they declare params sections, whose values DVC tracks, so adding
    a method reruns no other method's stages."""
    modules = modules | {
        ".".join(m.split(".")[:i]) for m in modules for i in range(1, m.count(".") + 1)
    }
    files = {p.relative_to(PACKAGE).as_posix() for m in modules for p in import_closure(m)}
    files |= {r for f in list(files) if f.endswith(".py") for r in resources_read_by(f)}
    return [f"{SRC}/{name}" for name in _compact(files)]


def _package_files(folder: str) -> set[str]:
    """Every file DVC hashes in a folder of the package (not __pycache__)."""
    return {
        p.relative_to(PACKAGE).as_posix()
        for p in (PACKAGE / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _compact(files: set[str]) -> list[str]:
    """Top-level files first, then each sub-package: its folder when all of it is in `files`,
    else its files."""
    top = sorted(f for f in files if "/" not in f)
    rest = []
    for folder in sorted({f.split("/")[0] for f in files if "/" in f}):
        inside = {f for f in files if f.startswith(f"{folder}/")}
        rest += [folder] if inside >= _package_files(folder) else sorted(inside)
    return top + rest
