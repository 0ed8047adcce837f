"""The embedded default corpus: byte-identical copies that data.dvc records."""

from __future__ import annotations

import hashlib

import pytest

from artifact_removal.data.corpus import (
    BSDS500_DIR_MD5,
    DEFAULT_FILES,
    CorpusError,
    ensure_corpus,
    tracked_dir_md5,
    write_default_corpus,
)

from .conftest import REPO


def test_default_corpus_is_byte_identical(tmp_path):
    written = write_default_corpus(tmp_path / "raw")
    assert sorted(p.name for p in written) == sorted(DEFAULT_FILES)
    for path in written:
        assert hashlib.md5(path.read_bytes()).hexdigest() == DEFAULT_FILES[path.name]


def test_data_dvc_tracks_the_default_corpus():
    assert tracked_dir_md5(REPO / "data.dvc") == BSDS500_DIR_MD5


def test_present_corpus_is_left_alone(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw/mine.png").write_bytes(b"x")
    assert ensure_corpus(tmp_path / "raw", tmp_path / "data.dvc").action == "present"
    assert [p.name for p in (tmp_path / "raw").iterdir()] == ["mine.png"]


def test_foreign_corpus_that_cannot_be_fetched_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.dvc").write_text("outs:\n- md5: 0123456789abcdef.dir\n  path: raw\n")
    with pytest.raises(CorpusError, match="dvc pull") as err:
        ensure_corpus(tmp_path / "raw", tmp_path / "data.dvc")
    assert "0123456789abcdef.dir" in str(err.value)
