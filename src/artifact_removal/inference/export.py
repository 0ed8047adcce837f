"""Exporting a method's generators and predictor to ONNX: `artifact-removal export --method M
--format onnx -o DIR`.

Each per-QF generator becomes `q<QF>.onnx` with a dynamic batch, height and width (torch's
`torch.export`-based exporter); the QF (or CRF) predictor becomes `predictor.onnx` and the DCT
layer that finds the block grid `grid.onnx`. The project's measured ladder and CRF reading are
copied when they belong to these generators. `manifest.json` says what each file is, the
release fields of each generator (its loss, QF), and, for each export, the largest difference
from PyTorch on a check input. `inference.onnx_backend` restores from the folder without
torch.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..methods import combine_of
from ..methods import get as get_method
from .onnx_backend import OnnxNet, _session, write_manifest
from .qf import GridSparsity
from .releases import load_generator, load_predictor
from .setups import (
    file_digest,
    find_generators,
    project_ladder,
    project_predictor,
    project_reading,
)

OPSET = 18
CHECK_SIZE = (2, 72, 88)  # a check batch: frames, height, width (not multiples of 16)


def _onnx_export(net: torch.nn.Module, example: torch.Tensor, path: Path, dims: dict) -> None:
    """One network to ONNX, with the dynamic dimensions `dims` of its input (index: name)."""
    shapes = (
        {i: torch.export.Dim(name, min=1 if name == "n" else 16) for i, name in dims.items()},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals
        program = torch.onnx.export(
            net,
            (example,),
            dynamo=True,
            input_names=["input"],
            output_names=["output"],
            dynamic_shapes=shapes,
            opset_version=OPSET,
            verbose=False,
        )
    program.save(str(path))


def _check_generator(net: torch.nn.Module, path: Path) -> float:
    """The largest difference, in 0..255 levels, between PyTorch and ONNX Runtime on a seeded
    check batch of frames of an odd size."""
    from .restore import restore_float

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (*CHECK_SIZE, 3), dtype=np.uint8)
    ours = OnnxNet(path, {}, ["CPUExecutionProvider"])(frames)
    theirs = restore_float(net, frames, torch.device("cpu"))
    return float(np.abs(ours - theirs).max())


def export_onnx(
    method: str,
    out_dir: str | Path,
    project: Path | None,
    models_dir: str | Path | None = None,
    predictor: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Write the ONNX export of `method` into `out_dir`; returns its manifest."""
    out_dir = Path(out_dir)
    spec = get_method(method)
    paths = find_generators(method, Path(models_dir) if models_dir else None, project)
    if predictor is None and project is not None:
        predictor = project_predictor(project, spec.codec)
    out_dir.mkdir(parents=True, exist_ok=True)
    generators = {}
    cpu = torch.device("cpu")
    for quality, path in tqdm(sorted(paths.items()), desc="export", disable=not progress):
        net = load_generator(path, cpu)
        target = out_dir / f"q{quality}.onnx"
        example = torch.zeros(1, 3, 64, 64)
        _onnx_export(net, example, target, {0: "n", 2: "h", 3: "w"})
        generators[str(quality)] = {
            "file": target.name,
            "source": path.name,
            "source_digest": file_digest(path),
            "release": dict(net.release),
            "max_difference": round(_check_generator(net, target), 6),
        }
    manifest = {
        "method": method,
        "codec": spec.codec,
        "combine": combine_of(method),
        "opset": OPSET,
        "torch": torch.__version__,
        "generators": generators,
        "predictor": None,
        "ladder": None,
        "crf_reading": None,
    }
    if predictor is not None and Path(predictor).is_file():
        manifest["predictor"] = _export_predictor(Path(predictor), out_dir)
    manifest["ladder"] = _copy_ladder(method, project, generators, out_dir)
    if spec.codec == "h264":
        reading, reading_path = project_reading(project)
        if reading is not None:
            shutil.copyfile(reading_path, out_dir / "crf_reading.json")
            manifest["crf_reading"] = "crf_reading.json"
    write_manifest(out_dir, manifest)
    return manifest


def _export_predictor(path: Path, out_dir: Path) -> dict:
    """predictor.onnx and grid.onnx, and what the manifest says of them."""
    net = load_predictor(path, torch.device("cpu"))
    _onnx_export(net, torch.zeros(2, 3, 64, 64), out_dir / "predictor.onnx", {0: "n"})
    _onnx_export(GridSparsity(), torch.zeros(1, 1, 64, 64), out_dir / "grid.onnx", {2: "h", 3: "w"})
    check = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    session = _session(out_dir / "predictor.onnx", ["CPUExecutionProvider"])
    (ours,) = session.run(None, {session.get_inputs()[0].name: check.numpy()})
    with torch.inference_mode():
        theirs = net(check).numpy()
    return {
        "file": "predictor.onnx",
        "grid": "grid.onnx",
        "source": path.name,
        "source_digest": file_digest(path),
        "labels": list(net.labels),
        "temperature": float(net.temperature),
        "patch": 64,
        "count": 32,
        "max_difference": round(float(np.abs(ours - theirs).max()), 6),
    }


def _copy_ladder(method: str, project: Path | None, generators: dict, out_dir: Path) -> str | None:
    """The project's measured ladder of `method`, copied when it was measured for these very
    generators; else None (the method's rule decides)."""
    digests = {int(q): g["source_digest"] for q, g in generators.items()}
    _, path = project_ladder(method, project, digests)
    if path is None:
        return None
    shutil.copyfile(path, out_dir / "ladder.json")
    return "ladder.json"
