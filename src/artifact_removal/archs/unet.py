"""NoGAN's generator (Mameli et al., ICPR 2020): a U-Net over an ImageNet encoder.

The design follows the description of DeOldify's "wide" U-Net that the NoGAN paper builds on,
written here in plain PyTorch:

- Encoder: torchvision's MobileNetV3 (large, or small for the paper's "small" row) or ResNet-34
  (the paper's speed comparison), tapped at strides 2, 4, 8 and 16; the stride-32 output is the
  bottom of the U. Inputs in [-1, 1] are mapped to ImageNet's normalisation inside the network.
- Middle: two 3x3 convolutions at stride 32.
- Decoder: one block per skip, from stride 32 back to 2. A block upsamples by 2 with a 1x1
  convolution and PixelShuffle (weights ICNR-initialised, so that at the start it upsamples like
  nearest neighbour, without checkerboard), blurs with a 2x2 average (the shift of PixelShuffle's
  grid), concatenates the batch-normalised skip, and applies two spectral-normalised 3x3
  convolutions; the deepest block (stride 16) ends with self-attention. (Attention is
  quadratic in the positions: a 720p frame has 3,600 at stride 16, but 57,600 at stride 4,
  whose attention matrix alone would take 13 GB.)
- Head: a last upsampling to full resolution, the input concatenated, a residual block and a 1x1
  convolution to RGB that is added to the input and clipped to [-1, 1] (the Galteri generator's
  range). That convolution starts at zero, so the untrained network returns the JPEG itself
  and every step of training starts from there: where DeOldify ends in a plain convolution,
  a short CPU run would otherwise spend its steps learning the identity.

`skips=1` builds what the public NoGAN code effectively trains: its encoder is cut so early that
one skip (stride 2) remains, hence one decoder block and no self-attention. Notebook 04 shows
both. Odd sizes work: an upsampled map that does not match its skip is resized to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .registry import architecture

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision feature indices whose outputs are at strides 2, 4, 8, 16 and 32, and the weights
# file torchvision's cache holds for each encoder.
MOBILENET_TAPS = {"mobilenet_v3_large": (1, 3, 6, 12, 16), "mobilenet_v3_small": (0, 1, 3, 8, 12)}
WEIGHT_FILES = {
    "mobilenet_v3_large": "mobilenet_v3_large-5c1a4163.pth",
    "mobilenet_v3_small": "mobilenet_v3_small-047dcff4.pth",
    "resnet34": "resnet34-b627a593.pth",
}
ENCODERS = tuple(WEIGHT_FILES)


@dataclass(frozen=True)
class UNetConfig:
    """The encoder, how many skips the decoder uses (4: the U-Net; 1: the public code's),
    the decoder's width factor and whether the stride-16 block has self-attention."""

    encoder: str = "mobilenet_v3_large"
    skips: int = 4
    width: float = 1.0
    attention: bool = True

    def __post_init__(self):
        if self.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {self.encoder!r}; one of {', '.join(ENCODERS)}")
        if self.skips not in (1, 4):
            raise ValueError(
                f"skips must be 4 (the U-Net) or 1 (the public code), not {self.skips}"
            )


class Encoder(nn.Module):
    """An ImageNet backbone as a list of feature maps at strides 2, 4, 8, 16, 32 (the last
    `depth` + 1 of them computed: with depth 1, strides 2 and 4 only)."""

    def __init__(self, name: str, depth: int = 4, weights: dict | None = None):
        super().__init__()
        import torchvision

        net = getattr(torchvision.models, name)(weights=None)
        if weights is not None:
            net.load_state_dict(weights)
        if name in MOBILENET_TAPS:
            taps = MOBILENET_TAPS[name][: depth + 1]
            bounds = (0, *(t + 1 for t in taps))
            features = net.features
            self.stages = nn.ModuleList(nn.Sequential(*features[a:b]) for a, b in pairwise(bounds))
        else:  # ResNet: stem, then max-pool + layer1, layer2, layer3, layer4
            stem = nn.Sequential(net.conv1, net.bn1, net.relu)
            stages = [
                stem,
                nn.Sequential(net.maxpool, net.layer1),
                net.layer2,
                net.layer3,
                net.layer4,
            ]
            self.stages = nn.ModuleList(stages[: depth + 1])
        self.frozen = False
        self.eval()  # a probe for the channel counts must not move batch-norm statistics
        with torch.no_grad():
            self.channels = [f.shape[1] for f in self.forward(torch.zeros(1, 3, 64, 64))]
        self.train()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(N, 3, H, W) ImageNet-normalised -> feature maps, finest first."""
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out

    def freeze(self, frozen: bool = True) -> None:
        """Stop (or restart) training the encoder: no gradients, batch-norm statistics fixed."""
        self.frozen = frozen
        for p in self.parameters():
            p.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True):
        super().train(mode and not self.frozen)
        self.training = mode
        return self


def icnr_(weight: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """Initialise a convolution that feeds PixelShuffle(scale) so that each group of scale^2
    output channels starts equal: the shuffle then upsamples like nearest neighbour (ICNR,
    Aitken et al. 2017), with no checkerboard at the start of training."""
    out_channels = weight.shape[0] // scale**2
    base = torch.empty(out_channels, *weight.shape[1:])
    nn.init.kaiming_normal_(base)
    with torch.no_grad():
        weight.copy_(base.repeat_interleave(scale**2, dim=0))
    return weight


def conv(cin: int, cout: int, kernel: int = 3, act: bool = True) -> nn.Sequential:
    """Spectral-normalised convolution with same padding, ReLU unless `act` is False."""
    layers: list[nn.Module] = [spectral_norm(nn.Conv2d(cin, cout, kernel, padding=kernel // 2))]
    return nn.Sequential(*layers, *([nn.ReLU(inplace=True)] if act else []))


class ShuffleUp(nn.Module):
    """x2 upsampling: 1x1 convolution (ICNR), ReLU, PixelShuffle, 2x2 blur."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout * 4, 1)
        icnr_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.shuffle = nn.PixelShuffle(2)
        self.blur = nn.Sequential(nn.ReplicationPad2d((1, 0, 1, 0)), nn.AvgPool2d(2, stride=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blur(self.shuffle(F.relu(self.conv(x))))


class SelfAttention(nn.Module):
    """Self-attention over positions (SAGAN, Zhang et al. 2019); its weight starts at 0, so it
    begins as the identity."""

    def __init__(self, channels: int):
        super().__init__()
        inner = max(channels // 8, 1)
        self.query = spectral_norm(nn.Conv1d(channels, inner, 1, bias=False))
        self.key = spectral_norm(nn.Conv1d(channels, inner, 1, bias=False))
        self.value = spectral_norm(nn.Conv1d(channels, channels, 1, bias=False))
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(2)  # (N, C, HW)
        weights = torch.softmax(self.query(flat).transpose(1, 2) @ self.key(flat), dim=1)
        return x + self.gamma * (self.value(flat) @ weights).view_as(x)


class UpBlock(nn.Module):
    """Upsample, join the skip, two convolutions (and self-attention when asked)."""

    def __init__(self, cin: int, skip: int, cout: int, attention: bool = False):
        super().__init__()
        self.up = ShuffleUp(cin, cin // 2)
        self.skip_norm = nn.BatchNorm2d(skip)
        self.convs = nn.Sequential(conv(cin // 2 + skip, cout), conv(cout, cout))
        self.attention = SelfAttention(cout) if attention else nn.Identity()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        if x.shape[-2:] != skip.shape[-2:] or torch.compiler.is_exporting():
            # odd sizes: back to the skip's. An export (ONNX) keeps the step for every size;
            # at equal sizes it is the identity
            x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
        return self.attention(self.convs(torch.cat([x, self.skip_norm(skip)], dim=1)))


@architecture("unet", "generator", UNetConfig)
class UNet(nn.Module):
    """NoGAN's generator; see the module docstring. (N, 3, H, W) in [-1, 1] both ways."""

    def __init__(self, config: UNetConfig = UNetConfig(), encoder_weights: dict | None = None):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config.encoder, config.skips, encoder_weights)
        chans = self.encoder.channels  # finest first; the last is the bottom
        # decoder widths halve with the stride, so that the full-resolution end stays cheap
        # and the encoder, not the decoder, sets the speed (as in the paper's comparison)
        middle = max(16, int((384 if config.skips == 4 else 64) * config.width))
        self.middle = nn.Sequential(conv(chans[-1], middle), conv(middle, middle))
        widths = [max(16, int(w * config.width)) for w in (256, 128, 64, 32)][-config.skips :]
        blocks, cin = [], middle
        for depth, (skip, cout) in enumerate(zip(reversed(chans[:-1]), widths, strict=True)):
            deepest = depth == 0 and config.skips == 4
            blocks.append(UpBlock(cin, skip, cout, attention=config.attention and deepest))
            cin = cout
        self.decoder = nn.ModuleList(blocks)
        self.last_up = ShuffleUp(cin, cin // 2)
        joined = cin // 2 + 3
        self.refine = nn.Sequential(conv(joined, joined), conv(joined, joined, act=False))
        self.to_rgb = nn.Conv2d(joined, 3, 1)
        nn.init.zeros_(self.to_rgb.weight)  # starts as the identity: the output is the input
        nn.init.zeros_(self.to_rgb.bias)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor, signed: bool = False) -> torch.Tensor:
        """(N, 3, H, W) compressed in [0, 1] -> (N, 3, H, W) restored in [0, 1] (float32), as
        every generator; with `signed`, both in [-1, 1], the range the layers work in and
        LPIPS and NoGAN's critic judge in (NoGAN's training stays there)."""
        lq = image if signed else image * 2 - 1
        features = self.encoder(((lq + 1) / 2 - self.mean) / self.std)
        x = self.middle(features[-1])
        for block, skip in zip(self.decoder, reversed(features[:-1]), strict=True):
            x = block(x, skip)
        x = self.last_up(x)
        if x.shape[-2:] != lq.shape[-2:] or torch.compiler.is_exporting():
            x = F.interpolate(x, size=lq.shape[-2:], mode="nearest")
        x = torch.cat([x, lq], dim=1)
        x = F.relu(x + self.refine(x))
        restored = (lq + self.to_rgb(x)).clamp(-1, 1)
        return restored if signed else (restored.float() + 1) / 2

    def model_args(self) -> dict:
        """The arguments that rebuild this network (for release files)."""
        return asdict(self.config)


class Critic(nn.Module):
    """NoGAN's critic, after DeOldify's: spectral-normalised convolutions with LeakyReLU 0.2 and
    dropout, stride-2 downsampling, self-attention after the first downsampling, and a logit per
    patch for binary cross-entropy: (N, 1, H/s - 3, W/s - 3), s = 2^(downsamplings + 1)."""

    def __init__(self, channels: int = 64, downsamplings: int = 3, dropout: float = 0.15):
        super().__init__()

        def layer(cin: int, cout: int, kernel: int, stride: int) -> list[nn.Module]:
            padding = (kernel - 1) // 2 if stride == 1 else 1
            return [
                spectral_norm(nn.Conv2d(cin, cout, kernel, stride, padding)),
                nn.LeakyReLU(0.2, inplace=True),
            ]

        layers = [*layer(3, channels, 4, 2), nn.Dropout2d(dropout / 2)]
        c = channels
        for i in range(downsamplings):
            layers += [*layer(c, c, 3, 1), nn.Dropout2d(dropout), *layer(c, c * 2, 4, 2)]
            if i == 0:
                layers.append(SelfAttention(c * 2))
            c *= 2
        layers += [*layer(c, c, 3, 1), spectral_norm(nn.Conv2d(c, 1, 4, padding=0, bias=False))]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, 1, h, w) logits, one per patch."""
        return self.net(x)
