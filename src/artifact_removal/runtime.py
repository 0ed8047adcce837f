"""Seeding and device choice, each in one place."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a fresh generator for data loaders."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - libraries that still use the global state
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    return torch.Generator().manual_seed(seed)


def select_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA when a GPU is visible, else the CPU; `cuda` without a GPU is an error."""
    if name not in ("auto", "cpu", "cuda") and not name.startswith("cuda:"):
        raise ValueError(f"device: expected auto, cpu or cuda[:N], got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device: {name!r} was asked for, but torch sees no CUDA GPU")
    return torch.device(name)
