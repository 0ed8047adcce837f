"""Stage `release`: the weights `restore` uses before any training, committed to the repository,
and the images' default measured on the validation split (`inference.default`).

1. The default: at each level the ladder measures (the QF predictor's classes and the trained
   QFs below the pass-through rung), validation images of the corpus compressed at that QF are
   restored by the GAN's generators at every strength of `inference.default.STRENGTHS` (0 is
   the SSIM generator), each combined as the SSIM generators' measured ladder combines them;
   the mean PSNR-Y gain over the input, NIQE and, with LPIPS's weights, LPIPS decide each
   level's strength. The table is printed and kept in `default.json`.
2. The release folder (`inference.setups.RELEASE_DIR`, committed: the stage's outputs are not
   in DVC's cache): the generators of the GAN and of the method it starts from, the QF
   predictor, the start method's ladder and `default.json`, copied byte for byte from the
   models folders. A fresh clone restores with them after `make venv`; `make repro` rewrites
   them, the same bytes on the same kind of machine, so a rerun adds nothing to the history.

    python -m artifact_removal.stages.release params.yaml [--images N] [--tolerance DB]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..checkpoints import fingerprint
from ..config import find_project_root, load_params, resolve_path
from ..data.images import read_png
from ..data.prepared import keys, set_folder
from ..degradations.codecs import codec_of, predictor_classes
from ..fileio import write_text
from ..inference.choice import INPUT, ensemble_weights
from ..inference.default import FILE, STRENGTHS, DefaultChoice
from ..inference.releases import load_generator
from ..inference.setups import (
    DEFAULT_METHODS,
    RELEASE_DIR,
    RELEASED_LADDERS,
    RELEASED_PREDICTOR,
    file_digest,
    find_generators,
    project_ladder,
    project_predictor,
    trained_here,
)
from ..inference.strength import interpolate
from ..methods import combine_of
from ..methods import get as get_method
from ..runtime import seed_everything, select_device
from .ladder import jpeg_pairs, levels_of

IMAGES = 16  # validation images measured (spread over their sorted names)
TOLERANCE = 0.05  # dB of mean PSNR-Y below the input that a chosen strength may cost


def spread(names: list[str], count: int) -> list[str]:
    """`count` of `names`, spread evenly over them (all of them when `count` is 0 or less, or
    at least their number)."""
    if count <= 0 or count >= len(names):
        return list(names)
    picks = np.linspace(0, len(names) - 1, count).round().astype(int)
    return [names[i] for i in sorted(set(picks))]


def choose(scores: dict[str, dict[str, float]], tolerance: float) -> float:
    """A level's strength from its scores (strength as text -> mean psnr_y_gain, niqe, and
    lpips when measured): the most natural of the strengths that are more natural than
    strength 0 (NIQE lower; LPIPS no higher) and cost no more than `tolerance` dB of PSNR-Y
    against the input; 0 when none is."""
    start = scores["0"]
    admissible = [
        float(s)
        for s, row in scores.items()
        if float(s) > 0
        and row["niqe"] < start["niqe"]
        and row["psnr_y_gain"] >= -tolerance
        and ("lpips" not in row or row["lpips"] <= start["lpips"])
    ]
    if not admissible:
        return 0.0
    return min(admissible, key=lambda s: (scores[f"{s:g}"]["niqe"], -s))


def measure(params_path: Path, count: int, tolerance: float, progress: bool = True):
    """The default's choice, measured; and the paths of what the release holds."""
    from ..inference.torch_backend import restore_float
    from ..metrics.full_reference import psnr
    from ..metrics.lpips import Lpips
    from ..metrics.no_reference import niqe
    from ..pretrained import weights_for

    root = find_project_root(params_path.parent)
    params = load_params(params_path)
    seed_everything(params.seed)
    device = select_device(params.device)
    method = DEFAULT_METHODS["image"]
    start = get_method(method).starts_from
    codec = codec_of(get_method(method).codec)
    if not trained_here(root):  # else the models would be the release this stage rewrites
        raise SystemExit(f"error: {root} has no trained models: run the training stages first")
    paths = {m: find_generators(m, None, root) for m in (start, method)}
    if set(paths[start]) != set(paths[method]):
        raise SystemExit(
            f"error: {method} is trained for QF {sorted(paths[method])} and {start} for "
            f"{sorted(paths[start])}: the default mixes the two generators of each QF"
        )
    digests = {m: {q: file_digest(p) for q, p in found.items()} for m, found in paths.items()}
    available = sorted(paths[start])
    pass_through = codec.pass_through_level(available)
    levels = levels_of(predictor_classes(params, codec), available, pass_through)
    ladder, ladder_path = project_ladder(start, root, digests[start])
    combine = combine_of(start)

    def weights(level: int) -> dict[int, float]:
        if ladder is not None:
            return ladder.weights(level, pass_through, INPUT)
        return ensemble_weights(level, available, combine, pass_through)

    folder = set_folder(params, root, "val")
    names = spread(keys(folder), count)
    originals = {}
    for name in names:
        gt = read_png(folder / "gt" / f"{name}.png")
        originals[name] = gt if gt.ndim == 3 else np.repeat(gt[..., None], 3, axis=2)
    pairs = jpeg_pairs(originals, levels, params.degradation.chroma_subsampling)
    lpips = Lpips.load(weights_for("alexnet", root), device)
    ends = {q: load_generator(p, device) for q, p in paths[method].items()}
    starts = {q: load_generator(p, device) for q, p in paths[start].items()}
    nets = {
        s: {q: starts[q] if s == 0 else interpolate(starts[q], ends[q], s) for q in available}
        for s in STRENGTHS
    }
    chosen: dict[int, float] = {}
    scores: dict[int, dict[str, dict[str, float]]] = {}
    total = len(levels) * len(names)
    with tqdm(total=total, desc="default per QF", unit="image", disable=not progress) as bar:
        for level in levels:
            rungs = weights(level)
            rows: dict[str, dict[str, list[float]]] = {f"{s:g}": {} for s in STRENGTHS}
            for gt, lq in pairs[level]:
                before = psnr(gt, lq, "y")
                for s in STRENGTHS:
                    outputs = {
                        q: lq.astype(np.float32)
                        if q == INPUT
                        else restore_float(nets[s][q], lq, device)
                        for q in rungs
                    }
                    mixed = sum(w * outputs[q] for q, w in rungs.items())
                    out = np.rint(mixed).clip(0, 255).astype(np.uint8)
                    row = rows[f"{s:g}"]
                    row.setdefault("psnr_y_gain", []).append(psnr(gt, out, "y") - before)
                    row.setdefault("niqe", []).append(niqe(out))
                    if lpips.available:
                        row.setdefault("lpips", []).append(lpips(gt, out))
                bar.update(1)
            scores[level] = {
                s: {k: round(float(np.mean(v)), 4) for k, v in row.items()}
                for s, row in rows.items()
            }
            chosen[level] = choose(scores[level], tolerance)
    choice = DefaultChoice(
        method=method,
        start=start,
        generators=digests,
        levels=chosen,
        tolerance=tolerance,
        ladder=fingerprint(ladder.levels) if ladder is not None else None,
        scores=scores,
        images=tuple(names),
    )
    held = {
        start: paths[start],
        method: paths[method],
        "predictor": project_predictor(root, codec.name),
        "ladder": ladder_path,
    }
    return root, choice, held, lpips.available


def table(choice: DefaultChoice, lpips: bool) -> str:
    """The measurement as a Markdown table: a row per QF and strength, the chosen one marked."""
    head = "| QF | strength | PSNR-Y gain (dB) | NIQE |" + (" LPIPS |" if lpips else "")
    lines = [head, "|---:|---:|---:|---:|" + ("---:|" if lpips else "")]
    for level in sorted(choice.levels):
        for s, row in choice.scores[level].items():
            mark = " **chosen**" if float(s) == choice.levels[level] else ""
            cells = f"| {level} | {s}{mark} | {row['psnr_y_gain']:+.3f} | {row['niqe']:.3f} |"
            if lpips:
                cells += f" {row['lpips']:.4f} |"
            lines.append(cells)
    return "\n".join(lines) + "\n"


def write_release(out: Path, choice: DefaultChoice, held: dict, text: str) -> int:
    """The release folder, written anew beside `out` and put in its place whole (a run killed
    half-way leaves the old one): the generators (`<method>/q<QF>.pt`), the QF predictor, the
    ladder, the choice and its table; its size in bytes back."""
    work = out.with_name(f".{out.name}.new")
    shutil.rmtree(work, ignore_errors=True)
    copies = {
        **{Path(m, p.name): p for m in (choice.start, choice.method) for p in held[m].values()},
        RELEASED_PREDICTOR: held["predictor"],
    }
    if held["ladder"] is not None:
        copies[Path(RELEASED_LADDERS, f"{choice.start}.json")] = held["ladder"]
    for name, path in sorted(copies.items()):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, work / name)
    choice.save(work / FILE)
    write_text(work / "default.md", text)
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m artifact_removal.stages.release")
    parser.add_argument("params", type=Path)
    parser.add_argument(
        "--images", type=int, default=IMAGES, help=f"validation images measured ({IMAGES}; 0: all)"
    )
    parser.add_argument(
        "--tolerance", type=float, default=TOLERANCE, help=f"dB of PSNR-Y it may cost ({TOLERANCE})"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    root, choice, held, lpips = measure(args.params.resolve(), args.images, args.tolerance)
    text = (
        f"# The default of `restore` for images, per QF\n\n"
        f"Measured on {len(choice.images)} validation images by stage `release`: each "
        f"strength of {choice.method} (0: {choice.start}), mean over the images; chosen: the "
        f"most natural strength that is more natural than {choice.start} and costs at most "
        f"{choice.tolerance:g} dB of PSNR-Y against the input.\n\n"
        f"{table(choice, lpips)}\n"
        f"In short: {choice.trades()}.\n"
    )
    out = resolve_path(RELEASE_DIR, root)
    size = write_release(out, choice, held, text)
    print(text)
    print(f"release: {out.relative_to(root)}, {size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
