"""The perceptual loss of the GAN: squared distance of VGG-19 features at a deep layer.

The ImageNet weights of torchvision's VGG-19 (`vgg19-dcbb9e9d.pth`) come from torchvision's cache
through `pretrained.weights_for`, which a stage asks for the file its manifest names; nothing is
downloaded. Without them the loss cannot be built (`MissingWeightsError` names the file and the
folder) unless a fallback is chosen: `random_vgg19` is the same network with seeded random
weights, whose features still respond to texture and structure, but it is not the papers' loss,
and its name must travel with every result it produces (`PerceptualLoss.name`).
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import torchvision
from torch import nn

from ..checkpoints import load_weights
from ..pretrained import BACKBONES, MissingWeightsError, cache_path

VGG19_FILE = BACKBONES["vgg19"]  # torchvision's ImageNet VGG-19 (IMAGENET1K_V1)
FALLBACKS = ("random_vgg19",)
_MEAN = (0.485, 0.456, 0.406)  # ImageNet statistics the VGG weights expect, inputs in [0, 1]
_STD = (0.229, 0.224, 0.225)


@functools.cache
def vgg19_layers() -> dict[str, int]:
    """Names of VGG-19's feature layers (conv1_1, relu1_1, ..., pool5) -> index in `features`."""
    names, block, conv = {}, 1, 0
    for index, module in enumerate(torchvision.models.vgg19().features):
        if isinstance(module, nn.Conv2d):
            conv += 1
            names[f"conv{block}_{conv}"] = index
        elif isinstance(module, nn.ReLU):
            names[f"relu{block}_{conv}"] = index
        else:
            names[f"pool{block}"] = index
            block, conv = block + 1, 0
    return names


def vgg19_features(
    layer: str, weights: Path | None, fallback: str | None = None, seed: int = 0
) -> tuple[nn.Module, str]:
    """VGG-19's feature extractor up to `layer` (frozen, eval mode), and the name of what it is.

    `weights` is the ImageNet file (None: absent, so the fallback, if any).
    """
    layers = dict(vgg19_layers())
    if layer not in layers:
        raise ValueError(f"unknown VGG-19 layer {layer!r}; one of {', '.join(layers)}")
    if fallback not in (None, *FALLBACKS):
        raise ValueError(f"unknown fallback {fallback!r}; one of {FALLBACKS} or none")
    if weights is not None:
        net = torchvision.models.vgg19()
        try:
            net.load_state_dict(load_weights(weights))
        except (RuntimeError, TypeError, AttributeError) as err:
            first = str(err).strip().splitlines()[-1].strip()[:160]
            raise MissingWeightsError(
                f"{weights}: not VGG-19's ImageNet weights ({first}); delete it and fetch it again"
            ) from None
        name = f"vgg19_{layer}"
    elif fallback == "random_vgg19":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = torchvision.models.vgg19()
        name = f"random_vgg19_{layer}"
    else:
        raise MissingWeightsError(_missing(cache_path(VGG19_FILE)))
    features = net.features[: layers[layer] + 1].eval().requires_grad_(False)
    return features, name


def _missing(path: Path) -> str:
    return (
        f"the perceptual loss needs {VGG19_FILE} in {path.parent} (torchvision's ImageNet "
        "VGG-19; torchvision downloads it there when online, or copy it there), then run "
        "`artifact-removal pretrained` (make repro does) to record it; or choose a fallback "
        f"({', '.join(FALLBACKS)}), which is not the papers' loss"
    )


class PerceptualLoss(nn.Module):
    """Mean squared distance of VGG-19 features of (N, 3, H, W) images in [0, 1]."""

    def __init__(
        self,
        layer: str = "relu5_4",
        weights: Path | None = None,
        fallback: str | None = None,
        seed: int = 0,
    ):
        super().__init__()
        self.features, self.name = vgg19_features(layer, weights, fallback, seed)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))

    def forward(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """l_P: mean over features of (phi(pred) - phi(gt))^2."""
        phi = self.features((torch.cat([pred, gt]) - self.mean) / self.std)  # (2N, C, h, w)
        fake, real = phi.chunk(2)
        return torch.mean((fake.float() - real.float()) ** 2)
