"""Every output of two dvc.lock files side by side: is each one's md5 the same?

    python benchmarks/compare_locks.py BEFORE/dvc.lock AFTER/dvc.lock

For checking that a refactor is one (issue 29): run `make repro` on the same machine before
and after it, then compare the locks. Deps may differ (they name the code); outputs may not.
Exit code 1 when any output differs or is in one lock only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def outputs(lock: dict) -> dict[str, tuple[str, str]]:
    """{path: (md5, stage)} of every output (metrics and plots included)."""
    found = {}
    for stage, body in lock["stages"].items():
        for out in body.get("outs", []):
            found[out["path"]] = (out.get("md5", ""), stage)
    return found


def main(before: str, after: str) -> int:
    a = outputs(yaml.safe_load(Path(before).read_text()))
    b = outputs(yaml.safe_load(Path(after).read_text()))
    shared = [p for p in a if p in b]
    differ = [p for p in shared if a[p][0] != b[p][0]]
    alone = sorted(set(a) ^ set(b))
    print(
        f"outputs compared: {len(shared)}; identical md5: {len(shared) - len(differ)}; "
        f"different: {len(differ)}; in one lock only: {len(alone)}"
    )
    for p in differ:
        print(f"  different  {a[p][1]}  {p}")
    for p in alone:
        print(f"  one only   {p}")
    return 1 if differ or alone else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
