// A before/after comparison: two images stacked, the left one shown up to a vertical line that
// wipes across them. Dragging anywhere on the image (mouse, pen or touch) moves the line, and so
// do the slider under it, exactly as wide as the image, and the arrow keys. Zoom is apart: its
// buttons magnify both images alike around the point under the line, and shift-drag (or the pan
// button, for touch) moves a zoomed view. The same code runs inside the Jupyter widget
// (widgets.CompareSlider) and in standalone HTML, where it needs no kernel, no network and no
// other script. With `state.dial` ({values, images, labels}: the right-hand version at several
// strengths of the perception-distortion dial), a second slider picks which one is shown.
function arCompareMount(el, state, onChange) {
  const root = document.createElement("div");
  root.className = "ar-compare";
  root.innerHTML = `
    <style>
      .ar-compare { font: 13px/1.4 sans-serif; margin: 6px 0 14px; padding: 0 6px;
        box-sizing: border-box; max-width: 100%; }
      .ar-compare .ar-frame { max-width: 100%; }
      .ar-compare .ar-view { position: relative; overflow: hidden; width: 100%; background: #222;
        cursor: ew-resize; touch-action: pan-y; user-select: none; -webkit-user-select: none; }
      .ar-compare.ar-panning .ar-view { cursor: grab; touch-action: none; }
      .ar-compare .ar-layer { position: absolute; inset: 0; overflow: hidden; }
      .ar-compare .ar-view img { position: absolute; left: 0; top: 0; width: 100%; height: 100%;
        max-width: none; transform-origin: 0 0; pointer-events: none; }
      .ar-compare .ar-line { position: absolute; top: 0; bottom: 0; width: 2px; margin-left: -1px;
        background: #fff; box-shadow: 0 0 3px #000; pointer-events: none; }
      .ar-compare .ar-knob { position: absolute; top: 50%; left: 1px; width: 8px; height: 40px;
        margin: -20px 0 0 -4px; box-sizing: border-box; border: 1px solid #333;
        border-radius: 4px; background: repeating-linear-gradient(#fff 0 3px, #888 3px 4px)
        center / 4px 12px no-repeat, #fff; }
      .ar-compare .ar-label { position: absolute; top: 6px; padding: 2px 6px;
        background: rgba(0, 0, 0, 0.6); color: #fff; border-radius: 3px; pointer-events: none; }
      .ar-compare .ar-slider { -webkit-appearance: none; appearance: none; display: block;
        width: 100%; height: 26px; margin: 2px 0 0; padding: 0; background: transparent;
        cursor: ew-resize; }
      .ar-compare .ar-slider::-webkit-slider-runnable-track { height: 4px; background: #999;
        border-radius: 2px; }
      .ar-compare .ar-slider::-webkit-slider-thumb { -webkit-appearance: none; width: 2px;
        height: 14px; margin-top: -5px; border-radius: 1px; background: #333;
        box-shadow: 0 0 0 4px #fff, 0 0 0 5px #666; }
      .ar-compare .ar-slider::-moz-range-track { height: 4px; background: #999;
        border-radius: 2px; }
      .ar-compare .ar-slider::-moz-range-thumb { width: 2px; height: 14px; border: 0;
        border-radius: 1px; background: #333; box-shadow: 0 0 0 4px #fff, 0 0 0 5px #666; }
      .ar-compare .ar-slider:focus-visible { outline: 2px solid #38f; outline-offset: 1px; }
      .ar-compare .ar-controls { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; }
      .ar-compare button { font: inherit; padding: 1px 8px; border: 1px solid #888;
        border-radius: 3px; background: #f4f4f4; color: #222; cursor: pointer; }
      .ar-compare button[aria-pressed="true"] { background: #333; color: #fff; }
      .ar-compare button:disabled { opacity: 0.4; cursor: default; }
      .ar-compare .ar-hint { color: #666; font-size: 12px; margin-top: 2px; }
      .ar-compare .ar-dial { display: flex; gap: 8px; align-items: center; margin-top: 4px; }
      .ar-compare .ar-dial[hidden] { display: none; }
      .ar-compare .ar-dial input { flex: 0 1 240px; }
    </style>
    <div class="ar-frame">
      <div class="ar-view">
        <div class="ar-layer ar-right"><img alt="right"></div>
        <div class="ar-layer ar-left"><img alt="left"></div>
        <div class="ar-line"><div class="ar-knob"></div></div>
        <span class="ar-label" style="left: 6px"></span>
        <span class="ar-label" style="right: 6px"></span>
      </div>
      <input class="ar-slider" type="range" min="0" max="100" step="any"
             aria-label="wipe position, percent of the width">
    </div>
    <div class="ar-controls" role="group" aria-label="zoom">zoom
      <button type="button" class="ar-zoom" value="1">1x</button>
      <button type="button" class="ar-zoom" value="2">2x</button>
      <button type="button" class="ar-zoom" value="4">4x</button>
      <button type="button" class="ar-zoom" value="8">8x</button>
      <button type="button" class="ar-pan" aria-pressed="false">&#x2725; pan</button>
    </div>
    <div class="ar-dial" hidden>strength
      <input class="ar-strength" type="range" min="0" max="0" step="1"
             aria-label="strength of the right-hand version, 0 to 1">
      <span class="ar-strength-value"></span>
    </div>
    <div class="ar-hint">Drag across the image (or press &larr; &rarr;) to move the line.
      Zoom magnifies around the line; shift-drag or &ldquo;pan&rdquo; moves a zoomed view.</div>`;
  el.appendChild(root);
  const find = (selector) => root.querySelector(selector);
  const [frame, view, leftLayer, line, slider, pan] = [
    ".ar-frame", ".ar-view", ".ar-left", ".ar-line", ".ar-slider", ".ar-pan"].map(find);
  const [dialRow, strength, strengthValue] = [".ar-dial", ".ar-strength",
    ".ar-strength-value"].map(find);
  let dial = null; // {values, images, labels} of the right-hand version, when given
  const zooms = [...root.querySelectorAll(".ar-zoom")];
  const [rightImg, leftImg] = root.querySelectorAll("img");
  const [leftLabel, rightLabel] = root.querySelectorAll(".ar-label");
  // position: the line, in percent of the view's width; (ox, oy): the zoomed image's top-left
  // corner, in fractions of the view, between 1 - zoom and 0.
  // focusY: the height, in fractions of the view, that a zoom keeps in place.
  const s = { position: 50, zoom: 1, width: 0, ox: 0, oy: 0, focusY: 0.5 };
  const clamp = (value, low, high) => Math.min(high, Math.max(low, value));
  const panning = () => pan.getAttribute("aria-pressed") === "true";

  function layout() {
    leftLayer.style.clipPath = `inset(0 ${100 - s.position}% 0 0)`;
    line.style.left = `${s.position}%`;
    slider.value = String(s.position);
    root.dataset.zoom = String(s.zoom);
    for (const button of zooms) {
      button.setAttribute("aria-pressed", String(Number(button.value) === s.zoom));
    }
    pan.disabled = s.zoom === 1;
    if (pan.disabled) pan.setAttribute("aria-pressed", "false");
    root.classList.toggle("ar-panning", panning());
    // Square pixels once an image pixel covers a screen pixel or more; smooth when shrunk.
    const scale = (s.zoom * (view.clientWidth || s.width)) / (s.width || 1);
    const move = `translate(${s.ox * 100}%, ${s.oy * 100}%) scale(${s.zoom})`;
    for (const img of [leftImg, rightImg]) {
      img.style.transform = move;
      img.style.imageRendering = scale >= 1 ? "pixelated" : "auto";
    }
  }

  // Zoom both images alike, keeping the point under the line (at the focus' height) where it
  // is.
  function zoomTo(zoom) {
    const x = s.position / 100;
    const y = s.focusY;
    s.ox = clamp(x - ((x - s.ox) / s.zoom) * zoom, 1 - zoom, 0);
    s.oy = clamp(y - ((y - s.oy) / s.zoom) * zoom, 1 - zoom, 0);
    s.zoom = zoom;
  }

  function update(next) {
    if (next.position !== undefined) s.position = clamp(next.position, 0, 100);
    if (next.focusY !== undefined) s.focusY = clamp(next.focusY, 0, 1);
    if (next.zoom !== undefined && next.zoom !== s.zoom) zoomTo(next.zoom);
    if (next.left !== undefined) leftImg.src = next.left;
    if (next.right !== undefined) rightImg.src = next.right;
    if (next.leftLabel !== undefined) leftLabel.textContent = next.leftLabel;
    if (next.rightLabel !== undefined) rightLabel.textContent = next.rightLabel;
    if (next.dial !== undefined) {
      dial = next.dial && next.dial.values.length ? next.dial : null;
      dialRow.hidden = !dial;
      if (dial) {
        strength.max = String(dial.values.length - 1);
        strength.value = String(dial.values.length - 1);
        showStrength(dial.values.length - 1);
      }
    }
    if (next.width && next.height) {
      s.width = next.width;
      frame.style.width = `${next.width}px`; // at most the page's width: max-width 100%
      view.style.aspectRatio = `${next.width} / ${next.height}`;
    }
    layout();
  }

  // The right-hand version at the dial's i-th strength.
  function showStrength(i) {
    rightImg.src = dial.images[i];
    rightLabel.textContent = dial.labels[i];
    strengthValue.textContent = String(dial.values[i]);
  }

  function set(name, value) {
    if (name === "zoom") zoomTo(value);
    else s.position = clamp(value, 0, 100);
    layout();
    if (onChange) onChange(name, name === "zoom" ? s.zoom : s.position);
  }

  slider.addEventListener("input", () => set("position", Number(slider.value)));
  strength.addEventListener("input", () => {
    if (!dial) return;
    showStrength(Number(strength.value));
    if (onChange) onChange("strength", dial.values[Number(strength.value)]);
  });
  for (const button of zooms) {
    button.addEventListener("click", () => set("zoom", Number(button.value)));
  }
  pan.addEventListener("click", () => {
    pan.setAttribute("aria-pressed", String(!panning()));
    layout();
  });

  // A drag on the image wipes; with shift held or pan pressed, it moves a zoomed view instead.
  let drag = null;
  const wipe = (event) => {
    const box = view.getBoundingClientRect();
    set("position", ((event.clientX - box.left) / box.width) * 100);
  };
  view.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    drag = { pan: s.zoom > 1 && (event.shiftKey || panning()), x: event.clientX, y: event.clientY };
    view.setPointerCapture(event.pointerId);
    event.preventDefault(); // no text selection, no image drag
    slider.focus({ preventScroll: true, focusVisible: false }); // arrow keys move the line now
    if (!drag.pan) wipe(event);
  });
  view.addEventListener("pointermove", (event) => {
    if (!drag) return;
    if (!drag.pan) return wipe(event);
    const box = view.getBoundingClientRect();
    s.ox = clamp(s.ox + (event.clientX - drag.x) / box.width, 1 - s.zoom, 0);
    s.oy = clamp(s.oy + (event.clientY - drag.y) / box.height, 1 - s.zoom, 0);
    [drag.x, drag.y] = [event.clientX, event.clientY];
    layout();
  });
  for (const type of ["pointerup", "pointercancel"]) {
    view.addEventListener(type, () => (drag = null));
  }
  if (window.ResizeObserver) new ResizeObserver(layout).observe(view);
  update(state);
  return { update };
}
