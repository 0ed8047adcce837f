"""Exporting a method's generators and predictor to ONNX: `artifact-removal export --method M
--format onnx -o DIR`.

Each per-QF generator becomes `q<QF>.onnx` with a dynamic batch, height and width (torch's
`torch.export`-based exporter); the QF (or CRF) predictor becomes `predictor.onnx` and the DCT
layer that finds the block grid `grid.onnx`. The project's measured ladder and CRF reading are
copied when they belong to these generators. `manifest.json` says what each file is, the
release fields of each generator (its loss, QF), for each export the largest difference from
PyTorch on a check input, and every file's sha256. `inference.onnx_backend` restores from the
folder without torch.

An export is built in a hidden folder beside its target (`.NAME.XXXXXXXX.export`) and put in
place whole when it is finished: a run that fails or is killed leaves the folder as it was
(the earlier export, or nothing), and an export never mixes with an earlier one's files. The
target must be new, empty, or an earlier export (`onnx_backend.is_export`) holding only its
own files; a folder of anything else is refused, as `restore` refuses to replace files it did
not write.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..degradations.codecs import codec_of
from ..methods import combine_of
from ..methods import get as get_method
from .choice import RestoreError
from .onnx_backend import (
    MANIFEST,
    OnnxNet,
    is_export,
    manifest_files,
    open_session,
    write_manifest,
)
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
BUILDING = ".export"  # the suffix of the hidden folder an export is built in
SYSTEM_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}  # what file browsers leave in a folder


class ExportError(RestoreError):
    """An export that cannot be written where it was asked, with why; nothing was changed."""


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
    from .torch_backend import restore_float

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
    """Write the ONNX export of `method` into `out_dir` (see the module docstring); returns
    its manifest."""
    out_dir = Path(out_dir)
    spec = get_method(method)
    paths = find_generators(method, Path(models_dir) if models_dir else None, project)
    if predictor is None and project is not None:
        predictor = project_predictor(project, spec.codec)
    check_target(out_dir)
    with building(out_dir) as folder:
        generators = {}
        with tqdm(total=len(paths), desc="export", disable=not progress) as bar:
            for quality, path in sorted(paths.items()):
                generators[str(quality)] = _export_generator(path, folder / f"q{quality}.onnx")
                bar.update(1)
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
            manifest["predictor"] = _export_predictor(Path(predictor), folder)
        manifest["ladder"] = _copy_ladder(method, project, generators, folder)
        if codec_of(spec.codec).video:
            reading, reading_path = project_reading(project)
            if reading is not None:
                shutil.copyfile(reading_path, folder / "crf_reading.json")
                manifest["crf_reading"] = "crf_reading.json"
        written = write_manifest(folder, manifest)
    return written


def _export_generator(path: Path, target: Path) -> dict:
    """One release file as `target` (ONNX), and what the manifest says of it."""
    net = load_generator(path, torch.device("cpu"))
    _onnx_export(net, torch.zeros(1, 3, 64, 64), target, {0: "n", 2: "h", 3: "w"})
    return {
        "file": target.name,
        "source": path.name,
        "source_digest": file_digest(path),
        "release": dict(net.release),
        "max_difference": round(_check_generator(net, target), 6),
    }


def check_target(out_dir: Path) -> None:
    """Refuse an export folder that is not new, empty or an earlier export holding only its
    own files (ExportError), before anything is written."""
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise ExportError(f"{out_dir} is a file; -o names the folder to write the export into")
    if not out_dir.is_dir():
        return
    try:
        names = sorted(p.name for p in out_dir.iterdir() if p.name not in SYSTEM_FILES)
    except OSError as err:
        raise ExportError(f"cannot read the folder {out_dir} ({err.strerror})") from None
    if not names:
        return
    if not is_export(out_dir):
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise ExportError(
            f"{out_dir} holds files that an export did not write ({shown}); nothing was "
            "changed: choose a new or empty folder (-o)"
        )
    own = _named_files(out_dir)
    foreign = [n for n in names if n not in own]
    if foreign:
        raise ExportError(
            f"{out_dir} holds an earlier export and other files ({', '.join(foreign[:5])}), "
            "which replacing it would delete; nothing was changed: move them, or choose "
            "another folder (-o)"
        )


def _named_files(folder: Path) -> set[str]:
    """The files an earlier export's manifest names (by their part, or by their digest), with
    the manifest itself; only the manifest when it names none it can be trusted with."""
    import json

    manifest = json.loads((folder / MANIFEST).read_text())
    try:
        named = set(manifest_files(manifest))
    except (KeyError, TypeError, AttributeError):
        named = set()
    files = manifest.get("files")
    named |= {n for n in files if isinstance(n, str)} if isinstance(files, dict) else set()
    return {MANIFEST} | {n for n in named if n == Path(n).name}


@contextmanager
def building(out_dir: Path) -> Iterator[Path]:
    """A hidden folder beside `out_dir` (its real place, when it is a symbolic link) to build
    an export in: checked again and put in place of `out_dir` when the block ends, removed
    when it fails. It gets the permissions of the folder it replaces, or those a new folder
    gets."""
    target = Path(os.path.realpath(out_dir))
    parent = target.parent
    above = next((p for p in (parent, *parent.parents) if os.path.lexists(p)), parent)
    if not above.is_dir():
        raise ExportError(f"cannot write the export {out_dir}: {above} is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(parent, target.name)
        folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=BUILDING, dir=parent))
        os.chmod(folder, _mode_for(target))
    except OSError as err:
        raise ExportError(
            f"cannot write the export {out_dir}: {err.filename or parent}: {err.strerror}"
        ) from None
    held = _hold(folder)
    try:
        yield folder
        check_target(target)  # what came into the folder while the export was built
        _put_in_place(folder, target)
    except OSError as err:  # a full disk, a permission: said of the export, not its hidden folder
        name = Path(err.filename).name if err.filename else out_dir.name
        raise ExportError(
            f"the export {out_dir} was not written ({name}: {err.strerror}); nothing was changed"
        ) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # gone already when it was put in place
        os.close(held)


def _mode_for(target: Path) -> int:
    """The permissions of the folder an export replaces, or those `mkdir` would give."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o777 & ~mask


def _hold(folder: Path) -> int:
    """An exclusive lock on a folder being built (released when the process ends, however it
    ends): a later export removes only the folders nobody holds."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _remove_abandoned(parent: Path, name: str) -> None:
    """Remove the folders that killed exports of `name` left in `parent` (no process holds
    them)."""
    pattern = re.compile(rf"^\.{re.escape(name)}\.[a-z0-9_]{{8}}{re.escape(BUILDING)}$")
    for entry in os.scandir(parent):
        if not (pattern.match(entry.name) and entry.is_dir(follow_symlinks=False)):
            continue
        try:
            fd = _hold(Path(entry.path))
        except OSError:  # another export is building it now
            continue
        try:
            shutil.rmtree(entry.path, ignore_errors=True)
        finally:
            os.close(fd)


def _put_in_place(folder: Path, target: Path) -> None:
    """Rename a finished export to `target`; an earlier export there is moved aside first
    (and back, if the new one cannot take its place) and removed after: a reader sees the old
    export or the new one, or for an instant neither, never a mix."""
    if not target.is_dir():
        os.rename(folder, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=BUILDING, dir=target.parent))
    os.rename(target, old)  # replaces the empty folder just made
    held = _hold(old)  # no other export takes it for an abandoned one
    try:
        os.rename(folder, target)
    except OSError:
        os.rename(old, target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
        os.close(held)


def _export_predictor(path: Path, out_dir: Path) -> dict:
    """predictor.onnx and grid.onnx, and what the manifest says of them."""
    net = load_predictor(path, torch.device("cpu"))
    _onnx_export(net, torch.zeros(2, 3, 64, 64), out_dir / "predictor.onnx", {0: "n"})
    _onnx_export(GridSparsity(), torch.zeros(1, 1, 64, 64), out_dir / "grid.onnx", {2: "h", 3: "w"})
    check = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    session = open_session(out_dir / "predictor.onnx", ["CPUExecutionProvider"])
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
