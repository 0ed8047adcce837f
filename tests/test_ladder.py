"""The measured ladder: which generators restore each QF, measured on the validation split,
used by `restore` only for the generators it was measured for (issue 26)."""

from __future__ import annotations

import shutil

import pytest
import torch
from PIL import Image

from artifact_removal.config import apply_profile
from artifact_removal.inference.choice import INPUT, ensemble_weights
from artifact_removal.inference.ladder import Ladder, LadderError, label
from artifact_removal.inference.releases import load_generator
from artifact_removal.restore.run import restore_files
from artifact_removal.stages import ladder as ladder_stage
from artifact_removal.stages.ladder import candidates, jpeg_pairs, measure

from .conftest import QUALITIES


def _ladder(levels: dict) -> Ladder:
    return Ladder("ssim", {10: "a", 20: "b"}, levels)


def test_weights_mix_measured_levels_and_fade_to_the_input():
    ladder = _ladder({10: {10: 1.0}, 20: {10: 0.5, 20: 0.5}, 30: {20: 1.0}})
    assert ladder.weights(20, 45, INPUT) == {10: 0.5, 20: 0.5}
    assert ladder.weights(15, 45, INPUT) == {10: 0.75, 20: 0.25}
    assert ladder.weights(25, 45, INPUT) == {10: 0.25, 20: 0.75}
    assert ladder.weights(5, 45, INPUT) == {10: 1.0}  # below: the strongest measured level
    assert ladder.weights(40, 45, INPUT) == pytest.approx({20: 1 / 3, INPUT: 2 / 3})
    assert ladder.weights(45, 45, INPUT) == {INPUT: 1.0}
    assert ladder.weights(95, 45, INPUT) == {INPUT: 1.0}


def test_candidates_and_labels():
    assert candidates([10, 20, INPUT]) == [{10: 1.0}, {20: 1.0}, {INPUT: 1.0},
                                           {10: 0.5, 20: 0.5}, {20: 0.5, INPUT: 0.5}]  # fmt: skip
    assert label({40: 0.5, 60: 0.5}, INPUT) == "0.50 q40 + 0.50 q60"
    assert label({INPUT: 1.0}, INPUT) == "input"


def test_a_ladder_file_round_trips_and_a_bad_one_is_named(tmp_path):
    ladder = Ladder("ssim", {10: "a"}, {10: {10: 0.5, INPUT: 0.5}}, {10: {"q10": 0.1}}, ("x",))
    ladder.save(tmp_path / "ssim.json")
    assert Ladder.load(tmp_path / "ssim.json") == ladder
    assert ladder.matches({10: "a"}) and not ladder.matches({10: "b"})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(LadderError, match=r"bad\.json: not a ladder file"):
        Ladder.load(tmp_path / "bad.json")


def test_measure_departs_from_the_rule_only_by_more_than_the_margin(models, photo):
    """Generators with random weights ruin any image: the ladder measures the input itself
    as the best choice at every level, unless the margin asks for more than it gains."""
    nets = {q: load_generator(models / "ssim" / f"q{q}.pt") for q in QUALITIES}
    rungs = [*QUALITIES, INPUT]
    top = max(QUALITIES) + 15

    def nominal(level):
        return ensemble_weights(level, QUALITIES, "blend", top)

    pairs = jpeg_pairs({"photo": photo[:64, :96]}, [10, 30])
    args = (nets, {q: "x" for q in QUALITIES}, pairs, nominal, rungs, INPUT)
    measured = measure("ssim", *args, margin=0.05, device=torch.device("cpu"))
    assert measured.levels == {10: {INPUT: 1.0}, 30: {INPUT: 1.0}}
    assert measured.scores[10]["input"] == 0.0 and measured.scores[10]["q10"] < -1
    kept = measure("ssim", *args, margin=100.0, device=torch.device("cpu"))
    assert kept.levels == {10: {10: 1.0}, 30: nominal(30)}


def test_restore_uses_the_ladder_of_its_own_generators(small_project, models, photo,
                                                        monkeypatch):  # fmt: skip
    """Stage ladder measures the project's generators; restore follows it and says why it
    copied; a generator replaced afterwards puts the ensemble's rule back."""
    shutil.copytree(models / "ssim", small_project / "models" / "ssim")
    (small_project / "images_only.yaml").write_text("ladder:\n  methods: [ssim]\n")
    apply_profile(small_project / "images_only.yaml", small_project / "params.yaml")
    ladders = ladder_stage.run(small_project / "params.yaml", progress=False)
    assert (small_project / "models/ladder/ssim.json").is_file()
    assert ladders["ssim"].levels[20] == {INPUT: 1.0}  # random generators: nothing beats it
    monkeypatch.chdir(small_project)
    Image.fromarray(photo).save(small_project / "in.jpg", quality=20)
    common = {"method": "ssim", "device": "cpu", "progress": False, "overwrite": True}
    report = restore_files([small_project / "in.jpg"], small_project / "out", **common)
    (result,) = report.results
    assert result.status == "copied"
    assert "the input itself restored the validation split better" in " ".join(result.notes)
    assert "measured on" in report.used
    shutil.copy(models / "ssim" / "q10.pt", small_project / "models/ssim/q20.pt")
    report = restore_files([small_project / "in.jpg"], small_project / "out", **common)
    (result,) = report.results
    assert result.status == "restored" and result.choice.generators == {20: 1.0}
    assert "measured on" not in report.used
