"""The registry of network architectures that release files name.

A release file says which network it holds (`arch`) and the keyword arguments that rebuild it
(`model_args`). A network class registers itself under that name with the `architecture`
decorator, saying what it is for (`generator`: an image restorer; `predictor`: the QF
predictor) and, when it is built from a config dataclass, that class. `inference.releases`
rebuilds any registered network from its file with no list of its own, so a new network is a
new module of this package and nothing else.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch

Role = Literal["generator", "predictor"]


@dataclass(frozen=True)
class Architecture:
    """A registered network: its release name, class, role, and how it is rebuilt."""

    name: str
    network: type[torch.nn.Module]
    role: Role
    config: type | None  # the config dataclass it takes, or None: it has `arguments()`

    def arguments(self, net: torch.nn.Module) -> dict[str, Any]:
        """The keyword arguments that rebuild `net` (the `model_args` of its release file)."""
        return dataclasses.asdict(net.config) if self.config else net.arguments()

    def build(self, arguments: dict[str, Any]) -> torch.nn.Module:
        """A fresh network from a release file's `model_args`."""
        if self.config:
            return self.network(self.config(**arguments))
        return self.network.from_arguments(arguments)


ARCHITECTURES: dict[str, Architecture] = {}


def architecture(name: str, role: Role, config: type | None = None) -> Callable[[type], type]:
    """Class decorator: register a network under `name` (see the module docstring)."""

    def register(network: type) -> type:
        if name in ARCHITECTURES:
            raise ValueError(f"architecture {name!r} is registered twice")
        ARCHITECTURES[name] = Architecture(name, network, role, config)
        network.architecture = name
        return network

    return register


def architectures() -> dict[str, Architecture]:
    """Every architecture, after importing each module of this package."""
    for module in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        importlib.import_module(f"{__package__}.{module.name}")
    return ARCHITECTURES


def of(net: torch.nn.Module) -> Architecture:
    """The registered architecture of a network."""
    name = getattr(type(net), "architecture", None)
    if name not in ARCHITECTURES:
        raise ValueError(f"{type(net).__name__} is not a registered architecture")
    return ARCHITECTURES[name]
