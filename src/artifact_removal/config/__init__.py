"""Parameters: `params.yaml` read into frozen, typed dataclasses.

`params.yaml` is the one place where parameters live. It is validated strictly: an unknown key,
a missing key or a value of the wrong type stops with a `ConfigError` that names the key
(`data.patches[0].size: ...`). Paths in it are relative to the project root.

The sections every stage shares are declared here. Each restoration method declares its own
training section with the method, in its module of `methods/`, which adds it here with
`add_section`; `Params` then has one attribute per section (`params.train_gan`).

    schema      the shared sections' dataclasses, `Params`, `ConfigError`
    sections    the sections methods add, the rules over several sections, the validator
    checks      the rules that span the shared sections
    loading     YAML, `load_params`, the project root, paths
    profiles    params as plain data; profiles merged into params.yaml
"""

from .checks import patch_size_problem
from .loading import (
    find_project_root,
    load_params,
    parse_params,
    parse_yaml,
    read_yaml,
    resolve_path,
)
from .profiles import apply_profile, params_to_dict, section_to_dict
from .schema import *  # noqa: F403 - every shared section and type
from .schema import PARAMS_FILE, SPLITS, STRICT, ConfigError, Params, Positive, Quality, Rate
from .sections import Section, add_check, add_section

__all__ = [
    "PARAMS_FILE",
    "SPLITS",
    "STRICT",
    "ConfigError",
    "Params",
    "Positive",
    "Quality",
    "Rate",
    "Section",
    "add_check",
    "add_section",
    "apply_profile",
    "find_project_root",
    "load_params",
    "params_to_dict",
    "parse_params",
    "parse_yaml",
    "patch_size_problem",
    "read_yaml",
    "resolve_path",
    "section_to_dict",
]
