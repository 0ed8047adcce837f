"""Reading images safely: every file becomes 8-bit RGB (or gray) pixels or a clear reason why not.

Pillow's decompression-bomb guard stays on. What was done to a file on the way (EXIF rotation,
colour conversion, alpha, 16-bit samples, ICC profile) is returned as notes, so a report can
name every file and what happened to it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from ..fileio import write_atomic


class ImageReadError(Exception):
    """A file that cannot be used as an image; `path` and `reason` say which and why."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass(frozen=True)
class LoadedImage:
    """Pixels (H, W, 3) RGB or (H, W) gray, uint8, and the conversions applied to the file."""

    pixels: np.ndarray
    notes: tuple[str, ...]
    exif: bytes = b""  # the file's EXIF (orientation already applied and reset), or none

    @property
    def is_gray(self) -> bool:
        """True for one-channel pixels."""
        return self.pixels.ndim == 2


_SRGB = ImageCms.createProfile("sRGB")


def read_image(path: str | Path, keep_gray: bool = False) -> LoadedImage:
    """Decode `path` to uint8 pixels, converting what can be converted, else `ImageReadError`.

    Gray images become RGB unless `keep_gray`; alpha is flattened onto white; 16-bit samples
    become 8-bit; CMYK and non-sRGB ICC profiles are converted to sRGB; EXIF orientation is
    applied.
    """
    path = Path(path)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        image = _open_decoded(path, notes)
    exif = _exif_bytes(image, notes)
    notes += [
        f"very large image ({w.message})"
        for w in caught
        if issubclass(w.category, Image.DecompressionBombWarning)
    ]
    pixels = np.asarray(as_srgb_8bit(image, notes, path))
    if pixels.ndim == 2 and not keep_gray:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
        notes.append("grayscale converted to RGB")
    return LoadedImage(np.ascontiguousarray(pixels), tuple(notes), exif)


def as_srgb_8bit(image: Image.Image, notes: list[str], path: Path) -> Image.Image:
    """A decoded image in 8 bits, its alpha flattened onto white, in sRGB: the conversions
    `read_image` makes (each said in `notes`; `path` names the file in errors)."""
    return _to_srgb(_flatten_alpha(_to_8bit(image, notes, path), notes), notes)


def _exif_bytes(image: Image.Image, notes: list[str]) -> bytes:
    """The EXIF of a decoded image (`exif_transpose` removed its orientation tag), to carry
    into outputs; b"" when there is none, or with a note when it cannot be re-encoded."""
    try:
        exif = image.getexif()
        return exif.tobytes() if len(exif) else b""
    except Exception as err:  # Pillow raises many kinds on malformed EXIF
        notes.append(f"EXIF unreadable ({err.__class__.__name__}), not kept")
        return b""


def _open_decoded(path: Path, notes: list[str]) -> Image.Image:
    """Open and fully decode the first frame; turn Pillow's many failures into one error."""
    if path.is_dir():
        raise ImageReadError(path, "is a folder, not an image file")
    try:
        with Image.open(path) as opened:
            if getattr(opened, "n_frames", 1) > 1:
                notes.append(f"{opened.n_frames} frames: the first one used")
            sixteen = _has_16bit_samples(opened)
            opened.load()
            image = ImageOps.exif_transpose(opened)
            orientation = opened.getexif().get(0x0112, 1)
    except Image.DecompressionBombError as err:
        raise ImageReadError(path, f"too large: {err}") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image (Pillow does not recognise the format)") from None
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageReadError(path, f"corrupt or truncated image: {err}") from None
    if orientation not in (1, None):
        notes.append(f"rotated by EXIF orientation {orientation}")
    if sixteen:
        notes.append("16-bit samples reduced to 8-bit")
    image.info.setdefault("icc_profile", opened.info.get("icc_profile"))
    return image


def _has_16bit_samples(image: Image.Image) -> bool:
    """Pillow reads 16-bit RGB PNGs as 8-bit RGB; the decoder's raw mode tells."""
    return any(";16" in str(tile.args) for tile in getattr(image, "tile", []) or [])


def _to_8bit(image: Image.Image, notes: list[str], path: Path) -> Image.Image:
    """Modes I;16*, I (integer gray) and 1 (bilevel) to L; float images are refused."""
    if image.mode.startswith("I;16") or image.mode == "I":
        values = np.asarray(image, dtype=np.float64)
        scale = 257.0 if values.max(initial=0) > 255 or image.mode.startswith("I;16") else 1.0
        if "16-bit samples reduced to 8-bit" not in notes:
            notes.append("16-bit samples reduced to 8-bit")
        converted = Image.fromarray(np.clip(np.rint(values / scale), 0, 255).astype(np.uint8))
        converted.info = image.info
        return converted
    if image.mode == "F":
        raise ImageReadError(path, "floating-point pixels are not supported")
    if image.mode == "1":
        notes.append("1-bit image converted to 8-bit gray")
        return image.convert("L")
    return image


def _flatten_alpha(image: Image.Image, notes: list[str]) -> Image.Image:
    """Palette images expanded; transparency composited onto white."""
    if image.mode == "P":
        notes.append("palette expanded")
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        notes.append("alpha channel flattened onto white")
        gray = image.mode in ("LA", "La")
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(white, rgba).convert("L" if gray else "RGB")
        flat.info = image.info
        return flat
    return image


def _to_srgb(image: Image.Image, notes: list[str]) -> Image.Image:
    """CMYK, Lab, YCbCr, HSV and RGB with a non-sRGB ICC profile become sRGB RGB."""
    icc = image.info.get("icc_profile")
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc)) if icc else None
    name = ImageCms.getProfileDescription(profile).strip() if profile else ""
    if image.mode == "L":
        return image
    if profile and "sRGB" not in name and image.mode in ("RGB", "CMYK"):
        try:
            converted = ImageCms.profileToProfile(image, profile, _SRGB, outputMode="RGB")
        except ImageCms.PyCMSError as err:
            notes.append(f"ICC profile '{name}' could not be applied ({err})")
        else:
            notes.append(f"converted from ICC profile '{name}' to sRGB")
            return converted
    if image.mode != "RGB":
        notes.append(f"{image.mode} converted to RGB")
        return image.convert("RGB")
    return image


def colour_kind(path: str | Path) -> str:
    """'gray', 'colour' or 'unreadable', from the file's header alone (no decoding)."""
    try:
        with Image.open(path) as im:
            return (
                "gray"
                if im.mode in ("1", "L", "LA", "La", "I", "F") or im.mode.startswith("I;16")
                else "colour"
            )
    except Exception:  # any failure is reported when the file is decoded
        return "unreadable"


def colourfulness(image: np.ndarray) -> float:
    """Mean absolute difference between colour channels (0 for gray content)."""
    if image.ndim == 2:
        return 0.0
    rgb = image.astype(np.int16)
    return float(
        np.abs(rgb[..., 0] - rgb[..., 1]).mean() + np.abs(rgb[..., 1] - rgb[..., 2]).mean()
    )


WORKING_LEVEL = 1  # zlib level of the prepared data's PNGs: 4 times faster to write than
# Pillow's 6 and 3% larger (144x256 frames, Intel Xeon); stored test sets keep the default


def write_png(pixels: np.ndarray, path: str | Path, level: int = 6) -> None:
    """Write (H, W, 3) or (H, W) uint8 pixels as a PNG at zlib `level`, creating the folder."""
    write_atomic(
        path, lambda f: Image.fromarray(pixels).save(f, format="PNG", compress_level=level)
    )


def read_png(path: str | Path) -> np.ndarray:
    """Pixels of a PNG this project wrote: (H, W, 3) or (H, W) uint8."""
    with Image.open(path) as im:
        return np.asarray(im).copy()


def busiest_crop(image: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left (y, x) of the `size` window with the most gradient energy, on a 16-px grid."""
    gray = image.mean(axis=2) if image.ndim == 3 else image.astype(np.float64)
    energy = np.abs(np.diff(gray, axis=0))[:, :-1] + np.abs(np.diff(gray, axis=1))[:-1, :]
    size = min(size, *image.shape[:2])
    best, corner = -1.0, (0, 0)
    for y in range(0, image.shape[0] - size + 1, 16):
        for x in range(0, image.shape[1] - size + 1, 16):
            score = float(energy[y : y + size - 1, x : x + size - 1].sum())
            if score > best:
                best, corner = score, (y, x)
    return corner
