// A DSIS rating session: the reference and a test image, a 0-100 impairment score, the next
// trial. The same code runs in the standalone page (ratings kept in the browser's storage and
// exported as CSV) and in the notebook's widget (ratings sent to the kernel, which writes the
// rater's CSV). `store` is the difference: load(rater) and save(rater, row) return promises
// (the rater's rows); a failed save is said on the page and the trial is not left.
// The order of the trials is the same as Python's `trial_sequence` (stages/study.py): a
// seeded shuffle per rater (FNV-1a of "seed:rater", mulberry32), and a few repeated trials
// inserted in the second half. A rater's name is taken as arStudyName gives it (Python's
// `rater_name`), and each rating carries the id of the rating session that gave it: drawn at
// random when a name begins, kept when it resumes (the same browser, or the notebook's file),
// so that two people of the same name are two raters (metrics/subjective.py).

// JavaScript's white space (what trim removes), spelt out as Python's SPACES spells it
const AR_STUDY_SPACES =
  /[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+/g;

// a name as every part of the study takes it: no white space at the ends, a run inside as one
// space ("eve " and "eve" are one rater, with one order and one file)
function arStudyName(text) {
  return String(text).replace(AR_STUDY_SPACES, " ").trim();
}

// a new rating session's id: 16 random hexadecimal digits
function arStudySession() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function arStudyHash(text) {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function arStudyRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function arStudyShuffle(items, random) {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

// [trial index, is a repeat] for each position of the rater's session
function arStudySequence(seed, rater, count, repeats) {
  const random = arStudyRandom(arStudyHash(`${seed}:${rater}`));
  const order = arStudyShuffle([...Array(count).keys()], random);
  const again = arStudyShuffle(order.slice(0, Math.min(repeats, Math.floor(count / 2))), random);
  const sequence = order.map((i) => [i, false]);
  const start = Math.ceil(count / 2);
  for (const i of again) {
    const at = start + Math.floor(random() * (sequence.length - start + 1));
    sequence.splice(at, 0, [i, true]);
  }
  return sequence;
}

const AR_STUDY_COLUMNS = ["study", "rater", "position", "trial", "image", "method", "quality",
  "score", "repeat", "time", "session"];
const AR_STUDY_SCALE = [[0, "very annoying"], [25, "annoying"], [50, "slightly annoying"],
  [75, "perceptible, not annoying"], [100, "imperceptible"]];

function arStudyCsv(rows) {
  const cell = (v) => {
    const text = typeof v === "boolean" ? String(Number(v)) : String(v);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [AR_STUDY_COLUMNS.join(","),
    ...rows.map((r) => AR_STUDY_COLUMNS.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
}

// `<name>-<hash>.csv`: the name's odd characters as "_", and a hash of the exact name, so that
// "Zoë" and "Zoé" (or two names in another script) never share a file; the name part is cut at
// 64 characters (Python's NAME_CHARS), as a file name has at most 255 bytes
function arStudyFileName(name) {
  const rater = arStudyName(name);
  const hash = arStudyHash(rater).toString(16).padStart(8, "0");
  return `${rater.replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 64) || "rater"}-${hash}.csv`;
}

function arStudyMount(el, config, store) {
  const root = document.createElement("div");
  root.className = "ar-study";
  // Keys pressed in the study are the study's: in JupyterLab they would also reach the
  // notebook (arrow keys moving between cells instead of the score, letters running commands)
  root.dataset.lmSuppressShortcuts = "true";
  root.addEventListener("keydown", (e) => e.stopPropagation());
  root.innerHTML = `
    <style>
      .ar-study { font-family: sans-serif; max-width: 100%; }
      .ar-study .ar-panels { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
      .ar-study figure { margin: 0; }
      .ar-study figcaption { font-weight: bold; margin-bottom: 4px; }
      .ar-study img { image-rendering: pixelated; display: block; }
      .ar-study .ar-scale { display: flex; justify-content: space-between; width: 640px;
        font-size: 11px; color: #444; white-space: nowrap; }
      .ar-study input[type=range] { width: 640px; margin: 0; }
      .ar-study .ar-row { margin: 8px 0; }
      .ar-study .ar-error { color: #b00020; font-weight: bold; }
    </style>
    <div class="ar-row"><b class="ar-title"></b></div>
    <div class="ar-row ar-intro"></div>
    <div class="ar-row ar-who">Your name: <input class="ar-rater" type="text" size="24">
      <button class="ar-start">Start</button></div>
    <div class="ar-row ar-progress"></div>
    <div class="ar-panels"></div>
    <div class="ar-row ar-vote" hidden>
      <div>How annoying are the Test image's impairments, compared with the Reference?</div>
      <input class="ar-score" type="range" min="0" max="100" step="1" value="50">
      <div class="ar-scale"></div>
      <div><span class="ar-value">not scored yet</span>
        <button class="ar-submit" disabled>Submit and next</button></div>
    </div>
    <div class="ar-row ar-done" hidden></div>
    <div class="ar-row"><button class="ar-export" hidden>Export my ratings (CSV)</button>
      <span class="ar-saved"></span></div>`;
  el.appendChild(root);
  const $ = (name) => root.querySelector(name);
  $(".ar-title").textContent = config.title;
  $(".ar-intro").textContent = config.intro;
  $(".ar-scale").innerHTML = AR_STUDY_SCALE.map(([v, name]) => `<span>${v}: ${name}</span>`)
    .join("");
  const panels = $(".ar-panels");
  let rater = "", session = "", rows = [], sequence = [], position = 0, timer = null;

  const picture = (caption, key) => {
    const figure = document.createElement("figure");
    const image = new Image();
    image.src = config.pictures[key];
    image.onload = () => { image.style.width = `${image.naturalWidth * config.zoom}px`; };
    figure.innerHTML = `<figcaption>${caption}</figcaption>`;
    figure.appendChild(image);
    return figure;
  };
  const setState = (state) => { root.dataset.state = state; };
  const showVote = () => {
    $(".ar-vote").hidden = false;
    $(".ar-score").value = 50;
    $(".ar-value").textContent = "not scored yet";
    $(".ar-submit").disabled = true;
    setState("vote");
  };
  const showTrial = () => {
    clearTimeout(timer);
    panels.innerHTML = "";
    $(".ar-vote").hidden = true;
    if (position >= sequence.length) {
      $(".ar-progress").textContent = "";
      $(".ar-done").hidden = false;
      $(".ar-done").textContent = `All ${sequence.length} trials rated, thank you. ` +
        (config.exportable ? "Export your ratings and hand the file in." : "Your ratings are saved.");
      setState("done");
      return;
    }
    const [index, repeat] = sequence[position];
    const trial = config.trials[index];
    root.dataset.position = position;
    root.dataset.trial = trial.id;
    $(".ar-progress").textContent = `Trial ${position + 1} of ${sequence.length}`;
    const reference = picture("Reference", `ref:${trial.image}`);
    const test = picture("Test", trial.picture);
    if (config.layout === "sequential") {  // DSIS variant I: the reference, then the test
      panels.appendChild(reference);
      setState("reference");
      timer = setTimeout(() => {
        panels.innerHTML = "";
        panels.appendChild(test);
        showVote();
      }, config.referenceSeconds * 1000);
    } else {
      panels.append(reference, test);
      showVote();
    }
    root.dataset.repeat = repeat ? "1" : "0";
  };
  const say = (text, error = false) => {
    $(".ar-saved").textContent = text;
    $(".ar-saved").classList.toggle("ar-error", error);
  };
  const begin = async (typed) => {
    const name = arStudyName(typed);
    if (!name) return;
    $(".ar-start").disabled = true;
    say("loading...");
    try {
      rows = (await store.load(name)) || [];
    } catch (err) {
      say(`Could not start: ${err.message}`, true);
      $(".ar-start").disabled = false;
      return;
    }
    rater = name;
    // a resumed session keeps its id (the latest of its rows'); a new one draws one
    session = (rows.filter((r) => r.session).pop() || {}).session || arStudySession();
    sequence = arStudySequence(config.seed, rater, config.trials.length, config.repeats);
    const rated = new Set(rows.map((r) => Number(r.position)));
    position = 0;
    while (rated.has(position)) position += 1;  // resume at the first trial not rated
    $(".ar-who").hidden = true;
    $(".ar-export").hidden = !config.exportable;
    say(rows.length ? `${rows.length} earlier rating(s) of "${rater}" restored (if that is not ` +
      "you, reload the page and use another name)" : "");
    root.dataset.rater = rater;
    root.dataset.session = session;
    showTrial();
  };
  $(".ar-score").addEventListener("input", () => {
    $(".ar-value").textContent = `score ${$(".ar-score").value}`;
    $(".ar-submit").disabled = false;
  });
  $(".ar-submit").addEventListener("click", async () => {
    const [index, repeat] = sequence[position];
    const trial = config.trials[index];
    const row = { study: config.study, rater, position, trial: trial.id, image: trial.image,
      method: trial.method, quality: trial.quality, score: Number($(".ar-score").value),
      repeat, time: new Date().toISOString(), session };
    $(".ar-submit").disabled = true;
    try {
      rows = await store.save(rater, row);
    } catch (err) {
      say(`This rating was NOT saved: ${err.message}. Try again.`, true);
      $(".ar-submit").disabled = false;
      return;
    }
    say(`${rows.length} rating(s) saved`);
    position += 1;
    showTrial();
  });
  const name = () => $(".ar-rater").value;
  $(".ar-start").addEventListener("click", () => begin(name()));
  $(".ar-rater").addEventListener("keydown", (e) => { if (e.key === "Enter") begin(name()); });
  $(".ar-export").addEventListener("click", () => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([arStudyCsv(rows)], { type: "text/csv" }));
    link.download = arStudyFileName(rater);
    document.body.appendChild(link);
    link.click();
    link.remove();
  });
  setState("name");
  if (config.rater) begin(config.rater);
  return { begin };
}

// The page's store: each rater's rows in the browser's localStorage, per study. A save reads
// what is stored first, so two tabs of one rater add to each other instead of overwriting.
function arStudyBrowserStore(study) {
  const key = (rater) => `ar-study:${study}:${rater}`;
  const read = (rater) => {
    try {
      const found = JSON.parse(localStorage.getItem(key(rater)) || "[]");
      return Array.isArray(found) ? found : [];
    } catch (err) {
      throw new Error(`this browser's storage cannot be read (${err.message})`);
    }
  };
  return {
    load: async (rater) => read(rater),
    save: async (rater, row) => {
      const rows = read(rater).filter((r) => Number(r.position) !== row.position).concat([row]);
      try {
        localStorage.setItem(key(rater), JSON.stringify(rows));
      } catch (err) {
        throw new Error(`this browser does not keep data (a private window?): ${err.message}`);
      }
      return rows;
    },
  };
}
