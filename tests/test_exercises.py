"""The notebooks' exercises: each notebook ends with two or three, with worked solutions, and the
commands they name exist (a real command, stage, parameter and value). That they also run, on
the tiny profile, is `test_pipeline.test_the_exercises_run_on_the_tiny_profile` (slow)."""

from __future__ import annotations

import copy
import json
import re
import shlex

import yaml

from artifact_removal.cli.parser import build_parser
from artifact_removal.config import parse_params, parse_yaml

from .conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
FENCE = re.compile(r"```bash\n(.*?)```", re.S)
INLINE = re.compile(r"`((?:dvc|artifact-removal) [^`]+)`")
DVC_VERBS = {
    ("exp", "run"),
    ("exp", "show"),
    ("exp", "apply"),
    ("metrics", "show"),
    ("metrics", "diff"),
    ("repro",),
    ("params", "diff"),
}


def exercises(notebook) -> str:
    """The text of a notebook's Exercises section (its last markdown cell)."""
    cells = json.loads(notebook.read_text())["cells"]
    last = "".join(cells[-1]["source"])
    assert cells[-1]["cell_type"] == "markdown" and last.startswith("## Exercises"), notebook
    return last


def commands(notebook) -> list[str]:
    """The shell commands the exercises ask for: fenced `bash` blocks, then inline
    `dvc ...` or `artifact-removal ...` spans in the exercises themselves (the numbered items,
    not the notes around them), in the order written."""
    text = exercises(notebook)
    fenced = [line.strip() for block in FENCE.findall(text) for line in block.splitlines()]
    items = [p for p in FENCE.sub("", text).split("\n\n") if re.match(r"(\d\. |   )", p)]
    inline = [c for item in items for c in INLINE.findall(item)]
    return [c for c in fenced + inline if c]


def test_every_notebook_ends_with_exercises_and_has_solutions():
    for notebook in NOTEBOOKS:
        items = re.findall(r"^\d\. \*\*", exercises(notebook), re.M)
        assert 2 <= len(items) <= 3, f"{notebook.name}: {len(items)} exercises"
        solution = REPO / "course" / "solutions" / f"{notebook.stem}.md"
        assert solution.is_file(), solution
        assert f"course/solutions/{notebook.stem}.md" in exercises(notebook)
        assert len(re.findall(r"^\*\*\d\.", solution.read_text(), re.M)) == len(items)


def _set(params: dict, override: str) -> None:
    """Apply one `-S` override as DVC does (Hydra's syntax): `key=value` changes a key that
    exists, `+key=value` adds one, `~key` removes one."""
    key, _, value = override.partition("=")
    action, key = (key[0], key[1:]) if key[0] in "+~" else ("", key)
    *path, last = key.split(".")
    node = params
    for part in path:
        assert part in node, f"-S {override}: no section {part!r} in params.yaml"
        node = node[part]
    assert (last in node) != (action == "+"), f"-S {override}: {key} in params.yaml?"
    if action == "~":
        del node[last]
    else:
        node[last] = parse_yaml(value, f"-S {override}")


def _check_dvc(words: list[str], stages: dict, params: dict) -> None:
    verb = tuple(words[1:3]) if words[1] in ("exp", "metrics", "params") else (words[1],)
    assert verb in DVC_VERBS, f"unknown dvc command: {words}"
    rest = words[1 + len(verb) :]
    changed = copy.deepcopy(params)
    while rest:
        word = rest.pop(0)
        if word == "-S":
            _set(changed, rest.pop(0))
        elif not word.startswith("-") and verb in (("exp", "run"), ("repro",)):
            assert word in stages, f"no stage {word!r} in dvc.yaml"
        elif not word.startswith("-") and verb[0] == "metrics":
            assert (REPO / "dvc.yaml").read_text().count(word.split("/")[0]) > 0, word
    parse_params(changed, "params.yaml with the exercise's -S values")


def test_every_command_names_a_real_command_stage_and_parameter():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    params = parse_yaml((REPO / "params.yaml").read_text())
    parser = build_parser()
    for notebook in NOTEBOOKS:
        for command in commands(notebook):
            words = shlex.split(command)
            if words[0] == "dvc":
                _check_dvc(words, stages, params)
            elif words[0] == "artifact-removal":
                parser.parse_args(words[1:])  # exits (fails the test) on a wrong option
            else:
                assert words[:2] == ["python", "-c"], f"{notebook.name}: {command}"
                compile(words[2], command, "exec")
