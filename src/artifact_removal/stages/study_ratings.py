"""Ratings of the DSIS study: each rater's CSV (written as a rating is given, by the
notebook's widget) and every rating checked against the study it names."""

from __future__ import annotations

import re
from pathlib import Path

import anywidget
import pandas as pd
import traitlets

from ..metrics.subjective import (
    RATING_COLUMNS,
    Ratings,
    RatingsError,
    condition_of,
    read_ratings,
)
from .study_build import STUDY_JS, Study, session_html
from .study_order import rater_hash
from .widgets import _with_html

NAME_CHARS = 64  # of a rater's name in their file's name (study.js: the same)


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
        return [
            {**row, "position": int(row["position"]), "score": int(float(row["score"]))}
            for row in mine.to_dict("records")
        ]

    def add(self, row: dict) -> None:
        """Append one rating (a re-rated position replaces its earlier score)."""
        from ..fileio import write_atomic

        row = {c: row[c] for c in RATING_COLUMNS}
        if row["study"] != self.study.id or row["rater"] != self.rater:
            raise RatingsError(
                f"a rating of {row['rater']!r} for study {row['study']} does not "
                f"belong in {self.path}"
            )
        row["repeat"] = int(bool(row["repeat"]))
        check_row(self.study, row, f"{self.path} (the rating being saved)")
        table = self.all_rows()
        same = (
            (table["study"] == self.study.id)
            & (table["rater"] == self.rater)
            & (table["position"].astype(str) == str(row["position"]))
        )
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
        note = (
            "<p><i>Without a kernel, this is the study's page (as reports/study/study.html"
            "): ratings stay in this browser until exported as CSV.</i></p>"
        )
        return _with_html(super()._repr_mimebundle_(**kwargs), note + session_html(self.study))


# --- checking ratings against the study --------------------------------------------------------


def check_row(
    study: Study, row: dict, where: str, trials: dict | None = None, sequences: dict | None = None
) -> None:
    """A rating against the study it names: its trial is one of the study's, shown as the row
    says (image, method, QF), at the position of the rater's sequence the row gives. `trials`
    (id -> (index, trial)) and `sequences` (rater -> sequence, filled as raters come) spare
    rebuilding them for every row of a file."""
    trials = trials if trials is not None else trial_index(study)
    if row["trial"] not in trials:
        raise RatingsError(
            f"{where}: trial {row['trial']!r} is not a trial of study {study.id} "
            "(reports/study/study.json)"
        )
    index, trial = trials[row["trial"]]
    said = (str(row["image"]), str(row["method"]), int(row["quality"]))
    if said != (trial.image, trial.method, trial.quality):
        raise RatingsError(
            f"{where}: trial {trial.id} is {trial.image}, {trial.condition} in "
            f"study {study.id}, but the row says {said[0]}, "
            f"{condition_of(said[1], said[2])}"
        )
    sequences = {} if sequences is None else sequences
    rater = str(row["rater"])
    if rater not in sequences:
        sequences[rater] = study.sequence(rater)
    sequence = sequences[rater]
    position, repeat = int(row["position"]), bool(int(row["repeat"]))
    if not 0 <= position < len(sequence):
        raise RatingsError(
            f"{where}: position {position} is outside the rater's {len(sequence)} trials"
        )
    if sequence[position] != (index, repeat):
        shown = study.trials[sequence[position][0]].id
        again = " (a repeat)"
        raise RatingsError(
            f"{where}: {row['rater']!r} was shown trial {shown}"
            f"{again if sequence[position][1] else ''} at position {position}, "
            f"not {trial.id}{again if repeat else ''}"
        )


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
        check_row(
            study, {**row, "rater": rater}, f"{row['file']}, line {row['line']}", trials, sequences
        )
    return ratings


def trial_index(study: Study) -> dict:
    """Trial id -> (its index in the study, the trial)."""
    return {t.id: (i, t) for i, t in enumerate(study.trials)}
