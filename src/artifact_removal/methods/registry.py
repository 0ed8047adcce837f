"""The registry of methods: what a method is, and the lookups everything else reads.

A method is a params section with its schema, a trainer module under `training/` (which
supplies a `Recipe` to the run engine), a folder of release files (`<section>.models_dir`,
one `q<QF>.pt` per quality), a label, the pretrained backbones it needs, and how the ensemble
combines the generators of the two QFs around an image's quality:

- `blend`: the weighted mean of the two outputs, linear in QF (for methods trained on a
  pixel loss, whose outputs are already means);
- `nearest`: the generator of the nearest QF alone, the lower one on a tie. Averaging two GAN
  outputs would bring back the blur that the GAN exists to remove.

Everything that differs between methods is a field here (its report, whether its loss is
perceptual, the published table it is compared with, its stage and notebook), never a test of
its name elsewhere. Config validation, the command line, the pipeline file (`dvc.yaml`),
evaluation, restoration and the comparison read this table.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..config import ConfigError, Params, Section, add_section

Combine = Literal["blend", "nearest"]
Reports = Literal["generator", "gan", "nogan"]

# The figures each kind of training report writes, `<run>_q<QF>_<key>.png` (besides the
# curves): stages/train_reports.py draws them, the pipeline file lists them as outputs.
REPORT_FIGURES: dict[str, tuple[str, ...]] = {
    "generator": ("example",),
    "gan": ("example", "samples"),
    "nogan": ("example", "samples", "stopping"),
}

BASELINES = ("original", "jpeg", "h264")  # rows of the tables that are not methods


@dataclass(frozen=True)
class Method:
    """One restoration method; see the module docstring."""

    name: str  # `--method NAME`, `evaluate.methods`, the `method` of its release files
    label: str  # for tables, figures and the command line's help
    section: str  # its params section, e.g. `train_gan`
    params: type  # that section's schema (must have `models_dir`)
    trainer: str  # module of `artifact_removal.training` that defines `Recipe`
    combine: Combine
    order: int  # its place in tables, figures and the command line's lists
    starts_from: str | None = None  # a method whose release of the same QF it fine-tunes
    backbones: tuple[str, ...] = ()  # keys of models/pretrained.yaml that its training reads
    check: Callable[[Params], list[str]] = lambda params: []  # cross-key rules
    qualities_key: str = "degradation.qualities"  # the parameter listing the QFs it is trained for
    stage: str | None = None  # the DVC stage that trains it (default: its section's name)
    prepared_key: str = "data.prepared_dir"  # the prepared data its training reads
    codec: str = "jpeg"  # what its inputs were compressed with (`degradations.codecs`)
    notebook: str | None = None  # the notebook its stage runs (video methods: the video stage's)
    reports: Reports = "generator"  # the figures of its training report (REPORT_FIGURES)
    perceptual: bool = False  # trained with a perceptual loss (said when restoring)
    published: str | None = None  # the published table its rows are shown beside (evaluate)
    networks: tuple[str, ...] = ("archs.generator",)  # modules of the networks it releases
    stage_note: str = ""  # what its training stage does, a comment in dvc.yaml
    summary: str = ""  # what it gives, for `restore --method`'s help
    default_for: Literal["image", "video"] | None = None  # what `restore --method auto` uses it for
    # A new method's params section and its profiles' overrides (`make pipeline` writes them
    # into params.yaml and profiles/<name>.yaml when the section is missing, and names the
    # method in its codec's `shown_in` lists); the project's own methods have theirs there.
    defaults: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False, compare=False)

    @property
    def stage_name(self) -> str:
        return self.stage or self.section

    @property
    def figures(self) -> tuple[str, ...]:
        """The keys of its training report's figures."""
        return REPORT_FIGURES[self.reports]


METHODS: dict[str, Method] = {}
_MODULES: dict[str, str] = {}  # method -> the module that registered it
_loading = [True]  # while the package imports its method modules: sections wait for the order


def register(method: Method) -> Method:
    """Add a method to the registry and its section to the parameters (once the package has
    loaded its modules; until then `put_in_order` adds the sections, in the methods' order)."""
    if method.name in METHODS or method.name in BASELINES:
        raise ValueError(f"method {method.name!r} is registered twice or shadows a baseline")
    if "models_dir" not in method.params.__dataclass_fields__:
        raise ValueError(f"{method.params.__name__} needs a models_dir (the release folder)")
    METHODS[method.name] = method
    _MODULES[method.name] = _caller()
    if not _loading[0]:
        _sort()
        _add_section(method)
    return method


def _caller() -> str:
    """The module that registers a method: the first caller outside this one."""
    frame = sys._getframe(1)
    while frame.f_back and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    return frame.f_globals.get("__name__", "")


def module_of(name: str) -> str | None:
    """The module of this package that registers the method `name` (`methods.gan`, dotted
    below the package), or None for a method registered from elsewhere."""
    get(name)
    module = _MODULES[name]
    package = __name__.split(".")[0]
    return module.removeprefix(f"{package}.") if module.startswith(f"{package}.") else None


def _add_section(method: Method) -> None:
    add_section(Section(method.section, method.params, method.check, method.name))


def method(name: str, **fields: Any) -> Callable[[type], type]:
    """Class decorator for a method's params schema: registers the method `name` with that
    schema as its `params` and the other `fields` of `Method`."""

    def decorate(schema: type) -> type:
        register(Method(name=name, params=schema, **fields))
        return schema

    return decorate


def put_in_order() -> None:
    """Sort the registry by `Method.order` (the package imports its modules in name order)
    and add the methods' params sections in that order."""
    if not _loading[0]:
        return
    _sort()
    for m in METHODS.values():
        _add_section(m)
    _loading[0] = False


def _sort() -> None:
    ranked = sorted(METHODS.values(), key=lambda m: m.order)
    METHODS.clear()
    METHODS.update((m.name, m) for m in ranked)


def get(name: str) -> Method:
    """The registered method called `name`, or an error that lists them."""
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; choose one of {list(METHODS)}")
    return METHODS[name]


def models_dir(params: Params, name: str) -> str:
    """The folder of a method's release files, as params give it."""
    return params.section(get(name).section).models_dir


def _lookup(params: Params, key: str) -> Any:
    """The value of a dotted parameter name (`degradation.h264.crfs`)."""
    value: Any = params
    for part in key.split("."):
        value = getattr(value, part)
    return value


def qualities_of(params: Params, name: str) -> tuple[int, ...]:
    """The QFs (or CRFs) a method is trained for (the parameter its `qualities_key` names)."""
    return tuple(_lookup(params, get(name).qualities_key))


def prepared_dir_of(params: Params, name: str) -> str:
    """The prepared data a method trains on (the parameter its `prepared_key` names)."""
    return _lookup(params, get(name).prepared_key)


def combine_of(name: str) -> Combine:
    """How the ensemble of `name` combines two neighbouring QFs."""
    return get(name).combine


def label_of(name: str) -> str:
    """A method's label; the baselines are their own labels."""
    return get(name).label if name in METHODS else name


def method_help() -> str:
    """`restore --method`'s help: `auto` and each method's summary."""
    defaults = {m.default_for: m.name for m in METHODS.values() if m.default_for}
    auto = f"auto (default): {defaults.get('image')} for images, {defaults.get('video')} for videos"
    return "; ".join([auto, *(f"{m.name}: {m.summary}" for m in METHODS.values() if m.summary)])


def describe() -> list[dict[str, Any]]:
    """The registry as rows, for the command line and the notebooks."""
    return [
        {
            "method": m.name,
            "label": m.label,
            "section": m.section,
            "trainer": m.trainer,
            "ensemble": m.combine,
            "starts from": m.starts_from or "",
            "backbones": list(m.backbones),
        }
        for m in METHODS.values()
    ]
