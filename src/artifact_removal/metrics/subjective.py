"""Subjective scores: ratings of a DSIS study read back, raters screened, MOS with intervals.

A rating is one row: which study, which rater, the trial's position in the rater's sequence,
the trial (image and condition: the hidden reference `original`, `jpeg` or a method, at a
QF), the score on the 0-100 scale, whether the trial was a repeat, when, and the rating
session that gave it (a random id drawn when the rater began, kept when they resume; files
from before sessions have none). Every rater's ratings are one CSV file (`RATING_COLUMNS`),
written by the notebook's widget or exported by the study's page, and read back here from a
folder of such files. A name is taken as `rater_name` gives it; two files of one name are one
rater only when they come from one session (`read_ratings`).

Screening follows ITU-R BT.500's observer rejection (Annex 1, section 2.3.1): per trial the
scores' kurtosis says whether they are normal (2 <= beta2 <= 4: two standard deviations)
or not (sqrt(20) standard deviations); a rater is rejected when more than 5% of their scores
lie outside and they lie on both sides in about equal numbers (|P - Q| / (P + Q) < 0.3). A
second, stated rule uses the repeated trials: a rater whose two scores of the same trial
differ by more than `max_repeat_gap` on average is set aside as inconsistent.

MOS per condition: the mean of the kept raters' first scores (repeats measure consistency,
they do not count twice), the standard deviation (n - 1), and a 95% confidence interval from
Student's t (BT.500 uses 1.96; t is wider for the few raters of a class).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

RATING_COLUMNS = (
    "study",
    "rater",
    "position",
    "trial",
    "image",
    "method",
    "quality",
    "score",
    "repeat",
    "time",
    "session",
)
# Columns a file written before they existed lacks, and what its rows read as: `session` is the
# random id a rating session draws when a rater begins (study.js), "" for an older file.
OPTIONAL_COLUMNS = {"session": ""}
# JavaScript's white space (what String.prototype.trim removes; study.js's AR_STUDY_SPACES)
SPACES = re.compile("[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+")


def rater_name(text: str) -> str:
    """A rater's name as every part of the study takes it (the page, the widget's writer, the
    reader and the check): white space at either end dropped, each run of it inside one space
    (study.js's `arStudyName`). The order of a rater's trials is seeded by this name."""
    return SPACES.sub(" ", str(text)).strip(" ")


class RatingsError(ValueError):
    """A ratings file that cannot be read as ratings; names the file and the problem."""


@dataclass
class Ratings:
    """Ratings of one study from a folder of CSV files, and notes on what was left out."""

    # RATING_COLUMNS (`rater`: the name as `rater_name` gives it, or `name (file)` for another
    # rater of the same name), `name` (as the file has it), `file` and `line`
    table: pd.DataFrame
    notes: list[str]

    @property
    def raters(self) -> list[str]:
        return sorted(self.table["rater"].unique())


def _read_one(path: Path) -> pd.DataFrame:
    try:  # every cell as written: a rater called "NA" or "null" is a name, not a gap
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=[*RATING_COLUMNS, "name", "line"])
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as err:
        raise RatingsError(f"{path}: not a ratings CSV ({err})") from None
    needed = [c for c in RATING_COLUMNS if c not in OPTIONAL_COLUMNS]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise RatingsError(
            f"{path}: not a ratings CSV, it lacks the column(s) {missing} "
            f"(expected {needed}, and optionally {list(OPTIONAL_COLUMNS)})"
        )
    table = table.assign(**{c: v for c, v in OPTIONAL_COLUMNS.items() if c not in table})
    flags = {"true": "1", "false": "0"}  # pandas writes booleans as True/False, the page as 1/0
    table["repeat"] = table["repeat"].map(lambda v: flags.get(v.strip().lower(), v))
    for column in ("position", "quality", "score", "repeat"):
        values = pd.to_numeric(table[column], errors="coerce")
        problems = [(values.isna(), "is not a number")]
        if column == "score":
            problems.append(((values < 0) | (values > 100), "is outside 0..100"))
        else:  # "20.7" is not QF 20, nor position 3.5 the third trial
            problems.append((values != values.round(), "is not a whole number"))
            problems.append(
                (
                    (values < 0) | (values > 1) if column == "repeat" else values < 0,
                    "is not 0 or 1" if column == "repeat" else "is negative",
                )
            )
        for bad, what in problems:
            if bad.any():
                row = int(np.flatnonzero(bad)[0]) + 2  # the header is line 1
                text = table[column].iloc[row - 2]
                shown = repr(text) if what == "is not a number" else text
                raise RatingsError(f"{path}, line {row}: {column} {shown} {what}")
        table[column] = values
    names = table["rater"]
    table["rater"], table["session"] = names.map(rater_name), table["session"].str.strip()
    blank = table["rater"] == ""
    if blank.any():
        raise RatingsError(
            f"{path}, line {int(np.flatnonzero(blank)[0]) + 2}: a rating without a rater's name"
        )
    table = table.astype({"position": int, "quality": int, "repeat": bool})
    return table[list(RATING_COLUMNS)].assign(name=names, line=np.arange(len(table)) + 2)


def _empty() -> pd.DataFrame:
    """No ratings, with the columns' types."""
    types = {"position": int, "quality": int, "score": float, "repeat": bool, "line": int}
    return pd.DataFrame(
        {
            c: pd.Series(dtype=types.get(c, object))
            for c in (*RATING_COLUMNS, "name", "file", "line")
        }
    )


COPY = re.compile(r"^(?P<stem>.+) \((?P<n>\d+)\)$")  # "name (1)": a browser's repeated download


def download_order(path: Path) -> tuple:
    """Where a file comes in a folder: by name, a browser's repeated download right after the
    first (`name.csv`, `name (1).csv`, `name (2).csv`, then `name_2.csv`)."""
    copy = COPY.match(path.stem)
    return (copy["stem"], int(copy["n"])) if copy else (path.stem, 0), path.name


def rating_files(folder: Path) -> tuple[list[Path], list[str]]:
    """The ratings files of `folder` (`*.csv`, any case) in `download_order`, and notes on
    what else is there."""
    files, notes = [], []
    for path in sorted(folder.iterdir(), key=download_order) if folder.is_dir() else []:
        if path.name.startswith("."):
            continue
        if path.suffix.lower() != ".csv" or not path.is_file():
            notes.append(f"{path.name}: not a .csv file; not read")
        elif not path.stat().st_size:
            notes.append(f"{path.name}: empty; no ratings in it")
        else:
            files.append(path)
    return files, notes


def export_of(name: str) -> str:
    """The export a file's name says it is, as a browser names repeated downloads:
    `alice-1a2b3c4d (2).csv` -> `alice-1a2b3c4d` (in lower case)."""
    stem = Path(name).stem
    copy = COPY.match(stem)
    return (copy["stem"] if copy else stem).lower()


def same_rater(seen: dict, file: str, sessions: set[str]) -> bool:
    """Whether a name's ratings in `file`, given in `sessions`, are those of the rater `seen`
    (`files` and `sessions` so far): with sessions on both sides, one in common (one browser's
    store, or the notebook's file); else (files written before sessions) the same export named
    as a browser names a repeated download."""
    if seen["sessions"] and sessions:
        return bool(seen["sessions"] & sessions)
    return any(export_of(f) == export_of(file) for f in seen["files"])


def label_raters(table: pd.DataFrame, path: Path, seen: dict, notes: list[str]) -> pd.DataFrame:
    """A file's raters under the names they are counted as (`rater_label`); `seen` (name ->
    the raters of that name so far) grows."""
    for name in table["rater"].unique():
        mine = table["rater"] == name
        sessions = set(table.loc[mine, "session"]) - {""}
        earlier = seen.setdefault(name, [])
        table.loc[mine, "rater"] = rater_label(name, path.name, sessions, earlier, notes)
    return table


def rater_label(name: str, file: str, sessions: set, earlier: list[dict], notes: list) -> str:
    """What a name's ratings in `file` are counted as: the rater of `earlier` files that they
    belong to (`same_rater`), else the name itself, or `name (file)` when another rater of that
    name came first; a note says which."""
    match = next((r for r in earlier if same_rater(r, file, sessions)), None)
    if match is not None:
        how = "one rating session"
        if not (sessions and match["sessions"]):
            how = "as a browser names a repeated download; no session recorded"
        notes.append(f"{file} and {match['files'][0]}: two exports of {name!r} ({how}); read "
                     "as one rater")  # fmt: skip
        match["files"].append(file)
        match["sessions"] |= sessions
        return match["label"]
    label = f"{name} ({Path(file).stem})" if earlier else name
    if earlier:
        another = sessions and any(r["sessions"] for r in earlier)
        why = ", in another rating session (another person of that name, or another browser)"
        notes.append(f"{file}: rater {name!r} also rated in {earlier[0]['files'][0]}"
                     f"{why if another else ''}; kept apart as {label!r}")  # fmt: skip
    earlier.append({"label": label, "files": [file], "sessions": set(sessions)})
    return label


def read_ratings(folder: str | Path, study: str | None = None) -> Ratings:
    """Every `*.csv` of `folder` (a missing folder holds none; other files and empty ones are
    named in the notes). Rows of another study than `study` are left out with a note. Names are
    taken as `rater_name` gives them. A name's ratings in two files are one rater's when they
    come from one rating session (`session`: one browser, or the notebook's file), or, in files
    without sessions, when one file is named as a browser names a repeated download
    (`alice-1a2b3c4d (1).csv` beside `alice-1a2b3c4d.csv`); otherwise they are two raters, the
    later kept apart as `name (file)` with a note. A position rated twice keeps its latest
    score; a trial rated as a first showing at two positions is an error that names both
    lines."""
    folder = Path(folder)
    files, notes = rating_files(folder)
    parts, seen = [], {}
    for path in files:
        table = _read_one(path)
        if study is not None:
            other = table["study"] != study
            if other.any():
                studies = ", ".join(sorted(table["study"][other].unique()))
                notes.append(
                    f"{path.name}: {int(other.sum())} rating(s) of another study "
                    f"({studies}) left out"
                )
                table = table[~other].copy()
        parts.append(label_raters(table, path, seen, notes).assign(file=path.name))
    parts = [p for p in parts if len(p)]
    if not parts:
        return Ratings(_empty(), notes)
    table = pd.concat(parts, ignore_index=True)
    # the same rating in two exports is one rating; a position rated again (in one file, or
    # in a later export) keeps its latest score
    table = table.drop_duplicates([*RATING_COLUMNS], keep="first")
    table = table.sort_values("time", kind="stable")
    kept = table.drop_duplicates(["rater", "position"], keep="last")
    again = (
        table.groupby(["rater", "file"])
        .size()
        .sub(kept.groupby(["rater", "file"]).size(), fill_value=0)
    )
    for (rater, name), count in again.items():
        if count > 0:
            notes.append(
                f"{name}: {int(count)} rating(s) of {rater!r} given again at the same "
                "position; the latest score kept"
            )
    kept = kept.sort_index()
    twice = kept[kept.duplicated(["rater", "trial", "repeat"], keep=False)]
    if len(twice):
        first = twice.iloc[0]
        where = [
            f"{r.file}, line {r.line} (position {r.position})"
            for r in twice[
                (twice["rater"] == first["rater"]) & (twice["trial"] == first["trial"])
            ].itertuples()
        ]
        raise RatingsError(
            f"rater {first['rater']!r} rated trial {first['trial']} "
            f"{'as a repeat ' if first['repeat'] else ''}at two positions: "
            + " and ".join(where)
            + "; each trial is shown once, plus once as a repeat"
        )
    return Ratings(kept.reset_index(drop=True), notes)


def condition_of(method: str, quality: int) -> str:
    """A condition's name: `original`, or the method and its QF (`gan, QF 20`)."""
    return method if method == "original" else f"{method}, QF {int(quality)}"


def repeat_gaps(table: pd.DataFrame) -> pd.Series:
    """Per rater: the mean |first score - repeated score| over the trials they rated twice
    (NaN when none)."""
    raters = pd.Index(sorted(table["rater"].unique()), name="rater")
    again = table["repeat"].astype(bool)
    if not again.any():
        return pd.Series(np.nan, index=raters, dtype=float)
    firsts = table[~again].set_index(["rater", "trial"])["score"]
    repeats = table[again].set_index(["rater", "trial"])["score"]
    both = pd.concat({"first": firsts, "again": repeats}, axis=1).dropna()
    gaps = (both["first"] - both["again"]).abs().groupby(level="rater").mean()
    return gaps.reindex(raters)


def bt500_screening(table: pd.DataFrame) -> pd.DataFrame:
    """ITU-R BT.500's observer screening on the first scores: per rater P (scores above the
    trial's mean + k sd), Q (below mean - k sd), the scores counted, and `rejected`."""
    firsts = table[~table["repeat"]]
    counts = {rater: [0, 0, 0] for rater in sorted(table["rater"].unique())}
    for _, trial in firsts.groupby("trial"):
        scores = trial["score"].to_numpy(float)
        mean, sd = scores.mean(), scores.std(ddof=1) if len(scores) > 1 else 0.0
        centred = scores - mean
        m2, m4 = (centred**2).mean(), (centred**4).mean()
        beta2 = m4 / m2**2 if m2 > 0 else 3.0
        k = 2.0 if 2 <= beta2 <= 4 else np.sqrt(20)
        for rater, score in zip(trial["rater"], scores, strict=True):
            counts[rater][0] += bool(sd > 0 and score >= mean + k * sd)
            counts[rater][1] += bool(sd > 0 and score <= mean - k * sd)
            counts[rater][2] += 1
    rows = []
    for rater, (p, q, n) in counts.items():
        outside = (p + q) / n if n else 0.0
        balanced = p + q > 0 and abs(p - q) / (p + q) < 0.3
        rows.append(
            {
                "rater": rater,
                "P": p,
                "Q": q,
                "scores": n,
                "outside": outside,
                "rejected": bool(outside > 0.05 and balanced),
            }
        )
    return pd.DataFrame(
        rows, columns=["rater", "P", "Q", "scores", "outside", "rejected"]
    ).set_index("rater")


def screen_raters(table: pd.DataFrame, max_repeat_gap: float) -> pd.DataFrame:
    """Per rater: BT.500's counts, the mean repeat gap, `kept`, and why not."""
    screening = bt500_screening(table)
    screening["repeat_gap"] = repeat_gaps(table)
    inconsistent = screening["repeat_gap"] > max_repeat_gap
    screening["kept"] = ~(screening["rejected"] | inconsistent)
    screening["reason"] = [
        "; ".join(
            r
            for r, hit in (
                (f"BT.500 ({p + q} of {n} scores outside)", bt),
                (f"repeats differ by {gap:.0f} on average (> {max_repeat_gap:g})", inc),
            )
            if hit
        )
        for p, q, n, gap, bt, inc in zip(
            screening["P"],
            screening["Q"],
            screening["scores"],
            screening["repeat_gap"],
            screening["rejected"],
            inconsistent,
            strict=True,
        )
    ]
    return screening


def mos_table(
    table: pd.DataFrame, kept: list[str] | None = None, order: list[str] | None = None
) -> pd.DataFrame:
    """MOS per condition over the kept raters' first scores: scores, raters, mean, standard
    deviation, 95% confidence interval (half-width, Student's t) and its bounds. Conditions
    come in `order` (names as `condition_of` gives them), else the original, JPEG, the rest."""
    from scipy import stats

    rows = table[~table["repeat"]]
    if kept is not None:
        rows = rows[rows["rater"].isin(kept)]
    out = []
    for (method, quality), group in rows.groupby(["method", "quality"], sort=False):
        scores = group["score"].to_numpy(float)
        n = len(scores)
        sd = scores.std(ddof=1) if n > 1 else np.nan
        half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n) if n > 1 else np.nan
        out.append(
            {
                "condition": condition_of(method, quality),
                "method": method,
                "quality": int(quality),
                "scores": n,
                "raters": group["rater"].nunique(),
                "mos": scores.mean(),
                "std": sd,
                "ci95": half,
                "low": scores.mean() - half,
                "high": scores.mean() + half,
            }
        )
    columns = [
        "condition",
        "method",
        "quality",
        "scores",
        "raters",
        "mos",
        "std",
        "ci95",
        "low",
        "high",
    ]
    frame = pd.DataFrame(out, columns=columns)
    first = {"original": 0, "jpeg": 1}
    frame = frame.sort_values(
        ["quality", "method"],
        key=lambda c: c.map(lambda v: first.get(v, 2) if isinstance(v, str) else v),
        kind="stable",
    )
    frame = frame.set_index("condition")
    if order is not None:
        frame = frame.loc[
            [c for c in order if c in frame.index] + [c for c in frame.index if c not in order]
        ]
    return frame
