"""Parameters as plain data, and profiles: partial params files merged into `params.yaml`
with its comments kept (`artifact-removal profile tiny`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from ..fileio import write_atomic
from .loading import find_project_root, parse_params, read_yaml
from .schema import PARAMS_FILE, ConfigError, Params
from .sections import FREE, SECTIONS, params_type


def params_to_dict(params: Params) -> dict[str, Any]:
    """Plain data (lists, dicts) for writing next to outputs and into checkpoints."""
    return json.loads(params_type().dump_json(params))


def section_to_dict(section: Any) -> dict[str, Any]:
    """One section as plain data."""
    return json.loads(TypeAdapter(type(section)).dump_json(section))


def apply_profile(profile: str | Path, params_path: str | Path | None = None) -> list[str]:
    """Merge a profile (a partial params file) into `params.yaml`, keeping its comments.

    Returns the keys that changed. The merged file is validated before it is written, so a
    profile with an unknown key or a wrong type leaves `params.yaml` as it was.
    """
    from ruamel.yaml import YAML

    params_path = Path(params_path) if params_path else find_project_root() / PARAMS_FILE
    overrides = read_yaml(profile) or {}
    rt = YAML()
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=4, offset=2)
    document = rt.load(params_path.read_text())
    free = FREE | {f"{s.key}.{k}" for s in SECTIONS.values() for k in s.free}
    changed = _merge(document, overrides, str(profile), free)
    parse_params(json.loads(json.dumps(document)), f"{params_path} with {profile}")
    write_atomic(params_path, lambda f: rt.dump(document, f))
    return changed


def _merge(
    target: Any, overrides: Mapping[str, Any], source: str, free: set[str], prefix: str = ""
) -> list[str]:
    """Set `overrides` into the round-trip mapping `target`; unknown keys raise."""
    changed = []
    for key, value in overrides.items():
        where = f"{prefix}{key}"
        if key not in target:
            raise ConfigError(f"{source}: {where}: unknown key")
        if isinstance(value, Mapping) and isinstance(target[key], Mapping) and where not in free:
            changed += _merge(target[key], value, source, free, f"{where}.")
        elif target[key] != value:
            target[key] = value
            changed.append(where)
    return changed
