"""The DSIS study: trial order, ratings written and read back, screening, MOS, the page."""

from __future__ import annotations

import json
import os
import re
import time

import numpy as np
import pandas as pd
import pytest
import torch
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from artifact_removal.config import ConfigError, StudyParams, load_params
from artifact_removal.inference.gallery import Gallery
from artifact_removal.metrics.subjective import (
    RATING_COLUMNS,
    RatingsError,
    bt500_screening,
    mos_table,
    rater_name,
    read_ratings,
    repeat_gaps,
    screen_raters,
)
from artifact_removal.stages.study import (
    RatingLog,
    StudyWidget,
    analyse,
    beside_talk,
    check_ratings,
    page_html,
    picture_array,
    rater_file,
    rater_hash,
    study_of,
    trial_sequence,
    write_analysis,
    write_study,
)

from .test_evaluation import models, prepared  # noqa: F401 (fixtures)

CPU = torch.device("cpu")


def _settings(**changes) -> StudyParams:
    values = dict(methods=("ssim",), qualities=(10,), images=2, crop=64, zoom=1,
                  layout="side_by_side", reference_seconds=1.0, repeats=1, max_repeat_gap=30.0,
                  ratings_dir="data/ratings", out_dir="reports/study",
                  results_dir="reports/study_results")  # fmt: skip
    return StudyParams(**(values | changes))


@pytest.fixture
def study(prepared, models):  # noqa: F811
    gallery = Gallery(prepared, {"ssim": models}, CPU)
    return study_of(gallery, "test", _settings(), seed=7)


def _rows(scores: dict[str, list[float]], study="s1", repeats=()) -> pd.DataFrame:
    """Ratings: rater -> a score per trial (trial i is image a, method m{i}, QF 10)."""
    rows = []
    for rater, values in scores.items():
        for i, score in enumerate(values):
            rows.append({"study": study, "rater": rater, "position": i, "trial": f"t{i}",
                         "image": "a", "method": f"m{i}", "quality": 10, "score": score,
                         "repeat": False, "time": "2026-11-26T10:00:00"})  # fmt: skip
        for j, (trial, score) in enumerate(repeats):
            rows.append({"study": study, "rater": rater, "position": len(values) + j,
                         "trial": f"t{trial}", "image": "a", "method": f"m{trial}",
                         "quality": 10, "score": score, "repeat": True, "time": ""})  # fmt: skip
    return pd.DataFrame(rows, columns=RATING_COLUMNS)


def test_each_rater_gets_every_trial_once_plus_repeats_in_the_second_half():
    sequence = trial_sequence(0, "ada", 20, 3)
    assert len(sequence) == 23
    assert sorted(i for i, again in sequence if not again) == list(range(20))
    firsts = {i: p for p, (i, again) in enumerate(sequence) if not again}
    repeats = [(p, i) for p, (i, again) in enumerate(sequence) if again]
    assert len(repeats) == 3
    for position, trial in repeats:
        assert position >= 10 and position > firsts[trial]
    assert trial_sequence(0, "ada", 20, 3) == sequence  # seeded
    assert trial_sequence(0, "bob", 20, 3) != sequence
    assert trial_sequence(1, "ada", 20, 3) != sequence
    assert len(trial_sequence(0, "ada", 3, 5)) == 4  # at most half the trials come twice


def test_mos_std_and_confidence_interval_have_known_values():
    table = _rows({"a": [10, 50], "b": [20, 60], "c": [30, 70], "d": [40, 80]})
    mos = mos_table(table)
    assert list(mos.index) == ["m0, QF 10", "m1, QF 10"]
    first = mos.loc["m0, QF 10"]
    assert first["mos"] == 25 and first["scores"] == 4 and first["raters"] == 4
    assert first["std"] == pytest.approx(12.9099, abs=1e-4)  # sample sd of 10, 20, 30, 40
    # t(0.975, 3) = 3.182446: 3.182446 * 12.9099 / 2
    assert first["ci95"] == pytest.approx(20.5428, abs=1e-3)
    assert first["low"] == pytest.approx(25 - 20.5428, abs=1e-3)
    assert mos.loc["m1, QF 10", "mos"] == 65


def test_the_hidden_reference_and_jpeg_come_first():
    rows = [{"study": "s", "rater": "a", "position": i, "trial": f"t{i}", "image": "x",
             "method": m, "quality": q, "score": 50, "repeat": False, "time": ""}
            for i, (m, q) in enumerate([("gan", 20), ("jpeg", 20), ("original", 0)])]  # fmt: skip
    mos = mos_table(pd.DataFrame(rows))
    assert list(mos.index) == ["original", "jpeg, QF 20", "gan, QF 20"]


def test_bt500_rejects_a_rater_who_scores_at_random_extremes():
    rng = np.random.default_rng(0)
    base = rng.uniform(35, 65, size=20)  # 20 trials, 12 raters who agree within noise
    raters = {f"r{k}": list(base + rng.normal(0, 10, 20)) for k in range(12)}
    raters["wild"] = [b + (30 if i % 2 else -30) for i, b in enumerate(base)]  # +-3 sd in turn
    screening = bt500_screening(_rows(raters))
    assert screening.loc["wild", "rejected"]
    assert screening.loc["wild", "P"] > 0 and screening.loc["wild", "Q"] > 0
    assert not screening.drop("wild")["rejected"].any()
    one_sided = dict(raters) | {"wild": list(base + 30)}  # always higher: a bias, not noise
    assert not bt500_screening(_rows(one_sided)).loc["wild", "rejected"]


def test_raters_whose_repeats_disagree_are_set_aside():
    steady = _rows({"steady": [20, 40, 60, 80]}, repeats=[(0, 25), (1, 40)])
    shaky = _rows({"shaky": [20, 40, 60, 80]}, repeats=[(0, 90), (1, 0)])
    table = pd.concat([steady, shaky], ignore_index=True)
    gaps = repeat_gaps(table)
    assert gaps["steady"] == pytest.approx(2.5) and gaps["shaky"] == pytest.approx(55)
    screening = screen_raters(table, max_repeat_gap=30)
    assert screening.loc["steady", "kept"] and not screening.loc["shaky", "kept"]
    assert "repeats differ by 55" in screening.loc["shaky", "reason"]
    kept = list(screening.index[screening["kept"]])
    assert mos_table(table, kept).loc["m0, QF 10", "scores"] == 1  # repeats do not count twice


def test_bad_ratings_files_are_named_with_their_problem(tmp_path):
    folder = tmp_path / "ratings"
    folder.mkdir()
    good = _rows({"ann": [10, 20]})
    good.to_csv(folder / "ann.csv", index=False)
    assert read_ratings(folder, "s1").raters == ["ann"]
    (folder / "bad.csv").write_text("rater,score\nx,1\n")
    with pytest.raises(RatingsError, match=r"bad.csv: not a ratings CSV, it lacks .*study"):
        read_ratings(folder)
    good.assign(score=["10", "lots"]).to_csv(folder / "bad.csv", index=False)
    with pytest.raises(RatingsError, match=r"bad.csv, line 3: score 'lots' is not a number"):
        read_ratings(folder)
    good.assign(score=[10, 140]).to_csv(folder / "bad.csv", index=False)
    with pytest.raises(RatingsError, match=r"bad.csv, line 3: score 140 is outside 0..100"):
        read_ratings(folder)
    good.assign(rater=["", ""]).to_csv(folder / "bad.csv", index=False)
    with pytest.raises(RatingsError, match=r"bad.csv, line 2: a rating without a rater's name"):
        read_ratings(folder)
    (folder / "bad.csv").unlink()
    _rows({"NA": [30], "null": [40]}).to_csv(folder / "na.csv", index=False)  # names, not gaps
    assert read_ratings(folder, "s1").raters == ["NA", "ann", "null"]
    nobody = read_ratings(tmp_path / "none")  # no folder: no ratings, no error
    assert nobody.table.empty and screen_raters(nobody.table, 30).empty
    assert mos_table(nobody.table).empty


def test_other_studies_and_name_clashes_lose_nothing_silently(tmp_path):
    folder = tmp_path / "ratings"
    folder.mkdir()
    _rows({"ann": [10, 20]}).to_csv(folder / "ann.csv", index=False)
    _rows({"ann": [30, 40]}).to_csv(folder / "ann_laptop.csv", index=False)
    _rows({"bob": [50]}, study="old").to_csv(folder / "bob.csv", index=False)
    ratings = read_ratings(folder, "s1")
    assert ratings.raters == ["ann", "ann (ann_laptop)"]
    assert any("bob.csv: 1 rating(s) of another study (old) left out" in n for n in ratings.notes)
    assert any("also rated in ann.csv" in n for n in ratings.notes)


def test_ratings_are_written_as_given_and_a_session_resumes(study, tmp_path, monkeypatch):
    folder = tmp_path / "ratings"
    log = RatingLog(folder, study, "Ann Lee")
    assert log.path == folder / f"Ann_Lee-{rater_hash('Ann Lee'):08x}.csv" and log.rows() == []
    assert rater_file(folder, "Zoë") != rater_file(folder, "Zoé")  # both "Zo_", kept apart
    sequence = study.sequence("Ann Lee")
    for position in range(3):
        index, again = sequence[position]
        trial = study.trials[index]
        log.add({"study": study.id, "rater": "Ann Lee", "position": position, "trial": trial.id,
                 "image": trial.image, "method": trial.method, "quality": trial.quality,
                 "score": 10 * position, "repeat": again, "time": "t"})  # fmt: skip
    before = log.path.read_bytes()
    # a crash while writing the next rating leaves the file as it was
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("power cut")))
    with pytest.raises(OSError, match="power cut"):
        log.add(_row(study, "Ann Lee", 3, 30))
    monkeypatch.undo()
    assert log.path.read_bytes() == before
    assert [p.name for p in folder.iterdir()] == [log.path.name]  # no leftover
    again = RatingLog(folder, study, "Ann Lee")  # the kernel restarted
    assert [r["position"] for r in again.rows()] == [0, 1, 2]
    assert [r["score"] for r in again.rows()] == [0, 10, 20]
    with pytest.raises(RatingsError, match="does not belong"):
        again.add({**again.rows()[0], "rater": "Bob"})
    with pytest.raises(RatingsError, match="needs a name"):
        RatingLog(folder, study, "  ")


def _row(study, rater, position, score):
    index, again = study.sequence(rater)[position]
    trial = study.trials[index]
    return {"study": study.id, "rater": rater, "position": position, "trial": trial.id,
            "image": trial.image, "method": trial.method, "quality": trial.quality,
            "score": score, "repeat": again, "time": "t"}  # fmt: skip


def test_the_notebook_widget_writes_each_rating_and_confirms_it(study, tmp_path):
    widget = StudyWidget(study, tmp_path / "ratings")
    assert widget.config["study"] == study.id and not widget.config["exportable"]
    assert widget.answer({"type": "load", "rater": "cy", "token": 1}) == {"token": 1, "rows": []}
    saved = widget.answer({"type": "save", "rater": "cy", "row": _row(study, "cy", 0, 64),
                           "token": 2})  # fmt: skip
    assert saved["token"] == 2 and [r["score"] for r in saved["rows"]] == [64]
    assert RatingLog(tmp_path / "ratings", study, "cy").rows()[0]["score"] == 64
    resumed = StudyWidget(study, tmp_path / "ratings")  # the kernel restarted
    assert [r["position"] for r in resumed.answer({"type": "load", "rater": "cy"})["rows"]] == [0]
    refused = widget.answer({"type": "save", "rater": "dee", "row": _row(study, "cy", 1, 5)})
    assert "does not belong" in refused["error"] and "rows" not in refused
    assert "needs a name" in widget.answer({"type": "load", "rater": " "})["error"]


_GLUE_PAGE = """<html><body><div id="el"></div><script type="module">
import widget from "data:text/javascript;base64,{esm}";
const config = {config};
const listeners = {{}};
window.sent = [];
window.kernel = {{ fail: null }};
const model = {{
  get: (name) => (name === "config" ? config : undefined),
  on: (event, f) => {{ listeners[event] = f; }},
  off: (event) => {{ delete listeners[event]; }},
  send: (content) => {{
    window.sent.push(content);
    const rows = content.type === "save" ? [content.row] : [];
    const reply = window.kernel.fail ? {{ token: content.token, error: window.kernel.fail }}
      : {{ token: content.token, rows }};
    setTimeout(() => listeners["msg:custom"](reply), 10);
  }},
}};
widget.render({{ model, el: document.getElementById("el") }});
</script></body></html>"""


def test_the_widgets_view_moves_on_only_when_the_kernel_confirms(study, browser, tmp_path):
    """The anywidget module in Chromium, against a model that answers as the kernel does."""
    import base64

    page = tmp_path / "glue.html"
    page.write_text(_GLUE_PAGE.format(
        esm=base64.b64encode(StudyWidget._esm.encode()).decode(),
        config=json.dumps(study.config("ed", exportable=False))))  # fmt: skip
    browser.get(page.as_uri())
    root = WebDriverWait(browser, 10).until(lambda b: b.find_element(By.CSS_SELECTOR, ".ar-study"))
    WebDriverWait(browser, 10).until(lambda b: root.get_attribute("data-state") == "vote")
    assert browser.execute_script("return window.sent")[0]["type"] == "load"
    browser.execute_script("window.kernel.fail = 'OSError: disk full'")
    _rate(browser, 40)
    saved = browser.find_element(By.CSS_SELECTOR, ".ar-saved")
    WebDriverWait(browser, 10).until(lambda b: "NOT saved" in saved.text)
    assert "disk full" in saved.text and root.get_attribute("data-position") == "0"
    browser.execute_script("window.kernel.fail = null")
    _rate(browser, 40)
    WebDriverWait(browser, 10).until(lambda b: root.get_attribute("data-position") == "1")
    assert "1 rating(s) saved" in saved.text
    assert not browser.find_elements(By.CSS_SELECTOR, ".ar-export:not([hidden])")
    sent = browser.execute_script("return window.sent")
    assert [m["type"] for m in sent] == ["load", "save", "save"]
    assert sent[-1]["row"]["rater"] == "ed" and sent[-1]["row"]["score"] == 40
    assert re.fullmatch("[0-9a-f]{16}", sent[-1]["row"]["session"])  # drawn when "ed" began
    assert sent[-2]["row"]["session"] == sent[-1]["row"]["session"]


def test_the_study_shows_every_condition_of_every_image(study):
    conditions = [(t.image, t.method, t.quality) for t in study.trials]
    assert conditions == [("astro", "original", 0), ("astro", "jpeg", 10), ("astro", "ssim", 10),
                          ("camera", "original", 0), ("camera", "jpeg", 10),
                          ("camera", "ssim", 10)]  # fmt: skip
    assert set(study.pictures) == {"ref:astro", "ref:camera", "t01", "t02", "t04", "t05"}
    assert study.trials[0].picture == "ref:astro"  # the hidden reference is the reference
    assert len(study.id) == 12


def test_the_whole_image_when_crop_is_0_and_the_id_follows_what_is_shown(prepared, models):  # noqa: F811
    gallery = Gallery(prepared, {"ssim": models}, CPU)
    whole = study_of(gallery, "test", _settings(crop=0, images=1), seed=7)
    assert picture_array(whole, "ref:astro").shape == (192, 256, 3)  # the fixture's photo
    cropped = study_of(gallery, "test", _settings(images=1), seed=7)
    assert picture_array(cropped, "ref:astro").shape == (64, 64, 3)
    sequential = study_of(gallery, "test", _settings(images=1, layout="sequential"), seed=7)
    assert len({whole.id, cropped.id, sequential.id}) == 3
    assert study_of(gallery, "test", _settings(images=1), seed=7).id == cropped.id


def test_a_misnamed_or_untrained_study_method_is_refused(project):
    text = (project / "params.yaml").read_text()
    bad = text.replace("  methods: [ssim, gan, nogan]       # test", "  methods: [ssim, gann]  #")
    (project / "params.yaml").write_text(bad)
    with pytest.raises(ConfigError, match=r"study\.methods: unknown method 'gann'"):
        load_params(project / "params.yaml")
    bad = text.replace("  qualities: [20]                   # QFs shown",
                       "  qualities: [15]                   # QFs shown")  # fmt: skip
    (project / "params.yaml").write_text(bad)
    with pytest.raises(ConfigError, match=r"study\.qualities: nogan is not trained for QF 15"):
        load_params(project / "params.yaml")


def _rate(browser, score: int) -> dict:
    """Set the slider to `score`, submit; the state before submitting."""
    root = browser.find_element(By.CSS_SELECTOR, ".ar-study")
    state = {"position": int(root.get_attribute("data-position")),
             "trial": root.get_attribute("data-trial"),
             "repeat": root.get_attribute("data-repeat") == "1"}  # fmt: skip
    slider = browser.find_element(By.CSS_SELECTOR, ".ar-score")
    script = "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));"
    browser.execute_script(script, slider, score)
    browser.find_element(By.CSS_SELECTOR, ".ar-submit").click()
    return state


def _start(browser, name: str) -> None:
    browser.find_element(By.CSS_SELECTOR, ".ar-rater").send_keys(name)
    browser.find_element(By.CSS_SELECTOR, ".ar-start").click()
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.CSS_SELECTOR, ".ar-study").get_attribute("data-state")
        in ("vote", "done"))  # fmt: skip


def test_the_page_takes_ratings_resumes_and_exports_them(study, browser, tmp_path):
    page = write_study(study, tmp_path / "study")["page"]
    assert "http" not in page.read_text().replace("http-equiv", "")  # nothing fetched
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Page.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(downloads)})  # fmt: skip
    browser.get(page.as_uri())
    browser.execute_script("localStorage.clear()")
    browser.refresh()
    name = "Zoë, row 3"  # non-ASCII and a comma: the order's hash and the CSV both cope
    cases = [(seed, rater, count, repeats) for seed in (0, 7, 2**31 + 5)
             for rater in (name, "", "李明", "a" * 300, "🙂 x")
             for count, repeats in ((6, 1), (1, 3), (41, 5))]  # fmt: skip
    in_browser = browser.execute_script(
        "return arguments[0].map(([s, r, n, k]) => arStudy.sequence(s, r, n, k))", cases
    )
    assert in_browser == [[list(p) for p in trial_sequence(*case)] for case in cases]
    typed = ["eve ", " \t Ann \u00a0 Lee\ufeff", "a\u2003b\nc", "x\x1fy", "\u200beve", name]
    in_browser = browser.execute_script("return arguments[0].map((t) => arStudy.name(t))", typed)
    assert in_browser == [rater_name(t) for t in typed]  # one name, on the page and in Python
    _start(browser, name)
    session = browser.find_element(By.CSS_SELECTOR, ".ar-study").get_attribute("data-session")
    images = browser.find_elements(By.CSS_SELECTOR, ".ar-panels img")
    assert [i.find_element(By.XPATH, "..").text for i in images] == ["Reference", "Test"]
    given = [_rate(browser, 80), _rate(browser, 35)]
    browser.refresh()  # the browser closed half-way: the session resumes
    _start(browser, f" {name}  ")  # typed with spaces around: the same name
    restored = browser.find_element(By.CSS_SELECTOR, ".ar-saved").text
    assert f'2 earlier rating(s) of "{name}" restored' in restored
    root = browser.find_element(By.CSS_SELECTOR, ".ar-study")
    assert re.fullmatch("[0-9a-f]{16}", session) and root.get_attribute("data-session") == session
    while browser.find_element(By.CSS_SELECTOR, ".ar-study").get_attribute("data-state") != "done":
        given.append(_rate(browser, 10 * len(given)))
    sequence = trial_sequence(7, name, 6, 1)
    assert [g["position"] for g in given] == list(range(7))
    assert [g["trial"] for g in given] == [study.trials[i].id for i, _ in sequence]
    assert [g["repeat"] for g in given] == [again for _, again in sequence]
    browser.find_element(By.CSS_SELECTOR, ".ar-export").click()
    exported = downloads / rater_file(downloads, name).name
    for _ in range(50):
        if exported.is_file():
            break
        time.sleep(0.1)
    ratings_dir = tmp_path / "ratings"
    ratings_dir.mkdir()
    (ratings_dir / exported.name).write_bytes(exported.read_bytes())
    result = analyse(study, ratings_dir, max_repeat_gap=100)
    table = result.ratings.sort_values("position")
    assert list(table["rater"].unique()) == [name]
    assert list(table["score"]) == [80, 35, 20, 30, 40, 50, 60]
    assert list(table["trial"]) == [g["trial"] for g in given]
    assert set(table["session"]) == {session}
    mos = result.mos
    assert list(mos.index) == ["original", "jpeg, QF 10", "ssim, QF 10"]  # the study's order
    assert mos["scores"].sum() == 6  # the repeat measures consistency, it does not count twice
    shown = beside_talk(result)
    assert np.isnan(shown.loc["jpeg, QF 10", "talk_mos"])
    assert json.loads((tmp_path / "study" / "study.json").read_text())["id"] == study.id
    browser.execute_script("localStorage.clear()")  # another browser: another session
    browser.refresh()
    _start(browser, name)
    root = browser.find_element(By.CSS_SELECTOR, ".ar-study")
    assert root.get_attribute("data-session") not in ("", session)


def test_the_page_is_one_file_with_everything_inlined(study):
    page = page_html(study)
    assert page.count("data:image/png;base64,") == len(study.pictures)
    assert "arStudyMount" in page and "<script src" not in page


# --- ratings checked against the study (issue 27, case 6) -------------------------------------


def _write(folder, name: str, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=RATING_COLUMNS).to_csv(folder / name, index=False)


def test_a_row_that_does_not_fit_its_study_is_refused_with_file_and_line(study, tmp_path):
    folder = tmp_path / "ratings"
    rows = [_row(study, "ann", p, 10 * p) for p in range(3)]
    _write(folder, "ann.csv", rows)
    assert check_ratings(study, folder).raters == ["ann"]
    mismatched = [*rows[:2], {**rows[2], "method": "gan"}]  # the row's words, not the study's
    _write(folder, "ann.csv", mismatched)
    with pytest.raises(RatingsError, match=r"ann.csv, line 4: trial t0\d is .* but the row says"):
        check_ratings(study, folder)
    _write(folder, "ann.csv", [*rows[:2], {**rows[2], "trial": "t99"}])
    with pytest.raises(RatingsError, match=r"ann.csv, line 4: trial 't99' is not a trial of"):
        check_ratings(study, folder)
    _write(folder, "ann.csv", [*rows[:2], {**rows[2], "position": 1}, rows[1]])
    other = rows[0]["trial"] if rows[0]["trial"] != rows[2]["trial"] else rows[1]["trial"]
    _write(folder, "ann.csv", [rows[0], {**rows[1], "position": 0, "trial": rows[1]["trial"]}])
    with pytest.raises(RatingsError, match=r"ann.csv, line \d: 'ann' was shown trial"):
        check_ratings(study, folder)
    assert other  # positions are checked against the rater's own order
    _write(folder, "ann.csv", [{**rows[0], "position": 99}])
    with pytest.raises(RatingsError, match=r"position 99 is outside the rater's 7 trials"):
        check_ratings(study, folder)
    _write(folder, "ann.csv", [{**rows[0], "quality": "20.7"}])
    with pytest.raises(RatingsError, match=r"ann.csv, line 2: quality 20.7 is not a whole number"):
        check_ratings(study, folder)
    _write(folder, "ann.csv", [{**rows[0], "repeat": "2"}])
    with pytest.raises(RatingsError, match=r"line 2: repeat 2 is not 0 or 1"):
        check_ratings(study, folder)


def test_a_browsers_second_export_is_the_same_rater(study, tmp_path):
    folder = tmp_path / "ratings"
    name = rater_file(folder, "alice").stem
    first = [{**_row(study, "alice", p, 20), "time": f"2026-12-01T10:0{p}"} for p in range(2)]
    _write(folder, f"{name}.csv", first)
    later = [
        *first,
        {**_row(study, "alice", 2, 70), "time": "2026-12-01T10:05"},
        {**_row(study, "alice", 1, 55), "time": "2026-12-01T10:06"},
    ]  # re-rated
    _write(folder, f"{name} (1).csv", later)
    ratings = check_ratings(study, folder)
    assert ratings.raters == ["alice"]  # not "alice (alice-... (1))"
    table = ratings.table.sort_values("position")
    assert list(table["position"]) == [0, 1, 2] and list(table["score"]) == [20, 55, 70]
    assert any("two exports of 'alice'" in n for n in ratings.notes)
    assert [n for n in ratings.notes if "latest score kept" in n] == [
        f"{name}.csv: 1 rating(s) of 'alice' given again at the same position; the latest "
        "score kept"
    ]  # the two ratings both exports hold are one rating each (the first export's), not a note


def test_upper_case_empty_and_stray_files_are_said(study, tmp_path):
    folder = tmp_path / "ratings"
    _write(folder, "BOB.CSV", [_row(study, "bob", 0, 40)])
    (folder / "empty.csv").write_text("")
    (folder / "notes.txt").write_text("bob was tired")
    (folder / ".gitkeep").write_text("")
    ratings = check_ratings(study, folder)
    assert ratings.raters == ["bob"]
    assert "empty.csv: empty; no ratings in it" in ratings.notes
    assert "notes.txt: not a .csv file; not read" in ratings.notes
    assert not any(".gitkeep" in n for n in ratings.notes)


def test_a_trial_at_two_positions_names_both_lines(tmp_path):
    folder = tmp_path / "ratings"
    rows = _rows({"ann": [10, 20, 30]})
    rows.loc[2, ["trial", "method"]] = ["t0", "m0"]  # trial t0 again, as a first showing
    rows.to_csv(_mkdir(folder) / "ann.csv", index=False)
    with pytest.raises(
        RatingsError,
        match=r"'ann' rated trial t0 at two positions: ann.csv, "
        r"line 2 \(position 0\) and ann.csv, line 4",
    ):
        read_ratings(folder)


def _mkdir(folder):
    folder.mkdir(exist_ok=True)
    return folder


def test_a_long_name_rates_and_names_are_never_markup(study, tmp_path, project):
    folder = tmp_path / "ratings"
    long = "Dr. " + "x" * 300
    log = RatingLog(folder, study, long)
    for position in range(len(study.sequence(long))):
        log.add(_row(study, long, position, 50))  # no "File name too long"
    assert len(log.path.name) < 100 and log.rows()[0]["score"] == 50
    evil = "<img src=x onerror=alert(1)>|"
    for position, (_, again) in enumerate(study.sequence(evil)):  # repeats far apart: set aside
        RatingLog(folder, study, evil).add(_row(study, evil, position, 100 if again else 0))
    result = analyse(study, folder, max_repeat_gap=30)
    params = load_params(project / "params.yaml")
    paths = write_analysis(result, study, params, tmp_path)
    summary = paths["summary"].read_text()
    assert "Raters set aside" in summary and "<img" not in summary
    assert "&lt;img src=x onerror=alert(1)&gt;\\|" in summary
    metrics = tmp_path / "metrics" / "study"
    assert json.loads((metrics / "study.json").read_text())["raters"] == 2
    rows = sorted(p.name for p in (metrics / "conditions").glob("*.json"))
    assert rows == ["jpeg-q10.json", "original.json", "ssim-q10.json"]  # a row each in DVC
    assert set(json.loads((metrics / "conditions" / "original.json").read_text())) == {
        "mos",
        "std",
        "ci95",
        "scores",
        "raters",
    }


def test_the_check_stage_stops_before_the_analysis_is_deleted(study, tmp_path, project):
    from artifact_removal.stages.study import main

    write_study(study, project / "reports" / "study")
    folder = project / "data" / "ratings"
    _write(folder, "ann.csv", [_row(study, "ann", p, 30) for p in range(2)])
    stamp = project / "build" / "ratings.checked"
    args = ["check-ratings", str(project / "params.yaml"), str(stamp)]
    assert main(args) == 0 and stamp.is_file()
    _write(folder, "eve.csv", [{**_row(study, "eve", 0, 99), "method": "original"}])
    stamp.unlink()
    assert main(args) == 2 and not stamp.exists()


def test_keys_on_the_slider_move_the_score_not_the_notebook(study, browser, tmp_path):
    page = write_study(study, tmp_path / "study")["page"]
    browser.get(page.as_uri())
    browser.execute_script(
        "localStorage.clear(); window.seen = [];"
        "document.addEventListener('keydown', (e) => seen.push(e.key));"
    )
    _start(browser, "kim")
    slider = browser.find_element(By.CSS_SELECTOR, ".ar-score")
    slider.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    assert slider.get_attribute("value") == "52"
    assert browser.execute_script("return window.seen") == []  # JupyterLab never sees them
    root = browser.find_element(By.CSS_SELECTOR, ".ar-study")
    assert root.get_attribute("data-lm-suppress-shortcuts") == "true"


# --- one name, two people; one person, one name (issue 40, item 11) ---------------------------


def test_two_people_of_one_name_are_two_raters(study, tmp_path):
    """Two students type "alice": the browser saves the second file as `... (1).csv`. Each
    rating session has its own id, so they stay two raters; a later export of the second
    session (`(2)`) is still the second student's."""
    folder = tmp_path / "ratings"
    name = rater_file(folder, "alice").stem
    count = len(study.sequence("alice"))
    first = [{**_row(study, "alice", p, 20), "session": "a1a1a1a1"} for p in range(count)]
    second = [{**_row(study, "alice", p, 90), "session": "b2b2b2b2"} for p in range(count)]
    _write(folder, f"{name}.csv", first)
    _write(folder, f"{name} (1).csv", second)
    _write(folder, f"{name} (2).csv", second[:3])  # the second student exported twice
    ratings = check_ratings(study, folder)
    other = f"alice ({name} (1))"
    assert ratings.raters == ["alice", other]
    table = ratings.table
    assert list(table.groupby("rater")["score"].agg(set)) == [{20}, {90}]
    assert len(table) == 2 * count  # nothing dropped as "the latest score kept"
    assert not [n for n in ratings.notes if "latest score kept" in n]
    assert (
        f"{name} (1).csv: rater 'alice' also rated in {name}.csv, in another rating session "
        f"(another person of that name, or another browser); kept apart as {other!r}"
    ) in ratings.notes
    assert any(
        n.startswith(f"{name} (2).csv and {name} (1).csv: two exports") for n in ratings.notes
    )


def test_the_notebook_keeps_one_session_per_name(study, tmp_path):
    """Two people of one name in the notebook would write into one file: the second session's
    rating is refused with what to do; the first session resumes."""
    log = RatingLog(tmp_path / "ratings", study, "alice")
    log.add({**_row(study, "alice", 0, 20), "session": "a1a1a1a1"})
    with pytest.raises(RatingsError, match="already rating this study in another session"):
        log.add({**_row(study, "alice", 1, 90), "session": "b2b2b2b2"})
    log.add({**_row(study, "alice", 1, 30), "session": "a1a1a1a1"})  # the first one resumes
    assert [(r["score"], r["session"]) for r in log.rows()] == [(20, "a1a1a1a1"), (30, "a1a1a1a1")]


def test_a_trailing_space_is_the_same_name_everywhere(study, tmp_path):
    """The page rates "eve " as "eve" (in eve's order); a file whose name cell kept the space
    was refused ("'eve ' was shown trial t04 at position 0, not t03"). Every part now takes
    the name as `rater_name` gives it; a file the notebook wrote before, in the order of
    "eve " as typed, still fits."""
    folder = tmp_path / "ratings"
    rows = [{**_row(study, "eve", p, 50), "rater": "eve "} for p in range(3)]
    _write(folder, rater_file(folder, "eve").name, rows)
    ratings = check_ratings(study, folder)
    assert ratings.raters == ["eve"] and list(ratings.table["position"]) == [0, 1, 2]
    log = RatingLog(folder, study, "eve ")  # the notebook's `rater = "eve "`
    assert log.path == folder / f"eve-{rater_hash('eve'):08x}.csv" == rater_file(folder, " eve")
    log.add({**_row(study, "eve", 3, 60), "rater": "eve  "})
    assert [r["rater"] for r in log.rows()] == ["eve"] * 4
    older = tmp_path / "older"  # the notebook before: "eve " ordered as typed, no session
    legacy = pd.DataFrame([_row(study, "eve ", p, 40) for p in range(3)])
    legacy.to_csv(_mkdir(older) / f"eve_-{rater_hash('eve '):08x}.csv", index=False)
    assert "session" not in legacy.columns
    assert check_ratings(study, older).raters == ["eve"]
    assert rater_name("  eve \t") == "eve" and rater_name("Ann \u00a0 Lee\ufeff") == "Ann Lee"
