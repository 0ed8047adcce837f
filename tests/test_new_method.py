"""Adding a method as a person would: its files written into a copy of the package, the
command that `make pipeline` runs (its section in params.yaml and the tiny profile, its name
where methods are shown, its training stage in dvc.yaml, its releases read by evaluation),
and a few steps of training through the command line. The files written by hand are exactly
those that docs/reference.md's "Adding a method" lists."""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from artifact_removal.checkpoints import PACKAGE

from .conftest import REPO

# A method with a recipe of its own: the supervised generator under the Charbonnier loss
# (a smooth L1), with its params schema, checks and defaults.
METHOD = '''"""A supervised generator under the Charbonnier loss (a smooth L1)."""

from __future__ import annotations

from typing import Literal

from pydantic.dataclasses import dataclass as schema

from ..config import STRICT, Positive, Rate
from .registry import method
from .ssim import check_supervised


@method(
    "charbonnier",
    label="Charbonnier generator",
    section="train_charbonnier",
    trainer="charbonnier",
    combine="blend",
    order=12,
    check=check_supervised("train_charbonnier"),
    notebook="02_train_ssim.ipynb",
    summary="a smooth L1 generator",
    defaults={"generator": "tiny", "loss": {"l1": 1.0}, "patch_size": 64, "batch_size": 2,
              "steps": 700, "lr": 0.002, "schedule": "cosine", "checkpoint_every": 100,
              "val_every": 200, "epsilon": 0.001, "models_dir": "models/charbonnier"},
    profiles={"tiny": {"steps": 10}},
)
@schema(config=STRICT)
class TrainCharbonnierParams:
    generator: Literal["paper", "fast", "very_fast", "tiny"]
    loss: dict[Literal["l1"], float]
    patch_size: Positive
    batch_size: Positive
    steps: Positive
    lr: Rate
    schedule: Literal["constant", "cosine"]
    checkpoint_every: Positive
    val_every: Positive
    epsilon: float
    models_dir: str
'''

TRAINER = '''"""The Charbonnier generator's recipe: the supervised one, with its own loss."""

from __future__ import annotations

import torch

from .supervised import Recipe as Supervised


class Charbonnier(torch.nn.Module):
    def __init__(self, epsilon: float):
        super().__init__()
        self.epsilon = epsilon

    def forward(self, pred, gt):
        total = torch.sqrt((pred - gt) ** 2 + self.epsilon**2).mean()
        return total, {"charbonnier": total.detach()}


class Recipe(Supervised):
    def loss(self) -> torch.nn.Module:
        return Charbonnier(self.run.settings.epsilon)
'''


def _written(original: Path, copy: Path) -> list[str]:
    """Files of `copy` that `original` lacks or holds otherwise (caches left out)."""
    changed = []
    for path in sorted(copy.rglob("*.py")):
        twin = original / path.relative_to(copy)
        if not twin.is_file() or not filecmp.cmp(path, twin, shallow=False):
            changed.append(path.relative_to(copy).as_posix())
    return changed


def _listed(kind: str) -> list[str]:
    """The files "Adding a method" says a person writes for a method of `kind`."""
    text = (REPO / "docs/reference.md").read_text()
    section = text.split("## Adding a method", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in section.splitlines() if line.startswith(f"| {kind} |"))
    return re.findall(r"`([a-z_]+/<name>\.py)`", row)


def test_adding_a_method_lists_a_file_for_each_kind():
    assert _listed("a variant of a recipe") == ["methods/<name>.py"]
    assert _listed("a recipe of its own") == ["methods/<name>.py", "training/<name>.py"]
    assert _listed("a network of its own") == [
        "methods/<name>.py",
        "training/<name>.py",
        "archs/<name>.py",
    ]


def test_a_method_with_its_own_recipe_is_two_files(small_project, tmp_path):
    src = tmp_path / "src"
    package = src / "artifact_removal"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "methods/charbonnier.py").write_text(METHOD)
    (package / "training/charbonnier.py").write_text(TRAINER)
    written = _written(PACKAGE, package)
    kind = [f.replace("charbonnier", "<name>") for f in written]
    assert kind == sorted(_listed("a recipe of its own"))

    project = small_project
    for name in ("dvc.template.yaml", "dvc.yaml"):
        shutil.copy(REPO / name, project / name)
    for folder in ("profiles", "notebooks"):
        shutil.copytree(REPO / folder, project / folder, dirs_exist_ok=True)
    env = os.environ | {"PYTHONPATH": str(src)}  # the copy, before the installed package

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, *args], cwd=project, env=env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return done.stdout

    before = (project / "params.yaml").read_text()
    check = [sys.executable, "-m", "artifact_removal.stages.pipeline", "check"]
    stale = subprocess.run(check, cwd=project, env=env, capture_output=True, timeout=300)
    assert stale.returncode == 1  # params.yaml has no section for it yet
    said = run("-m", "artifact_removal.stages.pipeline", "write")  # what `make pipeline` runs
    assert "added params.yaml: train_charbonnier" in said
    assert "added profiles/tiny.yaml: train_charbonnier" in said
    run("-m", "artifact_removal.stages.pipeline", "check")
    assert (project / "params.yaml").read_text().startswith(before[:200])  # the rest kept
    params = yaml.safe_load((project / "params.yaml").read_text())
    for shown_in in ("evaluate", "study", "detection"):
        assert "charbonnier" in params[shown_in]["methods"], shown_in
    tiny = yaml.safe_load((project / "profiles/tiny.yaml").read_text())
    assert tiny["train_charbonnier"] == {"steps": 10}

    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    stage = stages["train_charbonnier"]
    assert stage["foreach"] == "${degradation.qualities}"
    body = stage["do"]
    assert body["cmd"].endswith("-p quality ${item} -p method charbonnier")
    assert "${reports.dir}/02_train_charbonnier_q${item}.ipynb" in body["cmd"]
    assert "${train_charbonnier.models_dir}/q${item}.pt" in body["outs"]
    assert "train_charbonnier" in body["params"]
    deps = body["deps"]
    assert {"src/artifact_removal/training/charbonnier.py",
            "src/artifact_removal/training/supervised.py"} <= set(deps)  # fmt: skip
    assert "src/artifact_removal/methods/gan.py" not in deps  # other methods are not its deps
    assert "${train_charbonnier.models_dir}" in stages["evaluate"]["deps"]
    assert "train_charbonnier.models_dir" in stages["evaluate"]["params"]
    assert stages["train_ssim"]["do"]["cmd"].endswith("-p quality ${item}")  # ssim's as before
    assert "charbonnier" in run("-m", "artifact_removal", "methods")

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train_charbonnier"].update(steps=3, val_every=3, checkpoint_every=3)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run("-m", "artifact_removal", "train", "--method", "charbonnier", "--quality", "10")
    release = torch.load(project / "models/charbonnier/q10.pt", weights_only=True)
    assert release["method"] == "charbonnier" and release["quality"] == 10
    assert release["run"]["settings"]["epsilon"] == 0.001
