"""End to end: `make repro` on the tiny profile in a fresh copy of the repository.

It builds the embedded corpus (the profile asks for it), runs the DVC pipeline through
papermill, and checks that a second run reruns nothing, `dvc status` is clean and `data.dvc`
records the embedded corpus.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from artifact_removal.config import load_params
from artifact_removal.data.corpus import DEFAULT_DIR_MD5, tracked_dir_md5
from artifact_removal.metrics.subjective import condition_of
from artifact_removal.stages.study import condition_slug, trial_sequence

from .conftest import REPO

# `make test-e2e` (and CI, after `make test`): about 10 minutes on 2 cores, which would more
# than fill `make test`'s 8.
pytestmark = pytest.mark.e2e


def _run(cmd: list[str], cwd: Path) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory) -> Path:
    """The repository's files (tracked and untracked, not ignored) in a new git repository."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    copy = tmp_path_factory.mktemp("repo")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    _run(["git", "init", "-q"], copy)
    _run(["git", "add", "-A"], copy)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"], copy)
    return copy


VENV = Path(sys.prefix)
# -o: never rebuild the shared venv from the copy (that would re-point its editable install)
MAKE_REPRO = ["make", "-o", f"{VENV}/.ready", "repro", f"VENV={VENV}"]


@pytest.fixture(scope="module")
def repro(fresh_copy) -> tuple[Path, str]:
    """The fresh copy after `make repro` on the tiny profile, and what the run printed."""
    python = str(VENV / "bin" / "python")
    _run([python, "-m", "artifact_removal", "profile", "profiles/tiny.yaml"], fresh_copy)
    return fresh_copy, _run(MAKE_REPRO, fresh_copy)


def test_make_repro_end_to_end(repro):
    fresh_copy, first = repro
    bin_dir = VENV / "bin"
    assert "Running stage 'prepare'" in first
    assert "Running stage 'train_ssim@20'" in first and "Running stage 'train_ssim@40'" in first
    assert "Running stage 'train_gan@20'" in first and "Running stage 'train_gan@40'" in first
    assert "Running stage 'train_qf'" in first
    predictor = torch.load(fresh_copy / "models/qf/predictor.pt", weights_only=True)
    assert predictor["model_args"]["classes"] == [15, 20, 30, 40]  # the tiny profile's classes
    assert predictor["model_args"]["temperature"] > 0  # calibrated on the validation split
    assert predictor["method"] == "qf_predictor" and predictor["arch"] == "qf_net"
    qf_metrics = json.loads((fresh_copy / "reports/train_qf/metrics.json").read_text())
    val = pd.read_csv(fresh_copy / "reports/train_qf_confusion/val.csv", index_col=0)
    recall = np.diag(val.to_numpy()) / val.to_numpy().sum(axis=0)
    assert qf_metrics["val"]["mean_class_accuracy"] == pytest.approx(recall[:4].mean())
    assert qf_metrics["step"] == 10
    for quality in (20, 40):
        release = torch.load(fresh_copy / f"models/ssim/q{quality}.pt", weights_only=True)
        assert release["quality"] == quality and release["model_args"]["channels"] == 16
        summary = json.loads(
            (fresh_copy / f"reports/train_ssim/q{quality}/metrics.json").read_text()
        )
        assert summary["step"] == 10 and {"psnr_rgb", "jpeg_psnr_rgb"} <= set(summary["val"])
        gan = torch.load(fresh_copy / f"models/gan/q{quality}.pt", weights_only=True)
        assert gan["method"] == "gan" and gan["loss"] == "random_vgg19_relu1_2"
        gan_summary = json.loads(
            (fresh_copy / f"reports/train_gan/q{quality}/metrics.json").read_text()
        )
        assert gan_summary["perceptual_loss"] == "random_vgg19_relu1_2"
        assert gan_summary["best_step"] in (5, 10) and "niqe" in gan_summary["best"]

    metrics = json.loads((fresh_copy / "metrics/prepare.json").read_text())
    assert metrics["images"]["train"] >= 5
    assert sorted(p.name for p in (fresh_copy / "metrics/jpeg").iterdir()) == [
        "q20.json",
        "q40.json",
    ]
    for name in ("01_prepare_data.ipynb", "01_prepare_data.html", "figures/qf_ladder.png"):
        assert (fresh_copy / "reports" / name).stat().st_size > 0

    scores = fresh_copy / "metrics/evaluate/test/q20"
    evaluated = {p.stem: json.loads(p.read_text()) for p in scores.iterdir()}
    assert set(evaluated) == {"original", "jpeg", "ssim", "gan", "nogan_pre", "nogan"}
    assert {p.stem for p in (fresh_copy / "metrics/evaluate/test/q40").iterdir()} == {
        "original", "jpeg", "ssim", "gan"}  # NoGAN is scored at its own QFs only  # fmt: skip
    nogan = json.loads((fresh_copy / "reports/train_nogan/q20/metrics.json").read_text())
    assert nogan["best_step"] >= 0 and nogan["step"] <= 12 and "niqe" in nogan["best"]
    assert evaluated["jpeg"]["gain_y"] == 0
    prepared = json.loads((fresh_copy / "metrics/jpeg/q20.json").read_text())
    assert evaluated["jpeg"]["psnr_rgb"] == pytest.approx(prepared["test"]["psnr_rgb"], abs=1e-4)
    qf_test = json.loads((fresh_copy / "metrics/qf_predictor/test.json").read_text())
    held_out = json.loads((fresh_copy / "metrics/prepare.json").read_text())["images"]["test"]
    sampled = load_params(fresh_copy / "params.yaml").evaluate.sampled_images  # a spread of them
    # each at QF 15, 20, 30, 40, 17, 25, 35 (between), 90, and uncompressed
    assert qf_test["images"] == 9 * (min(sampled, held_out) if sampled else held_out)
    assert {"psnr_y", "ssim_y", "psnrb_y", "niqe", "brisque"} <= set(evaluated["ssim"])
    video = json.loads((fresh_copy / "metrics/video.json").read_text())
    assert video["crf"] == 40 and set(video["versions"]) == {"original", "h264", "video_ssim",
                                                              "video_gan"}  # fmt: skip
    assert (fresh_copy / "reports/video/player.html").stat().st_size > 0
    assert (fresh_copy / "models/crf/predictor.pt").is_file()  # the CRF predictor, for restore
    study = json.loads((fresh_copy / "metrics/study/study.json").read_text())
    assert study["raters"] == 0 and (fresh_copy / "reports/study/study.html").is_file()
    detection = json.loads((fresh_copy / "metrics/detection.json").read_text())
    assert len(detection["skipped"]) == 2  # neither VOC nor the detector's weights here
    assert 0 <= video["crf_predictor"]["accuracy"] <= 1 and "fps" not in video["versions"]["h264"]
    assert (
        "random_vgg19_relu1_2" in (fresh_copy / "reports/evaluate/tables/test_q20.md").read_text()
    )
    reports = ("03_train_gan_q20.html", "figures/train_gan_q40_samples.png",
               "05_train_qf.html", "figures/train_qf_confusion.png",
               "figures/train_qf_reliability.png", "evaluate/qf/test.csv",
               "evaluate/figures/qf_confusion.png",
               "06_evaluate.html", "07_compare.html", "evaluate/tables/test_q40.md",
               "evaluate/figures/test_crops.png", "evaluate/figures/test_curves.png")  # fmt: skip
    for name in reports:
        assert (fresh_copy / "reports" / name).stat().st_size > 0

    second = _run(MAKE_REPRO, fresh_copy)
    assert "Running stage" not in second
    status = _run([str(bin_dir / "dvc"), "status"], fresh_copy)
    assert "up to date" in status
    # the tiny profile trains on the embedded corpus: data.dvc records it, and keeps it
    assert tracked_dir_md5(fresh_copy / "data.dvc") == DEFAULT_DIR_MD5
    assert "corpus: the embedded corpus" in first and "BSDS500 was not found" not in first
    shown = _run([str(bin_dir / "dvc"), "metrics", "show", "--md"], fresh_copy)
    for path in ("metrics/jpeg/q20.json", "reports/train_ssim/q20/metrics.json",
                 "reports/train_gan/q40/metrics.json", "metrics/evaluate/test/q40/gan.json",
                 "reports/train_qf/metrics.json", "metrics/qf_predictor/test.json"):  # fmt: skip
        assert path in shown


def _activated() -> dict[str, str]:
    """The environment of a shell in which the venv is activated, as the README says."""
    return {**os.environ, "DVC_NO_ANALYTICS": "1", "VIRTUAL_ENV": str(VENV),
            "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip


def _shell(command: str, project: Path) -> str:
    """A README command line, run by the shell with the venv activated."""
    done = subprocess.run(command, shell=True, cwd=project, env=_activated(),
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_docs_metrics_tables_fit_a_terminal(repro):
    """Every `dvc metrics show` of the README and the docs prints rows of at most 160
    characters."""
    docs = "".join(p.read_text() for p in [REPO / "README.md", *sorted(REPO.glob("docs/*.md"))])
    commands = dict.fromkeys(
        c.strip() for c in re.findall(r"^(dvc metrics show[^#\n]*)", docs, re.M)
    )
    assert len(commands) >= 4
    for command in commands:  # each once, where several pages give it
        printed = _shell(command, repro[0])
        widest = max(len(line) for line in printed.splitlines())
        assert 0 < widest <= 160, f"{command}: {widest} columns\n{printed}"


def test_dvc_experiments_with_the_venv_activated(repro):
    """DVC's own workflow: `dvc exp run -S` (DVC rewrites params.yaml: quotes and comments go),
    `dvc exp show`, `dvc params diff`, `dvc metrics diff`, `dvc repro STAGE`."""
    fresh_copy, _ = repro
    _run(["git", "add", "-A"], fresh_copy)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny"], fresh_copy)
    try:
        ran = _shell("dvc exp run -S train_ssim.steps=12 train_ssim@20", fresh_copy)
        assert "Running stage 'train_ssim@20'" in ran and "train_ssim@40" not in ran
        assert "chroma_subsampling: 4:2:0" in (fresh_copy / "params.yaml").read_text()
        summary = json.loads((fresh_copy / "reports/train_ssim/q20/metrics.json").read_text())
        assert summary["step"] == 12
        assert "Stage 'train_ssim@20' didn't change" in _shell("dvc repro train_ssim@20",
                                                               fresh_copy)  # fmt: skip
        params = _shell("dvc params diff", fresh_copy)
        assert re.search(r"params\.yaml\s+train_ssim\.steps\s+10\s+12", params), params
        assert len(params.strip().splitlines()) == 2  # the header and that row
        metrics = _shell("dvc metrics diff", fresh_copy)
        rows = metrics.strip().splitlines()[1:]
        assert rows and all(r.startswith("reports/train_ssim/q20/metrics.json") for r in rows)
        assert not any(r.split()[-1] == "0.0" for r in rows), metrics  # no noise rows
        shown = _shell("dvc exp show --only-changed --csv", fresh_copy)
        assert "train_ssim.steps" in shown and "12" in shown
    finally:
        _run(["git", "reset", "-q", "--hard"], fresh_copy)
        _run([str(VENV / "bin" / "dvc"), "checkout", "--force"], fresh_copy)
    assert _status(fresh_copy) == set()


def _status(project: Path) -> set[str]:
    """The stages `dvc status` names as changed."""
    printed = _run([str(VENV / "bin" / "dvc"), "status"], project)
    return {line.rstrip(":") for line in printed.splitlines() if re.match(r"^\S+:$", line)}


def test_an_extra_evaluation_set_makes_only_the_evaluation_stale(repro, tmp_path):
    """Scenario (c) of the design: a benchmark set added for evaluation retrains nothing."""
    from artifact_removal.data.images import write_png

    fresh_copy, _ = repro
    for i in range(2):
        write_png(np.full((96, 128, 3), 60 * i, np.uint8), tmp_path / "bench" / f"b{i}.png")
    params = (fresh_copy / "params.yaml").read_text()
    try:
        (fresh_copy / "params.yaml").write_text(params.replace(
            "extra_sets: {}", f"extra_sets:\n    bench: {tmp_path / 'bench'}"))  # fmt: skip
        assert _status(fresh_copy) == {"check_params", "prepare_set@bench", "evaluate",
                                       "compare"}  # fmt: skip
    finally:
        (fresh_copy / "params.yaml").write_text(params)
    assert _status(fresh_copy) == set()


def _outputs(project: Path) -> dict[str, str]:
    """md5 of every file the pipeline wrote (models, metrics, reports, prepared data)."""
    import hashlib

    return {p.relative_to(project).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for top in ("models", "metrics", "reports", "data/prepared")
            for p in sorted((project / top).rglob("*")) if p.is_file()}  # fmt: skip


def test_a_misspelt_key_stops_dvc_repro_before_anything_is_deleted(repro):
    """DVC deletes a stage's outputs before running it: the first stage, check_params, must
    stop a bad params.yaml before any stage that has results runs."""
    fresh_copy, _ = repro
    params = (fresh_copy / "params.yaml").read_text()
    before = _outputs(fresh_copy)
    assert "metrics/prepare.json" in before and "models/gan/q20.pt" in before
    dvc = str(VENV / "bin" / "dvc")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1",  # the venv active, as `make` has it
           "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    try:
        for bad, says in ((params.replace("\n  steps: ", "\n  stepz: ", 1), "stepz"),
                          (params.replace("\n  steps: ", "\n  steps: 5\n  steps: ", 1),
                           'duplicate key "steps"'),
                          (re.sub(r"^seed: (\d+)", r"seed: '\1'", params, flags=re.M),
                           "seed")):  # fmt: skip
            (fresh_copy / "params.yaml").write_text(bad)
            done = subprocess.run([dvc, "repro"], cwd=fresh_copy, env=env, capture_output=True,
                                  text=True)  # fmt: skip
            assert done.returncode != 0, done.stdout
            assert says in done.stdout + done.stderr
            assert "Running stage 'train_ssim@20'" not in done.stdout
            assert _outputs(fresh_copy) == before
    finally:
        (fresh_copy / "params.yaml").write_text(params)
    subprocess.run([dvc, "repro", "check_params"], cwd=fresh_copy, env=env, check=True)
    assert _status(fresh_copy) == set()


def test_new_pretrained_weights_make_only_their_users_stale(repro):
    """Scenario (d): `artifact-removal pretrained` records VGG-19 weights that arrived in
    torchvision's cache (simulated by writing the entry it would write): only the GAN stages are
    stale (the GANs on JPEG and the video stage's), and after them, what reads their models;
    AlexNet's entry touches the evaluation and
    NoGAN (its LPIPS loss and stopping score), and MobileNetV3's NoGAN alone."""
    fresh_copy, _ = repro
    manifest = fresh_copy / "models/pretrained.yaml"
    before = manifest.read_text()
    try:
        manifest.write_text(
            before.replace("vgg19: absent", f"vgg19: vgg19-dcbb9e9d.pth sha256:{'d' * 64}")
        )
        assert _status(fresh_copy) == {"train_gan@20", "train_gan@40", "video"}  # video_gan too
        manifest.write_text(before.replace("alexnet: absent", f"alexnet: a sha256:{'7' * 64}"))
        assert _status(fresh_copy) == {"evaluate", "release", "train_nogan@20"}  # LPIPS
        mobilenet = f"mobilenet_v3_large: m sha256:{'5' * 64}"
        manifest.write_text(before.replace("mobilenet_v3_large: absent", mobilenet))
        assert _status(fresh_copy) == {"train_nogan@20"}
        detector = f"fasterrcnn_resnet50_fpn: f sha256:{'2' * 64}"
        manifest.write_text(before.replace("fasterrcnn_resnet50_fpn: absent", detector))
        assert _status(fresh_copy) == {"detection"}
    finally:
        manifest.write_text(before)
    assert _status(fresh_copy) == set()


def test_ratings_handed_in_rerun_the_analysis_not_the_study(repro):
    """A class's ratings handed in: only the analysis reruns; the study the raters saw (its
    page, pictures and id) stays as it was."""
    fresh_copy, _ = repro
    page = (fresh_copy / "reports/study/study.html").read_bytes()
    study = json.loads((fresh_copy / "reports/study/study.json").read_text())
    (first, _), *_ = trial_sequence(study["seed"], "ann", len(study["trials"]), study["repeats"])
    trial = study["trials"][first]  # what ann was shown first (check_ratings checks it)
    ratings = fresh_copy / "data/ratings/ann-00000000.csv"
    ratings.write_text("study,rater,position,trial,image,method,quality,score,repeat,time\n"
                       f"{study['id']},ann,0,{trial['id']},{trial['image']},{trial['method']},"
                       f"{trial['quality']},81,0,2026-11-26T10:00:00Z\n")  # fmt: skip
    try:
        assert _status(fresh_copy) == {"check_ratings", "human_study"}
        _shell("dvc repro human_study", fresh_copy)
        found = json.loads((fresh_copy / "metrics/study/study.json").read_text())
        assert found["study"] == study["id"] and found["raters"] == 1
        condition = condition_slug(condition_of(trial["method"], trial["quality"]))
        row = json.loads((fresh_copy / f"metrics/study/conditions/{condition}.json").read_text())
        assert found["conditions"] == 1 and row["mos"] == 81
        assert (fresh_copy / "reports/study/study.html").read_bytes() == page
    finally:
        ratings.unlink()
        _shell("dvc repro human_study", fresh_copy)
    assert _status(fresh_copy) == set()


def test_restore_finds_the_pipelines_generators(repro, photo):
    """The user's command, run in the project after `make repro`: JPEGs at mixed QFs."""
    fresh_copy, _ = repro
    folder = fresh_copy / "my_photos"
    folder.mkdir(exist_ok=True)
    for quality in (10, 25, 70):
        Image.fromarray(photo).save(folder / f"q{quality}.jpg", quality=quality)
    printed = _run([str(VENV / "bin" / "artifact-removal"), "restore", "my_photos", "-o", "out"],
                   fresh_copy)  # fmt: skip
    # the default, measured per QF by stage release (release/default.json), with the SSIM
    # ladder's generators: the tiny profile's lose to the input, so the ladder may copy them
    assert "restoring with the default, chosen per QF on" in printed
    for quality in (10, 25):
        line = next(x for x in printed.splitlines() if f"q{quality}.jpg ->" in x)
        assert f"tables {quality}" in line or f"QF {quality} (tables)" in line, line
        assert "-> generator" in line or "(the measured ladder" in line, line
    # above the ladder (20, 40) + 15: left as it is, and said why
    assert "q70.jpg: copied without restoring (QF 70 (tables) is above the QFs" in printed
    # each in its own format (JPEGs as JPEGs), the copy byte for byte and listed
    assert sorted(p.name for p in (fresh_copy / "out").iterdir()) == [
        ".artifact-removal.json",
        "q10.jpg",
        "q25.jpg",
        "q70.jpg",
    ]
    assert (fresh_copy / "out/q70.jpg").read_bytes() == (folder / "q70.jpg").read_bytes()


def test_the_python_example_of_the_restore_guide_runs(repro, tmp_path):
    """docs/restore.md's "From Python" block, as written, inside the project after `make
    repro`."""
    fresh_copy, _ = repro
    readme = (REPO / "docs" / "restore.md").read_text()
    block = re.search(r"\*\*From Python\*\*.*?```python\n(.*?)```", readme, re.S).group(1)
    (tmp_path / "example.py").write_text(block)
    printed = _shell(f"python {tmp_path / 'example.py'}", fresh_copy)
    assert printed.splitlines()[0].startswith("tables 20, CNN")
    assert "(512, 512, 3) uint8" in printed
    # The default project restores it; the tiny profile's 10-step SSIM generators lose to the
    # input at QF 20, so its measured ladder copies it, and says so.
    assert "restored 1 of 1 inputs" in printed or (
        "restored 0 of 1 inputs (1 copied)" in printed and "(the measured ladder" in printed
    )


def test_outputs_hold_no_absolute_path(repro):
    """Location-independent outputs: the same files (and dvc.lock) wherever the project is."""
    fresh_copy, _ = repro
    here = str(fresh_copy).encode()
    files = [p for top in ("models", "metrics", "reports", "data/prepared", "build/notebooks")
             for p in (fresh_copy / top).rglob("*") if p.is_file()]  # fmt: skip
    assert len(files) > 50
    for path in [*files, fresh_copy / "dvc.lock"]:
        assert here not in path.read_bytes(), path


def _offline(browser, page: Path) -> None:
    """Open `page`; check that nothing it asked for left the machine."""
    from .browser import requested_urls

    browser.get_log("performance")  # forget earlier pages
    browser.get(page.as_uri())
    urls = requested_urls(browser)
    assert page.as_uri() in urls
    assert all(url.split(":", 1)[0] in ("file", "data", "blob") for url in urls), urls


def test_a_training_report_shows_its_formulas_offline(repro, browser):
    """Notebook 03's report: the loss formula drawn (MathML), no raw TeX, no CDN."""
    _offline(browser, repro[0] / "reports" / "03_train_gan_q20.html")
    text = browser.execute_script("return document.body.innerText")
    assert "$" not in text and "\\lambda" not in text and "l_{adv}" not in text
    width, height = browser.execute_script(
        "const r = document.querySelector('math[display=block]').getBoundingClientRect();"
        "return [r.width, r.height];"
    )
    assert width > 50 and height > 10
    assert "10/10" in text  # the training bar (10 steps in the tiny profile), finished


def test_compare_report_slider_works_offline_in_a_browser(repro, browser):
    """The executed compare notebook's HTML: drag its first slider, the view changes there."""
    from .browser import changed_columns, comparison, drag, shot

    page = repro[0] / "reports" / "07_compare.html"
    _offline(browser, page)
    view, slider = comparison(browser)
    before = shot(view)
    drag(browser, slider, -0.4)  # from the middle to about a tenth of the width
    after = shot(view)
    stop = float(slider.get_attribute("value")) / 100
    assert stop < 0.25
    changed = changed_columns(before, after)
    width = len(changed)
    passed = changed[round(width * stop) + 6 : width // 2 - 6].mean()
    print(f"share of pixels that changed where the line passed: {passed:.3f}")
    assert passed > 0.05  # JPEG against a generator trained for ten steps: small differences
    assert changed[width // 2 + 6 :].max() == 0


def test_the_book_of_the_run_works_offline(repro, browser):
    """`make book` after the tiny run: the chapters in order, and inside the book, from the
    file and with no other request, the compare slider moves, the player and the rating
    session load, and the search finds the GAN's chapter."""
    from .browser import changed_columns, comparison, drag, shot

    fresh_copy, _ = repro
    printed = _run(["make", "-o", f"{VENV}/.ready", "book", f"VENV={VENV}"], fresh_copy)
    site = fresh_copy / "build" / "book" / "html"
    assert (
        f"the book: {site / 'index.html'}" in printed and (fresh_copy / "build/book.zip").exists()
    )
    _offline(browser, site / "index.html")
    sidebar = browser.execute_script("return document.querySelector('.bd-sidebar').innerText")
    order = [sidebar.index(t) for t in ("01 ·", "02 ·", "03 ·", "04 ·", "06 ·", "07 ·", "08 ·")]
    assert order == sorted(order)
    _offline(browser, site / "07_compare.html")
    view, slider = comparison(browser)
    before = shot(view)
    drag(browser, slider, -0.4)
    assert changed_columns(before, shot(view)).any()
    _offline(browser, site / "08_video.html")
    assert browser.execute_script("return document.querySelectorAll('video').length") > 0
    _offline(browser, site / "study.html")
    browser.switch_to.frame(browser.find_element("css selector", "iframe"))
    assert "Your name" in browser.execute_script("return document.body.innerText")
    browser.switch_to.default_content()
    _offline(browser, site / "search.html")
    browser.get((site / "search.html").as_uri() + "?q=discriminator")
    found = browser.execute_script(
        "return new Promise(r => setTimeout(() => r(document.body.innerText), 2000))"
    )
    assert "03 · Train the GAN" in found


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
}


@pytest.mark.slow
def test_the_exercises_run_on_the_tiny_profile(repro, tmp_path):
    """Every exercise's commands, in a copy of the project after the tiny profile's
    `make repro` (a `dvc exp run` changes the workspace it runs in)."""
    from .test_exercises import NOTEBOOKS, commands

    project = tmp_path / "project"
    shutil.copytree(repro[0], project, symlinks=True)
    env_bin = str(VENV / "bin")
    for notebook in NOTEBOOKS:
        for command in commands(notebook):
            done = subprocess.run(
                command,
                shell=True,
                cwd=project,
                capture_output=True,
                text=True,
                env=dict(os.environ, PATH=f"{env_bin}:{os.environ['PATH']}", **GIT_IDENTITY),
            )
            assert done.returncode == 0, f"{notebook.name}: {command}\n{done.stderr[-2000:]}"
            print(f"{notebook.name}: {command}: ok", file=sys.stderr)
