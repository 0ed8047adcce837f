"""Shared fixtures: small natural images (bundled with scikit-image) and file factories."""

from __future__ import annotations

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
