"""What became of the inputs of a `restore` run: one `FileResult` per input, with its status
(restored, done by an earlier run, copied, kept, not restored, failed) and why, in words
(`why_copied`, `mark_failed`), and the run's `RestoreReport`, whose summary the command
prints."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..archs.qf_labels import ABOVE
from ..data.images import ImageReadError
from ..degradations.codecs import codec_of
from ..degradations.jpeg_quality import TableQuality
from ..inference.choice import (
    INPUT,
    UNSURE,
    QualityChoice,
    QualityUnknown,
    RestoreError,
    ensemble_weights,
)
from .video_probe import VideoError

if TYPE_CHECKING:
    from ..inference.ensemble import Ensemble

RESTORED, DONE, COPIED, KEPT, SKIPPED, FAILED, EARLIER = (
    "restored",
    "done",
    "copied",
    "kept",
    "not restored",
    "failed",
    "earlier output",  # a file in an input folder that an earlier restore wrote: not an input
)


def shown(path: object) -> str:
    """A path as a line of the report shows it: as it is, or quoted with escapes when it holds
    characters that would break the line (a newline, a tab, other control characters)."""
    text = str(path)
    return text if text.isprintable() else repr(text)


@dataclass
class FileResult:
    """One input: what became of it (`status`), where its output is, and why when it is not
    restored (`error`)."""

    source: Path
    output: Path | None = None
    choice: QualityChoice | None = None
    notes: tuple[str, ...] = ()
    error: str | None = None
    size: tuple[int, int] | None = None
    status: str = RESTORED
    as_is: bool = False  # copied byte for byte: its record is in its folder's list of copies
    warning: str | None = None  # said under its line (`disagreement`)

    def __post_init__(self):
        if self.error and self.status == RESTORED:
            self.status = FAILED


@dataclass
class RestoreReport:
    """All inputs of a run, in order. `failed` lists those that were not restored (a failure,
    or a file skipped for a reason); outputs finished by an earlier run, copies of uncompressed
    images and outputs kept with `skip_existing` are not failures."""

    results: list[FileResult] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)  # leftovers of a killed run
    damaged: list[Path] = field(default_factory=list)  # earlier outputs cut short: redone
    used: str = ""  # the method, generators, loss, QF predictor and device (`Ensemble.describe`)

    @property
    def failed(self) -> list[FileResult]:
        """The inputs that were not restored, failures and skipped files alike."""
        return [r for r in self.results if r.status in (FAILED, SKIPPED)]

    def of(self, status: str) -> list[FileResult]:
        """The results with one status."""
        return [r for r in self.results if r.status == status]

    def summary(self) -> str:
        """One line per file written, then the groups of the others, then the totals."""
        lines = (
            [f"removed {len(self.removed)} unfinished file(s) of an interrupted run"]
            if self.removed
            else []
        )
        lines += [
            f"{shown(p)}: an earlier run's output of the same input and settings, damaged "
            "(cut short, or its bytes changed); restored again"
            for p in self.damaged
        ]
        for r in self.results:
            if r.status == RESTORED:
                notes = f" ({'; '.join(r.notes)})" if r.notes else ""
                lines.append(
                    f"{shown(r.source)} -> {shown(r.output)} [{r.size[1]}x{r.size[0]}] "
                    f"{r.choice.describe()}{notes}"
                )
                for warning in (r.choice.unsure, r.warning):
                    if warning:
                        lines.append(f"  warning: {warning}")
            elif r.status == COPIED:
                lines.append(
                    f"{shown(r.source)} -> {shown(r.output)}: copied without restoring "
                    f"({'; '.join(r.notes)})"
                )
        for status, title in (
            (DONE, "already done by an earlier run with the same input and settings, skipped"),
            (KEPT, "existing outputs kept (--skip-existing)"),
            (EARLIER, "outputs of earlier restores in the input folders (their records say so), "
             "not restored again; name a file itself to restore it all the same"),
        ):  # fmt: skip
            group = self.of(status)
            if group:
                lines.append(f"{len(group)} {title}:")
                lines += [
                    f"  {shown(r.source)}" + (f" -> {shown(r.output)}" if r.output else "")
                    for r in group[:20]
                ]
                lines += [f"  ... and {len(group) - 20} more"] if len(group) > 20 else []
        if self.failed:
            lines.append(f"{len(self.failed)} not restored:")
            lines += [f"  {shown(r.source)}: {r.error}" for r in self.failed]
        counts = [
            f"{len(self.of(s))} {word}"
            for s, word in (
                (DONE, "already done"),
                (COPIED, "copied"),
                (KEPT, "kept"),
                (EARLIER, "earlier outputs"),
                (FAILED, "failed"),
                (SKIPPED, "skipped"),
            )
            if self.of(s)
        ]
        lines.append(
            f"restored {len(self.of(RESTORED))} of {len(self.results)} inputs"
            + (f" ({', '.join(counts)})" if counts else "")
        )
        lines += self._sizes()
        unsure = [r for r in self.of(RESTORED) if r.choice.unsure]
        for unit, kind in (("QF", "image"), ("CRF", "video")):
            count = sum(r.choice.unit == unit for r in unsure)
            if count:
                lines.append(
                    f"warning: the {unit} predictor was unsure of {count} {kind}(s) "
                    "(above); check them, or give their quality with "
                    "--quality N"
                )
        return "\n".join(lines)

    def _sizes(self) -> list[str]:
        """The bytes this run wrote against its inputs' (restored and copied files), a line."""
        written = [r for r in self.results if r.status in (RESTORED, COPIED) and r.output]
        inputs = sum(_bytes_of(r.source) for r in written)
        outputs = sum(_bytes_of(r.output) for r in written)
        if not written or not inputs:
            return []
        return [
            f"wrote {_in_units(outputs)} for {_in_units(inputs)} of inputs "
            f"({outputs / inputs:.1f} times their size)"
        ]


def _bytes_of(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _in_units(count: int) -> str:
    """Bytes as people read them: 812 bytes, 4.2 kB, 13.0 MB, 1.3 GB (powers of 1000)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


def disagreement(choice: QualityChoice, ensemble: Ensemble) -> str | None:
    """A warning when a JPEG's tables and its pixels disagree: the QF predictor, sure of its
    answer, reads a QF that other generators restore (a JPEG saved twice: the tables are the
    last encoder's, the blocks the first's). None when they agree, or when nothing asked."""
    tables, cnn = choice.tables, choice.cnn
    if choice.override is not None or not isinstance(tables, TableQuality) or cnn is None:
        return None
    if cnn.quality == ABOVE or cnn.confidence < UNSURE:
        return None
    if ensemble.weights(float(cnn.quality)) == choice.generators:
        return None
    return (
        f"its tables say QF {tables.quality} and its pixels look like QF {cnn.quality} "
        f"(CNN, {cnn.confidence:.0%}): saved more than once? Restored as the tables say; "
        f"--quality {cnn.quality} restores it as the pixels say"
    )


def why_copied(choice: QualityChoice, ensemble: Ensemble) -> str:
    """Why an input is copied as it is, and how to restore it all the same."""
    trained = sorted(ensemble.paths)
    codec = codec_of(ensemble.codec)
    video, unit = codec.video, codec.unit
    force = (
        f"--restore-uncompressed restores it with the gentlest generator (q{ensemble.gentlest()})"
    )
    if choice.override is None and choice.tables is None and choice.cnn.quality == ABOVE:
        return (
            "no sign of JPEG compression: no quantization tables, and the QF predictor says "
            f"{choice.cnn.label} ({choice.cnn.confidence:.0%}); {force}"
        )
    source = (
        "given"
        if choice.override is not None
        else choice.tables.kind
        if choice.tables is not None
        else f"the {unit} predictor"
    )
    if ensemble.ladder is not None and ensemble_weights(
        choice.used, trained, ensemble.combine, ensemble.pass_through
    ) != {INPUT: 1.0}:
        return (
            f"at {unit} {choice.used:g} ({source}) the input itself restored the "
            "validation split better than any generator (the measured ladder, stage "
            f"ladder); {force}"
        )
    side = "below" if video else "above"
    return (
        f"{unit} {choice.used:g} ({source}) is {side} the {unit}s its generators are trained "
        f"for ({trained[0]}..{trained[-1]}): restoring would take more than it gives; "
        f"{force}"
    )


def _is_ffmpeg_error(err: Exception) -> bool:
    """An error of FFmpeg's, raised through PyAV (its text is FFmpeg's, not a sentence)."""
    import av

    return isinstance(err, av.FFmpegError)


def mark_failed(result: FileResult, err: Exception, target: Path) -> None:
    """Record why one file failed in its result; an error that concerns the whole run (a
    RestoreError) or one this module does not expect goes up."""
    if isinstance(err, RestoreError):
        raise err
    if isinstance(err, ImageReadError):
        result.error = err.reason
    elif isinstance(err, QualityUnknown | VideoError):
        result.error = str(err)
    elif isinstance(err, FileExistsError):
        result.error = f"{target} appeared while this run was writing it; left as it is"
    elif isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        result.error = (
            f"no space left to write {target.name} in {target.parent} "
            f"({os.strerror(err.errno)}); nothing half-written is left, and what "
            "was finished is kept: free some space and run again"
        )
    elif _is_ffmpeg_error(err):
        reason = getattr(err, "strerror", None) or str(err)
        result.error = (
            f"cannot be decoded ({reason}): the file is damaged, or not a video "
            "that this FFmpeg reads"
        )
    elif isinstance(err, OSError | MemoryError | RuntimeError | ValueError):
        result.error = f"{err.__class__.__name__}: {err}"
    else:
        raise err
    result.status = FAILED
