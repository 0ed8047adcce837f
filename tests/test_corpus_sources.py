"""BSDS500 and the papers' test sets: copies checked against the shipped manifests, the split
the corpus keeps, the fallback to the embedded corpus, and the note every report then carries."""

from __future__ import annotations

import functools
import hashlib
import http.server
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import numpy as np
import pytest

from artifact_removal.data import corpus, sources
from artifact_removal.data.corpus import (
    DEFAULT_DIR_MD5,
    CorpusError,
    corpus_record,
    ensure_corpus,
    ensure_test_sets,
    tracked_dir_md5,
)
from artifact_removal.data.images import write_png
from artifact_removal.data.prepare import corpus_splits, write_json
from artifact_removal.data.prepared import corpus_note, missing_test_sets
from artifact_removal.degradations.jpeg import jpeg_compress
from artifact_removal.stages.notebooks import with_corpus_note

from .conftest import REPO

SHARED = REPO.parent / "shared" / "data"


def _jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    return jpeg_compress(pixels, 90).data


@pytest.fixture
def small_bsds(tmp_path, monkeypatch) -> tuple[Path, list[sources.Entry]]:
    """A local copy of a six-photograph 'BSDS500' (its manifest put in place of the real
    one): two train, one test (both train here), one val and two CBSD68 (test here)."""
    layout = [("train", "t1", "train"), ("train", "t2", "train"), ("test", "s1", "train"),
              ("val", "v1", "val"), ("val", "c1", "test"), ("val", "c2", "test")]  # fmt: skip
    copy = tmp_path / "copies" / "BSDS500"
    entries = []
    for seed, (folder, stem, split) in enumerate(layout):
        data = _jpeg(seed)
        (copy / folder).mkdir(parents=True, exist_ok=True)
        (copy / folder / f"{stem}.jpg").write_bytes(data)
        entries.append(
            sources.Entry(
                f"{folder}/{stem}.jpg", hashlib.sha256(data).hexdigest(), f"{split}/{stem}.jpg"
            )
        )
    monkeypatch.setattr(sources, "bsds500_manifest", lambda: entries)
    monkeypatch.delenv(sources.ENV_LOCAL_COPY, raising=False)
    return copy, entries


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}  # fmt: skip


@pytest.mark.parametrize(
    "damage, named",
    [
        (lambda c: (c / "val/v1.jpg").unlink(), "val/v1.jpg: missing"),
        (
            lambda c: (c / "train/t2.jpg").write_bytes(
                (data := (c / "train/t2.jpg").read_bytes())[:100]
                + bytes([data[100] ^ 1])
                + data[101:]
            ),
            "train/t2.jpg: changed (its SHA-256 differs from the manifest's)",
        ),
        (lambda c: (c / "test/extra.jpg").write_bytes(_jpeg(99)), "test/extra.jpg: not in the"),
        (lambda c: (c / "train/notes.jpg").write_text("hello"), "(and not an image)"),
        (
            lambda c: (c / "train/c1.jpg").write_bytes((c / "val/c1.jpg").read_bytes()),
            "train/c1.jpg: a copy of val/c1.jpg, a CBSD68 test photograph: test images never",
        ),
    ],
    ids=["missing", "changed-byte", "extra", "not-an-image", "cbsd68-in-training"],
)
def test_a_bad_copy_is_named_and_nothing_is_deleted(small_bsds, tmp_path, damage, named):
    copy, _ = small_bsds
    damage(copy)
    raw = tmp_path / "project/data/raw"
    raw.mkdir(parents=True)
    corpus.write_default_corpus(raw)
    before_copy, before_raw = _snapshot(copy), _snapshot(raw)
    with pytest.raises(CorpusError, match="not a verified copy of BSDS500") as err:
        ensure_corpus(raw, tmp_path / "project/data.dvc", "bsds500", str(tmp_path / "copies"))
    assert named in str(err.value) and "nothing was copied or deleted" in str(err.value)
    assert _snapshot(copy) == before_copy and _snapshot(raw) == before_raw


def _dvc_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=project,
                   check=True)  # fmt: skip
    (project / "data.dvc").write_text(f"outs:\n- md5: {DEFAULT_DIR_MD5}\n  path: data/raw\n")
    return project


def test_a_verified_copy_is_laid_out_by_split_and_recorded(small_bsds, tmp_path, monkeypatch):
    _, entries = small_bsds
    project = _dvc_project(tmp_path)
    monkeypatch.chdir(project)
    monkeypatch.setenv(sources.ENV_LOCAL_COPY, str(tmp_path / "copies"))
    state = ensure_corpus("data/raw", "data.dvc", "bsds500", "nowhere", project)
    assert state.corpus == "bsds500" and not state.fallback
    assert "copied from" in state.action and "$ARTIFACT_REMOVAL_DATA" in state.action
    raw = project / "data/raw"
    assert sorted(_snapshot(raw)) == sorted(e.target for e in entries)
    assert corpus.holds(raw) == "bsds500"
    assert tracked_dir_md5("data.dvc") not in (DEFAULT_DIR_MD5, None)
    splits, _ = corpus_splits(raw, 0.5, 0.5, 0)  # the folders win over the fractions
    assert {name: [c.key for c in found] for name, found in splits.items()} == {
        "train": ["s1", "t1", "t2"], "val": ["v1"], "test": ["c1", "c2"]}  # fmt: skip
    # a rerun finds it present and leaves it alone
    assert ensure_corpus("data/raw", "data.dvc", "bsds500", None, project).action == "present"


def test_without_bsds500_the_embedded_corpus_runs_and_says_so(small_bsds, tmp_path, monkeypatch):
    project = _dvc_project(tmp_path)
    monkeypatch.chdir(project)
    monkeypatch.setenv(sources.ENV_OFFLINE, "1")
    state = ensure_corpus("data/raw", "data.dvc", "bsds500", "../nowhere", project)
    assert state.corpus == "embedded" and state.fallback
    said = "\n".join(state.lines())
    assert "BSDS500 was not found: no local copy (data.local_copy (../nowhere) names no" in said
    assert "offline" in said and "figures are weaker" in said and "github.com/BIDS/BSDS500" in said
    assert corpus.holds(project / "data/raw") == "embedded"
    assert tracked_dir_md5("data.dvc") == DEFAULT_DIR_MD5
    record = corpus_record("bsds500", project / "data/raw")
    assert record["holds"] == "embedded" and "no verified copy of BSDS500" in record["missing"]
    # ... and every report says it under its title
    write_json(record, project / "data/prepared/corpus.json")
    (project / "params.yaml").write_text((REPO / "params.yaml").read_text())
    report = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 06 · Evaluate")])
    noted = with_corpus_note(report, str(project / "params.yaml"))
    assert noted.cells[1].source.startswith("> **Trained on the embedded corpus, not BSDS500**")
    assert corpus_note(project / "data/prepared") in noted.cells[1].source
    write_json(
        corpus_record("embedded", project / "data/raw"), project / "data/prepared/corpus.json"
    )
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 06 · Evaluate")])
    assert len(with_corpus_note(plain, str(project / "params.yaml")).cells) == 1


def test_files_of_neither_corpus_are_never_replaced(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "mine.png").write_bytes(b"x")
    with pytest.raises(CorpusError, match=r"data\.corpus: own"):
        ensure_corpus(raw, tmp_path / "data.dvc", "bsds500", None, tmp_path)
    assert _snapshot(raw) == {"mine.png": b"x"}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the log would fill the test output
        pass


@pytest.fixture
def server(tmp_path):
    """An HTTP server of a folder, standing in for the public sources (no network here)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_the_public_source_is_downloaded_and_checked(small_bsds, tmp_path, server, monkeypatch):
    copy, entries = small_bsds
    www, url = server
    for entry in entries:
        (www / entry.source).parent.mkdir(parents=True, exist_ok=True)
        (www / entry.source).write_bytes((copy / entry.source).read_bytes())
    project = _dvc_project(tmp_path)
    monkeypatch.chdir(project)
    monkeypatch.setattr(sources, "BSDS500_URL", url)
    state = ensure_corpus("data/raw", "data.dvc", "bsds500", None, project)
    assert state.action == f"downloaded from {url}, every file checked"
    assert corpus.holds(project / "data/raw") == "bsds500"
    # a changed file on the server stops the download before anything is written
    (www / entries[3].source).write_bytes(_jpeg(42))
    raw_before = _snapshot(project / "data/raw")
    monkeypatch.setattr(corpus, "holds", lambda raw_dir: "none")
    with pytest.raises(CorpusError, match="SHA-256 differs"):
        ensure_corpus("data/raw", "data.dvc", "bsds500", None, project)
    assert _snapshot(project / "data/raw") == raw_before


def test_test_sets_are_stored_as_the_same_png_from_a_png_or_a_bmp(tmp_path, server, monkeypatch):
    pixels = np.random.default_rng(3).integers(0, 256, (20, 24), dtype=np.uint8)
    write_png(pixels, tmp_path / "copies/classic5/boats.png")
    png = (tmp_path / "copies/classic5/boats.png").read_bytes()
    www, url = server
    from PIL import Image

    (www / "Classic5").mkdir()
    Image.fromarray(pixels).save(www / "Classic5/3.bmp")
    bmp = (www / "Classic5/3.bmp").read_bytes()
    entry = sources.Entry("boats.png", hashlib.sha256(png).hexdigest(), "boats.png",
                          hashlib.sha256(bmp).hexdigest(), "Classic5/3.bmp")  # fmt: skip
    monkeypatch.setattr(sources, "test_set_manifests", lambda: {"classic5": [entry]})
    monkeypatch.setattr(sources, "TESTSETS_URL", url)
    monkeypatch.delenv(sources.ENV_LOCAL_COPY, raising=False)
    wanted = {"classic5": "data/testsets/classic5", "mine": "elsewhere"}
    local = tmp_path / "local"
    assert ensure_test_sets(wanted, str(tmp_path / "copies"), local) == [
        f"classic5: copied from {tmp_path / 'copies/classic5'} (data.local_copy "
        f"({tmp_path / 'copies'})), every file checked"
    ]
    online = tmp_path / "online"
    assert ensure_test_sets(wanted, None, online) == [
        f"classic5: downloaded from {url}, every file checked"
    ]
    stored = [_snapshot(where / "data/testsets/classic5") for where in (local, online)]
    assert stored[0] == stored[1] and list(stored[0]) == ["boats.png"]
    assert ensure_test_sets(wanted, None, online) == ["classic5: present"]
    # without a copy and offline: a folder saying why, which the evaluation leaves out
    monkeypatch.setenv(sources.ENV_OFFLINE, "1")
    nothing = tmp_path / "nothing"
    said = ensure_test_sets(wanted, None, nothing)
    assert (
        said[0].startswith("classic5: warning: not found (no local copy") and "offline" in said[0]
    )
    folder = nothing / "data/testsets/classic5"
    why, how = missing_test_sets({"classic5": folder})["classic5"]
    assert why == (
        "no local copy (neither $ARTIFACT_REMOVAL_DATA nor data.local_copy is set), and offline"
    )
    assert how.startswith("To get the data, put a copy in a folder")
    note = corpus_note(nothing, missing_test_sets({"classic5": folder}))
    assert note.startswith("**Not scored on classic5**") and "held-out split" in note


def test_the_shipped_manifest_keeps_cbsd68_out_of_training():
    entries = sources.bsds500_manifest()
    by_split = {s: [e for e in entries if e.split == s] for s in ("train", "val", "test")}
    assert [len(by_split[s]) for s in ("train", "val", "test")] == [400, 32, 68]
    assert {e.source.split("/")[0] for e in by_split["train"]} == {"train", "test"}
    assert {e.source.split("/")[0] for e in by_split["val"] + by_split["test"]} == {"val"}
    assert len({e.sha256 for e in entries}) == 500  # no photograph twice
    if (SHARED / "CBSD68").is_dir():
        cbsd68 = {p.stem for p in (SHARED / "CBSD68").glob("*.png")}
        assert {Path(e.source).stem for e in by_split["test"]} == cbsd68


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/data beside the project")
def test_the_local_copies_on_this_projects_machines_match_the_manifests():
    images = sources.bsds500_images(SHARED / "BSDS500")
    sources.check_copy(images, sources.bsds500_manifest(), "BSDS500")
    for name, entries in sources.test_set_manifests().items():
        sources.check_copy(SHARED / sources.COPY_FOLDERS[name], entries, name)
