"""How sure the QF predictor is: accuracy and the probability of the true QF, per test set.

Every image of each set (the held-out split and `data.extra_sets`) decoded at every QF of the
ensemble, predicted from its pixels with `train_qf.predict_patches` patches. Run in a project
after `train_qf` and the `prepare_set` stages, e.g. with the standard sets beside it:

    python -m artifact_removal profile profiles/benchmarks.yaml
    dvc repro train_qf prepare_set
    python benchmarks/qf_confidence.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from artifact_removal.config import find_project_root, load_params, resolve_path
from artifact_removal.data.prepared import DataError, evaluation_folders, keys, load_compressed
from artifact_removal.inference.qf import predict
from artifact_removal.inference.releases import load_predictor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=None)
    args = parser.parse_args(argv)
    root = find_project_root(args.params.parent if args.params else None)
    params = load_params(args.params or root / "params.yaml")
    net = load_predictor(resolve_path(params.train_qf.models_dir, root) / "predictor.pt")
    count = params.train_qf.predict_patches
    print("| set | images x QFs | accuracy | mean p(true QF) (lowest) |")
    print("|---|---:|---:|---:|")
    for name, folder in evaluation_folders(params, root).items():
        try:
            names = keys(folder)
        except DataError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        hits, probabilities = [], []
        for key in names:
            _, jpegs = load_compressed(folder, key, net.classes)
            for quality, jpeg in jpegs.items():
                answer = predict(net, jpeg.pixels, count)
                hits.append(answer.quality == quality)
                probabilities.append(answer.probabilities[quality])
        print(f"| {name} | {len(hits)} | {np.mean(hits):.0%} | {np.mean(probabilities):.3f} "
              f"({np.min(probabilities):.3f}) |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
