"""Benchmark how fast the command line answers: `--help` must not wait for torch.

Runs each command in a fresh process, several times, one after the other in one run, and
prints the median wall time beside that of a bare `python -c pass` and of `import torch` (the
cost `--help` avoids by importing torch only in the commands that need it). Compare the ratios
within a run; absolute times on shared machines are noise.

    python benchmarks/cli_startup.py            # prints and appends to benchmarks/RESULTS.md
    python benchmarks/cli_startup.py --no-append --repeat 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
HELP = [sys.executable, "-m", "artifact_removal"]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "artifact-removal --help": [*HELP, "--help"],
    "artifact-removal restore --help": [*HELP, "restore", "--help"],
    "artifact-removal train --help": [*HELP, "train", "--help"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
}


def seconds(command: list[str], repeat: int) -> float:
    """Median wall time of `command` in a fresh process (one untimed run first, for the disk
    cache)."""
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per command")
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args()
    measured = {name: seconds(command, args.repeat) for name, command in COMMANDS.items()}
    base = measured["python -c pass"]
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, CPU: {platform.machine()}, "
        f"python {platform.python_version()}, median of {args.repeat} (`cli_startup.py`)",
        "",
        "| command | seconds | x bare python |",
        "|---|---:|---:|",
        *(f"| `{name}` | {t:.2f} | {t / base:.1f} |" for name, t in measured.items()),
        "",
    ]
    print("\n".join(lines))
    if not args.no_append:
        text = RESULTS.read_text()
        heading = "## Command line start-up (issue 15)"
        if heading not in text:
            text = (
                text.rstrip("\n")
                + f"\n\n{heading}\n\n`--help` imports neither torch nor the notebook tools.\n\n"
            )
        RESULTS.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
