"""The codec registry: each codec one object, read by everything that differs between codecs."""

from __future__ import annotations

import dataclasses

import pytest

from artifact_removal.config import load_params
from artifact_removal.degradations.codecs import CODECS, codec_of, predictor_classes
from artifact_removal.methods import METHODS

from .conftest import REPO


def test_each_codec_says_which_way_is_gentler_and_where_the_input_is_kept():
    jpeg, h264 = codec_of("jpeg"), codec_of("h264")
    assert jpeg.gentler(50, 10) and not jpeg.gentler(10, 50)
    assert h264.gentler(23, 40) and not h264.gentler(40, 23)
    assert jpeg.strongest_first([20, 5, 10]) == [5, 10, 20]
    assert h264.strongest_first([32, 40]) == [40, 32]
    assert jpeg.pass_through_level([5, 10, 60]) == 75  # QF steps up from the gentlest
    assert h264.pass_through_level([32, 40]) == 26  # CRF steps down from the gentlest
    with pytest.raises(KeyError, match=r"unknown codec 'webp'; the codecs are \['h264', 'jpeg'\]"):
        codec_of("webp")


def test_the_predictor_classes_and_folder_come_from_the_named_parameters():
    params = load_params(REPO / "params.yaml")
    assert predictor_classes(params, codec_of("jpeg")) == list(params.train_qf.classes)
    assert predictor_classes(params, codec_of("h264")) == list(params.video.predictor_crfs)
    unset = dataclasses.replace(params, train_qf=dataclasses.replace(params.train_qf, classes=()))
    assert predictor_classes(unset, codec_of("jpeg")) == list(params.degradation.qualities)


def test_every_method_names_a_codec_and_is_in_a_list_that_shows_its_codec():
    params = load_params(REPO / "params.yaml")
    for method in METHODS.values():
        shown = [
            key for key in codec_of(method.codec).shown_in if method.name in _list(params, key)
        ]
        assert shown, f"{method.name}: in none of {codec_of(method.codec).shown_in}"
    assert {c.name for c in CODECS.values()} == set(CODECS)


def _list(params, key: str) -> tuple:
    section, name = key.split(".")
    return getattr(params.section(section), name)


def test_every_codec_names_a_registered_predictor_that_reads_it():
    from artifact_removal.data.video import PREDICTOR_DATA
    from artifact_removal.methods.predictors import PREDICTORS, predictor_of

    assert {predictor_of(name).codec for name in CODECS} == set(CODECS)
    assert {p.name for p in PREDICTORS.values()} == {c.predictor for c in CODECS.values()}
    assert predictor_of("h264").prepared_below == PREDICTOR_DATA  # where the video stage puts them
