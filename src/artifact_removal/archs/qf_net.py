"""The QF predictor's network (Galteri et al., TMM 2019): which JPEG quality made these pixels.

It classifies patches among the ensemble's QFs (`degradation.qualities`) and, optionally, one
more class, `ABOVE`: compressed at a higher QF than any of them, or never compressed. The
architecture is this project's choice (the paper does not detail it): a fixed 8x8 DCT of the
luma blocks, then convolutions on the block grid, global average pooling and a linear layer.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..degradations.jpeg_quality import ijg_tables
from .qf_labels import labels_of
from .registry import architecture

# JFIF's full-range luma (ITU-T T.871): what libjpeg transforms and quantises, 0..255.
JFIF_LUMA = (0.299, 0.587, 0.114)


def dct_basis() -> torch.Tensor:
    """The 64 orthonormal 8x8 DCT-II basis images, (64, 1, 8, 8), frequency (u, v) at 8u + v."""
    k = torch.arange(8, dtype=torch.float64)
    scale = torch.full((8,), (2 / 8) ** 0.5, dtype=torch.float64)
    scale[0] = (1 / 8) ** 0.5
    cos = scale[:, None] * torch.cos((2 * k[None, :] + 1) * k[:, None] * torch.pi / 16)  # (u, x)
    return torch.einsum("ux,vy->uvxy", cos, cos).reshape(64, 1, 8, 8).float()


@architecture("qf_net", "predictor")
class QFNet(nn.Module):
    """Patch (N, 3, P, P) in [0, 1], P a multiple of 8 -> logits (N, len(labels)).

    `labels` are the QFs of `classes`, then `ABOVE` when `above` is set. The classes may be
    finer than the ensemble's QFs (`train_qf.classes`): an image between two classes counts as
    the nearest (`class_cells`), and its QF picks the generators (`inference.ensemble`).

    A fixed layer takes the 8x8 DCT of each block of luma as the JPEG encoder did: JFIF's
    full-range Y (0.299 R + 0.587 G + 0.114 B, 0..255) shifted by -128. The network then
    sees, per block and frequency, log(1 + |coefficient|), where quantization shows as
    coefficients that vanish as the QF falls, and, for each class, the cosine of
    2 pi coefficient / step, with that class's libjpeg quantization step: close to 1 when the
    coefficient sits on the class's lattice, as all of them do for the true class (up to the
    rounding of the decoded pixels and, in colour images, of the chroma's upsampling).
    The front end runs in float32 even under autocast: the lattice needs the precision.
    """

    def __init__(
        self,
        classes: tuple[int, ...],
        channels: int = 32,
        above: bool = False,
        temperature: float = 1.0,
    ):
        super().__init__()
        self.classes, self.channels, self.above = tuple(classes), channels, above
        # divides an image's mean log-probabilities before the softmax (`inference.qf.predict`):
        # fitted on held-out images after training, so that its confidences are calibrated
        self.temperature = float(temperature)
        self.labels = labels_of(self.classes, above)
        self.register_buffer("dct", dct_basis(), persistent=False)
        self.register_buffer(
            "luma", 255 * torch.tensor(JFIF_LUMA).view(1, 3, 1, 1), persistent=False
        )
        steps = np.stack([ijg_tables(q)[0].ravel() for q in self.classes])  # (K, 64)
        self.register_buffer(
            "steps", torch.tensor(steps, dtype=torch.float32).view(1, -1, 1, 1), persistent=False
        )
        c, inputs = channels, 64 * (1 + len(self.classes))
        self.features = nn.Sequential(
            nn.BatchNorm2d(inputs),
            *_layer(inputs, 4 * c, 1),
            *_layer(4 * c, 4 * c, 3),
            *_layer(4 * c, 4 * c, 1),
        )
        self.head = nn.Linear(4 * c, len(self.labels))

    def dct_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, P, P) in [0, 1] -> (N, 64 (1 + K), P/8, P/8): log-magnitudes, then lattices."""
        with torch.autocast(x.device.type, enabled=False):
            y = (x.float() * self.luma).sum(dim=1, keepdim=True) - 128  # (N, 1, P, P)
            coefficients = F.conv2d(y, self.dct, stride=8)  # (N, 64, P/8, P/8)
            lattice = torch.cos(
                2 * torch.pi * coefficients.repeat(1, len(self.classes), 1, 1) / self.steps
            )
            return torch.cat([torch.log1p(coefficients.abs()), lattice], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits over `labels`."""
        return self.head(self.features(self.dct_features(x)).mean(dim=(2, 3)))

    def arguments(self) -> dict:
        """The keyword arguments that rebuild this network (for release files)."""
        return {
            "classes": list(self.classes),
            "channels": self.channels,
            "above": self.above,
            "temperature": self.temperature,
        }

    @classmethod
    def from_arguments(cls, args: dict) -> QFNet:
        """The network that `arguments()` describes (a release file's `model_args`)."""
        return cls(
            tuple(int(q) for q in args["classes"]),
            int(args["channels"]),
            bool(args["above"]),
            float(args.get("temperature", 1.0)),
        )


def _layer(cin: int, cout: int, kernel: int) -> list[nn.Module]:
    """Convolution (no bias), batch norm, LeakyReLU."""
    return [
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(0.2, inplace=True),
    ]
