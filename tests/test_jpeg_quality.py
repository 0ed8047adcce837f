"""The IJG quality read back from a JPEG file's quantization tables."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from artifact_removal.degradations.jpeg_quality import (
    STANDARD_LUMA,
    ijg_tables,
    jpeg_quality,
    quality_from_tables,
)


def _jpeg(pixels: np.ndarray, path, **options) -> None:
    Image.fromarray(pixels).save(path, format="JPEG", **options)


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_every_pillow_quality_from_5_to_95_is_read_back_exactly(photo, tmp_path, mode):
    pixels = photo[:32, :32] if mode == "RGB" else photo[:32, :32, 0]
    wrong = {}
    for quality in range(5, 96):
        path = tmp_path / f"q{quality}.jpg"
        _jpeg(pixels, path, quality=quality)
        found = jpeg_quality(path)
        if found is None or found.quality != quality or not found.exact:
            wrong[quality] = found
    assert not wrong


def test_chroma_subsampling_does_not_matter(photo, tmp_path):
    for subsampling in (0, 1, 2):
        _jpeg(photo[:32, :32], tmp_path / "a.jpg", quality=37, subsampling=subsampling)
        assert jpeg_quality(tmp_path / "a.jpg").quality == 37


def test_quality_50_is_the_standards_table():
    luma, chroma = ijg_tables(50)
    assert (luma == STANDARD_LUMA).all() and chroma[0, 0] == 17 and chroma[7, 7] == 99
    assert ijg_tables(100)[0].max() == 1 and ijg_tables(1)[0].min() == 255


def test_custom_tables_give_the_nearest_quality_not_an_exact_one(photo, tmp_path):
    luma, chroma = ijg_tables(80)
    luma = luma.copy()
    luma[0, 0] += 1  # a camera's own tweak
    path = tmp_path / "camera.jpg"
    _jpeg(photo[:32, :32], path, qtables=[luma.ravel().tolist(), chroma.ravel().tolist()])
    found = jpeg_quality(path)
    assert found.quality == 80 and not found.exact and 0 < found.error < 0.1
    assert str(found) == "about 80 (non-IJG tables)"


def test_other_formats_have_no_tables(photo, tmp_path):
    Image.fromarray(photo).save(tmp_path / "a.png")
    assert jpeg_quality(tmp_path / "a.png") is None


def test_bad_tables_and_qualities_are_refused():
    with pytest.raises(ValueError, match="table 0"):
        quality_from_tables({1: [1] * 64})
    with pytest.raises(ValueError, match=r"1\.\.100"):
        ijg_tables(0)


def test_in_memory_file_works(photo):
    buffer = io.BytesIO()
    Image.fromarray(photo[:16, :16]).save(buffer, format="JPEG", quality=12)
    buffer.seek(0)
    assert jpeg_quality(buffer).quality == 12
