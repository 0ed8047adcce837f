"""`make check-repro`: every metric of this run beside the committed one, within tolerances.

After `make repro` in a fresh clone, `dvc metrics diff` gives each metric's committed value
(git's HEAD) and the new one; `tolerances.yaml` says how far each may move (the first rule whose
file and key patterns match). Prints one table (metric, committed, now, difference, tolerance)
of the metrics that moved, the verdict, and exits 1 when any is beyond its tolerance, is new or
is gone, or has no rule.

    python -m artifact_removal.stages.check_repro [--rev HEAD] [--tolerances tolerances.yaml]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from ..config import read_yaml

TOLERANCES = "tolerances.yaml"


@dataclass(frozen=True)
class Rule:
    file: str
    key: str
    tol: float | None  # None: reported, not checked

    def matches(self, file: str, key: str) -> bool:
        return fnmatchcase(file, self.file) and fnmatchcase(key, self.key)


@dataclass(frozen=True)
class Row:
    file: str
    key: str
    committed: float | None
    now: float | None
    tol: float | None
    verdict: str  # same | within | BEYOND | NEW | GONE | NO RULE | unchecked

    @property
    def failed(self) -> bool:
        return self.verdict in ("BEYOND", "NEW", "GONE", "NO RULE")

    @property
    def difference(self) -> float | None:
        if self.committed is None or self.now is None:
            return None
        return self.now - self.committed


def load_rules(path: str | Path) -> list[Rule]:
    """The rules of a tolerances file, in order; ValueError naming a malformed one."""
    rules = []
    for i, raw in enumerate((read_yaml(path) or {}).get("rules") or []):
        if not isinstance(raw, dict) or set(raw) != {"file", "key", "tol"}:
            raise ValueError(f"{path}: rule {i + 1} must have exactly file, key and tol")
        tol = raw["tol"]
        if tol is not None and (not isinstance(tol, int | float) or tol < 0):
            raise ValueError(f"{path}: rule {i + 1}: tol must be a number >= 0 or null")
        rules.append(Rule(str(raw["file"]), str(raw["key"]), tol))
    if not rules:
        raise ValueError(f"{path}: no rules")
    return rules


def judge(diff: dict[str, dict[str, dict]], rules: list[Rule]) -> list[Row]:
    """One row per metric of `dvc metrics diff --json --all`'s output."""
    rows = []
    for file in sorted(diff):
        for key, values in sorted(diff[file].items()):
            old, new = _number(values.get("old")), _number(values.get("new"))
            rule = next((r for r in rules if r.matches(file, key)), None)
            rows.append(
                Row(file, key, old, new, rule.tol if rule else None, _verdict(old, new, rule))
            )
    return rows


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _verdict(old: float | None, new: float | None, rule: Rule | None) -> str:
    if old is None and new is None:
        return "same"  # not a number (a name, a list): DVC compares them as they are
    if old is None:
        return "NEW"
    if new is None:
        return "GONE"
    if rule is None:
        return "NO RULE"  # every metric has a declared tolerance, also one that did not move
    if old == new or (math.isnan(old) and math.isnan(new)):
        return "same"
    if rule.tol is None:
        return "unchecked"
    return "within" if abs(new - old) <= rule.tol + 1e-12 else "BEYOND"


def metrics_diff(rev: str, cwd: str | Path = ".") -> dict:
    """`dvc metrics diff REV --json --all`: every metric, committed and in the workspace."""
    done = subprocess.run(
        [sys.executable, "-m", "dvc", "metrics", "diff", rev, "--json", "--all"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )
    if done.returncode:
        raise RuntimeError(f"dvc metrics diff {rev} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout or "{}")


def table(rows: list[Row]) -> str:
    """The rows that are not `same`, as aligned text, and a last line with the counts."""
    shown = [r for r in rows if r.verdict != "same"]
    lines = []
    if shown:
        head = ("metric", "committed", "now", "difference", "tolerance", "")
        body = [(f"{r.file}:{r.key}", _fmt(r.committed), _fmt(r.now), _fmt(r.difference, True),
                 "-" if r.tol is None else f"{r.tol:g}", r.verdict) for r in shown]  # fmt: skip
        widths = [max(len(line[i]) for line in [head, *body]) for i in range(6)]
        for line in [head, *body]:
            lines.append(
                "  ".join(
                    cell.ljust(w) if i == 0 else cell.rjust(w)
                    for i, (cell, w) in enumerate(zip(line, widths, strict=True))
                ).rstrip()
            )
    counts = {v: sum(r.verdict == v for r in rows) for v in dict.fromkeys(r.verdict for r in rows)}
    failed = sum(r.failed for r in rows)
    lines.append(
        f"{len(rows)} metrics: "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
        + (f"; {failed} outside the tolerances" if failed else "; all within the tolerances")
    )
    return "\n".join(lines)


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m artifact_removal.stages.check_repro", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rev", default="HEAD", help="the committed metrics (a git revision)")
    parser.add_argument("--tolerances", default=TOLERANCES, help="the rules (tolerances.yaml)")
    args = parser.parse_args(argv)
    try:
        rules = load_rules(args.tolerances)
        rows = judge(metrics_diff(args.rev), rules)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(table(rows))
    return 1 if any(r.failed for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
