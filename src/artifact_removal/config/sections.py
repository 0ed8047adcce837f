"""The params sections that methods add (`add_section`, called by the method registry), the
rules over several sections (`add_check`), and the validator of `Params` with every section."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

from pydantic import TypeAdapter
from pydantic.dataclasses import dataclass

from .schema import STRICT, Params


@dataclasses.dataclass(frozen=True)
class Section:
    """A section that a method adds: its key, its schema, its cross-key rules, and the name of
    the method whose release files its `models_dir` holds."""

    key: str
    schema: type
    check: Callable[[Params], list[str]]
    method: str
    free: tuple[str, ...] = ()  # mappings whose keys are the user's names, replaced as a whole


SECTIONS: dict[str, Section] = {}
# mappings whose keys are the user's names, replaced as a whole
FREE = {"data.extra_sets", "video.extra_clips"}


CHECKS: list[Callable[[Params], list[str]]] = []  # rules over several sections


def add_check(check: Callable[[Params], list[str]]) -> None:
    """Declare a rule that spans the shared sections and the registry (the registry declares
    those that need to know its methods)."""
    CHECKS.append(check)


def add_section(section: Section) -> None:
    """Declare a method's params section (the registry does this for every method)."""
    if section.key in SECTIONS or section.key in {f.name for f in dataclasses.fields(Params)}:
        raise ValueError(f"params section {section.key!r} is declared twice")
    SECTIONS[section.key] = section
    params_type.cache_clear()


@functools.cache
def params_type() -> TypeAdapter:
    """`Params` with a field for every declared method section, as a validator."""
    annotations = {key: section.schema for key, section in SECTIONS.items()}
    full = type(
        "Params",
        (Params,),
        {
            "__annotations__": annotations,
            "__doc__": Params.__doc__,
            "__module__": "artifact_removal.config",
        },
    )
    return TypeAdapter(dataclass(config=STRICT)(full))
