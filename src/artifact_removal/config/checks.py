"""The rules that span the shared sections: patches, splits, sets, the methods named in
evaluation, video, the study and detection, and release folders that must differ."""

from __future__ import annotations

from .schema import SPLITS, Params
from .sections import CHECKS, SECTIONS


def patch_size_problem(params: Params, key: str, size: int) -> list[str]:
    """A section's patches must be among those the prepare stage indexes."""
    sizes = params.data.patch_sizes
    return [] if size in sizes else [f"{key}: must be one of data.patches' sizes {sizes}"]


def check_shared(params: Params) -> list[str]:
    """Rules that span several keys of the shared sections."""
    problems = []
    if params.data.val_fraction + params.data.test_fraction >= 1:
        problems.append("data.val_fraction + data.test_fraction: must leave images for training")
    if len(set(params.degradation.qualities)) != len(params.degradation.qualities):
        problems.append("degradation.qualities: each quality must appear once")
    crfs = params.degradation.h264.crfs
    if len(set(crfs)) != len(crfs):
        problems.append("degradation.h264.crfs: each CRF must appear once")
    if params.video.crf not in crfs:
        problems.append(
            f"video.crf: {params.video.crf} is not one of degradation.h264.crfs {list(crfs)}"
        )
    if list(params.video.predictor_crfs) != sorted(set(params.video.predictor_crfs)):
        problems.append("video.predictor_crfs: CRFs in increasing order, each once")
    for name, path in params.video.extra_clips.items():
        if not name.replace("_", "").isalnum():
            problems.append(f"video.extra_clips.{name}: use letters, digits and _")
        if "~" in path or "$" in path:
            problems.append(
                f"video.extra_clips.{name}: write the path out ({path!r}): DVC "
                "tracks it as a dependency and expands neither ~ nor "
                "$VARS"
            )
    for name, folder in params.data.extra_sets.items():
        if not name.replace("_", "").isalnum() or name in (*SPLITS, "corpus"):
            problems.append(f"data.extra_sets.{name}: use letters, digits and _ (not a split name)")
        if "~" in folder or "$" in folder:
            problems.append(
                f"data.extra_sets.{name}: write the folder out ({folder!r}): DVC tracks it as "
                "a dependency and expands neither ~ nor $VARS"
            )
    qf = params.train_qf
    problems += patch_size_problem(params, "train_qf.patch_size", qf.patch_size)
    if qf.patch_size % 8:
        problems.append("train_qf.patch_size: must be a multiple of 8 (the JPEG block)")
    classes = qf.classes or params.degradation.qualities
    if qf.classes is not None and list(qf.classes) != sorted(set(qf.classes)):
        problems.append("train_qf.classes: QFs in increasing order, each once (or null)")
    if qf.above_range is not None:
        low, high = qf.above_range
        top = max(params.degradation.qualities)
        if max(classes) >= low:
            problems.append(
                f"train_qf.classes: every class must be below the class above "
                f"(train_qf.above_range starts at {low})"
            )
        if not top < low <= high:
            problems.append(
                f"train_qf.above_range: must be [low, high] with {top} < low <= "
                "high <= 100, or null"
            )
    return problems + check_evaluation(params)


def check_evaluation(params: Params) -> list[str]:
    """The evaluate and compare sections must name QFs, sets and methods that exist."""
    problems = []
    qualities = params.degradation.qualities
    for key, quality in (
        ("evaluate.figure_quality", params.evaluate.figure_quality),
        ("compare.quality", params.compare.quality),
    ):
        if quality not in qualities:
            problems.append(
                f"{key}: {quality} is not one of degradation.qualities {list(qualities)}"
            )
    known = [section.method for section in SECTIONS.values()]
    for key in ("evaluate.methods", "video.methods", "study.methods", "detection.methods"):
        section, field = key.split(".")
        for name in getattr(getattr(params, section), field):
            if name not in known:
                problems.append(f"{key}: unknown method {name!r}; known: {known}")
    for check in CHECKS:
        problems += check(params)
    if params.compare.set not in params.test_sets:
        problems.append(
            f"compare.set: {params.compare.set!r} is not one of {list(params.test_sets)}"
        )
    kept = params.evaluate.set_qualities
    if params.data.extra_sets and kept and params.evaluate.figure_quality not in kept:
        problems.append(
            f"evaluate.figure_quality: {params.evaluate.figure_quality} is not one of "
            f"evaluate.set_qualities {list(kept)}, so the extra sets would have no figure"
        )
    shown = ("original", "jpeg", *params.evaluate.methods)
    for key in ("left", "right"):
        if getattr(params.compare, key) not in shown:
            problems.append(f"compare.{key}: must be one of {list(shown)}")
    folders = {"train_qf": params.train_qf.models_dir}
    folders |= {key: params.section(key).models_dir for key in SECTIONS}
    for key, folder in folders.items():
        if list(folders.values()).count(folder) > 1:
            problems.append(f"{key}.models_dir: {folder!r} is also another section's models_dir")
    return problems
