"""Every kind of bad input is converted or refused with a reason that names the file."""

from __future__ import annotations

import struct
import zlib
from importlib.resources import files

import numpy as np
import pytest
from PIL import Image

from artifact_removal.data.images import ImageReadError, read_image, write_png


def png_16bit_rgb(pixels: np.ndarray) -> bytes:
    """A 16-bit RGB PNG by hand (Pillow cannot write one)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    height, width = pixels.shape[:2]
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_plain_rgb_png_is_used_as_is(tmp_path, photo):
    write_png(photo, tmp_path / "a.png")
    loaded = read_image(tmp_path / "a.png")
    assert np.array_equal(loaded.pixels, photo) and loaded.notes == ()


def test_grayscale_becomes_rgb_or_stays_gray(tmp_path, gray_photo):
    write_png(gray_photo, tmp_path / "g.png")
    rgb = read_image(tmp_path / "g.png")
    assert rgb.pixels.shape == (*gray_photo.shape, 3)
    assert np.array_equal(rgb.pixels[..., 1], gray_photo)
    assert "grayscale converted to RGB" in rgb.notes
    kept = read_image(tmp_path / "g.png", keep_gray=True)
    assert kept.is_gray and np.array_equal(kept.pixels, gray_photo) and kept.notes == ()


def test_rgba_is_flattened_onto_white(tmp_path, photo):
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    rgba[:10, :10, 3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    loaded = read_image(tmp_path / "a.png")
    assert loaded.pixels.shape == photo.shape
    assert (loaded.pixels[:10, :10] == 255).all()
    assert np.array_equal(loaded.pixels[10:, 10:], photo[10:, 10:])
    assert "alpha channel flattened onto white" in loaded.notes


def test_palette_image_is_expanded(tmp_path, photo):
    Image.fromarray(photo).quantize(64).save(tmp_path / "p.png")
    loaded = read_image(tmp_path / "p.png")
    assert loaded.pixels.shape == photo.shape and "palette expanded" in loaded.notes


def test_16bit_gray_is_scaled_to_8bit(tmp_path):
    values = (np.arange(256, dtype=np.uint16) * 257).reshape(16, 16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    loaded = read_image(tmp_path / "g16.png", keep_gray=True)
    assert loaded.pixels.dtype == np.uint8
    assert np.array_equal(loaded.pixels, np.arange(256).reshape(16, 16))
    assert "16-bit samples reduced to 8-bit" in loaded.notes


def test_16bit_rgb_is_reduced_to_8bit(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    (tmp_path / "c16.png").write_bytes(png_16bit_rgb(pixels))
    loaded = read_image(tmp_path / "c16.png")
    assert loaded.pixels.shape == (20, 30, 3)
    assert np.abs(loaded.pixels.astype(int) - pixels / 257).max() <= 1
    assert "16-bit samples reduced to 8-bit" in loaded.notes


def test_cmyk_jpeg_becomes_rgb(tmp_path, photo):
    Image.fromarray(photo).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    loaded = read_image(tmp_path / "c.jpg")
    assert loaded.pixels.shape == photo.shape
    assert "CMYK converted to RGB" in loaded.notes
    assert np.abs(loaded.pixels.astype(int) - photo).mean() < 8


def test_exif_orientation_is_applied(tmp_path, photo):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 90 degrees off: display rotates clockwise
    Image.fromarray(photo).save(tmp_path / "r.png", exif=exif)
    loaded = read_image(tmp_path / "r.png")
    assert np.array_equal(loaded.pixels, np.rot90(photo, k=-1))
    assert "rotated by EXIF orientation 6" in loaded.notes


def test_non_srgb_profile_is_converted():
    rocket = files("skimage") / "data" / "rocket.jpg"  # tagged Adobe RGB (1998)
    loaded = read_image(rocket)
    assert "converted from ICC profile 'Adobe RGB (1998)' to sRGB" in loaded.notes
    with Image.open(rocket) as raw:
        assert not np.array_equal(loaded.pixels, np.asarray(raw))


def test_multi_frame_file_uses_the_first_frame(tmp_path, photo):
    frames = [Image.fromarray(photo), Image.fromarray(255 - photo)]
    frames[0].save(tmp_path / "m.tif", save_all=True, append_images=frames[1:])
    loaded = read_image(tmp_path / "m.tif")
    assert np.array_equal(loaded.pixels, photo) and "2 frames: the first one used" in loaded.notes


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not an image"),
        (b"hello, world\n" * 20, "not an image"),
        (bytes(range(256)) * 4, "not an image"),
    ],
)
def test_non_images_are_refused(tmp_path, content, reason):
    (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(ImageReadError, match=reason) as err:
        read_image(tmp_path / "x.png")
    assert err.value.path == tmp_path / "x.png" and str(tmp_path / "x.png") in str(err.value)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_files_are_refused(tmp_path, photo, suffix):
    Image.fromarray(photo).save(tmp_path / f"t{suffix}")
    data = (tmp_path / f"t{suffix}").read_bytes()
    (tmp_path / f"t{suffix}").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="corrupt or truncated"):
        read_image(tmp_path / f"t{suffix}")


def test_corrupt_body_is_refused(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "c.png")
    data = bytearray((tmp_path / "c.png").read_bytes())
    data[200:260] = b"\x00" * 60
    (tmp_path / "c.png").write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="corrupt or truncated"):
        read_image(tmp_path / "c.png")


def test_decompression_bomb_guard_stays_on(tmp_path, photo, monkeypatch):
    Image.fromarray(photo).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageReadError, match="too large"):
        read_image(tmp_path / "big.png")


def test_floating_point_tiff_is_refused(tmp_path):
    Image.fromarray(np.ones((8, 8), np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(ImageReadError, match="floating-point"):
        read_image(tmp_path / "f.tif")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="file not found"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match="is a folder"):
        read_image(tmp_path)
