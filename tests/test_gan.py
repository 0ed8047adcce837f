"""The conditional sub-patch discriminator and the adversarial losses."""

from __future__ import annotations

import math

import pytest
import torch

from artifact_removal.archs.discriminator import (
    Discriminator,
    DiscriminatorConfig,
    discriminator_args,
)
from artifact_removal.losses.adversarial import accuracy, adversarial_loss, discriminator_loss

SMALL = DiscriminatorConfig(channels=4, layers=4, sub_patch=16)


@pytest.mark.parametrize(
    ("size", "grid"), [((128, 128), (8, 8)), ((64, 96), (4, 6)), ((16, 32), (1, 2))]
)
def test_one_probability_per_sub_patch(size, grid):
    torch.manual_seed(0)
    net = Discriminator(SMALL)
    x = torch.rand(2, 3, *size)  # in [0, 1], as the generators give them
    out = net(x, x.flip(-1))
    assert out.shape == (2, 1, *grid)
    assert ((out > 0) & (out < 1)).all()


def test_sub_patch_size_is_a_parameter():
    net = Discriminator(DiscriminatorConfig(channels=4, layers=2, sub_patch=32))
    assert net(torch.zeros(1, 3, 128, 64), torch.zeros(1, 3, 128, 64)).shape == (1, 1, 4, 2)
    with pytest.raises(ValueError, match="divisible by 32"):
        net(torch.zeros(1, 3, 100, 64), torch.zeros(1, 3, 100, 64))
    with pytest.raises(ValueError, match="layers must be"):
        Discriminator(DiscriminatorConfig(layers=16, sub_patch=16))


def test_architecture_as_the_papers_describe():
    net = Discriminator()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.stride == (1, 1) and c.padding == (0, 0) for c in convs)
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 1]
    assert convs[0].in_channels == 6  # conditioned on the compressed image
    assert not any(isinstance(m, torch.nn.Linear) for m in net.modules())
    assert discriminator_args(net)["sub_patch"] == 16


def test_each_verdict_depends_only_on_its_own_region():
    torch.manual_seed(0)
    net = Discriminator(SMALL)
    x = torch.zeros(1, 3, 64, 64)
    changed = x.clone()
    changed[..., 38:42, 38:42] = 1  # sub-patch (2, 2) is 32..47; a 9-px field reaches 34..45
    diff = (net(changed, x) - net(x, x)).abs()[0, 0]
    assert diff[2, 2] > 0
    diff[2, 2] = 0
    assert diff.max() == 0


def test_loss_signs():
    half = torch.full((2, 1, 8, 8), 0.5)
    assert discriminator_loss(half, half) == pytest.approx(2 * math.log(2))
    assert adversarial_loss(half) == pytest.approx(math.log(2))
    # a fake that fools the discriminator lowers the generator's loss, raises the critic's
    assert adversarial_loss(torch.full_like(half, 0.9)) < adversarial_loss(half)
    assert discriminator_loss(half, torch.full_like(half, 0.9)) > discriminator_loss(half, half)
    assert discriminator_loss(torch.ones_like(half), torch.zeros_like(half)) < 1e-4
    assert accuracy(torch.full_like(half, 0.9), torch.full_like(half, 0.1)) == 1.0
    assert accuracy(torch.full_like(half, 0.1), torch.full_like(half, 0.9)) == 0.0


def test_losses_are_finite_at_certainty_and_under_autocast():
    zero, one = torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
    assert torch.isfinite(discriminator_loss(zero, one)) and torch.isfinite(adversarial_loss(zero))
    net = Discriminator(SMALL)
    x = torch.rand(1, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x, x)
    assert out.dtype == torch.float32 and torch.isfinite(adversarial_loss(out))
