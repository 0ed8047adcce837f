"""Stages study and human_study (notebook 09): a DSIS study that people run, and its analysis.

The papers' strongest evidence is people's: in a DSIS test (Double Stimulus Impairment Scale:
the reference, then the test image, scored for how annoying its impairments are) the GAN
scored a MOS of 68.3 against 49.5 for the SSIM generator (0-100 scale, the talk). Here the
study is built from the corpus' held-out images: for each of `study.images` images, its
busiest `study.crop` square as the original (shown both as the reference and, hidden, as a
test image), as JPEG and as each method of `study.methods` restores it, at each QF of
`study.qualities`. Each rater sees the trials in their own seeded order, with `study.repeats`
trials shown twice to measure consistency.

The stage `study` (`python -m artifact_removal.stages.study`) builds the study once into
`study.out_dir`: the standalone page `study.html` (one file, images inlined, nothing fetched),
`study.json` and the pictures. It does not read the ratings, so handing ratings in never
rebuilds what the raters saw. Raters score on the page (ratings kept in the browser, exported
as CSV) or in the notebook's widget (`StudyWidget`: the kernel writes each rating to the
rater's CSV in `study.ratings_dir` as it is given, atomically, and confirms it). Either way a
closed window resumes where it stopped. The stage `human_study` (notebook 09) reads every CSV
of `study.ratings_dir` (`metrics/subjective.py`): raters screened, MOS with 95% intervals per
condition, box plots as the 2020 paper's Fig. 4, and the talk's MOS beside ours.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import anywidget
import numpy as np
import pandas as pd
import torch
import traitlets
from tqdm.auto import tqdm

from ..config import ConfigError, Params, StudyParams, load_params, parse_yaml, resolve_path
from ..data.images import busiest_crop, read_png
from ..data.prepared import DataError, evaluation_folders
from ..fileio import write_csv, write_json, write_text
from ..inference.gallery import JPEG, ORIGINAL, Gallery
from ..methods import models_dir, qualities_of
from ..metrics.subjective import (
    RATING_COLUMNS,
    Ratings,
    RatingsError,
    condition_of,
    mos_table,
    read_ratings,
    screen_raters,
)
from .widgets import _with_html, data_url

STUDY_JS = resources.files(__package__).joinpath("study.js").read_text()
INTRO = ("Each trial shows a Reference image and a Test image. Score how annoying the Test "
         "image's impairments are, compared with the Reference: 100 means you see none, 0 that "
         "they are very annoying. Some Test images may be the Reference itself; some trials "
         "come twice. Take your time; there are no right answers.")  # fmt: skip
MASK = 0xFFFFFFFF
NAME_CHARS = 64  # of a rater's name in their file's name (study.js: the same)


@dataclass(frozen=True)
class Trial:
    """One test image of the study: which image, shown as what (condition), at which QF."""

    id: str
    image: str
    method: str  # original (the hidden reference), jpeg, or a method
    quality: int  # 0 for the original

    @property
    def condition(self) -> str:
        return condition_of(self.method, self.quality)

    @property
    def picture(self) -> str:
        """The key of its picture: the reference's own for the hidden reference."""
        return f"ref:{self.image}" if self.method == ORIGINAL else self.id


@dataclass
class Study:
    """Trials and their pictures (PNG data URLs), and how the session shows them."""

    trials: list[Trial]
    pictures: dict[str, str]  # "ref:<image>" and trial ids -> data URL
    seed: int
    repeats: int
    layout: str
    reference_seconds: float
    zoom: int
    id: str = field(init=False)

    def __post_init__(self):
        # what a rating refers to: the trials, their order, how they are shown, and the
        # pictures' pixels (not their PNG bytes, which another zlib could change)
        trials = [[t.id, t.image, t.method, t.quality] for t in self.trials]
        shown = [self.seed, self.repeats, self.layout, self.reference_seconds, self.zoom]
        digest = hashlib.sha256(json.dumps([trials, shown]).encode())
        for key in sorted(self.pictures):
            pixels = picture_array(self, key)
            digest.update(f"{key}{pixels.shape}".encode() + pixels.tobytes())
        self.id = digest.hexdigest()[:12]

    def config(self, rater: str = "", exportable: bool = True) -> dict:
        """What the JavaScript session needs."""
        return {"study": self.id, "seed": self.seed, "repeats": self.repeats,
                "layout": self.layout, "referenceSeconds": self.reference_seconds,
                "zoom": self.zoom, "pictures": self.pictures, "rater": rater,
                "exportable": exportable, "title": f"Image quality study ({self.id})",
                "intro": INTRO,
                "trials": [{"id": t.id, "image": t.image, "method": t.method,
                            "quality": t.quality, "picture": t.picture}
                           for t in self.trials]}  # fmt: skip

    def sequence(self, rater: str) -> list[tuple[int, bool]]:
        """The rater's trials in order: (trial index, is a repeat)."""
        return trial_sequence(self.seed, rater, len(self.trials), self.repeats)

    def to_json(self) -> dict:
        return {"id": self.id, "trials": [t.__dict__ for t in self.trials], "seed": self.seed,
                "repeats": self.repeats, "layout": self.layout,
                "reference_seconds": self.reference_seconds, "zoom": self.zoom}  # fmt: skip


# --- the rater's order: the same arithmetic as study.js --------------------------------------


def rater_hash(text: str) -> int:
    """FNV-1a (32 bits) of the text's UTF-8 bytes."""
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & MASK
    return h


def random_stream(seed: int):
    """mulberry32: uniform floats in [0, 1) from a 32-bit seed, as the page computes them."""
    a = seed & MASK
    while True:
        a = (a + 0x6D2B79F5) & MASK
        t = a
        t = ((t ^ (t >> 15)) * (t | 1)) & MASK
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & MASK)) & MASK
        yield ((t ^ (t >> 14)) & MASK) / 4294967296


def _shuffle(items: list, stream) -> list:
    out = list(items)
    for i in range(len(out) - 1, 0, -1):
        j = int(next(stream) * (i + 1))
        out[i], out[j] = out[j], out[i]
    return out


def trial_sequence(seed: int, rater: str, count: int, repeats: int) -> list[tuple[int, bool]]:
    """A rater's session: the trials shuffled by a stream seeded with (seed, rater), and the
    first `repeats` of them (at most half) shown again at random places in the second half."""
    stream = random_stream(rater_hash(f"{seed}:{rater}"))
    order = _shuffle(list(range(count)), stream)
    again = _shuffle(order[: min(repeats, count // 2)], stream)
    sequence = [(i, False) for i in order]
    start = -(-count // 2)
    for i in again:
        sequence.insert(start + int(next(stream) * (len(sequence) - start + 1)), (i, True))
    return sequence


# --- building the study ------------------------------------------------------------------------


def study_images(keys: list[str], count: int) -> list[str]:
    """`count` images spread evenly over the sorted keys (all when there are fewer)."""
    if count >= len(keys):
        return list(keys)
    return [keys[int(i)] for i in np.linspace(0, len(keys) - 1, count).round()]


def build_study(params: Params, root: str | Path, device: torch.device) -> Study:
    """The study of `params.study` over the corpus' held-out images and the trained methods."""
    settings = params.study
    methods = {name: resolve_path(models_dir(params, name), root) for name in settings.methods}
    gallery = Gallery(evaluation_folders(params, Path(root)), methods, device,
                      qualities={m: qualities_of(params, m) for m in settings.methods},
                      subsampling=params.degradation.chroma_subsampling)  # fmt: skip
    return study_of(gallery, "test", settings, params.seed, progress=True)


def study_of(gallery: Gallery, set_name: str, settings: StudyParams, seed: int,
             progress: bool = False) -> Study:  # fmt: skip
    """A study over a gallery's set: for each chosen image, its busiest square as the original
    (the reference, and a hidden test image), JPEG and every method at every QF."""
    trials, pictures = [], {}
    for image in tqdm(study_images(gallery.keys(set_name), settings.images), desc="study",
                      unit="image", disable=not progress):  # fmt: skip
        original = gallery.image(set_name, image, 0, ORIGINAL)
        crop = (slice(None), slice(None))  # crop 0: the whole image
        if settings.crop:
            size = min(settings.crop, *original.shape[:2])
            y, x = busiest_crop(original, size)
            crop = (slice(y, y + size), slice(x, x + size))
        pictures[f"ref:{image}"] = data_url(original[crop])
        versions = [(ORIGINAL, 0)] + [(m, q) for q in settings.qualities
                                      for m in (JPEG, *settings.methods)]  # fmt: skip
        for method, quality in versions:
            trial = Trial(f"t{len(trials):02d}", image, method, quality)
            trials.append(trial)
            if method != ORIGINAL:
                restored = gallery.image(set_name, image, quality, method)
                pictures[trial.id] = data_url(restored[crop])
    return Study(trials, pictures, seed, settings.repeats, settings.layout,
                 settings.reference_seconds, settings.zoom)  # fmt: skip


def session_html(study: Study) -> str:
    """The rating session as an HTML fragment (script and images inlined), ratings kept in the
    browser and exported as CSV: the page's body, and the executed notebook's too."""
    element = f"ar-study-{study.id}"
    return (f"<div id='{element}'></div><script>(function () {{\n{STUDY_JS}\n"
            f"const config = {json.dumps(study.config())};\n"
            f"arStudyMount(document.getElementById('{element}'), config, "
            "arStudyBrowserStore(config.study));\n"
            "window.arStudy = { config, sequence: arStudySequence };\n})();</script>")  # fmt: skip


def page_html(study: Study) -> str:
    """The standalone study page: one file, the images and the script inlined."""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(study.config()['title'])}</title></head><body>"
        f"{session_html(study)}<p style='font:12px sans-serif;color:#555'>Ratings are kept in "
        "this browser as you give them: closing the page loses nothing, and opening it again "
        "with the same name resumes. When you are done, export them and hand the CSV file in."
        "</p></body></html>"
    )


def write_study(study: Study, out_dir: Path) -> dict[str, Path]:
    """The page, the study's description (study.json) and its pictures as PNG files."""
    import base64

    from ..fileio import write_atomic

    out_dir = Path(out_dir)
    for key, url in study.pictures.items():
        name = key.replace("ref:", "reference_")
        write_atomic(out_dir / "pictures" / f"{name}.png", base64.b64decode(url.split(",", 1)[1]))
    return {"page": write_text(out_dir / "study.html", page_html(study)),
            "study": write_json(out_dir / "study.json", study.to_json())}  # fmt: skip


# --- ratings: the notebook's writer ------------------------------------------------------------


def rater_file(folder: Path, rater: str) -> Path:
    """Where a rater's ratings go: `<folder>/<name>-<hash>.csv`, the name's odd characters as
    `_` and a hash of the exact name (as the page names its export), so that names that differ
    only in characters outside ASCII never share a file. The name part is cut at `NAME_CHARS`
    characters (a file name has at most 255 bytes); the hash still tells long names apart."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", rater)[:NAME_CHARS] or "rater"
    return Path(folder) / f"{safe}-{rater_hash(rater):08x}.csv"


class RatingLog:
    """One rater's CSV: every rating written as it is given (the whole file rewritten to a
    temporary file and renamed over the old one, so it is never half-written). Rows of other
    studies in the file are kept."""

    def __init__(self, folder: str | Path, study: Study, rater: str):
        if not rater.strip():
            raise RatingsError("a rater needs a name")
        self.study, self.rater = study, rater  # as the session sends it (it trims names)
        self.path = rater_file(Path(folder), rater)

    def all_rows(self) -> pd.DataFrame:
        if not self.path.is_file() or not self.path.stat().st_size:
            return pd.DataFrame(columns=RATING_COLUMNS)
        return pd.read_csv(self.path, dtype=str, keep_default_na=False)

    def rows(self) -> list[dict]:
        """This rater's ratings of this study."""
        table = self.all_rows()
        mine = table[(table["study"] == self.study.id) & (table["rater"] == self.rater)]
        return [{**row, "position": int(row["position"]), "score": int(float(row["score"]))}
                for row in mine.to_dict("records")]  # fmt: skip

    def add(self, row: dict) -> None:
        """Append one rating (a re-rated position replaces its earlier score)."""
        from ..fileio import write_atomic

        row = {c: row[c] for c in RATING_COLUMNS}
        if row["study"] != self.study.id or row["rater"] != self.rater:
            raise RatingsError(f"a rating of {row['rater']!r} for study {row['study']} does not "
                               f"belong in {self.path}")  # fmt: skip
        row["repeat"] = int(bool(row["repeat"]))
        check_row(self.study, row, f"{self.path} (the rating being saved)")
        table = self.all_rows()
        same = ((table["study"] == self.study.id) & (table["rater"] == self.rater)
                & (table["position"].astype(str) == str(row["position"])))  # fmt: skip
        table = pd.concat([table[~same], pd.DataFrame([row]).astype(str)], ignore_index=True)
        write_atomic(self.path, table[list(RATING_COLUMNS)].to_csv(index=False))


class StudyWidget(anywidget.AnyWidget):
    """The rating session in a live notebook: the page's script, with the kernel as its store.
    The view asks for a rater's rows and sends each rating as a message; the kernel writes the
    rating to the rater's CSV in `ratings_dir` and answers with the rows, or with the error.
    The view moves on only when the kernel has confirmed the rating."""

    _esm = (
        STUDY_JS
        + """
export default {
  render({ model, el }) {
    const waiting = new Map();
    let next = 0;
    const ask = (content, seconds) => new Promise((resolve, reject) => {
      const token = ++next;
      const timer = setTimeout(() => {
        waiting.delete(token);
        reject(new Error(`the kernel did not answer in ${seconds} s (is it busy or stopped?)`));
      }, seconds * 1000);
      waiting.set(token, (reply) => {
        clearTimeout(timer);
        if (reply.error) reject(new Error(reply.error)); else resolve(reply.rows);
      });
      model.send({ ...content, token });
    });
    const answer = (reply) => {
      const settle = waiting.get(reply.token);
      waiting.delete(reply.token);
      if (settle) settle(reply);
    };
    model.on("msg:custom", answer);
    arStudyMount(el, model.get("config"), {
      load: (rater) => ask({ type: "load", rater }, 60),
      save: (rater, row) => ask({ type: "save", rater, row }, 30),
    });
    return () => model.off("msg:custom", answer);
  },
};
"""
    )
    config = traitlets.Dict().tag(sync=True)

    def __init__(self, study: Study, ratings_dir: str | Path, rater: str = ""):
        super().__init__(config=study.config(rater, exportable=False))
        self.study, self.ratings_dir = study, Path(ratings_dir)
        self.on_msg(self._on_message)

    def answer(self, content: dict) -> dict:
        """The reply to one message of the view: `load` a rater's rows, or `save` a rating
        and return the rows; `error` says why not."""
        reply = {"token": content.get("token")}
        try:
            log = RatingLog(self.ratings_dir, self.study, str(content.get("rater", "")))
            if content.get("type") == "save":
                log.add(content["row"])
            elif content.get("type") != "load":
                raise RatingsError(f"unknown request {content.get('type')!r}")
            reply["rows"] = log.rows()
        except (RatingsError, OSError, KeyError, ValueError) as err:
            reply["error"] = f"{err.__class__.__name__}: {err}"
        return reply

    def _on_message(self, widget, content, buffers) -> None:
        self.send(self.answer(content))

    def __repr__(self) -> str:  # no memory address: the executed notebook is the same every run
        return f"StudyWidget(study {self.study.id})"

    def _repr_mimebundle_(self, **kwargs):
        note = ("<p><i>Without a kernel, this is the study's page (as reports/study/study.html"
                "): ratings stay in this browser until exported as CSV.</i></p>")  # fmt: skip
        return _with_html(super()._repr_mimebundle_(**kwargs), note + session_html(self.study))


# --- the analysis ------------------------------------------------------------------------------


@dataclass
class StudyResult:
    """Ratings read back, the raters' screening and the MOS table."""

    ratings: pd.DataFrame
    notes: list[str]
    screening: pd.DataFrame
    mos: pd.DataFrame

    @property
    def kept(self) -> list[str]:
        return list(self.screening.index[self.screening["kept"]])


def check_row(study: Study, row: dict, where: str, trials: dict | None = None,
              sequences: dict | None = None) -> None:  # fmt: skip
    """A rating against the study it names: its trial is one of the study's, shown as the row
    says (image, method, QF), at the position of the rater's sequence the row gives. `trials`
    (id -> (index, trial)) and `sequences` (rater -> sequence, filled as raters come) spare
    rebuilding them for every row of a file."""
    trials = trials if trials is not None else trial_index(study)
    if row["trial"] not in trials:
        raise RatingsError(f"{where}: trial {row['trial']!r} is not a trial of study {study.id} "
                           "(reports/study/study.json)")  # fmt: skip
    index, trial = trials[row["trial"]]
    said = (str(row["image"]), str(row["method"]), int(row["quality"]))
    if said != (trial.image, trial.method, trial.quality):
        raise RatingsError(f"{where}: trial {trial.id} is {trial.image}, {trial.condition} in "
                           f"study {study.id}, but the row says {said[0]}, "
                           f"{condition_of(said[1], said[2])}")  # fmt: skip
    sequences = {} if sequences is None else sequences
    rater = str(row["rater"])
    if rater not in sequences:
        sequences[rater] = study.sequence(rater)
    sequence = sequences[rater]
    position, repeat = int(row["position"]), bool(int(row["repeat"]))
    if not 0 <= position < len(sequence):
        raise RatingsError(f"{where}: position {position} is outside the rater's "
                           f"{len(sequence)} trials")  # fmt: skip
    if sequence[position] != (index, repeat):
        shown = study.trials[sequence[position][0]].id
        again = " (a repeat)"
        raise RatingsError(f"{where}: {row['rater']!r} was shown trial {shown}"
                           f"{again if sequence[position][1] else ''} at position {position}, "
                           f"not {trial.id}{again if repeat else ''}")  # fmt: skip


def check_ratings(study: Study, ratings_dir: str | Path) -> Ratings:
    """Every rater's CSV of this study read back (`read_ratings`) and each row checked against
    the study (`check_row`); RatingsError names the file, the line and the problem. A rater
    kept apart as `name (file)` is checked under the name they rated with."""
    ratings = read_ratings(ratings_dir, study.id)
    trials, sequences = trial_index(study), {}
    for row in ratings.table.to_dict("records"):
        rater = row["rater"]
        suffix = f" ({Path(row['file']).stem})"
        if rater.endswith(suffix) and rater != rater[: -len(suffix)]:
            rater = rater[: -len(suffix)]
        check_row(study, {**row, "rater": rater}, f"{row['file']}, line {row['line']}", trials,
                  sequences)  # fmt: skip
    return ratings


def trial_index(study: Study) -> dict:
    """Trial id -> (its index in the study, the trial)."""
    return {t.id: (i, t) for i, t in enumerate(study.trials)}


def analyse(study: Study, ratings_dir: str | Path, max_repeat_gap: float) -> StudyResult:
    """Read every rater's CSV of this study, check it against the study, screen the raters,
    and compute the MOS (the conditions in the study's order)."""
    ratings = check_ratings(study, ratings_dir)
    screening = screen_raters(ratings.table, max_repeat_gap)
    kept = list(screening.index[screening["kept"]])
    order = list(dict.fromkeys(t.condition for t in study.trials))
    return StudyResult(ratings.table, ratings.notes, screening,
                       mos_table(ratings.table, kept, order))  # fmt: skip


def published_mos() -> pd.DataFrame:
    """The talk's DSIS MOS (0-100): mean and standard deviation per method."""
    found = parse_yaml(resources.files(__package__).joinpath("published.yaml").read_text())
    rows = found["subjective"]["mos_dsis_0_100"]
    return pd.DataFrame({m: {"mos": v[0], "std": v[1]} for m, v in rows.items()}).T


def beside_talk(result: StudyResult) -> pd.DataFrame:
    """Our MOS per condition, and the talk's for the methods it scored (ssim, gan)."""
    ours = result.mos[["method", "quality", "raters", "mos", "std", "ci95"]].copy()
    talk = published_mos()
    ours["talk_mos"] = ours["method"].map(talk["mos"])
    ours["talk_std"] = ours["method"].map(talk["std"])
    return ours


def mos_boxplot(result: StudyResult):
    """Scores per condition as box plots (the 2020 paper's Fig. 4), MOS marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.4 * max(len(result.mos), 3) + 1, 3.6))
    kept = result.ratings[~result.ratings["repeat"] & result.ratings["rater"].isin(result.kept)]
    groups = [kept[(kept["method"] == row.method) & (kept["quality"] == row.quality)]["score"]
              for row in result.mos.itertuples()]  # fmt: skip
    if groups:
        ax.boxplot(groups, tick_labels=list(result.mos.index))
        ax.plot(range(1, len(groups) + 1), result.mos["mos"], "D", color="tab:red", label="MOS")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no ratings yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(-2, 102)
    ax.set_ylabel("score (0-100)")
    ax.set_title(f"DSIS scores of {len(result.kept)} rater(s)", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _markdown(table: pd.DataFrame) -> str:
    """A table rounded to 2 decimals, blanks where there is no value."""
    return table.round(2).astype(object).where(table.notna(), "").to_markdown()


def _text(value: object) -> str:
    """A rater's name, a file name or a note as text in Markdown: HTML's special characters
    escaped (a name is never markup) and table bars kept inside their cell."""
    return html.escape(str(value), quote=False).replace("|", "\\|")


def condition_slug(condition: str) -> str:
    """A condition's metrics file name: `original`, `jpeg-q20`, `gan-q20`."""
    return re.sub(r"[^A-Za-z0-9_]+", "-", condition.replace(", QF ", "-q")).strip("-")


def write_analysis(result: StudyResult, study: Study, params: Params, root: Path) -> dict:
    """Tables, the box plot, the summary and the metrics of the study's analysis: the metrics
    as `<metrics_dir>/study/study.json` (raters, ratings) and a file per condition in
    `conditions/` (MOS, std, ci95, scores), so `dvc metrics show` gives a row each."""
    from ..fileio import write_figure

    out = resolve_path(params.study.results_dir, root)
    table = beside_talk(result)
    notes = "".join(f"- {_text(n)}\n" for n in result.notes)
    rejected = result.screening[~result.screening["kept"]][["reason"]]
    rejected.index = [_text(name) for name in rejected.index]
    text = (f"# DSIS study {study.id}\n\n{len(result.screening)} rater(s), {len(result.kept)} "
            f"kept; {len(result.ratings)} rating(s). MOS over the kept raters' first scores "
            "(0-100, higher is better), standard deviation, 95% confidence half-width "
            "(Student's t). The talk's MOS (its own images and QF) beside ours.\n\n"
            + (_markdown(table) if len(table) else "No ratings yet.") + "\n\n"
            + ("Raters set aside:\n\n" + rejected.to_markdown() + "\n\n"
               if len(rejected) else "") + notes)  # fmt: skip
    metrics_dir = resolve_path(params.reports.metrics_dir, root) / "study"
    for stale in (metrics_dir / "conditions").glob("*.json"):
        stale.unlink()  # a condition no longer rated leaves no row behind
    paths = {
        "mos": write_csv(out / "mos.csv", table, float_format="%.3f"),
        "raters": write_csv(out / "raters.csv", result.screening, float_format="%.3f"),
        "summary": write_text(out / "summary.md", text),
        "boxplot": write_figure(out / "figures" / "mos_boxplot.png", mos_boxplot(result)),
        "metrics": write_json(metrics_dir / "study.json", {
            "study": study.id, "raters": len(result.screening), "kept": len(result.kept),
            "ratings": len(result.ratings), "conditions": len(result.mos)}),
    }  # fmt: skip
    for condition, row in result.mos.iterrows():
        values = {k: (None if pd.isna(row[k]) else round(float(row[k]), 3))
                  for k in ("mos", "std", "ci95")}  # fmt: skip
        write_json(
            metrics_dir / "conditions" / f"{condition_slug(condition)}.json",
            values | {"scores": int(row["scores"]), "raters": int(row["raters"])},
        )
    return paths


def load_study(out_dir: str | Path) -> Study:
    """The study that the stage wrote (study.json and its pictures), for the notebook."""
    import base64

    out_dir = Path(out_dir)
    if not (out_dir / "study.json").is_file():
        raise RatingsError(f"{out_dir}/study.json: no study built yet; run `dvc repro study`")
    found = json.loads((out_dir / "study.json").read_text())
    trials = [Trial(**t) for t in found["trials"]]
    pictures = {}
    for trial in trials:
        name = trial.picture.replace("ref:", "reference_")
        data = (out_dir / "pictures" / f"{name}.png").read_bytes()
        pictures[trial.picture] = "data:image/png;base64," + base64.b64encode(data).decode()
    study = Study(trials, pictures, found["seed"], found["repeats"], found["layout"],
                  found["reference_seconds"], found["zoom"])  # fmt: skip
    if study.id != found["id"]:
        raise RatingsError(f"{out_dir}: the pictures are not those of study {found['id']}")
    return study


def picture_array(study: Study, key: str) -> np.ndarray:
    """A picture of the study as pixels (for figures)."""
    import base64
    import io

    data = base64.b64decode(study.pictures[key].split(",", 1)[1])
    return read_png(io.BytesIO(data))


def conditions_figure(study: Study, image: str | None = None):
    """One image of the study in every condition it is shown in, labelled (for the report;
    the raters see no labels)."""
    import matplotlib.pyplot as plt

    image = image or study.trials[0].image
    trials = [t for t in study.trials if t.image == image]
    fig, axes = plt.subplots(1, len(trials), figsize=(2.4 * len(trials), 2.8))
    for ax, trial in zip(np.atleast_1d(axes), trials, strict=True):
        pixels = picture_array(study, trial.picture)
        ax.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, vmin=0, vmax=255,
                  interpolation="nearest")  # fmt: skip
        ax.set_title(trial.condition, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{image}: the trials' test images (the reference is the original)", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


RATINGS_STAMP = "the ratings passed validation against the study (dvc.yaml stage check_ratings)\n"


def check_main(args: list[str]) -> int:
    """Stage `check_ratings`: every rater's CSV checked against the built study before
    human_study runs (DVC deletes a stage's outputs before its command: a bad file must stop
    the run here, with the last analysis still in place). Writes STAMP; exit 2 with the file,
    line and problem when a rating does not fit the study."""
    from ..config import find_project_root

    if len(args) != 2:
        print("usage: python -m artifact_removal.stages.study check-ratings PARAMS STAMP",
              file=sys.stderr)  # fmt: skip
        return 2
    params_path, stamp = Path(args[0]).resolve(), Path(args[1])
    try:
        params = load_params(params_path)
        root = find_project_root(params_path.parent)
        study = load_study(resolve_path(params.study.out_dir, root))
        ratings = check_ratings(study, resolve_path(params.study.ratings_dir, root))
    except (ConfigError, RatingsError, OSError) as err:
        print(
            f"error: {err}\nNothing was analysed and no earlier result was deleted: fix the "
            "file (or move it out of study.ratings_dir) and run again.",
            file=sys.stderr,
        )
        return 2
    for note in ratings.notes:
        print(f"note: {note}")
    write_text(stamp, RATINGS_STAMP)
    print(f"study {study.id}: {len(ratings.table)} rating(s) of {len(ratings.raters)} rater(s) "
          "fit the study")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stage `study`: build the study of PARAMS (default params.yaml) into `study.out_dir`;
    `check-ratings PARAMS STAMP`: stage `check_ratings` (`check_main`)."""
    from ..config import find_project_root
    from ..runtime import select_device

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["check-ratings"]:
        return check_main(args[1:])
    try:
        params_path = Path(args[0] if args else "params.yaml").resolve()
        params = load_params(params_path)
        root = find_project_root(params_path.parent)
        study = build_study(params, root, select_device(params.device))
    except (ConfigError, DataError, RatingsError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    paths = write_study(study, resolve_path(params.study.out_dir, root))
    print(f"study {study.id}: {len(study.trials)} trials on {len(study.pictures)} pictures, "
          f"{params.study.repeats} repeated; page {paths['page'].relative_to(root)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
