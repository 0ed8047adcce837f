"""The published figures the evaluation prints beside its own (published.yaml): the tables of
the papers for a set and QF, the no-reference scores, and NoGAN's DIV2K tables at QF 20."""

from __future__ import annotations

import re
from importlib import resources

import pandas as pd

from ..config import parse_yaml
from ..methods import METHODS


def published_figures() -> dict:
    return parse_yaml(
        resources.files(__package__).joinpath("published.yaml").read_text(), "published.yaml"
    )


def published_no_reference() -> pd.DataFrame:
    """Galteri et al. 2020, Table 1: NIQE and BRISQUE on COCO at JPEG QF 10 (context only)."""
    entry = published_figures()["no_reference_coco_qf10"]
    frame = pd.DataFrame.from_dict(entry["rows"], orient="index", columns=entry["columns"])
    return frame.rename_axis("method").reset_index().assign(source=entry["source"])


def published_rows(set_name: str, quality: int) -> pd.DataFrame | None:
    """The published rows for a set and QF (from published.yaml), or None."""
    entry = published_figures()["sets"].get(set_name)
    if entry is None or quality not in entry["rows"]:
        return None
    rows = entry["rows"][quality]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=entry["columns"])
    return frame.rename_axis("method").reset_index().assign(source=entry["source"])


NOGAN_TABLE = "nogan_div2k_qf20"  # the published tables of the methods that name it
NOGAN_QUALITY = 20  # the QF of NoGAN's published tables
NOGAN_COLUMNS = {"ssim": "ssim_rgb", "lpips": "lpips", "brisque": "brisque", "niqe": "niqe"}


def markdown_table(frame: pd.DataFrame, missing: str = "") -> str:
    """A table as Markdown, 4 decimals, `missing` for empty cells."""
    shown = frame.astype(object).where(frame.notna(), None)
    return shown.to_markdown(index=False, floatfmt=".4f", missingval=missing)


PAPER_TABLES = {
    "artifact_removal": "Table I, artifact removal",
    "super_resolution": "Table II, super-resolution + artifact removal",
}


def nogan_tables(summary: pd.DataFrame, set_name: str, quality: int) -> str:
    """At QF 20, when NoGAN is evaluated: Mameli et al.'s Tables I and II (DIV2K) beside this
    set's rows of the same columns (SSIM on RGB, LPIPS, BRISQUE, NIQE); else nothing."""
    rows = summary[(summary["set"] == set_name) & (summary["quality"] == quality)]
    compared = {m.name for m in METHODS.values() if m.published == NOGAN_TABLE}
    shown = {re.sub(r"_sr\d+$", "", name) for name in rows["method"]}  # and its `_srN` rows
    if quality != NOGAN_QUALITY or not compared & shown:
        return ""
    entry = published_figures()[NOGAN_TABLE]
    ours = rows.set_index("method").reindex(columns=list(NOGAN_COLUMNS.values()))
    ours.columns = list(NOGAN_COLUMNS)
    lines = [
        f"### NoGAN beside Mameli et al. 2020 ({entry['source']}; DIV2K, QF 20)",
        "",
        f"Here ({set_name}):",
        "",
        markdown_table(ours.reset_index(), "n/a"),
    ]
    for part, title in PAPER_TABLES.items():
        frame = pd.DataFrame.from_dict(entry[part], orient="index", columns=entry["columns"])
        table = markdown_table(frame.rename_axis("row").reset_index())
        lines += ["", f"Published, {title}:", "", table]
    lines += [
        "",
        "nogan_pre is the paper's pre-GAN row, nogan its post-GAN row; the post-GAN "
        "small, MSE and SSIM rows are the same recipe with train_nogan.generator.encoder "
        "mobilenet_v3_small, or train_nogan.loss {mse: 1.0} / {ssim: 1.0}; "
        "`<method>_srN` rows need evaluate.super_resolution N.",
    ]
    if ours["lpips"].isna().all():
        lines[-1] += " LPIPS n/a: no ImageNet AlexNet recorded."
    return "\n".join(lines)
