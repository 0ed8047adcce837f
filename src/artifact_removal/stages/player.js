// A synced player: several versions of one clip, stacked in ONE video file (version k is the
// k-th band of `height` rows), so they cannot drift apart: every frame shows all versions of
// the same instant. A canvas draws the left version left of the wipe line and the right one
// right of it. Play/pause, frame stepping, a wipe slider (or a drag on the picture) and two
// menus choose what is compared. Mounted by arPlayerMount(element, state).
function arPlayerMount(el, state) {
  const { src, versions, width, height, fps, frames } = state;
  el.classList.add("ar-player");
  el.innerHTML = `
    <video muted playsinline loop preload="auto" style="display:none"></video>
    <canvas width="${width}" height="${height}" style="width:${Math.max(width, 512)}px;
      max-width:100%; image-rendering:pixelated; cursor:ew-resize; display:block"></canvas>
    <input class="ar-wipe" type="range" min="0" max="1000" value="500"
      style="width:${Math.max(width, 512)}px; max-width:100%; display:block">
    <div class="ar-controls" style="font:13px sans-serif; margin-top:4px">
      <select class="ar-left"></select> | <select class="ar-right"></select>
      <button class="ar-back" title="one frame back">&#9664;&#9646;</button>
      <button class="ar-play">play</button>
      <button class="ar-next" title="one frame forward">&#9646;&#9654;</button>
      <span class="ar-frame"></span>
    </div>`;
  const video = el.querySelector("video");
  const canvas = el.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const wipe = el.querySelector(".ar-wipe");
  const [left, right] = [el.querySelector(".ar-left"), el.querySelector(".ar-right")];
  for (const select of [left, right]) {
    versions.forEach((name, k) => select.add(new Option(name, k)));
  }
  left.value = state.left ?? 1;
  right.value = state.right ?? versions.length - 1;
  const frameOf = () => Math.min(frames - 1, Math.floor(video.currentTime * fps + 1e-3));
  const draw = () => {
    const cut = Math.round((wipe.value / 1000) * width);
    const [a, b] = [Number(left.value), Number(right.value)];
    if (cut > 0) ctx.drawImage(video, 0, a * height, cut, height, 0, 0, cut, height);
    if (cut < width) {
      ctx.drawImage(video, cut, b * height, width - cut, height, cut, 0, width - cut, height);
    }
    ctx.fillStyle = "#fff";
    ctx.fillRect(cut - 0.5, 0, 1, height);
    el.querySelector(".ar-frame").textContent =
      `frame ${frameOf() + 1} / ${frames} | ${versions[a]} | ${versions[b]}`;
    el.dataset.frame = frameOf();
    el.dataset.time = video.currentTime.toFixed(4);
  };
  const loop = () => {
    draw();
    if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(loop);
    else requestAnimationFrame(loop);
  };
  const play = el.querySelector(".ar-play");
  play.onclick = () => (video.paused ? video.play() : video.pause());
  video.onplay = () => (play.textContent = "pause");
  video.onpause = () => (play.textContent = "play");
  const step = (delta) => {
    video.pause();
    el.dataset.seeked = "0";
    const target = Math.max(0, Math.min(frames - 1, frameOf() + delta));
    video.currentTime = (target + 0.5) / fps; // the middle of the frame: no rounding doubt
  };
  el.querySelector(".ar-back").onclick = () => step(-1);
  el.querySelector(".ar-next").onclick = () => step(1);
  video.onseeked = () => {
    draw();
    el.dataset.seeked = "1";
  };
  video.onloadeddata = () => {
    draw();
    loop();
  };
  for (const input of [wipe, left, right]) input.oninput = draw;
  const drag = (event) => {
    if (event.buttons !== 1 && event.type !== "click") return;
    const box = canvas.getBoundingClientRect();
    wipe.value = Math.round(((event.clientX - box.left) / box.width) * 1000);
    draw();
  };
  canvas.onmousemove = drag;
  canvas.onclick = drag;
  video.src = src;
  return { video, draw, step };
}
