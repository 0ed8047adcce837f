"""The generator: size, cost, shapes and ranges."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from artifact_removal.archs.generator import PRESETS, build_generator, count_parameters


def test_paper_generator_has_1_15_million_parameters():
    assert count_parameters(build_generator("paper")) == 1_148_291


def test_presets_shrink():
    counts = [count_parameters(build_generator(name)) for name in PRESETS]
    assert counts == sorted(counts, reverse=True)


def test_paper_generator_costs_291_gmac_per_720p_frame():
    net = build_generator("paper")
    with FlopCounterMode(display=False) as counter:  # 1/100 of a 1280x720 frame
        net(torch.zeros(1, 3, 72, 128))
    gmac_720p = counter.get_total_flops() / 2 * 100 / 1e9
    assert gmac_720p == pytest.approx(291, rel=0.01)


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("size", [(16, 16), (37, 53), (1, 1), (64, 33)])
def test_output_shape_and_range(preset, size):
    torch.manual_seed(0)
    net = build_generator(preset).eval()
    x = torch.rand(2, 3, *size)  # [0, 1] in and out: the network maps to [-1, 1] and back
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert y.min() >= 0 and y.max() <= 1


def test_residual_output_is_clamped_only_at_inference():
    """Training sees the unclamped sum, so overshooting a bright pixel still costs a gradient."""
    net = build_generator("tiny")
    with torch.no_grad():
        net.tail.bias.fill_(3.0)  # a correction of about +1 everywhere
    x = torch.full((1, 3, 16, 16), 0.95)  # 0.9 in the [-1, 1] the layers see
    assert net.train()(x).min() > 1.25  # 1.5 there
    with torch.no_grad():
        assert torch.equal(net.eval()(x), torch.ones_like(x))


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown generator preset"):
        build_generator("huge")
