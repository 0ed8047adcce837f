"""Seeding and device choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artifact_removal.runtime import seed_everything, select_device


def test_seeding_repeats_every_generator():
    def draw():
        gen = seed_everything(7)
        return (np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=gen).item())  # noqa: NPY002

    assert draw() == draw()
    assert seed_everything(7).initial_seed() == 7


def test_auto_device_is_usable():
    device = select_device("auto")
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert select_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        select_device("cuda")


def test_unknown_device_name():
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        select_device("tpu")
