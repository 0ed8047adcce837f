"""The published figures the evaluation prints beside its own (published.yaml): the tables of
the papers for a set and QF, the no-reference scores, and the tables that methods name
(`Method.published`: NoGAN's DIV2K tables at QF 20), each declared in the YAML file."""

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


def markdown_table(frame: pd.DataFrame, missing: str = "") -> str:
    """A table as Markdown, 4 decimals, `missing` for empty cells."""
    shown = frame.astype(object).where(frame.notna(), None)
    return shown.to_markdown(index=False, floatfmt=".4f", missingval=missing)


def paper_tables(summary: pd.DataFrame, set_name: str, quality: int) -> str:
    """The published tables that the evaluated methods name (`Method.published`), each at its
    own QF, beside this set's rows of the same columns; "" when none is shown here."""
    parts = []
    for key in dict.fromkeys(m.published for m in METHODS.values() if m.published):
        compared = {m.name for m in METHODS.values() if m.published == key}
        if table := published_table(summary, set_name, quality, key, compared):
            parts.append(table)
    return "\n\n".join(parts)


def published_table(
    summary: pd.DataFrame, set_name: str, quality: int, key: str, compared: set[str]
) -> str:
    """At the QF of the published table `key` (published.yaml), when one of the `compared`
    methods is evaluated: the table's parts beside this set's rows of its columns; else
    nothing."""
    entry = published_figures()[key]
    rows = summary[(summary["set"] == set_name) & (summary["quality"] == quality)]
    shown = {re.sub(r"_sr\d+$", "", name) for name in rows["method"]}  # and its `_srN` rows
    if quality != entry["quality"] or not compared & shown:
        return ""
    ours = rows.set_index("method").reindex(columns=list(entry["ours"].values()))
    ours.columns = list(entry["ours"])
    lines = [
        f"### {entry['title']} ({entry['source']}; {entry['data']}, QF {entry['quality']})",
        "",
        f"Here ({set_name}):",
        "",
        markdown_table(ours.reset_index(), "n/a"),
    ]
    for part, title in entry["tables"].items():
        frame = pd.DataFrame.from_dict(entry[part], orient="index", columns=entry["columns"])
        table = markdown_table(frame.rename_axis("row").reset_index())
        lines += ["", f"Published, {title}:", "", table]
    lines += ["", entry["note"]]
    if "lpips" in ours and ours["lpips"].isna().all():
        lines[-1] += " LPIPS n/a: no ImageNet AlexNet recorded."
    return "\n".join(lines)
