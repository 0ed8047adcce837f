"""Reading `params.yaml`: YAML with line-numbered errors, validation into `Params` with every
check, the project root, and paths relative to it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import sections
from .checks import check_shared
from .schema import PARAMS_FILE, ConfigError, Params


def find_project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd) that holds `params.yaml`."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PARAMS_FILE).is_file() and (folder / "dvc.yaml").is_file():
            return folder
    raise ConfigError(f"no {PARAMS_FILE} with a dvc.yaml beside it in {here} or above")


def resolve_path(path: str | Path, root: str | Path | None = None) -> Path:
    """A path from params; relative ones are taken from the project root."""
    full = Path(path)
    return full if full.is_absolute() else Path(root or find_project_root()) / full


def parse_params(raw: Any, source: str = PARAMS_FILE) -> Params:
    """Validate a parsed YAML mapping; errors name `source` and each offending key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping of parameters, got {type(raw).__name__}")
    try:
        text = json.dumps(raw, default=_not_json)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    try:
        params = sections.params_type().validate_json(text, strict=True)
    except ValidationError as err:
        lines = [_describe(e) for e in err.errors()]
        raise ConfigError(f"{source}: invalid parameters\n  " + "\n  ".join(lines)) from None
    problems = check_shared(params)
    for section in sections.SECTIONS.values():
        problems += section.check(params)
    if problems:
        raise ConfigError(f"{source}: invalid parameters\n  " + "\n  ".join(problems))
    return params


def parse_yaml(text: str, source: str = "YAML") -> Any:
    """YAML read exactly as DVC reads params.yaml (ruamel.yaml's safe loader, YAML 1.2), so
    the stages and DVC never disagree: `1e-3` is a number, `4:2:0` a string, `yes` a string.
    A duplicate key, or text that is not YAML, is a `ConfigError` naming `source` and the line.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return YAML(typ="safe").load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f", line {mark.line + 1}" if mark else ""
        problem = (err.problem or err.context or "").strip()
        if "duplicate key" in problem:
            raise ConfigError(
                f"{source}{where}: {problem}; each key may appear once in a mapping (remove one)"
            ) from None
        raise ConfigError(f"{source}{where}: not valid YAML: {problem}") from None
    except YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML: {err}") from None


def read_yaml(path: str | Path) -> Any:
    """A YAML file read with `parse_yaml`; a missing file is a `ConfigError` too."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read ({err})") from None
    return parse_yaml(text, str(path))


def _not_json(value: Any) -> Any:
    """Values YAML can hold but parameters cannot (dates, sets) are refused by name."""
    raise ConfigError(
        f"a value of type {type(value).__name__} ({value!r}) is not a parameter "
        "value; quote it to make it a string"
    )


def load_params(path: str | Path | None = None) -> Params:
    """Read (as DVC does, see `parse_yaml`) and validate `params.yaml` (default: the one at the
    project root)."""
    path = Path(path) if path else find_project_root() / PARAMS_FILE
    if not path.is_absolute() and not path.exists():
        path = find_project_root() / path
    if not path.is_file():
        raise ConfigError(f"{path}: parameter file not found")
    return parse_params(read_yaml(path), str(path))


def _describe(error: Mapping[str, Any]) -> str:
    """One line per pydantic error: `key.path: what is wrong (got value)`."""
    key = _key_path(error["loc"])
    kind = error["type"]
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        return f"{key}: unknown key"
    if kind == "missing":
        return f"{key}: missing"
    got = error.get("input")
    return f"{key}: {error['msg'].lower()} (got {got!r} of type {type(got).__name__})"


def _key_path(loc: tuple[str | int, ...]) -> str:
    """('data', 'patches', 0, 'size') -> 'data.patches[0].size'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"
