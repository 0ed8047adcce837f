"""Shared fixtures: small natural images (bundled with scikit-image) and file factories."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from skimage import data as skdata

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


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
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()
