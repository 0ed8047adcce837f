"""The pins agree: requirements files, environment.yml and pyproject.toml."""

from __future__ import annotations

import re
import tomllib

import yaml

from .conftest import REPO


def _pins(path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in (REPO / path).read_text().splitlines()]
    return dict(_split(line) for line in lines if line)


def _split(requirement: str) -> tuple[str, str]:
    """(normalised name, version) of `name[extras]==version`."""
    name, version = requirement.split("==")
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower(), version


def test_environment_yml_has_the_same_pins_as_pip():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = dict(_split(r) for r in pip)
    assert conda_pins == _pins("requirements-torch.txt") | _pins("requirements.in")
    assert "python=3.11" in env["dependencies"]


def test_lock_holds_every_direct_pin():
    lock = _pins("requirements.txt")
    for name, version in _pins("requirements.in").items():
        assert lock.get(name) == version, (
            f"{name}: requirements.in {version}, lock {lock.get(name)}"
        )
    assert not set(_pins("requirements-torch.txt")) & set(lock)


def test_pyproject_dependencies_are_pinned():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {
        re.sub(r"[-_.]+", "-", re.split(r"[<>=!~ ]", d)[0]).lower() for d in project["dependencies"]
    }
    pinned = set(_pins("requirements.in")) | set(_pins("requirements-torch.txt"))
    assert names <= pinned, names - pinned


def test_the_onnxruntime_requirements_are_the_locks_pins_without_torch():
    runtime, lock = _pins("requirements-onnxruntime.txt"), _pins("requirements.txt")
    assert {name: lock.get(name) for name in runtime} == runtime
    assert "onnxruntime" in runtime and not {"torch", "torchvision"} & set(runtime)


def test_the_ray_extra_agrees_with_the_lock():
    ray, lock = _pins("requirements-ray.txt"), _pins("requirements.txt")
    assert "ray" in ray and not {name for name in ray if name in lock and lock[name] != ray[name]}
