"""The package's shape: imports go one way, and every stage depends on all it reads."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from artifact_removal.checkpoints import PACKAGE, import_closure, imported_modules
from artifact_removal.methods import METHODS
from artifact_removal.methods.predictors import PREDICTORS
from artifact_removal.stages.stage_sources import notebook_modules, resources_read_by

from .conftest import REPO

# Rooms of the package from the top down; a room imports only from its own layer or below.
LAYERS = (
    ("cli", "__main__", "api"),
    ("stages", "book", "lessons"),
    ("restore",),  # the restore command: the stages never import it (checked below)
    ("training",),
    ("inference",),
    ("data",),
    ("archs", "losses", "metrics"),
    ("degradations", "methods", "pretrained"),
    ("config", "checkpoints", "runtime", "fileio"),
)
LAYER = {room: depth for depth, rooms in enumerate(LAYERS) for room in rooms}


def _room(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _edges() -> set[tuple[str, str]]:
    """(room, room) for every import between rooms, also imports inside functions."""
    edges = set()
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "__init__.py":  # it only imports `methods`, to register them
            continue
        for name in imported_modules(path):
            target = name.split(".")[0]
            if target != _room(path):
                edges.add((_room(path), target))
    return edges


def test_every_room_has_a_layer():
    rooms = {_room(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert rooms == set(LAYER)


def test_imports_go_one_way():
    upward = sorted((a, b) for a, b in _edges() if LAYER[b] < LAYER[a])
    assert not upward, f"imports from a lower room to a higher one: {upward}"
    assert ("inference", "training") not in _edges()
    assert ("restore", "training") not in _edges()
    assert not {("stages", "restore"), ("book", "restore"), ("lessons", "restore")} & _edges()


def test_no_cycle_between_rooms():
    graph: dict[str, set[str]] = {}
    for a, b in _edges():
        graph.setdefault(a, set()).add(b)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(room for room in graph if reaches(room, room, {room}))
    assert not cycles, f"rooms in an import cycle: {cycles}"


def _modules(root: Path) -> dict[str, Path]:
    """Every module of the package at `root`, by dotted name below it (a package: its name)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(root: Path) -> tuple[dict[str, set[str]], list[str]]:
    """Each module's imports of the package's modules (also inside functions), and every import
    of another module's private name (`_name`) as `module:line imports target._name`."""
    modules = _modules(root)
    edges: dict[str, set[str]] = {name: set() for name in modules}
    private = []
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges[name] |= {
                    a.name.partition(".")[2] for a in node.names
                    if a.name.startswith(root.name + ".") and a.name.partition(".")[2] in modules
                }  # fmt: skip
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                parts = [*package[: len(package) - node.level + 1], *(node.module or "").split(".")]
            elif (node.module or "").split(".")[0] == root.name:
                parts = node.module.split(".")[1:]
            else:
                continue
            target = ".".join(p for p in parts if p)
            for alias in node.names:
                if f"{target}.{alias.name}".strip(".") in modules:
                    edges[name].add(f"{target}.{alias.name}".strip("."))
                    continue
                if target in modules:
                    edges[name].add(target)
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    private.append(f"{name}:{node.lineno} imports {target}.{alias.name}")
    return {k: v - {k} for k, v in edges.items()}, private


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: groups of modules that reach each other (Tarjan's components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1:
                circles.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return circles


def _parents_removed(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """Without the edges from a package's `__init__` to its own modules: it gathers them."""
    return {
        name: {t for t in targets if not t.startswith(name + ".")} if name else set(targets)
        for name, targets in edges.items()
    }


def test_no_module_imports_another_modules_private_name():
    _, private = _imports(PACKAGE)
    assert not private, "private names imported across modules:\n" + "\n".join(private)


def test_no_import_circle_even_inside_a_package():
    circles = _circles(_parents_removed(_imports(PACKAGE)[0]))
    assert not circles, f"modules in an import circle: {circles}"


def test_the_import_checks_fail_on_a_planted_circle_and_private_import(tmp_path):
    package = tmp_path / "planted"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("from . import one\n")
    (package / "inner" / "one.py").write_text("def f():\n    from .two import g\n")
    (package / "inner" / "two.py").write_text("from .one import f\nfrom ..three import _hidden\n")
    (package / "three.py").write_text("_hidden = 1\n")
    (package / "four.py").write_text("import planted.inner.one\n")
    edges, private = _imports(package)
    assert private == ["inner.two:2 imports three._hidden"]
    assert _circles(_parents_removed(edges)) == [["inner.one", "inner.two"]]
    assert edges["four"] == {"inner.one"} and edges["inner"] == {"inner.one"}


def _stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _modules_run_by(name: str, stage: dict) -> set[str]:
    """What a stage's command imports: the module it runs (`python -m artifact_removal.X`), the
    notebook it runs with it, and the trainer that the run engine imports by name."""
    cmd = stage.get("do", stage)["cmd"]
    modules = {re.search(r"python -m artifact_removal\.(\S+)", cmd).group(1)}
    match = re.search(r"build/notebooks/(\S+\.ipynb)", cmd)
    if match:
        modules |= notebook_modules(REPO / "notebooks" / match.group(1))
    trainers = {m.section: {f"training.{m.trainer}"} for m in METHODS.values()}
    for predictor in PREDICTORS.values():  # the stage that trains it (train_qf, video)
        trainers.setdefault(predictor.stage, set()).add(f"training.{predictor.trainer}")
    return modules | trainers.get(name, set())


@pytest.mark.parametrize("name", sorted(_stages()))
def test_stage_deps_cover_every_file_the_stage_runs(name):
    stage = _stages()[name]
    deps = [d for d in stage.get("do", stage).get("deps", []) if d.startswith("src/")]
    modules = _modules_run_by(name, stage)
    files = {p.relative_to(PACKAGE).as_posix() for m in modules for p in import_closure(m)}
    files |= {r for f in list(files) if f.endswith(".py") for r in resources_read_by(f)}
    listed = [d.removeprefix("src/artifact_removal/").rstrip("/") for d in deps]
    covered = {f for f in files for d in listed if f == d or f.startswith(d + "/")}
    missing = sorted(files - covered)
    assert not missing, f"stage {name} runs {missing}, which its deps do not name"


def test_every_method_has_its_training_stage_and_is_read_where_it_is_compared():
    stages = _stages()
    for method in METHODS.values():
        stage = stages[method.stage_name]
        if method.codec == "h264":  # the video stage trains its methods at every CRF itself
            _check_video_method(method, stage)
            continue
        assert stage["foreach"] == f"${{{method.qualities_key}}}"
        body = stage["do"]
        assert f"src/artifact_removal/training/{method.trainer}.py" in body["deps"]
        assert f"${{{method.section}.models_dir}}/q${{item}}.pt" in body["outs"]
        assert method.section in body["params"]
        if method.starts_from:  # its start is made before the stage, or by the stage itself
            start = f"${{{METHODS[method.starts_from].section}.models_dir}}/q${{item}}.pt"
            assert start in body["deps"] or start in body["outs"]
        recorded = [key for p in body["params"] if isinstance(p, dict)
                    for key in p.get("models/pretrained.yaml", [])]  # fmt: skip
        for backbone in method.backbones:
            assert backbone in recorded
        # they restore with every method's generators
        for reader in ("evaluate", "compare", "study", "detection"):
            assert f"${{{method.section}.models_dir}}" in stages[reader]["deps"], reader


def _check_video_method(method, stage) -> None:
    """A method trained on H.264 frames: the video stage names its trainer, section, release
    folder, training reports, start and backbones, and scores it itself."""
    assert f"src/artifact_removal/training/{method.trainer}.py" in stage["deps"]
    assert f"${{{method.section}.models_dir}}" in stage["outs"]
    assert f"${{reports.dir}}/{method.section}" in stage["outs"]
    assert method.section in stage["params"]
    assert method.qualities_key in stage["params"] or "degradation.h264" in stage["params"]
    if method.starts_from:
        assert f"${{{METHODS[method.starts_from].section}.models_dir}}" in stage["outs"]
    recorded = [key for p in stage["params"] if isinstance(p, dict)
                for key in p.get("models/pretrained.yaml", [])]  # fmt: skip
    assert all(backbone in recorded for backbone in method.backbones)


def test_dvc_yaml_is_made_from_the_template_and_the_registry():
    """dvc.yaml is what `make pipeline` writes now: an edit of the template or of a method's
    module without `make pipeline` fails here."""
    from artifact_removal.stages.pipeline import build

    assert (REPO / "dvc.yaml").read_text() == build(REPO), "run `make pipeline`"


def test_a_change_to_the_gan_leaves_the_ssim_stage_as_it_is():
    """Deps at the granularity of the code fingerprint: the SSIM generators' stage names
    neither the GAN's trainer, its losses nor its method module, nor NoGAN's; the GAN's
    stage names its own and the SSIM release it starts from."""
    stages = _stages()
    ssim, gan = stages["train_ssim"]["do"]["deps"], stages["train_gan"]["do"]["deps"]
    others = (
        "training/gan.py",
        "losses/adversarial.py",
        "losses/perceptual.py",
        "methods/gan.py",
        "methods/nogan.py",
        "training/nogan.py",
        "archs/unet.py",
    )
    for other in others:
        assert f"src/artifact_removal/{other}" not in ssim, other
    assert "src/artifact_removal/training/gan.py" in gan
    assert "src/artifact_removal/methods/gan.py" in gan
    assert "${train_ssim.models_dir}/q${item}.pt" in gan
    assert not any(d.startswith("src/artifact_removal/methods/video") for d in ssim + gan)
    for reader in ("evaluate", "compare", "study", "detection"):  # NoGAN's releases: a U-Net
        assert "src/artifact_removal/archs/unet.py" in stages[reader]["deps"], reader
