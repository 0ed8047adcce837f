"""Checkpoints and release files: written atomically, loaded safely, identified by their inputs.

- `save_atomic` writes to a temporary file of a unique name in the same folder, syncs it and
  renames it over the target: a reader sees the old file or the new one, never half of one,
  and two writers never share a temporary file.
- `load_checkpoint` loads with `weights_only=True` (no pickled code runs) and turns every way a
  file can be damaged into one `CheckpointError` that names the file.
- `fingerprint` and `code_fingerprint` identify a run's inputs, so that a checkpoint is
  resumed only by a run with the same parameters, data and code.
"""

from __future__ import annotations

import ast
import hashlib
import json
import pickle
import zipfile
from collections.abc import Iterable
from pathlib import Path

from .fileio import write_atomic

PACKAGE = Path(__file__).resolve().parent


# The layout of checkpoint and release files. A file of a higher format comes from a newer
# version of this package and is refused with that reason, not misread.
FORMAT = 1


class CheckpointError(RuntimeError):
    """A checkpoint or release file that cannot be read or is not what it should be."""


def save_atomic(obj: object, path: Path) -> None:
    """torch.save through `fileio.write_atomic` (a unique temporary file, fsync, rename)."""
    import torch  # here: fingerprints and errors are read where torch is not installed

    write_atomic(path, lambda f: torch.save(obj, f))


def load_weights(path: Path) -> object:
    """Any PyTorch file (this project's, or a pretrained state dict) loaded with
    weights_only=True (no pickled code runs); every way a file can be damaged is one
    `CheckpointError`, one line, naming the file."""
    import torch

    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file") from None
    except (
        RuntimeError,
        EOFError,
        OSError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
    ) as err:
        problem = str(err).splitlines()[0][:160] if str(err) else err.__class__.__name__
        raise CheckpointError(
            f"{path}: truncated, damaged or not a PyTorch file ({problem}); delete it, or "
            "train or fetch it again"
        ) from None


def load_checkpoint(path: Path, needs: str = "model") -> dict:
    """A checkpoint or release file of this project (`load_weights`), checked: a dict with
    `needs` (default: the weights), of a file format this version reads."""
    checkpoint = load_weights(path)
    if not isinstance(checkpoint, dict) or needs not in checkpoint:
        raise CheckpointError(f"{path}: not a file of this project (no {needs!r} entry)")
    written = checkpoint.get("format", 1)
    if not isinstance(written, int) or written > FORMAT:
        raise CheckpointError(
            f"{path}: written by a newer version of artifact-removal (file format {written}; "
            f"this version reads format {FORMAT} and older): upgrade the package"
        )
    return checkpoint


def fingerprint(value: object) -> str:
    """A short, stable hash of plain data (dicts, lists, numbers, strings)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def files_fingerprint(paths: Iterable[Path], root: Path) -> str:
    """A hash of files' names (relative to `root`) and contents, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def module_path(module: str) -> Path:
    """The source file of a module of this package ('training.gan' -> .../training/gan.py)."""
    base = PACKAGE.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def imported_modules(path: Path) -> set[str]:
    """Modules of this package that the file imports anywhere (also inside functions), and
    the packages they are in (whose `__init__` runs first), as dotted names below the package."""
    here = list(path.relative_to(PACKAGE).parts[:-1])  # the package the file is in
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [[*target, alias.name] for alias in node.names]
            elif node.module and node.module.split(".")[0] == PACKAGE.name:
                target = node.module.split(".")[1:]
                names = [[*target, alias.name] for alias in node.names]
            else:
                continue
            for name in [target, *names]:
                found |= _existing(name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE.name:
                    found |= _existing(alias.name.split(".")[1:])
    return found


def _existing(parts: list[str]) -> set[str]:
    """The module `parts` names and its parent packages, those that exist as files."""
    out = set()
    for i in range(len(parts) + 1):
        name = ".".join(parts[:i])
        if not name:
            continue
        path = PACKAGE.joinpath(*parts[:i])
        if path.is_dir() or path.with_suffix(".py").is_file():
            out.add(name)
    return out


def import_closure(module: str) -> list[Path]:
    """Every source file of this package that importing `module` can run, `module` included,
    with the package's own `__init__.py` (which registers the methods)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += sorted(imported_modules(module_path(name)) - seen)
    return sorted({module_path(name) for name in seen} | {PACKAGE / "__init__.py"})


# Modules that read and validate parameters and name the methods (a file, or a package
# ending in /): the values they produce are in a run's identity already (its parsed
# settings), so their source is not.
PARAMS_MODULES = ("__init__.py", "config.py", "config/", "methods/")


def _is_params_module(path: Path) -> bool:
    name = path.relative_to(PACKAGE).as_posix()
    return any(name == m or (m.endswith("/") and name.startswith(m)) for m in PARAMS_MODULES)


def code_files(*modules: str) -> list[Path]:
    """The source files a run's code fingerprint covers: `modules` and everything of this
    package they import, but the parameter modules."""
    closure = {p for module in modules for p in import_closure(module)}
    return sorted(p for p in closure if not _is_params_module(p))


def code_fingerprint(*modules: str) -> str:
    """A hash of the source of `modules` and of everything of this package they import, but
    the parameter modules (adding a method to the registry does not restart other methods'
    runs)."""
    return files_fingerprint(code_files(*modules), PACKAGE)
