"""Restoring an archive on a Ray cluster: `artifact-removal restore ... --ray [ADDRESS]`.

The machine that runs the command plans the run exactly as a single process does (the inputs,
the output names, what an earlier run finished, the conflicts; `restore_files`), holds the
output folder's lock, and then hands each input to a Ray task: an image, or a whole video
(its segments are resumable, so a task that starts again keeps the finished ones). Every task
restores with the code of a single process (`one_file`), from the same options, so the
outputs are the same bytes; the results come back in the inputs' order, and the summary is a
single process's.

Workers read the inputs and the models and write the outputs by their paths: on one machine
that is nothing to arrange; on a real cluster the paths must be the same on every node (a
shared file system) and the package installed there. A task whose worker dies (`kill -9`, a
node lost) is run again by Ray (`RETRIES` times); outputs are written atomically, so a dead
worker leaves no half-written file, only a temporary one that the run removes at its end. A
run whose driver is killed is resumed by running the command again: finished outputs are
recognised by their records and skipped.

`ADDRESS`: none (`--ray` alone) starts a Ray instance on this machine, or joins the one that
RAY_ADDRESS names; `auto` joins a running local cluster (`ray start --head`); `ray://HOST:10001`
a remote one. Each task takes one CPU (and, when the cluster has GPUs and the device allows,
one GPU); PyTorch in a task uses the CPUs Ray gave it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from .choice import RestoreError
from .options import RestoreOptions
from .report import FAILED, FileResult

RETRIES = 3  # how many times Ray runs a task again after its worker died

_SETUPS: dict = {}  # per worker process: the setups of the runs it serves, loaded once


def _task(shared: tuple, item: tuple[Path, Path, dict, bool]) -> FileResult:
    """One input, on a worker: restored as a single process restores it. `shared`: the run's
    (options, kinds of input, project, quality override)."""
    from .one_file import Videos, restore_image_file, restore_video_file
    from .setups import setups_for
    from .video import is_video

    options, kinds, project, override = shared
    key = (options, kinds, project)
    if key not in _SETUPS:
        _share_cpus()
        _SETUPS.clear()  # another run's models: let them go
        _SETUPS[key] = setups_for(options, list(kinds), project)
    setups = _SETUPS[key]
    path, target, record, replace = item
    if is_video(path):
        videos = Videos(options.video, options.segment_frames, options.batch)
        return restore_video_file(setups["video"].ensemble, path, target, record, replace,
                                  override, options.tile, options.overlap, videos, False,
                                  options.restore_uncompressed)  # fmt: skip
    return restore_image_file(setups["image"].ensemble, path, target, record, replace,
                              override, options)  # fmt: skip


def _share_cpus() -> None:
    """PyTorch in this worker uses the CPUs Ray assigned to the task, not every core."""
    import ray

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    try:
        import torch

        torch.set_num_threads(max(1, int(cpus)))
    except ImportError:  # the onnxruntime backend needs no torch
        pass
    os.environ["OMP_NUM_THREADS"] = str(max(1, int(cpus)))


def connect(address: str) -> None:
    """Join (or start) the Ray cluster `address` names, unless this process already has."""
    try:
        import ray
    except ImportError:
        raise RestoreError(
            "--ray needs Ray: pip install -r requirements-ray.txt (or pip install .[ray])"
        ) from None
    if ray.is_initialized():
        return
    try:
        ray.init(
            address=address or None,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="WARNING",
        )
    except (ConnectionError, ValueError, RuntimeError) as err:
        raise RestoreError(f"--ray {address}: cannot reach a Ray cluster ({err})") from None


def restore_on_ray(
    todo: Sequence[tuple[Path, Path, dict, bool]],
    options: RestoreOptions,
    kinds: Sequence[str],
    project: Path | None,
    override: int | None,
    finish: Callable[[FileResult], None],
) -> None:
    """Restore every (input, output, record, replace) of `todo` in Ray tasks; `finish(result)`
    for each, in order."""
    import ray

    connect(options.ray)
    gpus = ray.cluster_resources().get("GPU", 0)
    use_gpu = gpus > 0 and options.device != "cpu" and options.backend == "torch"
    remote = ray.remote(_task).options(
        num_cpus=1, num_gpus=1 if use_gpu else 0, max_retries=RETRIES, retry_exceptions=False
    )
    shared = ray.put((options, tuple(kinds), project, override))
    refs = [remote.remote(shared, item) for item in todo]  # Ray passes `shared` by reference
    for item, ref in zip(todo, refs, strict=True):  # in order; `finish` moves the progress bar
        finish(_result(ray, ref, item))


def _result(ray, ref, item) -> FileResult:
    """A task's result; an error of the whole run (RestoreError) goes up as it is, a worker
    that died more than `RETRIES` times fails its file, with why."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        cause = err.as_instanceof_cause()
        if isinstance(cause, RestoreError):
            raise RestoreError(str(err.cause)) from None
        raise
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as err:
        return FileResult(
            item[0],
            status=FAILED,
            error=f"its Ray worker died {RETRIES + 1} times ({err.__class__.__name__}); "
            "run the command again to restore it",
        )
