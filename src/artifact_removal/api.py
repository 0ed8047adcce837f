"""The Python API: restore images, arrays and files from your own code.

    from artifact_removal.api import load

    models = load("gan")                       # the project's GAN generators and QF predictor
    restored = models.restore(pixels)          # an (H, W, 3) or (H, W) uint8 array, or a PIL image
    restored, choice = models.restore_with_choice(image, quality=20)
    print(choice.describe())                   # 'given 20, CNN 20 (97%) -> generator q20'

    soft = load("gan", strength=0.5)           # half way between the SSIM and the GAN generator

    from artifact_removal.api import restore_files
    report = restore_files(["photos/"], "restored/", method="ssim", bits=16)
    report = restore_files(["photos/"], "small/", image=ImageOutput("jpeg", 90))

`load` finds the generators in the project around the current folder (the one `make repro`
trained), in the folder given as `project`, or in a folder of release files (`models`). A QF
comes from the user (`quality`), else from a JPEG's quantization tables (a PIL image opened
from a JPEG file keeps them, and keeps them after an in-place edit such as `thumbnail`: give
`quality`, or pass an array, for an edited image), else from the QF predictor. An image better
than every generator was trained for is returned unchanged (`choice.passed_through`), as
`restore` copies it, unless `restore_uncompressed` asks for the gentlest generator. A PIL
image comes back as 8-bit RGB or L: other modes are converted first as `restore` converts
files (alpha flattened onto white, 16 bits to 8, CMYK and ICC profiles to sRGB), and the
returned image carries no EXIF or ICC profile (`restore_files` keeps them in files).

Errors are exceptions whose message is the line the command line prints: `RestoreError` (no
generators, a bad option), `QualityUnknown` (no tables, no predictor and no `quality`),
`ImageReadError` (a file that cannot be read), `ConfigError` (a project's params), and
`ValueError` for an array that is not an image. The command `artifact-removal restore` is
`restore_files` with its options from the command line.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from .config import ConfigError
from .data.images import ImageReadError
from .inference.choice import QualityChoice, QualityUnknown, RestoreError
from .restore.options import AUTO, ImageOutput, RestoreOptions, VideoOutput
from .restore.report import FileResult, RestoreReport
from .restore.run import restore_files

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from .inference.setups import Setup

__all__ = [
    "ConfigError",
    "FileResult",
    "ImageOutput",
    "ImageReadError",
    "Models",
    "QualityChoice",
    "QualityUnknown",
    "RestoreError",
    "RestoreOptions",
    "RestoreReport",
    "VideoOutput",
    "load",
    "restore_files",
]

Picture = TypeVar("Picture", np.ndarray, "Image.Image")


@dataclass
class Models:
    """One method's generators (loaded on first use) and its QF predictor, on one device."""

    setup: Setup

    @property
    def method(self) -> str:
        """The method whose generators restore (at strength 0: the one it starts from)."""
        return self.setup.method

    @property
    def device(self) -> torch.device:
        return self.setup.ensemble.device

    @property
    def qualities(self) -> tuple[int, ...]:
        """The QFs (video methods: CRFs) its generators are trained for."""
        return tuple(sorted(self.setup.ensemble.paths))

    def describe(self) -> str:
        """What restores: method, generators, their loss, the predictor and the device."""
        return self.setup.ensemble.describe(self.setup.method)

    def choose(
        self, image: Picture, quality: int | None = None, restore_uncompressed: bool = False
    ) -> QualityChoice:
        """What would restore `image`: its QF (given, from a JPEG's tables, or predicted) and
        the generators with their weights."""
        pixels, tables = _pixels(image)
        return self._choose(pixels, tables, quality, restore_uncompressed)

    def restore(
        self,
        image: Picture,
        quality: int | None = None,
        *,
        tile: int = 512,
        overlap: int = 64,
        restore_uncompressed: bool = False,
    ) -> Picture:
        """`image` restored, as the same kind (array of the same shape, or PIL image);
        unchanged when it is better than every generator was trained for."""
        return self.restore_with_choice(
            image,
            quality,
            tile=tile,
            overlap=overlap,
            restore_uncompressed=restore_uncompressed,
        )[0]

    def restore_with_choice(
        self,
        image: Picture,
        quality: int | None = None,
        *,
        tile: int = 512,
        overlap: int = 64,
        restore_uncompressed: bool = False,
    ) -> tuple[Picture, QualityChoice]:
        """`restore`, and the `QualityChoice` that says how it was restored."""
        from .inference.tiles import restore_tiled
        from .restore.options import check_tiles

        check_tiles(tile, overlap)
        pixels, tables = _pixels(image)
        choice = self._choose(pixels, tables, quality, restore_uncompressed)
        if choice.passed_through:
            out = pixels.copy()
        else:
            out = restore_tiled(self.setup.ensemble.restorer_for(choice), pixels, tile, overlap)
        return _like(image, out), choice

    def _choose(self, pixels, tables, quality, restore_uncompressed) -> QualityChoice:
        if quality is not None:
            try:
                if isinstance(quality, bool):
                    raise TypeError
                quality = operator.index(quality)  # int, numpy integers; not 20.5 or True
            except TypeError:
                raise RestoreError(f"quality must be a whole number, not {quality!r}") from None
            if not 1 <= quality <= 100:
                raise RestoreError(f"quality must be a number from 1 to 100, not {quality}")
        return self.setup.ensemble.choose(pixels, quality, tables, beyond=restore_uncompressed)


def load(
    method: str = AUTO,
    *,
    project: str | Path | None = None,
    models: str | Path | None = None,
    predictor: str | Path | None = None,
    device: str = AUTO,
    strength: float | None = None,
) -> Models:
    """A method's models, ready to restore images.

    `method`: a registered method (`artifact-removal methods` lists them), or "auto": the
    default, the GAN of the papers at the strength measured for each QF (`inference.default`;
    the GAN at full strength when the project has no such measurement). `project`: the
    project whose trained models to use (default: the one at or above the current folder).
    `models`: a folder of `q<QF>.pt` release files instead; `predictor`: the QF predictor's
    file (default: the project's). `device`: auto, cpu, cuda[:N]. `strength`: 0..1 for a
    method fine-tuned from another (`inference.strength`).
    """
    from .inference.setups import DEFAULT_METHODS, find_project, load_default_setup, load_setup
    from .inference.strength import check_strength
    from .runtime import select_device

    try:
        torch_device = select_device(device)
    except (ValueError, RuntimeError) as err:
        raise RestoreError(str(err)) from None
    root = find_project(Path(project)) if project is not None else find_project()
    if project is not None and root is None:
        raise RestoreError(f"{project} is not inside a project (no params.yaml with a dvc.yaml)")
    name = DEFAULT_METHODS["image"] if method == AUTO else method
    strength = check_strength(strength)
    setup = None
    if method == AUTO and strength is None and models is None:  # the measured default
        setup = load_default_setup(root, predictor, torch_device, {})[0]
    setup = setup or load_setup(name, root, models, predictor, None, torch_device, {}, strength)
    return Models(setup)


def _pixels(image) -> tuple[np.ndarray, object]:
    """uint8 (H, W, 3) or (H, W) pixels of an array or PIL image, and a JPEG's tables."""
    from PIL import Image

    if isinstance(image, Image.Image):
        # the conversions `data.images.read_image` makes of a decoded file
        from .data.images import as_srgb_8bit

        if image.mode == "F":
            raise ValueError("floating-point pixels (mode F): convert the image to 8 bits first")
        from .degradations.jpeg_quality import quality_from_tables

        tables = getattr(image, "quantization", None) if image.format == "JPEG" else None
        notes: list[str] = []
        converted = as_srgb_8bit(image, notes, Path("image"))
        pixels = np.asarray(converted)
        if pixels.ndim == 3 and pixels.shape[2] != 3:
            pixels = np.asarray(converted.convert("RGB"))
        return _pixels(np.ascontiguousarray(pixels))[0], quality_from_tables(
            tables
        ) if tables else None
    if not isinstance(image, np.ndarray):
        raise ValueError(f"expected a numpy array or a PIL image, not {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels (0..255), not {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"expected an (H, W, 3) RGB or (H, W) gray image, not shape {image.shape}")
    if min(image.shape[:2]) < 8:
        raise ValueError(f"image of {image.shape[1]}x{image.shape[0]} pixels: at least 8x8 needed")
    return np.ascontiguousarray(image), None


def _like(image, pixels: np.ndarray):
    """`pixels` as the kind of `image`: an array, or a PIL image (RGB, or L for gray)."""
    from PIL import Image

    return Image.fromarray(pixels) if isinstance(image, Image.Image) else pixels
