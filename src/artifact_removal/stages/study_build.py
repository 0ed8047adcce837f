"""The DSIS study itself: its trials and pictures, built from the held-out images and the
trained methods, written as the standalone page, study.json and PNG files, and read back."""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..config import Params, StudyParams, resolve_path
from ..data.images import busiest_crop, read_png
from ..data.prepared import evaluation_folders, spread
from ..fileio import write_json, write_text
from ..inference.gallery import JPEG, ORIGINAL, Gallery
from ..methods import models_dir, qualities_of
from ..metrics.subjective import RatingsError, condition_of
from .study_order import trial_sequence
from .widgets import data_url

STUDY_JS = resources.files(__package__).joinpath("study.js").read_text()
INTRO = (
    "Each trial shows a Reference image and a Test image. Score how annoying the Test "
    "image's impairments are, compared with the Reference: 100 means you see none, 0 that "
    "they are very annoying. Some Test images may be the Reference itself; some trials "
    "come twice. Take your time; there are no right answers."
)


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
        return {
            "study": self.id,
            "seed": self.seed,
            "repeats": self.repeats,
            "layout": self.layout,
            "referenceSeconds": self.reference_seconds,
            "zoom": self.zoom,
            "pictures": self.pictures,
            "rater": rater,
            "exportable": exportable,
            "title": f"Image quality study ({self.id})",
            "intro": INTRO,
            "trials": [
                {
                    "id": t.id,
                    "image": t.image,
                    "method": t.method,
                    "quality": t.quality,
                    "picture": t.picture,
                }
                for t in self.trials
            ],
        }

    def sequence(self, rater: str) -> list[tuple[int, bool]]:
        """The rater's trials in order: (trial index, is a repeat)."""
        return trial_sequence(self.seed, rater, len(self.trials), self.repeats)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "trials": [t.__dict__ for t in self.trials],
            "seed": self.seed,
            "repeats": self.repeats,
            "layout": self.layout,
            "reference_seconds": self.reference_seconds,
            "zoom": self.zoom,
        }


# --- building the study ------------------------------------------------------------------------


def build_study(params: Params, root: str | Path, device: torch.device) -> Study:
    """The study of `params.study` over the corpus' held-out images and the trained methods."""
    settings = params.study
    methods = {name: resolve_path(models_dir(params, name), root) for name in settings.methods}
    gallery = Gallery(
        evaluation_folders(params, Path(root)),
        methods,
        device,
        qualities={m: qualities_of(params, m) for m in settings.methods},
        subsampling=params.degradation.chroma_subsampling,
    )
    return study_of(gallery, "test", settings, params.seed, progress=True)


def study_of(
    gallery: Gallery, set_name: str, settings: StudyParams, seed: int, progress: bool = False
) -> Study:
    """A study over a gallery's set: for each chosen image, its busiest square as the original
    (the reference, and a hidden test image), JPEG and every method at every QF."""
    trials, pictures = [], {}
    for image in tqdm(
        spread(gallery.keys(set_name), settings.images),
        desc="study",
        unit="image",
        disable=not progress,
    ):
        original = gallery.image(set_name, image, 0, ORIGINAL)
        crop = (slice(None), slice(None))  # crop 0: the whole image
        if settings.crop:
            size = min(settings.crop, *original.shape[:2])
            y, x = busiest_crop(original, size)
            crop = (slice(y, y + size), slice(x, x + size))
        pictures[f"ref:{image}"] = data_url(original[crop])
        versions = [(ORIGINAL, 0)] + [
            (m, q) for q in settings.qualities for m in (JPEG, *settings.methods)
        ]
        for method, quality in versions:
            trial = Trial(f"t{len(trials):02d}", image, method, quality)
            trials.append(trial)
            if method != ORIGINAL:
                restored = gallery.image(set_name, image, quality, method)
                pictures[trial.id] = data_url(restored[crop])
    return Study(
        trials,
        pictures,
        seed,
        settings.repeats,
        settings.layout,
        settings.reference_seconds,
        settings.zoom,
    )


def session_html(study: Study) -> str:
    """The rating session as an HTML fragment (script and images inlined), ratings kept in the
    browser and exported as CSV: the page's body, and the executed notebook's too."""
    element = f"ar-study-{study.id}"
    return (
        f"<div id='{element}'></div><script>(function () {{\n{STUDY_JS}\n"
        f"const config = {json.dumps(study.config())};\n"
        f"arStudyMount(document.getElementById('{element}'), config, "
        "arStudyBrowserStore(config.study));\n"
        "window.arStudy = { config, sequence: arStudySequence, name: arStudyName };\n"
        "})();</script>"
    )


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
    return {
        "page": write_text(out_dir / "study.html", page_html(study)),
        "study": write_json(out_dir / "study.json", study.to_json()),
    }


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
    study = Study(
        trials,
        pictures,
        found["seed"],
        found["repeats"],
        found["layout"],
        found["reference_seconds"],
        found["zoom"],
    )
    if study.id != found["id"]:
        raise RatingsError(f"{out_dir}: the pictures are not those of study {found['id']}")
    return study


def picture_array(study: Study, key: str) -> np.ndarray:
    """A picture of the study as pixels (for figures)."""
    import base64
    import io

    data = base64.b64decode(study.pictures[key].split(",", 1)[1])
    return read_png(io.BytesIO(data))
