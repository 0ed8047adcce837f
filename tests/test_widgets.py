"""The comparison widgets: standalone HTML, the anywidget, the app, offline HTML reports."""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest
import torch
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from artifact_removal.inference.gallery import Gallery
from artifact_removal.stages.notebooks import WIDGET_VIEW, offline_copy
from artifact_removal.stages.widgets import CompareApp, CompareSlider, compare_html, data_url

from .browser import (
    changed_columns,
    comparison,
    drag,
    drag_on,
    equal_neighbours,
    geometry,
    live_page,
    shot,
    thumb_x,
    zoom_button,
)
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
    widget.zoom = 4
    assert '"zoom": 4.0' in widget.to_html()


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


def _open(browser, tmp_path, body: str) -> None:
    """Open a page with `body` in the browser."""
    page = tmp_path / "page.html"
    page.write_text(body if body.startswith("<html>") else f"<html><body>{body}</body></html>")
    browser.get(page.as_uri())


def _wiped_between(changed: np.ndarray, start: float, stop: float, margin: int = 6) -> None:
    """The view changed in every column the line passed (fractions of its width), nowhere else;
    `margin`: the line's width and shadow."""
    width = len(changed)
    low, high = sorted((round(width * start), round(width * stop)))
    assert changed[low + margin : high - margin].min() > 0.9
    assert changed[high + margin :].max() == 0
    assert changed[: max(low - margin, 0)].max() == 0


def _line_at(browser) -> float:
    """Where the line is, in fractions of the view's width."""
    g = geometry(browser)
    return (g["line"]["centre"] - g["view"]["left"]) / g["view"]["width"]


def test_the_slider_wipes_exactly_where_the_line_passes(browser, tmp_path, photo):
    _open(browser, tmp_path, compare_html(photo, 255 - photo, "a", "b"))  # differ everywhere
    view, slider = comparison(browser)
    before = shot(view)
    drag(browser, slider, -0.3)  # from 50% to about 20%
    position = float(slider.get_attribute("value"))
    assert 10 < position < 30
    _wiped_between(changed_columns(before, shot(view)), 0.5, position / 100)
    assert abs(_line_at(browser) - position / 100) < 0.005


@pytest.mark.parametrize("width", [512, 1600])
def test_the_handle_sits_on_the_line(browser, tmp_path, photo, width):
    """The slider is exactly as wide as the image, shrunk to the page or not; its thumb and
    the knob on the image stay on the line wherever it goes."""
    image = np.asarray(Image.fromarray(photo).resize((width, width * 3 // 4)))
    _open(browser, tmp_path, compare_html(image, 255 - image, "a", "b"))
    _, slider = comparison(browser)
    g = geometry(browser)
    page = browser.execute_script("return document.documentElement.clientWidth")  # 1200 - bar
    assert g["view"]["width"] == min(width, page - 28)  # body margin 8, padding 6, each side
    assert abs(g["slider"]["left"] - g["view"]["left"]) <= 1
    assert g["slider"]["width"] <= g["view"]["width"] + 2
    for fraction in (0.02, 0.25, 0.5, 0.8, 0.98):
        offset = round((fraction - 0.5) * g["slider"]["width"])
        ActionChains(browser).move_to_element_with_offset(slider, offset, 0).click().perform()
        g = geometry(browser)
        line = g["line"]["centre"] - g["slider"]["left"]
        assert abs(line - fraction * g["slider"]["width"]) <= 2  # where it was clicked
        assert abs(thumb_x(slider) - line) <= 2
        assert abs(g["knob"]["centre"] - g["line"]["centre"]) <= 1
    slider.send_keys(Keys.HOME, Keys.ARROW_RIGHT * 3)  # the keyboard moves it too
    assert geometry(browser)["position"] == 3
    assert abs(thumb_x(slider) - 0.03 * g["view"]["width"]) <= 2


@pytest.mark.parametrize("touch", [False, True], ids=["mouse", "touch"])
def test_dragging_on_the_image_wipes_and_never_zooms(browser, tmp_path, photo, touch):
    _open(browser, tmp_path, compare_html(photo, 255 - photo, "a", "b"))
    view, _ = comparison(browser)
    before = shot(view)
    drag_on(browser, view, 0.5, 0.2, touch=touch)
    assert abs(_line_at(browser) - 0.2) < 0.01  # the line followed the pointer
    _wiped_between(changed_columns(before, shot(view)), 0.5, 0.2)
    assert geometry(browser)["zoom"] == 1
    if not touch:  # the arrow keys take over after a drag on the image
        ActionChains(browser).send_keys(Keys.ARROW_RIGHT * 2).perform()
        assert geometry(browser)["position"] == pytest.approx(22, abs=0.5)


def test_zoom_is_its_own_control_and_the_wipe_works_zoomed(browser, tmp_path, photo):
    _open(browser, tmp_path, compare_html(photo, 255 - photo, "a", "b"))
    view, slider = comparison(browser)
    drag_on(browser, view, 0.5, 0.3)
    rest = shot(view)
    zoom_button(browser, 8).click()  # around the point under the line
    zoomed = shot(view)
    g = geometry(browser)
    assert g["zoom"] == 8 and g["position"] == pytest.approx(30, abs=0.5)
    right = (slice(30, None), slice(round(0.3 * len(rest[0])) + 20, None))  # no labels, no line
    assert equal_neighbours(rest[right]) < 0.3 < 0.8 < equal_neighbours(zoomed[right])
    assert changed_columns(rest, zoomed).mean() > 0.5

    drag_on(browser, view, 0.3, 0.7)  # the wipe, zoomed
    assert abs(_line_at(browser) - 0.7) < 0.01 and geometry(browser)["zoom"] == 8
    _wiped_between(changed_columns(zoomed, shot(view)), 0.3, 0.7)

    before = shot(view)
    drag_on(browser, view, 0.5, 0.4, rise=0.2, shift=True)  # shift-drag: pan, no wipe
    assert geometry(browser)["position"] == pytest.approx(70, abs=0.5)
    panned = shot(view)
    assert changed_columns(before, panned).mean() > 0.5
    root = browser.find_element(By.CSS_SELECTOR, ".ar-compare")
    root.find_element(By.CSS_SELECTOR, ".ar-pan").click()  # the same for touch, with "pan"
    drag_on(browser, view, 0.5, 0.6, touch=True)
    assert geometry(browser)["position"] == pytest.approx(70, abs=0.5)
    assert changed_columns(panned, shot(view)).mean() > 0.5

    slider.send_keys(Keys.HOME)  # all right image, then all left: aligned, zoomed and panned
    only_right = shot(view)
    slider.send_keys(Keys.END)
    only_left = shot(view)
    inside = (slice(30, None), slice(16, -16))  # no labels, no line at the edges
    assert (np.abs(only_left + only_right - 255)[inside] <= 1).mean() > 0.99
    assert equal_neighbours(only_left[inside]) > 0.8

    zoom_button(browser, 1).click()
    assert geometry(browser)["zoom"] == 1
    assert not root.find_element(By.CSS_SELECTOR, ".ar-pan").is_enabled()


def test_the_static_form_opens_as_the_widget_was(browser, tmp_path, photo):
    widget = CompareSlider(position=25.0, zoom=4.0)
    widget.show(photo, 255 - photo, "a", "b")
    _open(browser, tmp_path, widget.to_html())
    g = geometry(browser)
    assert g["zoom"] == 4 and g["position"] == 25
    assert zoom_button(browser, 4).get_attribute("aria-pressed") == "true"


def test_the_live_widget_syncs_with_its_model(browser, tmp_path, photo):
    """The anywidget module, on a stand-in for the kernel's model: both ways."""
    widget = CompareSlider()
    widget.show(photo, 255 - photo, "a", "b")
    _open(browser, tmp_path, live_page(widget))
    view, _ = comparison(browser)
    drag_on(browser, view, 0.5, 0.25)
    zoom_button(browser, 2).click()
    traits, sent = browser.execute_script("return [arModel.traits, arModel.sent]")
    assert traits["position"] == pytest.approx(25, abs=0.5) and traits["zoom"] == 2
    assert sent[-2:] == ["zoom", "save"]
    browser.execute_script("arModel.change('position', 70); arModel.change('zoom', 1)")
    g = geometry(browser)
    assert g["position"] == 70 and g["zoom"] == 1
    assert abs(_line_at(browser) - 0.7) < 0.005


@pytest.fixture
def dialled_gallery(prepared, models, tmp_path):  # noqa: F811
    """SSIM generators and a GAN fine-tuned from them (their weights moved), QF 10 and 40."""
    from artifact_removal.checkpoints import save_atomic

    torch.manual_seed(1)
    for quality in (10, 40):
        release = torch.load(models / f"q{quality}.pt", weights_only=True)
        release["model"] = {k: v + 0.05 * torch.randn_like(v) for k, v in release["model"].items()}
        save_atomic(release | {"method": "gan"}, tmp_path / "gan" / f"q{quality}.pt")
    return Gallery(prepared, {"ssim": models, "gan": tmp_path / "gan"}, torch.device("cpu"))


def test_the_app_re_renders_the_right_version_at_the_chosen_strength(dialled_gallery):
    g = dialled_gallery
    app = CompareApp(g, ("test",), (10, 40), "test", "astro", 10, "jpeg", "gan")
    assert app.strength.layout.display is None
    assert app.slider.right_label == "gan, QF 10, strength 1"
    assert app.slider.right == data_url(g.image("test", "astro", 10, "gan"))
    app.strength.value = 0.0  # the method it starts from
    assert app.slider.right_label == "gan, QF 10, strength 0"
    assert app.slider.right == data_url(g.image("test", "astro", 10, "ssim"))
    app.strength.value = 0.5
    middle = app.slider.right
    assert middle not in (data_url(g.image("test", "astro", 10, m)) for m in ("ssim", "gan"))
    app.picks["right"].value = "original"  # nothing to dial
    assert app.strength.layout.display == "none" and app.slider.right_label == "original"


def test_the_reports_strength_slider_steps_through_the_versions(browser, tmp_path, dialled_gallery):
    from artifact_removal.stages.strength import STRENGTHS
    from artifact_removal.stages.widgets import dial_html

    with pytest.raises(ValueError, match="no strength dial"):
        dial_html(dialled_gallery, "test", "astro", 10, "ssim")
    _open(browser, tmp_path, dial_html(dialled_gallery, "test", "astro", 10, "gan", crop=64))
    strength = browser.find_element(By.CSS_SELECTOR, ".ar-strength")
    assert strength.is_displayed() and strength.get_attribute("max") == str(len(STRENGTHS) - 1)
    right = browser.find_element(By.CSS_SELECTOR, ".ar-right img")
    labels = browser.find_elements(By.CSS_SELECTOR, ".ar-label")
    seen = {}
    strength.send_keys(Keys.END)  # focus it; it starts at the last strength, 1
    for _ in STRENGTHS:
        seen[labels[1].text] = right.get_attribute("src")
        strength.send_keys(Keys.ARROW_LEFT)
    assert list(seen) == [f"gan, QF 10, strength {s:g}" for s in reversed(STRENGTHS)]
    assert len(set(seen.values())) == len(STRENGTHS)  # a picture per strength
    assert browser.find_element(By.CSS_SELECTOR, ".ar-strength-value").text == "0"
    _open(browser, tmp_path, compare_html(np.zeros((64, 64, 3), np.uint8), np.ones((64, 64, 3),
                                          np.uint8)))  # fmt: skip
    assert not browser.find_element(By.CSS_SELECTOR, ".ar-dial").is_displayed()
