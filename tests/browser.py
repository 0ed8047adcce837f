"""Helpers for the browser tests: screenshots of a comparison and moves of its slider."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By


def comparison(browser, index: int = 0):
    """The view and the slider of the `index`-th comparison on the page."""
    views = browser.find_elements(By.CSS_SELECTOR, ".ar-compare .ar-view")
    sliders = browser.find_elements(By.CSS_SELECTOR, ".ar-compare .ar-slider")
    assert len(views) > index, f"{len(views)} comparisons on the page"
    return views[index], sliders[index]


def shot(element) -> np.ndarray:
    """A screenshot of one element, (H, W, 3) int."""
    return np.asarray(Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB")).astype(int)


def drag(browser, slider, fraction: float) -> None:
    """Drag the slider's thumb by `fraction` of its width (negative: to the left)."""
    actions = ActionChains(browser).click_and_hold(slider)
    actions.move_by_offset(round(fraction * slider.size["width"]), 0).release().perform()


def changed_columns(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per column of the view, the fraction of its pixels that changed."""
    return (np.abs(before - after).sum(axis=2) > 0).mean(axis=0)
