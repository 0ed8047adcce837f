"""What a run keeps: its checkpoints (everything a resume needs, written atomically), the
state it resumes from, and its release file (the weights and what they were made from)."""

from __future__ import annotations

import torch

from ..checkpoints import FORMAT, fingerprint, load_checkpoint, save_atomic
from ..methods.predictors import PREDICTORS
from .run import Recipe, Run


def resume_state(run: Run, recipe: Recipe, identity: str) -> dict:
    """The state of the last checkpoint of the same run, loaded into the recipe; or fresh."""
    fresh = {"step": 0, "saved": 0, "resumed": 0, "history": [], "identity": identity}
    if not run.checkpoint.is_file():
        return fresh
    saved = load_checkpoint(run.checkpoint)
    if saved.get("identity") != identity:
        return fresh  # another run's: start over (the file is replaced at the first save)
    for kind, objects in (
        ("model", recipe.modules),
        ("optimizer", recipe.optimizers),
        ("scheduler", recipe.schedulers),
    ):
        for name, obj in objects.items():
            obj.load_state_dict(saved[kind][name])
    recipe.load_state(saved["recipe"])
    step = int(saved["step"])
    return fresh | {"step": step, "saved": step, "resumed": step, "history": saved["history"]}


def save_checkpoint(run: Run, recipe: Recipe, step: int, state: dict) -> None:
    """One atomic checkpoint of everything a resume needs."""
    release = recipe.release()
    save_atomic(
        {
            "model": {k: m.state_dict() for k, m in recipe.modules.items()},
            "optimizer": {k: o.state_dict() for k, o in recipe.optimizers.items()},
            "scheduler": {k: s.state_dict() for k, s in recipe.schedulers.items()},
            "step": step,
            "identity": state["identity"],
            "run": state["run"],
            "history": state["history"],
            "recipe": recipe.state(),
            "arch": release["arch"],
            "model_args": release["model_args"],
            "format": FORMAT,
        },
        run.checkpoint,
    )


def release_file(run: Run, recipe: Recipe, state: dict) -> dict:
    """The weights-only release file (see `inference.releases`), with the run's settings and
    the fingerprints of its inputs (`run`), and their hash (`identity`).

    The code's fingerprint stays in the checkpoint, where it decides whether a run resumes.
    A release leaves it out: dvc.lock already ties each file to the code that made it, and a
    change of the code that leaves the weights as they were (a refactor) then leaves the file
    byte for byte as it was."""
    release = recipe.release()
    release["model"] = {k: v.detach().cpu().contiguous() for k, v in release["model"].items()}
    method = PREDICTORS[run.name].release_method if run.name in PREDICTORS else run.name
    made_from = {k: v for k, v in state["run"].items() if k != "code"}
    return release | {
        "method": method,
        "quality": run.quality,
        "identity": fingerprint(made_from),
        "run": made_from,
    }


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A network's state dict, detached copies on the CPU."""
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
