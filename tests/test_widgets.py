"""The comparison widgets: standalone HTML, the anywidget, the app, offline HTML reports."""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest
import torch

from artifact_removal.inference.gallery import Gallery
from artifact_removal.stages.notebooks import WIDGET_VIEW, offline_copy
from artifact_removal.stages.widgets import CompareApp, CompareSlider, compare_html, data_url

from .browser import changed_columns, comparison, drag, shot
from .test_evaluation import models, prepared  # noqa: F401 (fixtures)


def test_standalone_html_inlines_everything(photo):
    page = compare_html(photo, photo[::-1].copy(), "JPEG", "restored", caption="astronaut")
    assert page.count("data:image/png;base64,") == 2
    assert not re.search(r"(src|href)=[\"']?https?:", page)
    assert "arCompareMount" in page and "astronaut" in page
    with pytest.raises(ValueError, match="differ in size"):
        compare_html(photo, photo[1:])


def test_data_url_is_lossless(photo):
    import base64
    import io

    from PIL import Image

    encoded = data_url(photo).split(",", 1)[1]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded)))), photo)


def test_the_slider_widget_carries_its_html(photo):
    widget = CompareSlider()
    widget.show(photo, photo, "a", "b")
    bundle = widget._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert WIDGET_VIEW in bundle and "text/html" in bundle
    assert widget.width == photo.shape[1] and widget.left_label == "a"
    assert widget.left in bundle["text/html"]


def test_the_app_follows_its_menus(prepared, models):  # noqa: F811
    gallery = Gallery(prepared, {"ssim": models}, torch.device("cpu"))
    app = CompareApp(gallery, ("test",), (10, 40), "test", "astro", 10, "jpeg", "original")
    first = app.slider.left
    assert app.slider.right_label == "original"
    app.picks["quality"].value = 40
    assert app.slider.left != first and app.slider.left_label == "jpeg, QF 40"
    app.picks["left"].value = "ssim"
    assert app.slider.left_label == "ssim, QF 40"
    app.picks["image"].value = "camera"
    assert app.slider.height == 160
    bundle = app._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "need a running kernel" in bundle["text/html"]


def test_offline_copy_keeps_static_forms_only():
    with_html = {WIDGET_VIEW: {"model_id": "a"}, "text/html": "<b>x</b>", "text/plain": "x"}
    only_view = {WIDGET_VIEW: {"model_id": "b"}}
    cell = nbformat.v4.new_code_cell(
        "x",
        outputs=[
            nbformat.v4.new_output("display_data", data=with_html),
            nbformat.v4.new_output("display_data", data=only_view),
        ],
    )
    notebook = nbformat.v4.new_notebook(cells=[cell], metadata={"widgets": {"state": {}}})
    copy = offline_copy(notebook)
    assert "widgets" not in copy.metadata and "widgets" in notebook.metadata
    assert WIDGET_VIEW not in copy.cells[0].outputs[0].data
    assert WIDGET_VIEW in copy.cells[0].outputs[1].data  # nothing else to show


def test_slider_and_zoom_in_a_real_browser(browser, tmp_path, photo):
    left = photo
    right = 255 - photo  # differs everywhere
    page = tmp_path / "page.html"
    page.write_text(f"<html><body>{compare_html(left, right, 'a', 'b')}</body></html>")
    browser.get(page.as_uri())
    view, slider = comparison(browser)
    before = shot(view)
    drag(browser, slider, -0.3)  # from 50% to about 20%
    after = shot(view)
    position = float(slider.get_attribute("value"))
    assert 10 < position < 30
    changed = changed_columns(before, after)
    width = len(changed)
    start, stop, margin = width // 2, round(width * position / 100), 6  # the line's shadow
    assert changed[stop + margin : start - margin].min() > 0.9  # where the line passed
    assert changed[start + margin :].max() == 0  # right of where it started, nothing changed
    assert changed[margin : stop - margin].max() == 0  # nor left of where it stopped

    view.click()  # zoom in twice around the centre
    zoomed = shot(view)
    assert browser.find_element("css selector", ".ar-zoom").get_attribute("value") == "2"
    assert changed_columns(after, zoomed).mean() > 0.5
