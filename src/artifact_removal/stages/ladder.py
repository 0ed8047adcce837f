"""Stage `ladder`: which generators restore each QF or CRF, measured on the validation split.

For every method of `ladder.methods`, at each level the QF (or CRF) predictor can name, and
each trained level, on the generators' side of the pass-through rung, validation images
compressed at that level are restored by every choice of the ensemble (`inference.ladder`):
the corpus' validation images through JPEG, or for a video method the CRF predictor's
validation frames through H.264. The chosen weights go to `ladder.dir/<method>.json`, which
`restore` uses for those very generators; the table of gains is printed.

    python -m artifact_removal.stages.ladder params.yaml
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from ..config import find_project_root, load_params, resolve_path
from ..data.images import read_png
from ..data.prepared import keys, quality_dir, set_folder
from ..degradations.codecs import Codec, codec_of, predictor_classes
from ..degradations.jpeg import jpeg_compress
from ..inference.choice import INPUT, ensemble_weights
from ..inference.ladder import Ladder, Weights, label
from ..inference.releases import load_generator
from ..inference.setups import file_digest, find_generators
from ..methods import combine_of
from ..methods import get as get_method
from ..methods.predictors import predictor_of
from ..runtime import seed_everything, select_device

if TYPE_CHECKING:
    import torch


def candidates(rungs: Sequence[int]) -> list[Weights]:
    """Every choice the ladder weighs at a level: each rung alone, and the midpoint of each
    pair of neighbouring rungs (`rungs` in order from strongest to gentlest)."""
    singles = [{r: 1.0} for r in rungs]
    pairs = [{a: 0.5, b: 0.5} for a, b in itertools.pairwise(rungs)]
    return singles + pairs


def measure(
    method: str,
    nets: Mapping[int, torch.nn.Module],
    digests: Mapping[int, str],
    pairs: Mapping[int, Sequence[tuple[np.ndarray, np.ndarray]]],
    nominal: Callable[[int], Weights],
    rungs: Sequence[int],
    input_rung: int,
    margin: float,
    device: torch.device,
    images: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> Ladder:
    """Measure the ladder: at each level of `pairs` (level -> (original, compressed) RGB
    uint8 pairs), every compressed image restored with every choice of `candidates(rungs)`;
    the mean PSNR-Y gain of each choice decides. `nominal(level)` is the ensemble's own
    choice, kept unless beaten by more than `margin` dB."""
    from ..inference.torch_backend import restore_float
    from ..metrics.full_reference import psnr  # here: reading a ladder needs no torch

    chosen: dict[int, Weights] = {}
    scores: dict[int, dict[str, float]] = {}
    for level, level_pairs in sorted(pairs.items()):
        gains: dict[str, list[float]] = {}
        options = {label(c, input_rung): c for c in candidates(rungs)}
        base = nominal(level)
        options[label(base, input_rung)] = base
        for gt, lq in level_pairs:
            outputs = {q: restore_float(net, lq, device) for q, net in nets.items()}
            outputs[input_rung] = lq.astype(np.float32)
            before = psnr(gt, lq, "y")
            for name, weights in options.items():
                mixed = sum(w * outputs[q] for q, w in weights.items())
                restored = np.rint(mixed).clip(0, 255).astype(np.uint8)
                gains.setdefault(name, []).append(psnr(gt, restored, "y") - before)
        mean = {name: float(np.mean(values)) for name, values in gains.items()}
        best = max(mean, key=lambda name: mean[name])
        keep = mean[label(base, input_rung)] >= mean[best] - margin
        chosen[level] = base if keep else options[best]
        scores[level] = {name: round(value, 4) for name, value in mean.items()}
        if progress:
            progress(1)
    return Ladder(method, dict(digests), chosen, scores, tuple(images))


Pairs = dict[int, list[tuple[np.ndarray, np.ndarray]]]  # level -> (original, compressed)


def jpeg_pairs(
    images: Mapping[str, np.ndarray], levels: Sequence[int], subsampling: str = "4:2:0"
) -> Pairs:
    """(original, decoded JPEG) of every image at every QF of `levels`."""
    return {
        q: [(gt, jpeg_compress(gt, q, subsampling).pixels) for gt in images.values()]
        for q in levels
    }


def levels_of(classes: list[int], available: list[int], pass_through: int) -> list[int]:
    """The levels measured: the predictor's classes and the trained levels on the generators'
    side of the pass-through rung (QFs below it; for H.264, CRFs above it)."""
    lower_is_gentler = pass_through < min(available)  # H.264: a lower CRF is a better quality
    return sorted(
        {
            q
            for q in [*classes, *available]
            if (q > pass_through if lower_is_gentler else q < pass_through)
        }
    )


def _rgb(pixels: np.ndarray) -> np.ndarray:
    return pixels if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=2)


def _originals(folder: Path) -> dict[str, np.ndarray]:
    return {key: _rgb(read_png(folder / "gt" / f"{key}.png")) for key in keys(folder)}


def validation_pairs(params, root: Path, codec: Codec, levels: list[int]) -> tuple[dict, list]:
    """level -> (original, compressed) pairs of the validation split, and their names: the
    corpus' images through JPEG at each QF, or the CRF predictor's validation frames, which
    went through H.264 at each CRF with x264 settings drawn per clip (`data.video`)."""
    if codec.compressed_here:
        images = _originals(set_folder(params, root, "val"))
        pairs = jpeg_pairs(images, levels, params.degradation.chroma_subsampling)
        return pairs, list(images)
    folder = predictor_of(codec.name).prepared(params, root) / "sets" / "val"
    frames = _originals(folder)
    pairs = {
        crf: [
            (gt, _rgb(read_png(folder / quality_dir(crf) / f"{key}.png")))
            for key, gt in frames.items()
        ]
        for crf in levels
    }
    return pairs, list(frames)


def run(params_path: Path, progress: bool = True) -> dict[str, Ladder]:
    """Measure and write the ladder of every method of `ladder.methods`."""
    root = find_project_root(params_path.parent)
    params = load_params(params_path)
    seed_everything(params.seed)
    device = select_device(params.device)
    out_dir = resolve_path(params.ladder.dir, root)
    ladders = {}
    for method in params.ladder.methods:
        codec = codec_of(get_method(method).codec)
        unit = codec.unit
        classes = predictor_classes(params, codec)
        paths = find_generators(method, None, root)
        available = sorted(paths)
        pass_through = codec.pass_through_level(available)
        levels = levels_of(classes, available, pass_through)
        if not codec.compressed_here:  # its frames exist at the predictor's classes only
            levels = [level for level in levels if level in classes]
        pairs, names = validation_pairs(params, root, codec, levels)
        nets = {q: load_generator(p, device) for q, p in paths.items()}
        rungs = [*codec.strongest_first(available), INPUT]
        combine = combine_of(method)

        def nominal(
            level: int, available=available, pass_through=pass_through, combine=combine
        ) -> dict:
            return ensemble_weights(level, available, combine, pass_through)

        with tqdm(
            total=len(levels), desc=f"ladder {method}", unit=unit, disable=not progress
        ) as bar:
            ladder = measure(
                method,
                nets,
                {q: file_digest(p) for q, p in paths.items()},
                pairs,
                nominal,
                rungs,
                INPUT,
                params.ladder.margin,
                device,
                names,
                bar.update,
            )
        ladder.save(out_dir / f"{method}.json")
        ladders[method] = ladder
        print(f"\n{method}: measured on {len(names)} validation images; mean gain in dB (PSNR-Y)")
        for level in levels:
            own = label(nominal(level), INPUT)
            used = label(ladder.levels[level], INPUT)
            scores = ladder.scores[level]
            print(
                f"  {unit} {level:3d}: rule {own:<22} {scores[own]:+.3f}   ladder {used:<22} "
                f"{scores[used]:+.3f}"
            )
    return ladders


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m artifact_removal.stages.ladder PARAMS", file=sys.stderr)
        return 2
    run(Path(args[0]).resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
