"""Training batches drawn from the prepared corpus, each a pure function of (seed, step).

A batch's patch positions, classes and flips/rotations come from a generator seeded by the
step, so a resumed run sees exactly the batches an uninterrupted one would. Under torchrun each
process takes its share of the same batch (`rank` of `world`). Samplers hold the images of the
train split in memory as uint8 and know a fingerprint of every file they read, which goes into
the run's identity.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..archs.qf_labels import class_cells
from ..checkpoints import files_fingerprint
from ..degradations.jpeg import decode_jpeg, jpeg_compress
from .images import read_png
from .prepared import DataError, compressed_file, files

UNCOMPRESSED_SHARE = 4  # one in this many samples of the class "above" is not compressed at all


class _Index:
    """The patch index of one split and size, and the folder of its images."""

    def __init__(self, prepared_dir: Path, patch_size: int, set_name: str = "train"):
        index_file = prepared_dir / "patches" / f"{set_name}_{patch_size}.csv"
        if not index_file.is_file():
            raise DataError(f"{index_file}: no patch index; run the prepare stage first")
        index = pd.read_csv(index_file)
        if index.empty:
            raise DataError(f"{index_file}: no {patch_size}x{patch_size} patch fits any image")
        self.file, self.folder = index_file, prepared_dir / "sets" / set_name
        self.keys = list(dict.fromkeys(index["key"]))
        position = {k: i for i, k in enumerate(self.keys)}
        self.image = torch.tensor(index["key"].map(position).to_numpy())
        self.y, self.x = torch.tensor(index["y"].to_numpy()), torch.tensor(index["x"].to_numpy())
        self.size = patch_size

    def __len__(self) -> int:
        return len(self.image)

    def fingerprint(self, qualities: list[int], root: Path) -> str:
        """A hash of the index and of the split's files at these QFs."""
        return files_fingerprint([self.file, *files(self.folder, qualities)], root)

    def pixels(self, quality: int | None) -> list[torch.Tensor]:
        """Every indexed image, (H, W, 3) uint8: decoded at `quality`, or the originals."""
        out = []
        for key in self.keys:
            if quality is None:
                pixels = read_png(self.folder / "gt" / f"{key}.png")
            else:
                path = compressed_file(self.folder, quality, key)
                data = path.read_bytes()
                pixels = read_png(path) if path.suffix == ".png" else decode_jpeg(data)
            out.append(torch.from_numpy(_as_rgb(pixels)))
        return out


def _as_rgb(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) pixels; gray images as three equal channels."""
    return np.repeat(pixels[:, :, None], 3, axis=2) if pixels.ndim == 2 else pixels


def _step_generator(seed: int, step: int) -> torch.Generator:
    """The generator of one step's random draws."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def _move(patch: torch.Tensor, move: int) -> torch.Tensor:
    """(3, P, P) flipped/rotated by `move` in 0..7 (one of the 8 symmetries of the square)."""
    patch = torch.rot90(patch, move % 4, dims=(1, 2))
    return patch.flip(2) if move >= 4 else patch


def _share(size: int, rank: int, world: int) -> slice:
    """This process's part of a batch of `size`."""
    return slice(rank * size // world, (rank + 1) * size // world)


class PatchSampler:
    """Pairs (lq, gt) of patches of one QF from the prepared train split."""

    def __init__(
        self, prepared_dir: Path, quality: int, patch_size: int, seed: int, set_name: str = "train"
    ):
        self.index = _Index(Path(prepared_dir), patch_size, set_name)
        self.gt = self.index.pixels(None)
        self.lq = self.index.pixels(quality)
        self.quality, self.size, self.seed = quality, patch_size, seed

    def __len__(self) -> int:
        return len(self.index)

    def fingerprint(self, root: Path) -> str:
        """A hash of every file this sampler reads."""
        return self.index.fingerprint([self.quality], root)

    def batch(self, step: int, size: int, rank: int = 0, world: int = 1) -> dict:
        """This process's share of batch `step`: lq and gt (n, 3, P, P) in [0, 1]."""
        gen = _step_generator(self.seed, step)
        picks = torch.randint(len(self), (size,), generator=gen)
        moves = torch.randint(8, (size,), generator=gen)
        share = _share(size, rank, world)
        pairs = [
            self._crop(int(i), int(m)) for i, m in zip(picks[share], moves[share], strict=True)
        ]
        lq, gt = zip(*pairs, strict=True)
        return {"lq": torch.stack(lq).float() / 255, "gt": torch.stack(gt).float() / 255}

    def _crop(self, i: int, move: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One (lq, gt) pair, (3, P, P) uint8."""
        ix = self.index
        k, y, x, p = int(ix.image[i]), int(ix.y[i]), int(ix.x[i]), self.size
        lq = _move(self.lq[k][y : y + p, x : x + p].permute(2, 0, 1), move)
        gt = _move(self.gt[k][y : y + p, x : x + p].permute(2, 0, 1), move)
        return lq, gt


class QFSampler:
    """Labelled patches of every QF of the prepared train split.

    Each sample takes a random patch position (on the block grid), a random class and one of
    the 8 flips/rotations (which keep blocks whole). With `above_range` (low, high), samples
    of the class "above" are the original patch compressed at a QF drawn from low..high, or,
    one time in `UNCOMPRESSED_SHARE`, not compressed. With `between`, the classes' patches too
    are compressed here, each at a QF drawn from the QFs that count as its class
    (`archs.qf_net.class_cells`: QF 9 for the class 10 of classes 8, 10, 12), so the
    predictor learns the QFs between its classes as well; otherwise they are the prepared
    split's files at exactly the class's QF (JPEG, or H.264 frames for the CRF predictor).
    """

    def __init__(
        self,
        prepared_dir: Path,
        classes: tuple[int, ...],
        patch_size: int,
        seed: int,
        set_name: str = "train",
        above_range: tuple[int, int] | None = None,
        between: bool = False,
    ):
        self.index = _Index(Path(prepared_dir), patch_size, set_name)
        self.images = [] if between else [self.index.pixels(q) for q in classes]
        self.originals = self.index.pixels(None) if above_range or between else []
        self.classes, self.above_range = tuple(classes), above_range
        self.cells = class_cells(classes, above_range[0] if above_range else 101) if between else {}
        self.count = len(classes) + (1 if above_range else 0)
        self.size, self.seed = patch_size, seed

    def fingerprint(self, root: Path) -> str:
        """A hash of every file this sampler reads."""
        return self.index.fingerprint([] if self.cells else list(self.classes), root)

    def batch(
        self, step: int, size: int, rank: int = 0, world: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """This process's share of batch `step`: patches (n, 3, P, P) in [0, 1] and their
        class indices (n,)."""
        gen = _step_generator(self.seed, step)
        picks = torch.randint(len(self.index), (size,), generator=gen)
        labels = torch.randint(self.count, (size,), generator=gen)
        moves = torch.randint(8, (size,), generator=gen)
        low, high = self.above_range or (0, 0)
        qualities = torch.randint(low, high + 1, (size,), generator=gen)
        if self.cells:  # a QF of each class's cell (the class "above" keeps low..high)
            spots = torch.rand(size, generator=gen)
            for k, label in enumerate(labels.tolist()):
                if label < len(self.classes):
                    cell = self.cells[self.classes[label]]
                    qualities[k] = cell[min(int(spots[k] * len(cell)), len(cell) - 1)]
        plain = torch.randint(UNCOMPRESSED_SHARE, (size,), generator=gen) == 0
        share = _share(size, rank, world)
        drawn = zip(
            picks[share], labels[share], moves[share], qualities[share], plain[share], strict=True
        )
        patches = [
            self._patch(int(i), int(label), int(move), int(quality), bool(raw))
            for i, label, move, quality, raw in drawn
        ]
        return torch.stack(patches).float() / 255, labels[share]

    def _patch(self, i: int, label: int, move: int, quality: int, raw: bool) -> torch.Tensor:
        """One (3, P, P) uint8 patch of class `label`."""
        ix, p = self.index, self.size
        k, y, x = int(ix.image[i]), int(ix.y[i]), int(ix.x[i])
        if label < len(self.classes) and not self.cells:  # the prepared file of the class
            patch = self.images[label][k][y : y + p, x : x + p]
        else:  # compressed here (on the grid) at `quality`; "above" sometimes not at all
            patch = self.originals[k][y : y + p, x : x + p]
            if label < len(self.classes) or not raw:
                patch = torch.from_numpy(jpeg_compress(patch.numpy(), quality).pixels)
        return _move(patch.permute(2, 0, 1), move)
