"""Ratings of the DSIS study: each rater's CSV (written as a rating is given, by the
notebook's widget) and every rating checked against the study it names."""

from __future__ import annotations

import re
from pathlib import Path

import anywidget
import pandas as pd
import traitlets

from ..metrics.subjective import (
    OPTIONAL_COLUMNS,
    RATING_COLUMNS,
    Ratings,
    RatingsError,
    condition_of,
    rater_name,
    read_ratings,
)
from .study_build import STUDY_JS, Study, session_html
from .study_order import rater_hash
from .widgets import with_html

NAME_CHARS = 64  # of a rater's name in their file's name (study.js: the same)


# --- ratings: the notebook's writer ------------------------------------------------------------


def rater_file(folder: Path, rater: str) -> Path:
    """Where a rater's ratings go: `<folder>/<name>-<hash>.csv`, the name's odd characters as
    `_` and a hash of the exact name (`rater_name`'s; as the page names its export), so that
    names that differ only in characters outside ASCII never share a file. The name part is cut
    at `NAME_CHARS` characters (a file name has at most 255 bytes); the hash still tells long
    names apart."""
    rater = rater_name(rater)
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", rater)[:NAME_CHARS] or "rater"
    return Path(folder) / f"{safe}-{rater_hash(rater):08x}.csv"


class RatingLog:
    """One rater's CSV: every rating written as it is given (the whole file rewritten to a
    temporary file and renamed over the old one, so it is never half-written). Rows of other
    studies in the file are kept. The name is taken as `rater_name` gives it, as the page
    takes it: "eve " rates as "eve", into the same file and in the same order."""

    def __init__(self, folder: str | Path, study: Study, rater: str):
        self.study, self.rater = study, rater_name(rater)
        if not self.rater:
            raise RatingsError("a rater needs a name")
        self.path = rater_file(Path(folder), self.rater)

    def all_rows(self) -> pd.DataFrame:
        if not self.path.is_file() or not self.path.stat().st_size:
            return pd.DataFrame(columns=RATING_COLUMNS)
        table = pd.read_csv(self.path, dtype=str, keep_default_na=False)
        return table.assign(**{c: v for c, v in OPTIONAL_COLUMNS.items() if c not in table})

    def mine(self, table: pd.DataFrame) -> pd.Series:
        """Which rows of the file are this rater's."""
        return table["rater"].map(rater_name) == self.rater

    def rows(self) -> list[dict]:
        """This rater's ratings of this study."""
        table = self.all_rows()
        mine = table[(table["study"] == self.study.id) & self.mine(table)]
        return [
            {
                **row,
                "rater": self.rater,
                "position": int(row["position"]),
                "score": int(float(row["score"])),
            }
            for row in mine.to_dict("records")
        ]

    def add(self, row: dict) -> None:
        """Append one rating (a re-rated position replaces its earlier score). A rating of
        another rating session than the one this rater's rows have is refused: two people of
        one name would otherwise write into one file."""
        from ..fileio import write_atomic

        row = {**OPTIONAL_COLUMNS, **row}
        row = {c: row[c] for c in RATING_COLUMNS} | {"rater": rater_name(row["rater"])}
        if row["study"] != self.study.id or row["rater"] != self.rater:
            raise RatingsError(
                f"a rating of {row['rater']!r} for study {row['study']} does not "
                f"belong in {self.path}"
            )
        row["repeat"] = int(bool(row["repeat"]))
        check_row(self.study, row, f"{self.path} (the rating being saved)")
        self.check_session(str(row["session"]))
        table = self.all_rows()
        same = (
            (table["study"] == self.study.id)
            & self.mine(table)
            & (table["position"].astype(str) == str(row["position"]))
        )
        table = pd.concat([table[~same], pd.DataFrame([row]).astype(str)], ignore_index=True)
        write_atomic(self.path, table[list(RATING_COLUMNS)].to_csv(index=False))

    def check_session(self, session: str) -> None:
        """Refuse a rating of `session` when this rater's rows were given in another session
        (rows without a session, from before sessions, belong to any)."""
        given = {str(r["session"]) for r in self.rows()} - {""}
        if session and given and session not in given:
            raise RatingsError(
                f"{self.path}: {self.rater!r} is already rating this study in another session "
                f"({', '.join(sorted(given))}); if that is someone else of the same name, "
                "start again with another name (a surname or an initial added), else reload "
                "the session to resume it"
            )


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
        return with_html(super()._repr_mimebundle_(**kwargs), note + session_html(self.study))


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
    the study (`check_row`) in the order of the name its rater was shown (`shown_name`);
    RatingsError names the file, the line and the problem."""
    ratings = read_ratings(ratings_dir, study.id)
    trials, sequences = trial_index(study), {}
    records, groups = ratings.table.to_dict("records"), {}
    for row in records:
        groups.setdefault((row["file"], row["name"]), []).append(row)
    shown = {key: shown_name(study, rows, trials, sequences) for key, rows in groups.items()}
    for row in records:
        rater = shown[(row["file"], row["name"])]
        where = f"{row['file']}, line {row['line']}"
        check_row(study, {**row, "rater": rater}, where, trials, sequences)
    return ratings


def shown_name(study: Study, rows: list[dict], trials: dict, sequences: dict) -> str:
    """The name whose order a file's rows of one name were rated in: the name as `rater_name`
    gives it (as the page and the widget take it), else the name exactly as the file has it
    (a notebook before names were normalised ordered "eve " as typed)."""
    written = str(rows[0]["name"])
    for name in dict.fromkeys([rater_name(written), written]):
        try:
            for row in rows:
                check_row(study, {**row, "rater": name}, "", trials, sequences)
        except RatingsError:
            continue
        return name
    return rater_name(written)


def trial_index(study: Study) -> dict:
    """Trial id -> (its index in the study, the trial)."""
    return {t.id: (i, t) for i, t in enumerate(study.trials)}
