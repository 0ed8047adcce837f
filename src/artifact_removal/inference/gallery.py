"""A gallery of prepared images and their restorations, for the evaluation and the widgets."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from ..archs.generator import Generator
from ..config import Params, resolve_path
from ..data.images import colourfulness, read_png
from ..data.prepared import DataError, evaluation_folders, keys, load_compressed
from ..degradations.jpeg import downscaled_jpeg
from ..methods import get as get_method
from ..methods import models_dir, qualities_of
from .releases import load_generator
from .torch_backend import restore_array

ORIGINAL, JPEG = "original", "jpeg"


class MissingRelease(RuntimeError):
    """A method's release file that the gallery needs is missing; says how to make it."""


class Gallery:
    """Prepared sets' images: original, JPEG at a QF, and each method's restoration.

    `sets` maps a set's name to its prepared folder, `methods` a method's name to its folder
    of release files, `qualities` the QFs each method is trained for (default: any). At another
    QF a method restores with its nearest trained QF's generator, as `restore` does with the
    ensemble (`trained` tells which QFs are its own). Restorations are computed on first use
    and the last `keep` of them kept (memory stays bounded on large sets); generators are
    loaded once.
    """

    def __init__(
        self,
        sets: dict[str, Path],
        methods: dict[str, Path],
        device: torch.device,
        keep: int = 64,
        qualities: dict[str, tuple[int, ...]] | None = None,
        super_resolution: int = 0,
        subsampling: str = "4:2:0",
    ):
        self.sets, self.methods, self.device = (
            {k: Path(v) for k, v in sets.items()},
            methods,
            device,
        )
        self.qualities = dict(qualities or {})
        # super-resolution + artifact removal: versions `jpeg_srN` (the input) and `<method>_srN`
        self.super_resolution, self.subsampling = super_resolution, subsampling
        self.sr_suffix = f"_sr{super_resolution}" if super_resolution else ""
        self._nets: dict[tuple[str, int], Generator] = {}
        self._images: OrderedDict[tuple[str, str, int, str], np.ndarray] = OrderedDict()
        self.keep = keep

    def keys(self, set_name: str) -> list[str]:
        """The image names of a prepared set, sorted."""
        return keys(self.folder(set_name))

    def folder(self, set_name: str) -> Path:
        """The prepared folder of a set."""
        if set_name not in self.sets:
            raise DataError(f"unknown set {set_name!r}; known: {list(self.sets)}")
        return self.sets[set_name]

    @property
    def choices(self) -> tuple[str, ...]:
        """What can be shown: the original, JPEG and every method (and their super-resolution
        versions when asked for)."""
        sr = tuple(m + self.sr_suffix for m in (JPEG, *self.methods)) if self.sr_suffix else ()
        return (ORIGINAL, JPEG, *self.methods, *sr)

    def image(self, set_name: str, key: str, quality: int, method: str) -> np.ndarray:
        """One version of one image: (H, W, 3) or (H, W) uint8."""
        if method == ORIGINAL:
            return read_png(self.folder(set_name) / "gt" / f"{key}.png")
        name = (set_name, key, quality, method)
        if name in self._images:
            self._images.move_to_end(name)
            return self._images[name]
        base = method.removesuffix(self.sr_suffix) if self.sr_suffix else method
        if base != method:  # super-resolution + artifact removal's input
            original = self.image(set_name, key, quality, ORIGINAL)
            found = downscaled_jpeg(original, quality, self.super_resolution, self.subsampling)
        else:
            found = load_compressed(self.folder(set_name), key, [quality])[1][quality].pixels
        if base != JPEG:
            found = restore_array(self.generator(base, quality), found, self.device)
        self._images[name] = found
        if len(self._images) > self.keep:
            self._images.popitem(last=False)
        return found

    def trained(self, method: str, quality: int) -> bool:
        """Whether `method` is trained for `quality` (the baselines always are)."""
        method = method.removesuffix(self.sr_suffix) if self.sr_suffix else method
        return method not in self.qualities or quality in self.qualities[method]

    def generator(self, method: str, quality: int) -> Generator:
        """The released generator of `method` for `quality` (or its nearest trained QF, the
        lower on a tie), loaded once."""
        if method not in self.methods:
            raise MissingRelease(f"unknown method {method!r}; known: {list(self.choices)}")
        if not self.trained(method, quality):
            quality = min(self.qualities[method], key=lambda q: (abs(q - quality), q))
        if (method, quality) not in self._nets:
            path = self.methods[method] / f"q{quality}.pt"
            if not path.is_file():
                section = get_method(method).stage_name
                raise MissingRelease(
                    f"{path}: no {method} generator for QF {quality} "
                    f"(run `dvc repro {section}@{quality}` or put a release file there)"
                )
            self._nets[(method, quality)] = load_generator(path, self.device)
        return self._nets[(method, quality)]

    @property
    def losses(self) -> dict[str, str]:
        """Perceptual loss of each method whose loaded releases name one (the GAN's), e.g.
        {"gan": "random_vgg19_relu2_2"}; several names are joined when QFs differ."""
        found: dict[str, list[str]] = {}
        for (method, _), net in sorted(self._nets.items()):
            loss = getattr(net, "release", {}).get("loss")
            if loss and loss not in found.setdefault(method, []):
                found[method].append(loss)
        return {method: ", ".join(names) for method, names in found.items() if names}

    def most_colourful(self, set_name: str, limit: int = 8) -> str:
        """Of the set's first `limit` images, the most colourful (for figures)."""
        keys = self.keys(set_name)[:limit]
        scores = [colourfulness(self.image(set_name, k, 0, ORIGINAL)) for k in keys]
        return keys[int(np.argmax(scores))]


def method_dirs(params: Params, root: str | Path) -> dict[str, Path]:
    """Folder of each evaluated method's release files (q<QF>.pt), in params order."""
    return {name: resolve_path(models_dir(params, name), root) for name in params.evaluate.methods}


def gallery_of(params: Params, root: str | Path, device: torch.device) -> Gallery:
    """The test sets and every evaluated method's generators, as params name them."""
    qualities = {name: qualities_of(params, name) for name in params.evaluate.methods}
    return Gallery(
        evaluation_folders(params, Path(root)),
        method_dirs(params, root),
        device,
        qualities=qualities,
        super_resolution=params.evaluate.super_resolution,
        subsampling=params.degradation.chroma_subsampling,
    )
