"""dvc.yaml, made from its template (dvc.template.yaml) and the method registry.

    python -m artifact_removal.stages.pipeline write    # dvc.yaml from the template
    python -m artifact_removal.stages.pipeline check    # exit 1 when dvc.yaml is out of date

The template holds the stages that are not a method's (prepare, evaluate, the study, ...) with
their comments. The generator adds what the registry knows: each method's training stage, the
release folders of the stages that read every method, and every stage's source files, which
are what its commands import (see the template's header). A new method is a new module of
`methods/`; `make pipeline` then puts it into `dvc repro`.
"""

from __future__ import annotations

import copy
import io
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import FoldedScalarString

from ..checkpoints import PACKAGE
from ..config import ConfigError, parse_params
from ..degradations.codecs import codec_of
from ..fileio import write_atomic, write_text
from ..methods import METHODS, Method
from ..methods import module_of as method_module
from .stage_sources import modules_run_by, source_files

TEMPLATE = "dvc.template.yaml"
OUTPUT = "dvc.yaml"
HEADER = (
    "# Made by `make pipeline` from dvc.template.yaml and the method registry\n"
    "# (src/artifact_removal/methods); do not edit: edit those and run `make pipeline`.\n"
)


def _yaml() -> YAML:
    yaml = YAML()
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


# ---------------------------------------------------------------------------------------------
# A method's training stage


def _stages_of_methods() -> dict[str, list[Method]]:
    """The registry's methods trained by their own notebook stage, grouped by stage."""
    stages: dict[str, list[Method]] = {}
    for m in METHODS.values():
        if m.notebook:
            stages.setdefault(m.stage_name, []).append(m)
    return stages


def _notebook_method(notebook: Path) -> str | None:
    """The default of a notebook's `method` parameter, if it has one."""
    for cell in json.loads(notebook.read_text())["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            found = re.search(r"^method\s*=\s*['\"](\w+)['\"]", "".join(cell["source"]), re.M)
            return found.group(1) if found else None
    return None


def _seq(items: list, flow: bool = False) -> CommentedSeq:
    seq = CommentedSeq(items)
    if flow:
        seq.fa.set_flow_style()
    return seq


def method_stage(name: str, methods: list[Method], root: Path) -> CommentedMap:
    """The `foreach` stage that trains `methods` (those of one stage), one QF per item."""
    first = methods[0]
    notebook = first.notebook
    number = notebook.split("_")[0]
    report = f"${{reports.dir}}/{number}_{name}_q${{item}}"
    run = f"python -m {PACKAGE.name}.stages.notebooks run build/notebooks/{notebook}"
    cmd = f"{run} {report}.ipynb -p params_path params.yaml -p quality ${{item}}"
    if _notebook_method(root / "notebooks" / notebook) not in (None, first.name):
        cmd += f" -p method {first.name}"
    cmd = FoldedScalarString(cmd)
    cmd.fold_pos = [len(run)]  # two lines, as in the template's stages
    own = {m.name for m in methods}
    starts = [METHODS[m.starts_from] for m in methods if m.starts_from and m.starts_from not in own]
    deps = ["build/params.checked", f"build/notebooks/{notebook}", f"${{{first.prepared_key}}}"]
    deps += [f"${{{s.section}.models_dir}}/q${{item}}.pt" for s in starts]
    params: list = ["seed", "device", *(m.section for m in methods)]
    params += [f"{s.section}.models_dir" for s in starts]
    params.append("reports.figure_crop")
    backbones = list(dict.fromkeys(b for m in methods for b in m.backbones))
    if backbones:
        params.append(CommentedMap({"models/pretrained.yaml": _seq(backbones)}))
    outs = [f"${{{m.section}.models_dir}}/q${{item}}.pt" for m in methods]
    outs += [f"{report}.ipynb", f"{report}.html"]
    outs += [
        f"${{reports.dir}}/figures/train_{m.name}_q${{item}}_{key}.png"
        for m in methods
        for key in m.figures
    ]
    metrics = [
        CommentedMap(
            {f"${{reports.dir}}/train_{m.name}/q${{item}}/metrics.json": CommentedMap(cache=False)}
        )
        for m in methods
    ]
    plots: list = [
        CommentedMap(
            {f"${{reports.dir}}/train_{m.name}/q${{item}}/plots/metrics": CommentedMap(x="step")}
        )
        for m in methods
    ]
    plots += [f"${{reports.dir}}/figures/train_{m.name}_q${{item}}_curves.png" for m in methods]
    body = CommentedMap(
        cmd=cmd,
        deps=_seq(deps),
        params=_seq(params),
        outs=_seq(outs),
        metrics=_seq(metrics),
        plots=_seq(plots),
    )
    stage = CommentedMap(foreach=f"${{{first.qualities_key}}}", do=body)
    note = " ".join(m.stage_note for m in methods if m.stage_note)
    if note:
        stage.yaml_set_start_comment("\n".join(textwrap.wrap(note, 92)), indent=4)
    return stage


# ---------------------------------------------------------------------------------------------
# The whole file


def _expand(items: list, where: str) -> list:
    """A deps/params/outs list with the registry's placeholders expanded."""
    jpeg = [m for m in METHODS.values() if not codec_of(m.codec).video]  # image methods
    h264 = [m for m in METHODS.values() if codec_of(m.codec).video]
    out: list = []
    for item in items:
        if item == "@models" and where == "deps":
            out += [f"${{{m.section}.models_dir}}" for m in jpeg]
        elif item == "@models" and where == "params":
            for m in jpeg:
                out.append(f"{m.section}.models_dir")
                if m.qualities_key.split(".")[0] in {n.section for n in jpeg}:
                    out.append(m.qualities_key)
        elif item == "@h264-sections":
            out += [m.section for m in h264]
        elif item == "@h264-models":
            out += [f"${{{m.section}.models_dir}}" for m in h264]
            out += [f"${{reports.dir}}/{m.section}" for m in h264]
        elif isinstance(item, dict) and "models/pretrained.yaml" in item:
            keys = item["models/pretrained.yaml"]
            if "@h264" in keys:
                named = dict.fromkeys(b for m in h264 for b in m.backbones)
                item["models/pretrained.yaml"] = _seq(list(named))
            out.append(item)
        else:
            out.append(item)
    return _unique(out)


def _unique(items: list) -> list:
    """Each entry once, in order (a placeholder may add one the template names too)."""
    seen, out = set(), []
    for x in items:
        key = x if isinstance(x, str) else repr(x)
        if key not in seen:
            seen.add(key)
            out.append(x)
    return out


def _fill(name: str, stage: CommentedMap, methods: list[Method], root: Path) -> None:
    """Expand a template stage in place (its `do` body for a foreach) and add its source."""
    body = stage.get("do", stage)
    for where in ("deps", "params", "outs"):
        if where in body:
            items = _expand(list(body[where]), where)
            body[where] = _keep_comments(body[where], items)
    trained = methods or [m for m in METHODS.values() if m.stage_name == name]
    source = source_files(modules_run_by(body, trained, root))
    body["deps"] = _keep_comments(body["deps"], [*body["deps"], *source])
    body.pop("x-modules", None)


def _keep_comments(old: CommentedSeq, items: list) -> CommentedSeq:
    """A new sequence of `items` with the end-of-line comments of the items `old` had."""
    comments = {}
    for i, item in enumerate(old):
        if i in old.ca.items and isinstance(item, str):
            comments[item] = old.ca.items[i]
    new = CommentedSeq(items)
    for i, item in enumerate(items):
        if isinstance(item, str) and item in comments:
            new.ca.items[i] = comments[item]
    return new


def build(root: Path) -> str:
    """dvc.yaml's text, from the template in `root` and the registry."""
    yaml, source = _yaml(), (root / TEMPLATE).read_text()
    template = yaml.load(source)
    stages = CommentedMap()
    for name, stage in template["stages"].items():
        if name == "x-methods":
            for stage_name, methods in _stages_of_methods().items():
                generated = method_stage(stage_name, methods, root)
                _fill(stage_name, generated, methods, root)
                stages[stage_name] = generated
            continue
        _fill(name, stage, [], root)
        stages[name] = stage
    template["stages"] = stages
    text = io.StringIO()
    yaml.dump(template, text)
    body = text.getvalue()
    body = body[body.index("stages:") :]  # the template's own header is about the template
    body = re.sub(r"([^\n])\n(  [a-z_]+:\n)", r"\1\n\n\2", body)  # a blank line between stages
    return HEADER + "#\n" + _about(source) + body


def _about(template: str) -> str:
    """The template's header, less its first paragraph (which is about the template)."""
    lines = template.split("stages:")[0].splitlines(keepends=True)
    first_blank = next(i for i, line in enumerate(lines) if line.strip() == "#")
    return "".join(lines[first_blank + 1 :])


# ---------------------------------------------------------------------------------------------
# A new method's params


def _round_trip() -> YAML:
    """YAML that keeps params.yaml's comments and layout (as `config.apply_profile` does)."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # the files' own lines stay as they are
    return yaml


def missing_sections(root: Path) -> list[Method]:
    """The registry's methods whose params section params.yaml lacks."""
    document = _round_trip().load((root / "params.yaml").read_text())
    return [m for m in METHODS.values() if m.section not in document]


def _dotted(document: Any, key: str) -> Any:
    """A value of a parsed params file by its dotted name (`degradation.qualities`)."""
    for part in key.split("."):
        document = document[part]
    return document


def add_new_methods(root: Path) -> list[str]:
    """Write each new method's section (its `defaults`) into params.yaml, name the method in
    the lists that show it (its codec's `shown_in`), and add its overrides to the profiles it
    names. The result is validated before anything is written. Returns what was added."""
    yaml, path = _round_trip(), root / "params.yaml"
    document, added = yaml.load(path.read_text()), []
    new = [m for m in METHODS.values() if m.section not in document]
    if not new:
        return []
    profiles: dict[str, Any] = {}
    for m in new:
        if m.defaults is None:
            raise ConfigError(
                f"{method_module(m.name) or 'the registry'}: method {m.name} has no section "
                f"{m.section} in params.yaml and no `defaults` to put there"
            )
        document[m.section] = copy.deepcopy(m.defaults)
        where = method_module(m.name) or "the registry"
        document.yaml_set_comment_before_after_key(
            m.section, before=f"\n{m.label}: its defaults, from {where} (make pipeline)"
        )
        added.append(f"params.yaml: {m.section}")
        trained = _dotted(document, m.qualities_key)
        for key in codec_of(m.codec).shown_in:
            section, name = key.split(".")
            asked = document[section].get("qualities", trained)  # the study's and detection's
            if m.name in document[section][name]:
                continue
            if not set(asked) <= set(trained):
                added.append(f"params.yaml: not in {key} (not trained for {section}.qualities)")
                continue
            document[section][name].append(m.name)
            added.append(f"params.yaml: {key} + {m.name}")
        for profile, overrides in m.profiles.items():
            file = root / "profiles" / f"{profile}.yaml"
            if file not in profiles:
                profiles[file] = yaml.load(file.read_text())
            profiles[file][m.section] = copy.deepcopy(overrides)
            added.append(f"profiles/{profile}.yaml: {m.section}")
    parse_params(json.loads(json.dumps(document)), f"{path} with {[m.name for m in new]}")
    write_atomic(path, lambda f: yaml.dump(document, f))
    for file, profile in profiles.items():
        write_atomic(file, lambda f, profile=profile: yaml.dump(profile, f))
    return added


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in ("write", "check"):
        print("usage: python -m artifact_removal.stages.pipeline write|check", file=sys.stderr)
        return 2
    root = Path.cwd()
    text = build(root) if argv[0] == "check" else ""
    target = root / OUTPUT
    if argv[0] == "write":
        for line in add_new_methods(root):
            print(f"added {line}")
        text = build(root)
        write_text(target, text)
        print(f"wrote {OUTPUT}: {text.count(chr(10))} lines, {len(METHODS)} methods")
        return 0
    new = missing_sections(root)
    if new:
        print(
            f"params.yaml has no section for {', '.join(m.name for m in new)}: run `make pipeline`",
            file=sys.stderr,
        )
        return 1
    if not target.is_file() or target.read_text() != text:
        print(
            f"{OUTPUT} is out of date with {TEMPLATE} and the method registry: run `make pipeline`",
            file=sys.stderr,
        )
        return 1
    print(f"{OUTPUT} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
