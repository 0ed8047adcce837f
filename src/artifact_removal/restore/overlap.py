"""A run's files with the CPU's steps beside the network: the next images are read and their
QF found, and the last ones encoded and written, in threads while the network restores.

Each image goes through `one_image.prepare_image` (decode, tables, the QF predictor),
`one_image.restore_prepared` (the generators) and `one_image.write_prepared` (PNG, JPEG or WebP
encoding, the atomic write). One reader thread prepares up to `AHEAD` images ahead; the
network runs in the calling thread, one image at a time, in order; `options.io_workers`
writer threads encode. The results are finished (`finish`) in the order of the inputs, so the
log, the report and the outputs are those of a run one file after the other, byte for byte
(`tests/test_restore_files.py`); only the time differs. Decoding (Pillow), PNG's zlib and
the networks release the GIL, so threads overlap on a multi-core CPU and keep a GPU fed.
Memory: at most `AHEAD` decoded inputs and `io_workers + 1` restored images beyond the one
in the network. Two things keep the threads apart: only the reader thread opens images (it
alone changes Pillow's pixel limit, `one_image`'s pixel count), and every network is loaded
before the first file (`Ensemble.describe`), so no two threads load one lazily. Videos are
restored in the calling thread (`restore.video` streams their
own decoding and encoding); the images before a video are finished first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .kinds import is_video
from .one_image import prepare_image, restore_image_file, restore_prepared, write_prepared
from .one_video import Videos, restore_video_file
from .options import RestoreOptions
from .report import FileResult

AHEAD = 2  # images read and judged ahead of the network


def restore_in_order(
    todo: Sequence[tuple[Path, Path, dict, bool]],
    setups: dict,
    options: RestoreOptions,
    override: int | None,
    videos: Videos,
    progress: bool,
    finish: Callable[[FileResult], None],
) -> None:
    """Restore every (input, output, record, replace) of `todo`; `finish(result)` is called
    for each, in order."""

    def video(path, target, record, replace) -> FileResult:
        return restore_video_file(
            setups["video"].ensemble,
            path,
            target,
            record,
            replace,
            override,
            options.tile,
            options.overlap,
            videos,
            progress,
            options.restore_uncompressed,
        )

    if options.io_workers == 0:  # one step after the other, in this thread
        for path, target, record, replace in todo:
            if is_video(path):
                finish(video(path, target, record, replace))
            else:
                ensemble = setups["image"].ensemble
                finish(restore_image_file(ensemble, path, target, record, replace, override,
                                          options))  # fmt: skip
        return
    reader = ThreadPoolExecutor(1, thread_name_prefix="restore-read")
    writer = ThreadPoolExecutor(options.io_workers, thread_name_prefix="restore-write")
    images = iter([i for i, (path, *_) in enumerate(todo) if not is_video(path)])
    reads: dict[int, Future] = {}
    writes: deque[Future] = deque()

    def read_ahead() -> None:
        while len(reads) < AHEAD and (i := next(images, None)) is not None:
            ensemble = setups["image"].ensemble
            reads[i] = reader.submit(prepare_image, ensemble, *todo[i], override, options)

    def drain(keep: int) -> None:
        """Finish the oldest writes until at most `keep` are pending."""
        while len(writes) > keep:
            finish(writes.popleft().result())

    try:
        read_ahead()
        for i, (path, target, record, replace) in enumerate(todo):
            if is_video(path):
                drain(0)
                finish(video(path, target, record, replace))
                continue
            job = reads.pop(i).result()
            read_ahead()
            ensemble = setups["image"].ensemble
            job = restore_prepared(ensemble, job, options)
            writes.append(writer.submit(write_prepared, ensemble, job, options))
            drain(options.io_workers)
        drain(0)
    finally:  # an error that stops the run: nothing new starts, what runs finishes (atomic)
        reader.shutdown(wait=True, cancel_futures=True)
        writer.shutdown(wait=True, cancel_futures=True)
