"""`make check-repro`: a fresh run's metrics beside the committed ones, within tolerances.yaml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from artifact_removal.stages.check_repro import judge, load_rules, main

from .conftest import REPO

RULES = """rules:
  - {file: "metrics/evaluate/*/ssim.json", key: "psnr*", tol: 0.05}
  - {file: "*", key: "psnr*", tol: 0.2}
  - {file: "*", key: "best_step", tol: null}
"""


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                   check=True, capture_output=True)  # fmt: skip


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A git and DVC project whose committed metrics are two method files."""
    _git("init", "-q", cwd=tmp_path)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.yaml").write_text("metrics:\n  - metrics/evaluate\n")
    (tmp_path / "tolerances.yaml").write_text(RULES)
    for method, psnr in (("ssim", 30.0), ("gan", 29.0)):
        _write(tmp_path, method, {"psnr_rgb": psnr, "best_step": 30})
    _git("add", "-A", cwd=tmp_path)
    _git("commit", "-qm", "metrics", cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    return tmp_path


def _write(root: Path, method: str, values: dict) -> None:
    path = root / "metrics/evaluate/q10" / f"{method}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))


def test_the_same_metrics_pass(project, capsys):
    assert main([]) == 0
    assert "4 metrics: 4 same; all within the tolerances" in capsys.readouterr().out


def test_a_planted_change_beyond_its_tolerance_fails(project, capsys):
    _write(project, "ssim", {"psnr_rgb": 30.08, "best_step": 60})  # ssim: 0.05 dB
    _write(project, "gan", {"psnr_rgb": 29.15, "best_step": 30})  # gan: 0.2 dB
    assert main([]) == 1
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:-1]}
    assert lines["metrics/evaluate/q10/ssim.json:psnr_rgb"] == [
        "30.0000", "30.0800", "+0.0800", "0.05", "BEYOND"]  # fmt: skip
    assert lines["metrics/evaluate/q10/gan.json:psnr_rgb"][-2:] == ["0.2", "within"]
    assert lines["metrics/evaluate/q10/ssim.json:best_step"][-2:] == ["-", "unchecked"]
    assert out.splitlines()[0].split() == ["metric", "committed", "now", "difference", "tolerance"]
    assert out.rstrip().endswith("1 outside the tolerances")


def test_a_new_metric_or_one_without_a_rule_fails(project, capsys):
    _write(project, "ssim", {"psnr_rgb": 30.0, "best_step": 30, "niqe": 4.0})
    assert main([]) == 1
    out = capsys.readouterr().out
    assert "ssim.json:niqe" in out and "NEW" in out
    rows = judge({"m.json": {"lpips": {"old": 0.1, "new": 0.1}}}, load_rules("tolerances.yaml"))
    assert rows[0].verdict == "NO RULE" and rows[0].failed


def test_every_committed_metric_has_a_declared_tolerance():
    if not (REPO / "dvc.lock").is_file():
        pytest.skip("no dvc.lock")
    done = subprocess.run(
        [sys.executable, "-m", "dvc", "metrics", "show", "--json"],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )  # fmt: skip
    shown = json.loads(done.stdout or "{}")
    files = next(iter(shown.values()), {}).get("data", {}) if shown else {}
    if not files:
        pytest.skip("the committed metrics are not in this checkout")
    diff = {
        file: {key: {"old": value, "new": value} for key, value in _flat(body.get("data", {}))}
        for file, body in files.items()
    }
    rows = judge(diff, load_rules(REPO / "tolerances.yaml"))
    assert rows and [f"{r.file}:{r.key}" for r in rows if r.verdict == "NO RULE"] == []


def _flat(data: dict, prefix: str = ""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value
