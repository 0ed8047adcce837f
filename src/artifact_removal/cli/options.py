"""The bridge between the options dataclasses (`restore.options`) and argparse: the parser
adds an argument per field, a command reads the parsed arguments back into the dataclass."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any


def add_options(parser: argparse.ArgumentParser, options: type) -> None:
    """An argument for each field of an options dataclass (`restore.options`), with the
    default, help, flag and choices its metadata gives; a field that is itself such a class
    (the video encoding) adds its own fields."""
    groups: dict[str, Any] = {}
    for f in dataclasses.fields(options):
        if dataclasses.is_dataclass(f.default):
            add_options(parser, type(f.default))
            continue
        meta = f.metadata
        help, choices = meta["help"], meta.get("choices")
        kwargs: dict[str, Any] = {"dest": f.name, "help": help() if callable(help) else help}
        if isinstance(f.default, bool):
            kwargs["action"] = "store_true"
        else:
            kwargs["default"] = f.default
            if "type" in meta:
                kwargs["type"] = meta["type"]
            elif type(f.default) in (int, float):
                kwargs["type"] = type(f.default)
            if choices is not None:
                kwargs["choices"] = choices() if callable(choices) else choices
            for key in ("metavar", "nargs", "const"):
                if key in meta:
                    kwargs[key] = meta[key]
        target = parser
        if "group" in meta:
            if meta["group"] not in groups:
                groups[meta["group"]] = parser.add_mutually_exclusive_group()
            target = groups[meta["group"]]
        target.add_argument(meta.get("flag", "--" + f.name.replace("_", "-")), **kwargs)


def options_from(args: argparse.Namespace, options: type) -> Any:
    """The options dataclass that `add_options` arguments were parsed into."""
    values = {}
    for f in dataclasses.fields(options):
        nested = dataclasses.is_dataclass(f.default)
        values[f.name] = options_from(args, type(f.default)) if nested else getattr(args, f.name)
    return options(**values)
