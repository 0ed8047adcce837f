"""Helpers for the browser tests: screenshots, geometry and drags of a comparison."""

from __future__ import annotations

import io
import itertools
import json

import numpy as np
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

# Left edge, width and centre (CSS px, from the window's left) of the parts of a comparison.
_GEOMETRY = """
const root = document.querySelectorAll(".ar-compare")[arguments[0]];
const box = (name) => {
  const r = root.querySelector(name).getBoundingClientRect();
  return { left: r.left, width: r.width, centre: r.left + r.width / 2 };
};
return { view: box(".ar-view"), slider: box(".ar-slider"), line: box(".ar-line"),
  knob: box(".ar-knob"), zoom: Number(root.dataset.zoom),
  position: Number(root.querySelector(".ar-slider").value) };
"""


def comparison(browser, index: int = 0):
    """The view and the slider of the `index`-th comparison on the page."""
    views = browser.find_elements(By.CSS_SELECTOR, ".ar-compare .ar-view")
    sliders = browser.find_elements(By.CSS_SELECTOR, ".ar-compare .ar-slider")
    assert len(views) > index, f"{len(views)} comparisons on the page"
    # in the middle of the window: a screenshot of an element shows only what is on screen
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", views[index])
    return views[index], sliders[index]


def geometry(browser, index: int = 0) -> dict:
    """Boxes of the view, slider, line and knob of the `index`-th comparison; zoom, position."""
    return browser.execute_script(_GEOMETRY, index)


def zoom_button(browser, zoom: int, index: int = 0):
    """The button that sets the `index`-th comparison's zoom to `zoom`."""
    roots = browser.find_elements(By.CSS_SELECTOR, ".ar-compare")
    return roots[index].find_element(By.CSS_SELECTOR, f'.ar-zoom[value="{zoom}"]')


def shot(element) -> np.ndarray:
    """A screenshot of one element, (H, W, 3) int."""
    return np.asarray(Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB")).astype(int)


def thumb_x(slider) -> float:
    """Where the slider's thumb is drawn, px from the slider's left edge: its dark middle line."""
    row = shot(slider)
    row = row[len(row) // 2]
    dark = np.flatnonzero(row.max(axis=1) < 80)
    assert 0 < len(dark) <= 4, f"{len(dark)} dark columns in the slider"
    return float(dark.mean()) + 0.5


def drag(browser, slider, fraction: float) -> None:
    """Drag the slider's thumb by `fraction` of its width (negative: to the left)."""
    actions = ActionChains(browser).click_and_hold(slider)
    actions.move_by_offset(round(fraction * slider.size["width"]), 0).release().perform()


def drag_on(
    browser, view, start: float, stop: float, rise: float = 0, touch: bool = False,
    shift: bool = False,
) -> None:  # fmt: skip
    """Drag on the image from `start` to `stop` (fractions of its width, at 3/4 of its height),
    and up by `rise` (a fraction of its height), in four steps, with a mouse or a finger."""
    width, height = view.size["width"], view.size["height"]
    pointer = (PointerInput(interaction.POINTER_TOUCH, "finger") if touch
               else PointerInput(interaction.POINTER_MOUSE, "mouse"))  # fmt: skip
    actions = ActionChains(browser, duration=20, devices=[pointer])
    if shift:
        actions.key_down(Keys.SHIFT)
    steps = [(start + (stop - start) * k / 4, rise * k / 4) for k in range(5)]
    offsets = [(round((x - 0.5) * width), round((0.25 - y) * height)) for x, y in steps]
    actions.move_to_element_with_offset(view, *offsets[0]).click_and_hold()
    for (x0, y0), (x1, y1) in itertools.pairwise(offsets):
        actions.move_by_offset(x1 - x0, y1 - y0)
    actions.release()
    if shift:
        actions.key_up(Keys.SHIFT)
    actions.perform()


def changed_columns(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per column of the view, the fraction of its pixels that changed."""
    return (np.abs(before - after).sum(axis=2) > 0).mean(axis=0)


def equal_neighbours(image: np.ndarray) -> float:
    """The share of horizontally neighbouring pixels that are equal: about 7/8 at 8x, pixelated."""
    return float((image[:, 1:] == image[:, :-1]).all(axis=2).mean())


def live_page(widget) -> str:
    """An HTML page running `widget`'s anywidget module (`_esm`) on a stand-in for its model,
    `window.arModel`: what the view sends is in `.sent`, `.change(name, value)` is Python's."""
    traits = ("left", "right", "left_label", "right_label", "width", "height", "position", "zoom")
    state = {name: getattr(widget, name) for name in traits}
    return f"""<html><body><div id="widget"></div><script type="module">
const traits = {json.dumps(state)}, listeners = {{}}, sent = [];
const model = {{
  get: (name) => traits[name],
  set: (name, value) => {{ traits[name] = value; sent.push(name); }},
  save_changes: () => sent.push("save"),
  on: (event, callback) => (listeners[event] ||= []).push(callback),
}};
window.arModel = {{ traits, sent, change(name, value) {{
  traits[name] = value;
  for (const callback of listeners[`change:${{name}}`] || []) callback();
}} }};
const url = "data:text/javascript;charset=utf-8," + encodeURIComponent({json.dumps(widget._esm)});
(await import(url)).default.render({{ model, el: document.getElementById("widget") }});
</script></body></html>"""


def requested_urls(driver) -> list[str]:
    """Every URL the page asked for since the log was last read (DevTools network events; the
    `browser` fixture logs them)."""
    events = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    return [
        e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
    ]
