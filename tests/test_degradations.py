"""The one JPEG function: known answers from the codec's behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from artifact_removal.degradations.jpeg import (
    chroma_subsampling_of,
    decode_jpeg,
    encode_jpeg,
    jpeg_compress,
)
from artifact_removal.metrics.full_reference import psnr


def test_quality_100_is_close_to_identity(photo, gray_photo):
    assert psnr(photo, jpeg_compress(photo, 100, "4:4:4").pixels) > 45
    assert psnr(photo, jpeg_compress(photo, 100).pixels, "y") > 42
    assert psnr(gray_photo, jpeg_compress(gray_photo, 100).pixels) > 48


def test_size_and_fidelity_fall_with_quality(photo):
    qualities = [95, 60, 40, 30, 20, 10, 5]
    results = [jpeg_compress(photo, q) for q in qualities]
    sizes = [len(r.data) for r in results]
    fidelity = [psnr(photo, r.pixels) for r in results]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)
    assert fidelity == sorted(fidelity, reverse=True)


def test_chroma_is_subsampled_420_by_default(photo, gray_photo):
    assert chroma_subsampling_of(encode_jpeg(photo, 50)) == "4:2:0"
    assert chroma_subsampling_of(encode_jpeg(photo, 95)) == "4:2:0"
    assert chroma_subsampling_of(encode_jpeg(photo, 50, "4:4:4")) == "4:4:4"
    assert chroma_subsampling_of(encode_jpeg(gray_photo, 50)) == "gray"


def test_same_input_gives_same_bytes(photo):
    assert encode_jpeg(photo, 10) == encode_jpeg(photo.copy(), 10)


def test_shapes_are_kept(photo, gray_photo):
    assert decode_jpeg(encode_jpeg(photo, 10)).shape == photo.shape
    assert decode_jpeg(encode_jpeg(gray_photo, 10)).shape == gray_photo.shape
    odd = photo[:37, :53]
    assert jpeg_compress(odd, 20).pixels.shape == odd.shape


def test_bits_per_pixel(photo):
    result = jpeg_compress(photo, 10)
    assert result.bits_per_pixel == pytest.approx(8 * len(result.data) / (192 * 256))
    assert 0.1 < result.bits_per_pixel < 1.5


@pytest.mark.parametrize("quality", [0, 101, 10.5, "10", None])
def test_bad_quality(photo, quality):
    with pytest.raises(ValueError, match="quality"):
        encode_jpeg(photo, quality)


@pytest.mark.parametrize(
    "image",
    [np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 4), np.uint8), np.zeros(8, np.uint8)],
)
def test_bad_image(image):
    with pytest.raises(ValueError, match="uint8 image"):
        encode_jpeg(image, 50)


def test_bad_subsampling(photo):
    with pytest.raises(ValueError, match="subsampling"):
        encode_jpeg(photo, 50, "4:1:1")
