"""The pretrained-weights manifest: what it records, what a stage then uses, what it says."""

from __future__ import annotations

import hashlib

import pytest

from artifact_removal import pretrained
from artifact_removal.pretrained import (
    BACKBONES,
    MANIFEST,
    MissingWeightsError,
    read_manifest,
    refresh_manifest,
    unrecorded,
    weights_for,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty torchvision cache, and a small stand-in for a backbone named as torchvision
    names its files (the first 8 hex digits of the sha256 end the name)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    data = b"stand-in weights"
    name = f"stand-in-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    monkeypatch.setitem(pretrained.BACKBONES, "vgg19", name)
    folder = tmp_path / "torch/hub/checkpoints"
    folder.mkdir(parents=True)
    return folder / name, data


def test_the_manifest_records_the_cache_and_a_stage_uses_what_it_records(cache, tmp_path):
    path, data = cache
    project = tmp_path / "project"
    entries, notes = refresh_manifest(project)
    assert entries == dict.fromkeys(BACKBONES, "absent") and "not in" in notes[0]
    assert weights_for("vgg19", project) is None and unrecorded("vgg19", project) is None
    path.write_bytes(data)  # the weights arrive: not used until recorded, and the run says so
    assert weights_for("vgg19", project) is None
    assert "artifact-removal pretrained" in unrecorded("vgg19", project)
    entries, _ = refresh_manifest(project)
    assert entries["vgg19"] == f"{path.name} sha256:{hashlib.sha256(data).hexdigest()}"
    assert read_manifest(project)["vgg19"] == entries["vgg19"]
    assert "Written, not edited" in (project / MANIFEST).read_text()
    assert weights_for("vgg19", project) == path and unrecorded("vgg19", project) is None
    path.write_bytes(b"other weights")  # changed behind the manifest's back: an error
    with pytest.raises(MissingWeightsError, match="is another file"):
        weights_for("vgg19", project)
    path.unlink()
    with pytest.raises(MissingWeightsError, match="is missing"):
        weights_for("vgg19", project)


def test_a_file_that_is_not_torchvisions_is_recorded_as_absent(cache, tmp_path):
    path, _ = cache
    path.write_bytes(b"something else")
    entries, notes = refresh_manifest(tmp_path)
    assert entries["vgg19"] == "absent" and "is not torchvision's file" in notes[0]
