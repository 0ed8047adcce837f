"""params.yaml into frozen, typed dataclasses; every error names the key."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from artifact_removal.config import (
    ConfigError,
    apply_profile,
    find_project_root,
    load_params,
    params_to_dict,
    parse_params,
    resolve_path,
)
from artifact_removal.methods import METHODS

from .conftest import REPO


def _raw() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_repository_params_load():
    params = load_params(REPO / "params.yaml")
    assert params.degradation.qualities == (5, 10, 20, 30, 40, 60)
    assert params.data.patches[0].size == 128
    assert params.data.min_size == 128
    assert params.device == "auto"


def test_params_are_frozen():
    params = load_params(REPO / "params.yaml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.seed = 1  # type: ignore[misc]


def test_round_trip_through_plain_data():
    params = load_params(REPO / "params.yaml")
    assert parse_params(params_to_dict(params)) == params


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.update(sed=1), "sed: unknown key"),
        (lambda r: r["data"].update(raw_dri="x"), "data.raw_dri: unknown key"),
        (lambda r: r["data"]["patches"][0].update(szie=64), "data.patches[0].szie: unknown key"),
        (lambda r: r["data"].pop("prepared_dir"), "data.prepared_dir: missing"),
        (lambda r: r.update(seed="2017"), "seed: input should be a valid integer"),
        (lambda r: r.update(seed=20.5), "seed: input should be a valid integer"),
        (lambda r: r.update(seed=True), "seed: input should be a valid integer"),
        (lambda r: r["degradation"].update(qualities=[5, "10"]), "degradation.qualities[1]"),
        (lambda r: r.update(device="gpu"), "device: input should be 'auto', 'cpu' or 'cuda'"),
        (lambda r: r["data"]["patches"][0].update(stride=40), "data.patches[0].stride"),
        (lambda r: r["data"].update(val_fraction=0.6, test_fraction=0.5), "must leave images"),
        (
            lambda r: r["degradation"].update(qualities=[0, 10]),
            "qualities[0]: input should be greater",
        ),
        (lambda r: r["degradation"].update(qualities=[10, 10]), "appear once"),
        (lambda r: r["data"].update(extra_sets={"test": "x"}), "data.extra_sets.test"),
        (lambda r: r["degradation"].update(chroma_subsampling="4:1:1"), "chroma_subsampling"),
        (lambda r: r["train_gan"].update(perceptual_layer="relu6_1"), "not a VGG-19 layer"),
        (lambda r: r["train_gan"].update(fallback="imagenet"), "train_gan.fallback"),
        (lambda r: r["train_gan"].update(patch_size=96), "train_gan.patch_size: must be one"),
        (lambda r: r["train_gan"]["discriminator"].update(sub_patch=48), "must divide"),
        (lambda r: r["train_gan"]["discriminator"].update(layers=16), "must be less than"),
        (lambda r: r["train_gan"].update(models_dir="models/ssim"), "also another section"),
        (lambda r: r["train_gan"].update(select_by="fid"), "train_gan.select_by"),
        (lambda r: r["train_qf"].update(patch_size=96), "train_qf.patch_size: must be one"),
        (lambda r: r["train_qf"].update(models_dir="models/gan"), "train_qf.models_dir"),
        (lambda r: r["evaluate"].update(methods=["ssim", "dncnn"]), "unknown method 'dncnn'"),
        (lambda r: r["compare"].update(left="dncnn"), "compare.left: must be one of"),
        (lambda r: r["data"].update(extra_sets={"live1": "~/LIVE1"}), "write the folder out"),
        (lambda r: r["data"].update(extra_sets={"live1": "$B/LIVE1"}), "expands neither"),
        (lambda r: r["train_ssim"].update(loss={"perceptual": 1.0}), "train_ssim.loss"),
        (lambda r: r["train_qf"].update(steps="many"), "train_qf.steps"),
        (lambda r: r["train_qf"].update(above_range=[40, 100]), "train_qf.above_range: must be"),
        (lambda r: r["train_qf"].update(above_range=[90, 80]), "train_qf.above_range: must be"),
    ],
)
def test_bad_values_name_the_key(edit, message):
    raw = _raw()
    edit(raw)
    with pytest.raises(ConfigError) as err:
        parse_params(raw, "params.yaml")
    assert message in str(err.value)
    assert "params.yaml" in str(err.value)


def test_float_accepts_integer():
    raw = _raw()
    raw["data"]["val_fraction"] = 0
    assert parse_params(raw).data.val_fraction == 0.0


def test_not_a_mapping_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_params([1, 2])
    bad = tmp_path / "params.yaml"
    bad.write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "missing.yaml")


def test_project_root_is_found_from_below(project):
    sub = project / "notebooks"
    sub.mkdir()
    assert find_project_root(sub) == project
    with pytest.raises(ConfigError, match=r"no params\.yaml"):
        find_project_root(project.parent)


def test_resolve_path(project):
    assert resolve_path("data/raw", project) == project / "data/raw"
    assert resolve_path("/abs/x", project).as_posix() == "/abs/x"


def test_every_registered_method_has_its_section():
    params = load_params(REPO / "params.yaml")
    for method in METHODS.values():
        section = params.section(method.section)
        assert isinstance(section, method.params) and section.models_dir
    assert list(params_to_dict(params))[-len(METHODS) :] == [m.section for m in METHODS.values()]


def test_profile_merges_and_keeps_comments(project):
    profile = project / "p.yaml"
    profile.write_text("degradation: {qualities: [10, 20]}\ndata: {extra_sets: {live1: /x}}\n")
    changed = apply_profile(profile, project / "params.yaml")
    assert changed == ["degradation.qualities", "data.extra_sets"]
    params = load_params(project / "params.yaml")
    assert params.degradation.qualities == (10, 20)
    assert params.data.extra_sets == {"live1": "/x"}
    assert "# The one place where parameters live" in (project / "params.yaml").read_text()


def test_profile_without_changes_leaves_the_file_byte_identical(project):
    before = (project / "params.yaml").read_text()
    (project / "p.yaml").write_text("degradation: {qualities: [5, 10, 20, 30, 40, 60]}\n")
    assert apply_profile(project / "p.yaml", project / "params.yaml") == []
    assert (project / "params.yaml").read_text() == before


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("degradation: {qualitys: [10]}\n", "degradation.qualitys: unknown key"),
        ("degradation: {qualities: [10, '40']}\n", "degradation.qualities[1]"),
    ],
)
def test_bad_profile_leaves_params_untouched(project, profile, message):
    before = (project / "params.yaml").read_text()
    (project / "p.yaml").write_text(profile)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        apply_profile(project / "p.yaml", project / "params.yaml")
    assert (project / "params.yaml").read_text() == before


def test_shipped_profiles_are_valid(project):
    for profile in sorted((REPO / "profiles").glob("*.yaml")):
        apply_profile(profile, project / "params.yaml")
        load_params(project / "params.yaml")
