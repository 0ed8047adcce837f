"""Restoring an archive on a Ray cluster: `artifact-removal restore ... --ray [ADDRESS]`.

The machine that runs the command plans the run exactly as a single process does (the inputs,
the output names, what an earlier run finished, the conflicts; `restore_files`), holds the
output folder's lock, and then hands the inputs to Ray tasks: a task per image, and a task
per segment of each video to restore (`--segment-frames` frames; the last task takes the rest
of the stream), whose finished segments the driver then joins with the sound, as a single
process does (`video.write_segments`, `video.join_segments`). A video left as it is (better
than the generators were trained for), or that cannot be read, goes whole to one task. Every
task restores with the code of a single process (`one_image`, `one_video`), from the same
options, so the outputs are the same bytes; the results come back in the inputs' order, and
the summary is a single process's.

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

import dataclasses
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..inference.choice import RestoreError
from .kinds import is_video
from .options import RestoreOptions, pixel_limit
from .report import DONE, FAILED, FileResult

RETRIES = 3  # how many times Ray runs a task again after its worker died

_SETUPS: dict = {}  # per worker process: the setups of the runs it serves, loaded once


def _task(shared: tuple, item: tuple[Path, Path, dict, bool]) -> FileResult:
    """One input, on a worker: restored as a single process restores it. `shared`: the run's
    (options, kinds of input, project, quality override)."""
    from .one_image import restore_image_file
    from .one_video import Videos, restore_video_file
    from .records import finished

    options, kinds, project, override = shared
    setups = _setups(options, kinds, project)
    path, target, record, replace = item
    if not replace and finished(target, record):  # a retry after the write, before the return
        return FileResult(path, target, status=DONE)
    if is_video(path):
        videos = Videos(options.video, options.segment_frames, options.batch)
        return restore_video_file(setups["video"].ensemble, path, target, record, replace,
                                  override, options.tile, options.overlap, videos, False,
                                  options.restore_uncompressed)  # fmt: skip
    return restore_image_file(setups["image"].ensemble, path, target, record, replace,
                              override, options)  # fmt: skip


def _setups(options: RestoreOptions, kinds: tuple[str, ...], project: Path | None) -> dict:
    """The run's setups in this worker process, made once (`setups.setups_for`), with
    Pillow's pixel limit and the threads set as the driver's."""
    from PIL import Image

    from ..inference.setups import setups_for

    key = (options, kinds, project)
    if key not in _SETUPS:
        _share_cpus()
        Image.MAX_IMAGE_PIXELS = pixel_limit(options.max_megapixels)
        _SETUPS.clear()  # another run's models: let them go
        _SETUPS[key] = setups_for(options, list(kinds), project)
    return _SETUPS[key]


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
    _client_token_mode(address)  # before Ray is imported: it reads the mode then
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
        hint = (
            "; a cluster with token authentication needs its token here too (RAY_AUTH_TOKEN, "
            "or the file ~/.ray/auth_token)"
            if address.startswith("ray://")
            else ""
        )
        raise RestoreError(f"--ray {address}: cannot reach a Ray cluster ({err}){hint}") from None


def _client_token_mode(address: str) -> None:
    """Ray turns token authentication on for `ray start` and a local `ray.init()` when a token
    exists (Ray 2.52 and later), but a Ray Client (`ray://`) sends the token only when
    RAY_AUTH_MODE says `token`: say it, where a token is at hand and the mode is not set."""
    if not address.startswith("ray://") or "RAY_AUTH_MODE" in os.environ:
        return
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or path.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def restore_on_ray(
    todo: Sequence[tuple[Path, Path, dict, bool]],
    setups: dict,
    options: RestoreOptions,
    project: Path | None,
    override: int | None,
    finish: Callable[[FileResult], None],
) -> None:
    """Restore every (input, output, record, replace) of `todo` in Ray tasks; `finish(result)`
    for each, in order. `setups` are the driver's (`setups.setups_for`): it reads each video's
    quality to cut it into segment tasks."""
    connect(options.ray)
    import ray

    gpus = ray.cluster_resources().get("GPU", 0)
    use_gpu = gpus > 0 and options.device != "cpu" and options.backend == "torch"
    resources = {"num_cpus": 1, "num_gpus": 1 if use_gpu else 0, "max_retries": RETRIES,
                 "retry_exceptions": False}  # fmt: skip
    whole = ray.remote(_task).options(**resources)
    part = ray.remote(_segment_task).options(**resources)
    # workers start in folders of their own: every path they read or write is absolute
    options = dataclasses.replace(
        options,
        models_dir=_absolute(options.models_dir),
        predictor=_absolute(options.predictor),
    )
    shared = ray.put((options, tuple(sorted(setups)), _absolute(project), override))
    pending, refs = [], []
    for item in todo:
        job = _video_job(setups, options, override, item) if is_video(item[0]) else None
        path, target, record, replace = item
        if job is None:
            pending.append(whole.remote(shared, (path.absolute(), target.absolute(), record,
                                                 replace)))  # fmt: skip
            refs.append(pending[-1])
        else:
            spec = ray.put((path.absolute(), job.parts.absolute(), job.manifest,
                            job.result.choice.generators, job.info, job.output))  # fmt: skip
            job.refs = [part.remote(shared, spec, first, count) for first, count in job.ranges]
            pending.append(job)
            refs += job.refs
    try:
        for item, waiting in zip(todo, pending, strict=True):  # in order; `finish` moves the bar
            if isinstance(waiting, VideoJob):
                finish(_join_video(ray, waiting, options))
            else:
                finish(_result(ray, waiting, item))
    except BaseException:  # an error that stops the run, or Ctrl-C: no task goes on writing
        for ref in refs:
            ray.cancel(ref, force=True)
        raise


def _absolute(path):
    """`path` made absolute (None stays None)."""
    return None if path is None else Path(path).absolute()


@dataclass
class VideoJob:
    """A video cut into segment tasks: its result so far, what it holds, its segments'
    folder and manifest, the (first segment, count) of each task, their references."""

    item: tuple[Path, Path, dict, bool]
    result: FileResult
    info: object
    parts: Path
    manifest: dict
    reused: int
    ranges: list[tuple[int, int | None]]
    output: object = None  # its encoding (`VideoOutput.for_input`)
    refs: list = field(default_factory=list)
    start: float = field(default_factory=time.perf_counter)


def _video_job(setups: dict, options: RestoreOptions, override, item) -> VideoJob | None:
    """The segment tasks of a video to restore; None for one to copy as it is, or that cannot
    be read (one task does it whole, and says why as a single process would)."""
    from .one_video import choose_video, input_crf
    from .video import finished_parts, finished_prefix, parts_folder, video_manifest
    from .video_mux import check_carried
    from .video_probe import VideoError

    path, target, record, _ = item
    result = FileResult(path)
    try:
        info = choose_video(setups["video"].ensemble, path, override,
                            options.restore_uncompressed, result)  # fmt: skip
    except Exception:  # the task that restores it whole reports it
        return None
    if result.choice.passed_through:
        return None
    try:
        check_carried(path, target)  # a stream the output cannot hold: refused before the work
    except VideoError:
        return None  # the task that restores it whole refuses it, as a single process does
    size = options.segment_frames
    output = options.video.for_input(input_crf(setups["video"].ensemble, path, result.choice))
    manifest = video_manifest(record, output, size, info)
    parts = parts_folder(target)
    reused = finished_prefix(finished_parts(parts, manifest))
    count = max(-(-info.frames // size), reused + 1) if info.frames else reused + 1
    ranges = [(k, 1) for k in range(reused, count - 1)] + [(count - 1, None)]
    return VideoJob(item, result, info, parts, manifest, reused, ranges, output)


def _segment_task(shared: tuple, spec: tuple, first: int, count: int | None):
    """Segments `first`.. of a video, on a worker (`video.write_segments`)."""
    from .one_video import frame_restorer
    from .video import write_segments

    options, kinds, project, _ = shared
    source, parts, manifest, generators, info, output = spec
    ensemble = _setups(options, kinds, project)["video"].ensemble
    restore_frames = frame_restorer(ensemble, generators, options.tile, options.overlap)
    return write_segments(source, parts, manifest, restore_frames, output, options.batch,
                          info, first, count)  # fmt: skip


def _join_video(ray, job: VideoJob, options: RestoreOptions) -> FileResult:
    """Wait for a video's segment tasks, then join the segments and the sound into its
    output, with the notes a single process writes."""
    from .one_video import video_notes
    from .report import mark_failed
    from .video import join_segments
    from .video_probe import VideoError

    path, target, record, replace = job.item
    result = job.result
    try:
        done = [_value(ray, ref) for ref in job.refs]
        last = done[-1]  # it decoded the stream from its start to its end
        frames = join_segments(path, target, job.parts, job.manifest, record, replace,
                               job.info, last.decoded, last.last_time)  # fmt: skip
    except _RayFailure as err:  # the finished segments stay for a rerun
        result.error, result.status = str(err), FAILED
        return result
    except Exception as err:
        if isinstance(err, VideoError):  # the input cannot be decoded on: start over
            shutil.rmtree(job.parts, ignore_errors=True)
        mark_failed(result, err, target)
        return result
    restored = sum(d.restored for d in done)
    seconds = time.perf_counter() - job.start
    segments = -(-frames // options.segment_frames)
    reused = (
        f", {job.reused} of {segments} segments kept from an interrupted run" if job.reused else ""
    )
    speed = f", {restored / seconds:.2f} frames/s" if restored else ""
    result.output = target
    result.notes = (
        f"video, {frames} frames{speed}{reused}",
        *video_notes(job.info, job.output),
    )
    return result


def _result(ray, ref, item) -> FileResult:
    """A task's result, said of the input as the command named it; an error that stops the
    run goes up as it was raised in the task (as it would in one process); a worker that
    died more than `RETRIES` times, or another failure of Ray itself, fails the file, with
    why."""
    try:
        result = _value(ray, ref)
    except _RayFailure as err:
        return FileResult(item[0], status=FAILED, error=str(err))
    result.source = item[0]  # the task had absolute paths
    if result.output is not None:
        result.output = item[1]
    return result


class _RayFailure(RuntimeError):
    """Ray could not run a task to its end (its worker died too often, its node was lost, it
    ran out of memory)."""


def _value(ray, ref):
    """A task's value, or the error that stopped it as it was raised, or `_RayFailure`."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        raise err.cause from None
    except ray.exceptions.RayError as err:  # worker or node lost, out of memory, ...
        died = isinstance(err, ray.exceptions.WorkerCrashedError | ray.exceptions.NodeDiedError)
        raise _RayFailure(
            f"its Ray worker died {RETRIES + 1} times ({err.__class__.__name__})"
            if died
            else f"Ray could not run its task ({err.__class__.__name__}: {str(err)[:160]})"
        ) from None
