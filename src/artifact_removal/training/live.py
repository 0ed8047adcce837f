"""The run's log: dvclive curves rebuilt from the run's history (so a resumed run's plots are
whole) and metrics.json, its numbers rounded so that `dvc metrics diff` shows real changes."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from ..fileio import write_json


def held_out(entry: dict) -> dict[str, float]:
    """The held-out scores of a history entry, short names for metrics.json: `val_pred_psnr_y`
    (the restored images) -> `psnr_y`, `val_jpeg_psnr_y` -> `jpeg_psnr_y`."""
    return {
        k.removeprefix("val_").removeprefix("pred_"): v
        for k, v in entry.items()
        if k.startswith("val_")
    }


def rounded(value):
    """Floats to 6 significant digits, recursively: what a table shows, and free of the
    last-digit noise of threaded sums (NIQE varies at 1e-13 from run to run), which would
    fill `dvc metrics diff` with changes of 0.0."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.6g}")
    return value


class LiveLog:
    """dvclive logging rebuilt from the run's history, so a resumed run's plots are whole."""

    def __init__(self, folder: Path, history: list[dict]):
        from dvclive import Live

        shutil.rmtree(folder, ignore_errors=True)
        self.live = Live(dir=str(folder), save_dvc_exp=False, dvcyaml=None, report=None)
        for entry in history:
            self.log(entry)

    def log(self, entry: dict) -> None:
        self.live.step = entry["step"]
        for key, value in entry.items():
            if key != "step" and math.isfinite(value):
                name = f"val/{key[4:]}" if key.startswith("val_") else f"train/{key}"
                self.live.log_metric(name, value, plot=True)

    def finish(self, summary: dict) -> None:
        """Write metrics.json: the last step and the recipe's `summary`, a few short columns,
        so that `dvc metrics show` of a stage's runs is a table a terminal can show."""
        from dvclive.plots.utils import NumpyEncoder

        self.live.end()
        # dvclive writes its file in place; the final version goes through the atomic writer
        summary = json.loads(json.dumps({"step": self.live.step} | summary, cls=NumpyEncoder))
        write_json(self.live.metrics_file, rounded(summary))
