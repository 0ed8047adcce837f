"""The synced clip player of the video report: clips side by side, played together, in a page
that works offline (the script inlined)."""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ..degradations.h264 import H264, encode_h264

PLAYER_JS = resources.files(__package__).joinpath("player.js").read_text()


def stacked_clip(versions: dict[str, np.ndarray], fps: float, crf: int) -> bytes:
    """One MP4 (H.264 at `crf`, yuv444p so that colours stay put, no B-frames) whose frames hold
    every version stacked top to bottom: the player cuts them apart, always in step."""
    frames = np.concatenate(list(versions.values()), axis=1)  # (T, k H, W, 3)
    return encode_h264(frames, H264(crf, "medium", gop=12, bframes=0), round(fps))


_BOXES = itertools.count(1)  # the players mounted in this process, in order


@dataclass
class Player:
    """A synced player of several versions of one clip (`player.js`), shown in Jupyter and
    carried in the executed notebook's HTML: the video is inlined, nothing is fetched."""

    data: bytes
    versions: list[str]
    width: int
    height: int
    fps: float
    frames: int
    title: str = ""

    @classmethod
    def of(cls, versions: dict[str, np.ndarray], fps: float, crf: int, title: str = "") -> Player:
        first = next(iter(versions.values()))
        return cls(
            stacked_clip(versions, fps, crf),
            list(versions),
            first.shape[2],
            first.shape[1],
            fps,
            len(first),
            title,
        )

    def state(self) -> dict:
        src = "data:video/mp4;base64," + base64.b64encode(self.data).decode("ascii")
        return {
            "src": src,
            "versions": self.versions,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "frames": self.frames,
            "left": 1,
            "right": len(self.versions) - 1,
        }

    def to_html(self) -> str:
        """A self-contained block: a div, the player's script, the call that mounts it."""
        # an id unique in the page and the same in every run (a memory address is not)
        box = f"ar-player-{next(_BOXES)}-{hashlib.sha256(self.data).hexdigest()[:8]}"
        caption = f"<div style='font:13px sans-serif'>{html.escape(self.title)}</div>"
        return (
            f"{caption}<div id='{box}'></div><script>{PLAYER_JS}\n"
            f"arPlayerMount(document.getElementById('{box}'), "
            f"{json.dumps(self.state())});</script>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()


def player_page(players: list[Player], title: str) -> str:
    """A standalone offline HTML page of players."""
    body = "\n<hr>\n".join(p.to_html() for p in players)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title></head><body style='font-family:sans-serif'><h1>{html.escape(title)}</h1>"
        "<p>Each player shows one clip: the left version left of the line, the right one "
        "right of it (drag on the picture or the slider), played in lock step (all "
        "versions are one video), with frame stepping.</p>"
        f"{body}</body></html>"
    )
