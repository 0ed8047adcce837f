"""Stage `import_clip@NAME`: one of the user's lossless clips (`video.extra_clips`), taken in.

DVC tracks the clip (a file, or a folder of PNG frames) as this stage's dependency, so the
video stage reruns when it changes. The clip is read as the video stage will use it
(`data.video.read_clip`: at most `video.clips.frames` frames, 8-bit RGB, notes on what was
converted) and written, losslessly, to `video.clips_dir/NAME/clip.mkv` (FFV1) with its notes
and frame rate beside it. A clip that cannot be used (lossy, damaged, no video stream, fewer
than two frames) stops the stage with the reason, before the video stage runs.

    python -m artifact_removal.stages.clips NAME
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..config import ConfigError, find_project_root, load_params, resolve_path
from ..data.video import ClipError, read_clip, write_lossless
from ..fileio import write_text


def import_clip(params, name: str, root: Path) -> Path:
    """Read extra clip NAME and write it under `video.clips_dir/NAME`; returns that folder."""
    if name not in params.video.extra_clips:
        raise ConfigError(
            f"video.extra_clips has no clip {name!r}: {sorted(params.video.extra_clips)}"
        )
    source = params.video.extra_clips[name]
    try:
        loaded = read_clip(resolve_path(source, root), max_frames=params.video.clips.frames)
    except ClipError as err:
        raise ClipError(f"video.extra_clips.{name} ({source}): {err}") from None
    folder = resolve_path(params.video.clips_dir, root) / name
    write_lossless(folder / "clip.mkv", loaded.frames, loaded.fps)
    write_text(
        folder / "clip.json",
        json.dumps(
            {"source": source, "notes": list(loaded.notes), "fps": str(loaded.fps)}, indent=1
        ),
    )
    return folder


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m artifact_removal.stages.clips NAME", file=sys.stderr)
        return 2
    root = find_project_root()
    try:
        folder = import_clip(load_params(root / "params.yaml"), args[0], root)
    except (ConfigError, ClipError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args[0]}: {folder.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
