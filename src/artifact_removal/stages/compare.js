// A before/after comparison: two images stacked, the left one shown up to a slider that wipes
// across them, and a zoom (click the image to zoom in there). The same code runs inside the
// Jupyter widget (widgets.CompareSlider) and in standalone HTML, where it needs no kernel,
// no network and no other script.
function arCompareMount(el, state, onChange) {
  const root = document.createElement("div");
  root.className = "ar-compare";
  root.innerHTML = `
    <style>
      .ar-compare { font: 13px sans-serif; margin: 6px 0 14px; max-width: 100%; }
      .ar-compare .ar-view { position: relative; overflow: hidden; width: 100%;
        cursor: zoom-in; user-select: none; background: #222; }
      .ar-compare .ar-layer { position: absolute; inset: 0; overflow: hidden; }
      .ar-compare img { position: absolute; left: 0; top: 0; width: 100%; height: 100%;
        transform-origin: 0 0; image-rendering: pixelated; pointer-events: none; }
      .ar-compare .ar-handle { position: absolute; top: 0; bottom: 0; width: 2px;
        margin-left: -1px; background: #fff; box-shadow: 0 0 3px #000; pointer-events: none; }
      .ar-compare .ar-label { position: absolute; top: 6px; padding: 2px 6px;
        background: rgba(0, 0, 0, 0.6); color: #fff; border-radius: 3px; pointer-events: none; }
      .ar-compare .ar-controls { display: flex; gap: 12px; align-items: center; margin-top: 4px; }
      .ar-compare .ar-slider { flex: 1; }
    </style>
    <div class="ar-view">
      <div class="ar-layer ar-right"><img alt="right"></div>
      <div class="ar-layer ar-left"><img alt="left"></div>
      <div class="ar-handle"></div>
      <span class="ar-label" style="left: 6px"></span>
      <span class="ar-label" style="right: 6px"></span>
    </div>
    <div class="ar-controls">
      <input class="ar-slider" type="range" min="0" max="100" step="0.1"
             aria-label="wipe position, percent of the width">
      <label>zoom <select class="ar-zoom">
        <option value="1">1x</option><option value="2">2x</option>
        <option value="4">4x</option><option value="8">8x</option></select></label>
    </div>`;
  el.appendChild(root);
  const view = root.querySelector(".ar-view");
  const leftLayer = root.querySelector(".ar-left");
  const handle = root.querySelector(".ar-handle");
  const slider = root.querySelector(".ar-slider");
  const zoom = root.querySelector(".ar-zoom");
  const [rightImg, leftImg] = root.querySelectorAll("img");
  const [leftLabel, rightLabel] = root.querySelectorAll(".ar-label");
  const s = { position: 50, zoom: 1, cx: 0.5, cy: 0.5 };

  // The top-left corner of the zoomed image, in fractions of the view, keeping (cx, cy) in
  // the middle of the view where the image allows.
  const offset = (centre) => Math.min(0, Math.max(1 - s.zoom, 0.5 - centre * s.zoom));

  function layout() {
    leftLayer.style.clipPath = `inset(0 ${100 - s.position}% 0 0)`;
    handle.style.left = `${s.position}%`;
    slider.value = String(s.position);
    zoom.value = String(s.zoom);
    const move = `translate(${offset(s.cx) * 100}%, ${offset(s.cy) * 100}%) scale(${s.zoom})`;
    leftImg.style.transform = rightImg.style.transform = move;
  }

  function update(next) {
    Object.assign(s, next);
    if (next.left !== undefined) leftImg.src = next.left;
    if (next.right !== undefined) rightImg.src = next.right;
    if (next.leftLabel !== undefined) leftLabel.textContent = next.leftLabel;
    if (next.rightLabel !== undefined) rightLabel.textContent = next.rightLabel;
    if (next.width && next.height) {
      view.style.maxWidth = `${next.width}px`;
      view.style.aspectRatio = `${next.width} / ${next.height}`;
    }
    layout();
  }

  function set(name, value) {
    s[name] = value;
    layout();
    if (onChange) onChange(name, value);
  }

  slider.addEventListener("input", () => set("position", Number(slider.value)));
  zoom.addEventListener("change", () => set("zoom", Number(zoom.value)));
  view.addEventListener("click", (event) => {
    const box = view.getBoundingClientRect();
    const x = (event.clientX - box.left) / box.width;
    const y = (event.clientY - box.top) / box.height;
    s.cx = (x - offset(s.cx)) / s.zoom; // the clicked point, in fractions of the image
    s.cy = (y - offset(s.cy)) / s.zoom;
    set("zoom", Math.min(8, s.zoom * 2));
  });
  update(state);
  return { update };
}
