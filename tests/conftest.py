"""Shared fixtures: small natural images (bundled with scikit-image) and file factories."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data as skdata

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


# Files collected first, longest first (seconds on 2 cores, 2026-12-06): under pytest-xdist the
# long files start at once and the short ones fill in after them, instead of a long one starting
# last and running on alone. test_pipeline.py (`make test-e2e`, 740 s) leads when it runs.
LONGEST_FIRST = ("test_pipeline.py", "test_gan_training.py", "test_export.py",
                 "test_training.py", "test_ray.py", "test_nothing_silent.py",
                 "test_reliability.py", "test_data.py", "test_new_method.py",
                 "test_nogan_training.py")  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    order = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: order.get(item.path.name, len(order)))  # stable: order kept


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A 192x256 crop of a natural RGB photograph, uint8."""
    return np.ascontiguousarray(skdata.astronaut()[64:256, 128:384])


@pytest.fixture(scope="session")
def gray_photo() -> np.ndarray:
    """A 160x160 crop of a natural gray photograph, uint8."""
    return np.ascontiguousarray(skdata.camera()[100:260, 200:360])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A minimal project folder: the repository's params.yaml and dvc.yaml."""
    for name in ("params.yaml", "dvc.yaml"):
        (tmp_path / name).write_text((REPO / name).read_text())
    return tmp_path


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium driven through chromedriver (Debian's chromium, chromium-driver).

    `make test` installs them when missing; without them this fails, unless
    ARTIFACT_REMOVAL_SKIP_BROWSER=1 says to skip the browser tests.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("ARTIFACT_REMOVAL_SKIP_BROWSER") == "1":
            pytest.skip("ARTIFACT_REMOVAL_SKIP_BROWSER=1 and no chromium/chromedriver")
        pytest.fail("the browser tests need chromium and chromedriver: `make browser` installs "
                    "them (apt-get install chromium chromium-driver)")  # fmt: skip
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,1000", "--force-device-scale-factor=1"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # `requested_urls`
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()


# Tiny settings for every trainer, merged into the repository's params.yaml by `small_project`.
TINY = """
data:
  corpus: embedded
  colour_variants: 5
  dead_leaves: 0
  extra_sets: {}
degradation:
  qualities: [10, 40]
  h264: {crfs: [40], preset: ultrafast, gop: 4, bframes: 1}
video:
  clips:
    {size: [64, 96], frames: 6, train_frames: 6, motions: [pan, shake], fps: 25,
     colour_variants: false}
  crf: 40
  niqe_every: 3
  train_encoders: {presets: [ultrafast, veryfast], gops: [4, 50], bframes: [0, 1]}
  predictor_crfs: [30, 40, 50]
  predictor_frames: 2
study: {qualities: [10], images: 2, crop: 64}
detection: {qualities: [10]}
train_video_ssim: {patch_size: 64, batch_size: 4, steps: 4, checkpoint_every: 2, val_every: 2}
train_video_gan:
  select_by: psnr_y
  perceptual_layer: relu1_2
  discriminator: {channels: 4, layers: 2, sub_patch: 16}
  patch_size: 64
  batch_size: 4
  steps: 4
  checkpoint_every: 2
  val_every: 2
train_ssim:
  generator: tiny
  loss: {ssim: 1.0, l1: 1.0}
  patch_size: 64
  batch_size: 4
  steps: 6
  lr: 0.001
  schedule: cosine
  checkpoint_every: 2
  val_every: 3
train_gan:
  perceptual_layer: relu1_2
  fallback: random_vgg19
  adversarial_weight: 0.01
  discriminator: {channels: 4, layers: 2, sub_patch: 16}
  patch_size: 64
  batch_size: 4
  steps: 10
  checkpoint_every: 5
  val_every: 10
  collapse_steps: 300
train_nogan:
  qualities: [10]
  generator: {encoder: mobilenet_v3_small, skips: 4, width: 0.25, attention: true}
  phases:
    - {patch_size: 64, steps: 3, frozen: true}
    - {patch_size: 64, steps: 3, frozen: false}
  batch_size: 2
  checkpoint_every: 2
  val_every: 3
train_nogan_gan:
  critic: {channels: 4, downsamplings: 2, dropout: 0.1}
  critic_steps: 2
  gan_steps: 8
  patch_size: 64
  batch_size: 2
  stop: {patience: 2, max_colour_shift: 3.0, max_high_frequency: 1.5}
  checkpoint_every: 2
  val_every: 2
evaluate:
  figure_quality: 10
train_qf:
  channels: 4
  batch_size: 8
  steps: 6
  checkpoint_every: 2
  val_every: 3
  predict_patches: 4
  classes: [10, 20, 40]
"""


@pytest.fixture(scope="session")
def prepared_project(tmp_path_factory, photo, gray_photo) -> Path:
    """A project with a prepared corpus of six small images at QF 10 and 40, tiny settings for
    every trainer, and a manifest that records no pretrained weights. Read it, never write into
    it: tests that write take `small_project`, a copy of their own."""
    from artifact_removal.config import apply_profile, load_params
    from artifact_removal.data.images import write_png
    from artifact_removal.data.prepare import prepare_corpus

    project = tmp_path_factory.mktemp("prepared")
    for name in ("params.yaml", "dvc.yaml"):
        (project / name).write_text((REPO / name).read_text())
    for i in range(5):
        write_png(np.roll(photo, 23 * i, axis=1)[:160, :192], project / f"data/raw/p{i}.png")
    write_png(gray_photo, project / "data/raw/g.png")
    (project / "tiny.yaml").write_text(TINY)
    apply_profile(project / "tiny.yaml", project / "params.yaml")
    (project / "models").mkdir()
    (project / "models/pretrained.yaml").write_text("vgg19: absent\nalexnet: absent\n")
    prepare_corpus(load_params(project / "params.yaml"), project)
    return project


@pytest.fixture
def small_project(prepared_project, tmp_path) -> Path:
    """A copy of `prepared_project` that a test may change."""
    copy = tmp_path / "project"
    shutil.copytree(prepared_project, copy)
    return copy


@pytest.fixture(scope="session")
def ssim_project(prepared_project, tmp_path_factory) -> Path:
    """`prepared_project` with a tiny SSIM generator trained for QF 10 (the GAN's start)."""
    from artifact_removal.training.engine import train

    project = tmp_path_factory.mktemp("ssim") / "project"
    shutil.copytree(prepared_project, project)
    train(run_of(project, "ssim", 10), torch.device("cpu"), progress=False)
    return project


def run_of(project: Path, name: str, quality: int | None = None, tag: str = "", **settings):
    """The run of `name` in `project`, settings changed as given, files named by `tag`."""
    import dataclasses

    from artifact_removal.config import load_params
    from artifact_removal.training.run import Run

    run = Run.from_params(load_params(project / "params.yaml"), name, quality, project)
    if settings:
        run = dataclasses.replace(run, settings=dataclasses.replace(run.settings, **settings))
    if tag:
        run = dataclasses.replace(run, checkpoint=project / f"ck/{tag}.pt",
                                  release=project / f"models/{tag}.pt",
                                  live_dir=project / f"live/{tag}")  # fmt: skip
    return run


def weights_of(path: Path) -> dict:
    """The weights in a release file or checkpoint (a checkpoint's generator)."""
    from artifact_removal.checkpoints import load_checkpoint

    model = load_checkpoint(path)["model"]
    return model.get("g", model) if isinstance(model.get("g"), dict) else model


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights_of(a), weights_of(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def cut_at(monkeypatch, recipe, step: int) -> None:
    """Make `recipe.train_step` raise KeyboardInterrupt at `step` (as Ctrl-C would); undo with
    `monkeypatch.undo()`."""
    real = recipe.train_step

    def interrupt(self, at):
        if at == step:
            raise KeyboardInterrupt
        return real(self, at)

    monkeypatch.setattr(recipe, "train_step", interrupt)


def free_port() -> int:
    """A TCP port nobody listens on now (for torchrun's rendezvous)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


QUALITIES = (10, 20, 40)
CRFS = (32, 40)


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> Path:
    """Release files of tiny generators with seeded random weights (ssim/ and gan/, QF 10, 20
    and 40; video_ssim/, CRF 32 and 40), and a QF predictor (qf/predictor.pt) without the
    class 'above'."""
    from artifact_removal.archs.generator import build_generator
    from artifact_removal.archs.qf_net import QFNet
    from artifact_removal.checkpoints import save_atomic
    from artifact_removal.inference.releases import generator_release, predictor_release

    folder = tmp_path_factory.mktemp("models")
    for i, quality in enumerate(QUALITIES):
        torch.manual_seed(i)
        net = build_generator("tiny")
        for method in ("ssim", "gan"):
            release = generator_release(net) | {"quality": quality, "method": method}
            if method == "gan":  # what a GAN release records (the loss of the tiny profile)
                release["loss"] = "random_vgg19_relu1_2"
            save_atomic(release, folder / method / f"q{quality}.pt")
    for i, crf in enumerate(CRFS):  # generators of a video method, per H.264 CRF
        torch.manual_seed(10 + i)
        release = generator_release(build_generator("tiny")) | {"quality": crf,
                                                                "method": "video_ssim"}  # fmt: skip
        save_atomic(release, folder / "video_ssim" / f"q{crf}.pt")
    torch.manual_seed(0)
    predictor = predictor_release(QFNet(QUALITIES, 4).eval()) | {"method": "qf_predictor"}
    save_atomic(predictor, folder / "qf" / "predictor.pt")
    return folder
