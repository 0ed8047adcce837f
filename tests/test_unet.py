"""NoGAN's networks: encoder taps, shapes for odd sizes, the frozen encoder, the critic."""

from __future__ import annotations

import pytest
import torch

from artifact_removal.archs.unet import Critic, Encoder, UNet, UNetConfig, icnr_

TAPS = {"mobilenet_v3_large": [16, 24, 40, 112, 960], "mobilenet_v3_small": [16, 16, 24, 48, 576],
        "resnet34": [64, 64, 128, 256, 512]}  # fmt: skip


@pytest.mark.parametrize("name", sorted(TAPS))
def test_encoder_taps_are_at_strides_2_to_32(name):
    encoder = Encoder(name).eval()
    features = encoder(torch.zeros(1, 3, 96, 128))
    assert [f.shape[1] for f in features] == TAPS[name] == encoder.channels
    assert [tuple(f.shape[-2:]) for f in features] == [
        (96 // s, 128 // s) for s in (2, 4, 8, 16, 32)
    ]


@pytest.mark.parametrize("config", [UNetConfig(), UNetConfig("mobilenet_v3_small", width=0.5),
                                    UNetConfig("resnet34"), UNetConfig(skips=1)])  # fmt: skip
def test_unet_keeps_any_size_and_the_output_range(config):
    torch.manual_seed(0)
    net = UNet(config).eval()
    for size in ((64, 64), (67, 93), (33, 40)):
        x = torch.rand(1, 3, *size)
        with torch.no_grad():
            y, signed = net(x), net(x * 2 - 1, signed=True)
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
        assert signed.abs().max() <= 1 and torch.equal((signed + 1) / 2, y)  # one network


def test_public_code_variant_has_one_skip_and_no_attention():
    net = UNet(UNetConfig(skips=1))
    assert len(net.decoder) == 1 and not any("attention" in n and "gamma" in n
                                             for n, _ in net.named_parameters())  # fmt: skip
    full = UNet(UNetConfig())
    assert len(full.decoder) == 4 and sum("gamma" in n for n, _ in full.named_parameters()) == 1


def test_a_frozen_encoder_gets_no_gradient_and_keeps_its_statistics():
    torch.manual_seed(0)
    net = UNet(UNetConfig("mobilenet_v3_small", width=0.5))
    torch.nn.init.normal_(net.to_rgb.weight)  # it starts at zero, passing no gradient back
    net.encoder.freeze()
    net.train()
    stats = {k: v.clone() for k, v in net.encoder.state_dict().items() if "running" in k}
    loss = net(torch.rand(2, 3, 64, 64)).square().mean()
    loss.backward()
    assert all(p.grad is None for p in net.encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.decoder.parameters())
    after = {k: v for k, v in net.encoder.state_dict().items() if "running" in k}
    assert all(torch.equal(stats[k], after[k]) for k in stats)
    net.encoder.freeze(False)
    assert all(p.requires_grad for p in net.encoder.parameters()) and net.encoder.stages.training


def test_the_untrained_network_returns_its_input():
    net = UNet(UNetConfig("mobilenet_v3_small", width=0.5)).eval()
    x = torch.rand(1, 3, 37, 50) * 2 - 1
    assert torch.equal(net(x, signed=True), x)
    assert torch.allclose(net((x + 1) / 2), (x + 1) / 2, atol=1e-7)


def test_icnr_starts_as_nearest_neighbour_upsampling():
    conv = torch.nn.Conv2d(4, 8 * 4, 1, bias=False)
    icnr_(conv.weight)
    y = torch.nn.functional.pixel_shuffle(conv(torch.rand(1, 4, 5, 6)), 2)
    assert torch.allclose(y[..., ::2, ::2], y[..., 1::2, 1::2]) and torch.allclose(
        y[..., ::2, ::2], y[..., 1::2, ::2]
    )


def test_critic_gives_a_logit_per_patch():
    critic = Critic(channels=16)
    assert critic(torch.zeros(2, 3, 128, 128)).shape == (2, 1, 5, 5)
    assert critic(torch.zeros(1, 3, 64, 64)).shape == (1, 1, 1, 1)
