"""Before/after comparison with a wipe line and a zoom, in Jupyter and in standalone HTML.

A drag on the image (or the slider under it, as wide as the image, or the arrow keys) moves the
line; zoom buttons magnify both images around the line, and shift-drag or "pan" moves a zoomed
view. `CompareSlider` is an anywidget: in a live notebook its position and zoom are synced with
Python. Every widget here also carries a `text/html` rendering of its current state, which
runs the same JavaScript (`compare.js`) with the images inlined, so the executed notebook's
HTML report keeps a working slider without a kernel or a network.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
from importlib import resources

import anywidget
import ipywidgets
import numpy as np
import traitlets
from PIL import Image

from ..data.images import busiest_crop
from ..inference.gallery import JPEG, ORIGINAL, Gallery
from .strength import STRENGTHS, Dial, dialled

COMPARE_JS = resources.files(__package__).joinpath("compare.js").read_text()
_ESM = (
    COMPARE_JS
    + """
const TRAITS = { left: "left", right: "right", leftLabel: "left_label",
  rightLabel: "right_label", width: "width", height: "height", position: "position",
  zoom: "zoom", focusY: "focus_y" };
const read = (model) =>
  Object.fromEntries(Object.entries(TRAITS).map(([k, name]) => [k, model.get(name)]));
export default {
  render({ model, el }) {
    const view = arCompareMount(el, read(model), (name, value) => {
      model.set(name, value);
      model.save_changes();
    });
    for (const name of Object.values(TRAITS)) {
      model.on(`change:${name}`, () => view.update(read(model)));
    }
  },
};
"""
)
_IDS = itertools.count()


def data_url(image: np.ndarray) -> str:
    """A (H, W, 3) or (H, W) uint8 image as a lossless PNG data URL."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# The zoom a report's comparison opens at: at 1x a small restoration looks like its JPEG; at
# 4x, on a detail, the blocks and ringing that the restoration removed are plain (issue 43).
OPEN_ZOOM = 4.0
DETAIL = 64  # px: the side of the detail a comparison opens on


def opening_view(image: np.ndarray) -> tuple[float, float]:
    """Where a comparison opens: the wipe line (percent of the width) and the focus' height
    (fraction) at the centre of the busiest `DETAIL`-pixel square of `image`."""
    y, x = busiest_crop(image, DETAIL)
    side = min(DETAIL, *image.shape[:2])
    return 100 * (x + side / 2) / image.shape[1], (y + side / 2) / image.shape[0]


def compare_state(
    left: np.ndarray, right: np.ndarray, left_label: str, right_label: str, position: float = 50
) -> dict:
    """What the JavaScript view needs: both images as data URLs, labels, size, position."""
    if left.shape[:2] != right.shape[:2]:
        raise ValueError(f"images differ in size: {left.shape[:2]} and {right.shape[:2]}")
    return {
        "left": data_url(left),
        "right": data_url(right),
        "leftLabel": left_label,
        "rightLabel": right_label,
        "width": int(left.shape[1]),
        "height": int(left.shape[0]),
        "position": float(position),
    }


def state_html(state: dict, caption: str = "") -> str:
    """Standalone HTML of one comparison: the script and the images inlined, nothing fetched."""
    element = f"ar-compare-{next(_IDS)}"
    script = (
        f"{COMPARE_JS}\narCompareMount(document.getElementById({element!r}), {json.dumps(state)});"
    )
    title = f"<div><b>{html.escape(caption)}</b></div>" if caption else ""
    return f'{title}<div id="{element}"></div>\n<script>(function () {{\n{script}\n}})();</script>'


def compare_html(
    left: np.ndarray,
    right: np.ndarray,
    left_label: str = "left",
    right_label: str = "right",
    position: float = 50,
    caption: str = "",
) -> str:
    """Standalone HTML of a line that wipes between `left` and `right` (same size), with zoom."""
    return state_html(compare_state(left, right, left_label, right_label, position), caption)


class CompareSlider(anywidget.AnyWidget):
    """Two images, the left one shown up to a line that a drag moves; zoom 1x to 8x."""

    _esm = _ESM
    left = traitlets.Unicode("").tag(sync=True)
    right = traitlets.Unicode("").tag(sync=True)
    left_label = traitlets.Unicode("").tag(sync=True)
    right_label = traitlets.Unicode("").tag(sync=True)
    width = traitlets.Int(0).tag(sync=True)
    height = traitlets.Int(0).tag(sync=True)
    position = traitlets.Float(50.0).tag(sync=True)
    zoom = traitlets.Float(1.0).tag(sync=True)
    focus_y = traitlets.Float(0.5).tag(sync=True)  # the height a zoom keeps in place (0..1)

    def open_at(self, image: np.ndarray, zoom: float = OPEN_ZOOM) -> None:
        """Open zoomed on the busiest detail of `image` (`opening_view`)."""
        position, focus_y = opening_view(image)
        with self.hold_sync():
            self.position, self.focus_y, self.zoom = position, focus_y, zoom

    def show(self, left: np.ndarray, right: np.ndarray, left_label: str, right_label: str):
        """Put two new images (same size) in the view, keeping the position."""
        state = compare_state(left, right, left_label, right_label, self.position)
        with self.hold_sync():
            self.left, self.right = state["left"], state["right"]
            self.left_label, self.right_label = left_label, right_label
            self.width, self.height = state["width"], state["height"]

    def to_html(self) -> str:
        """Standalone HTML of the current state."""
        return state_html(
            {
                "left": self.left,
                "right": self.right,
                "leftLabel": self.left_label,
                "rightLabel": self.right_label,
                "width": self.width,
                "height": self.height,
                "position": self.position,
                "zoom": self.zoom,
                "focusY": self.focus_y,
            }
        )

    def _repr_mimebundle_(self, **kwargs):
        return with_html(super()._repr_mimebundle_(**kwargs), self.to_html())


def with_html(bundle, page: str):
    """A widget's mime bundle (a dict, or (data, metadata)) with `text/html` added."""
    if isinstance(bundle, tuple):
        return {**bundle[0], "text/html": page}, bundle[1]
    return {**bundle, "text/html": page}


def _label(method: str, quality: int, strength: float | None = None) -> str:
    if method == "original":
        return method
    return f"{method}, QF {quality}" + (f", strength {strength:g}" if strength is not None else "")


class CompareApp(ipywidgets.VBox):
    """Pick a set, an image, a QF and two versions; compare them with the slider."""

    def __init__(self, gallery: Gallery, sets, qualities, set_name, key, quality, left, right):
        self.gallery = gallery
        options = {
            "set": list(sets),
            "image": gallery.keys(set_name),
            "quality": list(qualities),
            "left": gallery.choices,
            "right": gallery.choices,
        }
        values = {"set": set_name, "image": key, "quality": quality, "left": left, "right": right}
        self.picks = {
            name: ipywidgets.Dropdown(
                options=choices,
                value=values[name],
                description=name,
                layout=ipywidgets.Layout(width="230px"),
            )
            for name, choices in options.items()
        }
        self.dial = Dial(gallery)
        self.strength = ipywidgets.FloatSlider(
            value=1.0,
            min=0.0,
            max=1.0,
            step=0.05,
            description="strength",
            tooltip="the right-hand method's weights mixed with those of the method it "
            "starts from (0) - the perception-distortion dial",
            layout=ipywidgets.Layout(width="460px"),
        )
        self.slider = CompareSlider()
        self._opened = False
        rows = [
            ipywidgets.HBox(list(self.picks.values())[:3]),
            ipywidgets.HBox(list(self.picks.values())[3:]),
            self.strength,
            self.slider,
        ]
        super().__init__(rows)
        self.picks["set"].observe(self._set_changed, names="value")
        for name in ("image", "quality", "left", "right"):
            self.picks[name].observe(self._refresh, names="value")
        self.strength.observe(self._refresh, names="value")
        self._refresh()

    def _set_changed(self, change) -> None:
        keys = self.gallery.keys(change["new"])
        self.picks["image"].options = keys  # resets the value to keys[0], which refreshes

    def _refresh(self, change=None) -> None:
        v = {name: pick.value for name, pick in self.picks.items()}
        if v["image"] is None:
            return
        left = self.gallery.image(v["set"], v["image"], v["quality"], v["left"])
        # the strength dial: shown for a method fine-tuned from another, re-rendered on change
        dialled_here = v["right"] in dict(dialled(self.gallery, v["quality"]))
        self.strength.layout.display = None if dialled_here else "none"
        strength = self.strength.value if dialled_here else None
        if strength is None or strength == 1:
            right = self.gallery.image(v["set"], v["image"], v["quality"], v["right"])
        else:
            right = self.dial.image(v["set"], v["image"], v["quality"], v["right"], strength)
        labels = _label(v["left"], v["quality"]), _label(v["right"], v["quality"], strength)
        self.slider.show(left, right, *labels)
        if not self._opened:  # the first view: zoomed on a detail, where the difference shows
            self.slider.open_at(right)
            self._opened = True

    def _repr_mimebundle_(self, **kwargs):
        note = (
            "<p><i>The menus above need a running kernel. This is the comparison they "
            "were showing; its slider and zoom work here too.</i></p>"
        )
        return with_html(super()._repr_mimebundle_(**kwargs), note + self.slider.to_html())


def gallery_html(gallery: Gallery, set_name: str, keys, quality: int, left: str, right: str) -> str:
    """Standalone HTML of one comparison per image of `keys`, for reports."""
    parts = []
    for key in keys:
        a, b = (gallery.image(set_name, key, quality, m) for m in (left, right))
        caption = f"{set_name}/{key}: {_label(left, quality)} | {_label(right, quality)}"
        parts.append(
            compare_html(a, b, _label(left, quality), _label(right, quality), caption=caption)
        )
    return "\n".join(parts)


def dial_html(
    gallery: Gallery,
    set_name: str,
    key: str,
    quality: int,
    method: str,
    left: str = JPEG,
    strengths: tuple[float, ...] = STRENGTHS,
    crop: int | None = 256,
) -> str:
    """Standalone HTML of `left` against `method`'s restoration, with a second slider that
    shows it at each of `strengths` (the perception-distortion dial, `inference.strength`);
    on the busiest `crop`-pixel square of the image (None: the whole image), which keeps the
    page small."""
    if method not in dict(dialled(gallery, quality)):
        raise ValueError(
            f"{method} at QF {quality} has no strength dial: it needs a method fine-tuned from "
            "another, both trained for the QF"
        )
    dial = Dial(gallery)
    versions = [dial.image(set_name, key, quality, method, s) for s in strengths]
    base = gallery.image(set_name, key, quality, left)
    if crop is not None:
        y, x = busiest_crop(gallery.image(set_name, key, 0, ORIGINAL), crop)
        base, *versions = (v[y : y + crop, x : x + crop] for v in (base, *versions))
    state = compare_state(
        base,
        versions[-1],
        _label(left, quality),
        _label(method, quality, strengths[-1]),
    )
    state["dial"] = {
        "values": [float(s) for s in strengths],
        "images": [data_url(v) for v in versions],
        "labels": [_label(method, quality, s) for s in strengths],
    }
    caption = f"{set_name}/{key}: {_label(left, quality)} | {method} at strengths " + ", ".join(
        f"{s:g}" for s in strengths
    )
    return state_html(state, caption)
