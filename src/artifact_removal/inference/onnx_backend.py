"""Restoring with an ONNX export (`inference.export`) through ONNX Runtime: no torch at run time.

An export folder holds one method's per-QF generators (`q<QF>.onnx`, any height and width,
frames in batches), its QF (or CRF) predictor (`predictor.onnx`) with the 8x8 DCT layer that
finds an image's block grid (`grid.onnx`), the project's measured ladder and CRF reading
when there are some, and `manifest.json`, which says what each file is and holds every file's
sha256: a folder whose files are not the ones its manifest describes (changed by hand, or
left half-rewritten by an export that was killed) is refused before anything is restored.
`OnnxEnsemble` is the
ensemble of `inference.ensemble` with its four network methods run by ONNX Runtime, so the
choice of generators, the tiles, the outputs and their records are the very code of the
PyTorch backend: `restore --backend onnxruntime --models DIR`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..degradations.codecs import codec_of
from ..fileio import sha256, write_json
from .choice import RestoreError
from .crf_reading import QPFit, ReadingError
from .ensemble import Ensemble
from .ladder import Ladder, LadderError
from .qf_answer import (
    GENTLE_TAIL,
    QFPrediction,
    as_rgb,
    gentle_answer,
    grid_crop,
    grid_phase,
    predictor_patches,
)
from .tiles import Restorer, weighted

MANIFEST = "manifest.json"
FORMAT = 3  # 2: every file's sha256; 3: networks take and give [0, 1]. Others are refused
WRITER = "artifact-removal export"  # the manifest's `written_by`: an export folder is ours
PROVIDERS = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider"]}


def open_session(path: Path, providers: list[str]):
    """An ONNX Runtime session of one file; a missing runtime or a damaged file is a
    RestoreError naming it."""
    try:
        import onnxruntime
    except ImportError:
        raise RestoreError(
            "the onnxruntime backend needs the onnxruntime package: pip install onnxruntime"
        ) from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    # as many threads as the process may use (a Ray task: its CPUs), else every core
    options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=providers)
    except Exception as err:  # onnxruntime raises its own kinds for every way a file is bad
        raise RestoreError(f"{path}: not a readable ONNX model ({str(err)[:160]})") from None


def providers_for(device: str) -> list[str]:
    """ONNX Runtime's execution providers for `device` (auto: CUDA when the runtime has it)."""
    try:
        import onnxruntime

        available = onnxruntime.get_available_providers()
    except ImportError:
        available = ["CPUExecutionProvider"]
    if device == "auto":
        return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    kind, _, index = device.partition(":")
    if kind not in PROVIDERS or PROVIDERS[kind][0] not in available:
        raise RestoreError(
            f"device {device!r}: ONNX Runtime here has {', '.join(available)} (cpu, or cuda "
            "with onnxruntime-gpu)"
        )
    if kind == "cuda" and index:
        return [("CUDAExecutionProvider", {"device_id": int(index)})]
    return PROVIDERS[kind]


def _run(session, feed: dict) -> list:
    """`session.run`; ONNX Runtime's own errors (out of memory, a shape it cannot take) as a
    RuntimeError, which fails the one file, as PyTorch's do."""
    try:
        return session.run(None, feed)
    except Exception as err:
        raise RuntimeError(f"ONNX Runtime: {str(err)[:200]}") from None


class OnnxNet:
    """A generator's ONNX session: (H, W, 3) or (N, H, W, 3) uint8 -> float32 in [0, 255], as
    `inference.torch_backend.restore_float` gives it. `release` is what the manifest says of it."""

    def __init__(self, path: Path, release: dict, providers: list[str]):
        self.session = open_session(path, providers)
        self.input = self.session.get_inputs()[0].name
        self.release = release

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        batch = rgb if rgb.ndim == 4 else rgb[None]
        x = batch.transpose(0, 3, 1, 2).astype(np.float32) / 255
        (y,) = _run(self.session, {self.input: np.ascontiguousarray(x)})  # [0, 1], as torch's
        y = np.clip(y * 255, 0, 255).transpose(0, 2, 3, 1)
        return y if rgb.ndim == 4 else y[0]


class OnnxPredictor:
    """The QF (or CRF) predictor's session, its labels and calibration temperature, and the
    session of its block-grid layer."""

    def __init__(self, folder: Path, entry: dict, providers: list[str]):
        self.session = open_session(folder / entry["file"], providers)
        self.grid = open_session(folder / entry["grid"], providers)
        self.labels = tuple(entry["labels"])
        self.temperature = float(entry["temperature"])
        self.patch, self.count = int(entry.get("patch", 64)), int(entry.get("count", 32))

    def offset(self, image: np.ndarray) -> tuple[int, int]:
        """Where the image's 8x8 block grid starts (`inference.qf.grid_offset`)."""
        crop = grid_crop(image)
        if crop is None:
            return 0, 0
        (sparsity,) = _run(self.grid, {self.grid.get_inputs()[0].name: crop[None, None]})
        return grid_phase(sparsity)

    def predict(self, image: np.ndarray, higher_is_gentler: bool = True) -> QFPrediction:
        """`inference.qf.predict`, on ONNX Runtime."""
        patches, offset = predictor_patches(
            image, self.offset(as_rgb(image)), self.patch, self.count
        )
        x = patches.transpose(0, 3, 1, 2).astype(np.float32) / 255
        (logits,) = _run(self.session, {self.session.get_inputs()[0].name: x})
        log_p = _log_softmax(logits.astype(np.float64), axis=1).mean(axis=0)
        scaled = log_p / self.temperature
        probabilities = np.exp(scaled - scaled.max())
        probabilities /= probabilities.sum()
        named = {q: float(p) for q, p in zip(self.labels, probabilities, strict=True)}
        return QFPrediction(gentle_answer(named, GENTLE_TAIL, higher_is_gentler), named, offset)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class OnnxEnsemble(Ensemble):
    """The ensemble of an export folder, run by ONNX Runtime (`providers`)."""

    def __init__(self, manifest: dict, folder: Path, providers: list[str], **ensemble):
        names = [p if isinstance(p, str) else p[0] for p in providers]
        super().__init__(device="onnxruntime " + ",".join(names), **ensemble)
        self.manifest, self.folder, self.providers = manifest, folder, providers
        self._by_file = {g["file"]: g for g in manifest["generators"].values()}

    def load_net(self, path: Path) -> OnnxNet:
        entry = self._by_file[Path(path).name]
        return OnnxNet(path, entry.get("release", {}), self.providers)

    def load_predictor(self, path: Path) -> OnnxPredictor:
        return OnnxPredictor(self.folder, self.manifest["predictor"], self.providers)

    def predict(self, predictor: OnnxPredictor, pixels: np.ndarray) -> QFPrediction:
        return predictor.predict(pixels, higher_is_gentler=codec_of(self.codec).higher_is_gentler)

    def blend(self, nets: list, weights: list[float]) -> Restorer:
        return weighted(lambda net, rgb: net(rgb), nets, weights)


def read_manifest(folder: Path) -> dict:
    """An export folder's manifest, checked: its format, its method, its generators' QFs, and
    every file it names present with the sha256 it was exported with."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise RestoreError(
            f"{folder}: no {MANIFEST}; the onnxruntime backend restores from a folder that "
            "`artifact-removal export --format onnx -o DIR` wrote (give it with --models DIR)"
        )
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict):
            raise TypeError("not a JSON object")
        if manifest.get("format", 0) != FORMAT:
            raise RestoreError(_format_problem(path, manifest.get("format", 0)))
        files = manifest_files(manifest)
        digests, method, codec = dict(manifest["files"]), manifest["method"], manifest["codec"]
        files += sorted(set(digests) - set(files))  # every file whose digest it holds
        qualities = [_quality(q) for q in manifest["generators"]]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        reason = err if isinstance(err, ValueError) else repr(err)
        raise RestoreError(f"{path}: not an export manifest ({reason})") from None

    _check_method(path, method, codec)
    if not qualities:
        raise RestoreError(f"{path}: no generators in the export of {method}")
    missing = [f for f in files if not (Path(folder) / f).is_file()]
    if missing:
        raise RestoreError(f"{folder}: the manifest names files that are not there: {missing}")
    changed = [f for f in files if digests.get(f) != sha256(Path(folder) / f)]
    if changed:
        raise RestoreError(
            f"{folder}: {', '.join(changed)}: not the file(s) its manifest describes (changed "
            "after the export, or left by an export that was interrupted); export again"
        )
    return manifest


def manifest_files(manifest: dict) -> list[str]:
    """The files a manifest describes by their part (generators, predictor and its grid,
    ladder, CRF reading), in that order; KeyError or TypeError for a manifest without them."""
    files = [g["file"] for g in manifest["generators"].values()]
    if manifest.get("predictor"):
        files += [manifest["predictor"]["file"], manifest["predictor"]["grid"]]
    files += [manifest[key] for key in ("ladder", "crf_reading") if manifest.get(key)]
    if not all(isinstance(f, str) and f == Path(f).name for f in files):
        raise TypeError("file names must be names of files in the folder")
    return files


def _quality(key: str) -> int:
    """A generator's QF (or CRF) from its manifest key: a whole number from 1 to 100."""
    if not (isinstance(key, str) and key.isdigit() and 1 <= int(key) <= 100):
        raise ValueError(f"generator key {key!r} is not a QF from 1 to 100")
    return int(key)


def _format_problem(path: Path, found) -> str:
    """Why a manifest of another layout is refused."""
    if isinstance(found, int) and found > FORMAT:
        return f"{path}: written by a newer version (format {found}); update artifact-removal"
    return (
        f"{path}: written by an older version (format {found}), which this version does not "
        "read (its generators took [-1, 1], or its manifest held no digests): export the "
        "method again"
    )


def _check_method(path: Path, method, codec) -> None:
    """The manifest's method is a registered one, of the codec it says."""
    from ..config import ConfigError
    from ..methods import get as get_method

    try:
        spec = get_method(method)
    except (ConfigError, TypeError):
        raise RestoreError(
            f"{path}: exported from method {method!r}, which this version does not know "
            "(`artifact-removal methods` lists them); export it again with this version"
        ) from None
    if spec.codec != codec:
        raise RestoreError(f"{path}: {method} restores {spec.codec}, not {codec!r}")


def onnx_ensemble(folder: Path, providers: list[str]) -> tuple[OnnxEnsemble, dict]:
    """The ensemble of an export folder and its manifest."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    paths = {int(q): folder / g["file"] for q, g in manifest["generators"].items()}
    ladder = reading = None
    if manifest.get("ladder"):
        try:
            ladder = Ladder.load(folder / manifest["ladder"])
        except LadderError as err:
            raise RestoreError(str(err)) from None
        sources = {int(q): g["source_digest"] for q, g in manifest["generators"].items()}
        ladder = ladder if ladder.levels and ladder.matches(sources) else None
    if manifest.get("crf_reading"):
        try:
            reading = QPFit.load(folder / manifest["crf_reading"])
        except ReadingError as err:
            raise RestoreError(str(err)) from None
    predictor = folder / manifest["predictor"]["file"] if manifest.get("predictor") else None
    ensemble = OnnxEnsemble(
        manifest,
        folder,
        providers,
        paths=paths,
        combine=manifest["combine"],
        predictor=predictor,
        codec=manifest["codec"],
        ladder=ladder,
        reading=reading,
    )
    return ensemble, manifest


def write_manifest(folder: Path, manifest: dict) -> dict:
    """`manifest.json`, atomically, with the sha256 of every other file in `folder`; returns
    what it wrote."""
    folder = Path(folder)
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST)
    written = {"format": FORMAT, "written_by": WRITER, **manifest}
    written["files"] = {name: sha256(folder / name) for name in files}
    write_json(folder / MANIFEST, written)
    return written


def is_export(folder: Path) -> bool:
    """Whether `folder` holds a manifest that an export wrote (any format of it)."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict):
        return False
    if manifest.get("written_by") == WRITER:
        return True
    return {"format", "method", "codec", "opset", "generators"} <= manifest.keys()  # format 1
