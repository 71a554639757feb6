"""The kernel-free HTML player: all frames in one self-contained ``<div class="bn-player">``.

Contract (tests outside the project rely on it): the root has class ``bn-player``
and ``data-frame`` = index of the frame on show, kept up to date by the script;
buttons ``bn-play``, ``bn-pause``, ``bn-step`` (forward) and ``bn-back``; a range
input ``bn-scrub`` and a select ``bn-speed``. The player's JavaScript and CSS are
bnlib's own files (``bnlib/static``), inlined, so a page needs nothing from
another host. Frames are hidden ``<div class="bn-frame">`` elements; only the
current one is shown, and without JavaScript the first frame still reads fine.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from ._svg import esc

__all__ = ["Frame", "player_html", "view_html", "static_text", "style_tag", "MAX_PLAYER_BYTES"]

MAX_PLAYER_BYTES = 2_000_000
"""Budget for one player's HTML (frames, script and style together)."""

_ids = itertools.count(1)


@dataclass
class Frame:
    """One picture of an animation: ``body`` (HTML: SVG and tables), a ``caption``, and the numbers shown."""

    body: str
    caption: str
    data: dict = field(default_factory=dict)


@lru_cache(maxsize=None)
def static_text(name: str) -> str:
    """The text of a file in ``bnlib/static`` (the player's own JS and CSS)."""
    return resources.files("bnlib").joinpath("static", name).read_text(encoding="utf-8")


def style_tag() -> str:
    """The player's CSS as a ``<style>`` element (the live view needs it too)."""
    return f"<style>{static_text('player.css')}</style>"


def view_html(frame: Frame) -> str:
    """One frame as HTML: the body and the caption, inside a ``bn-view`` (styled by player.css)."""
    return (f'<div class="bn-view">{frame.body}'
            f'<div class="bn-caption" aria-live="polite">{frame.caption}</div></div>')


def player_html(frames: list[Frame], title: str, fps: float = 1.0, start: int = 0) -> str:
    """A complete player over ``frames`` (HTML string with inline style and script)."""
    if not frames:
        raise ValueError("a player needs at least one frame; got none")
    if not fps > 0:
        raise ValueError(f"fps must be > 0; got {fps}")
    start = min(max(int(start), 0), len(frames) - 1)
    uid = f"bn-player-{next(_ids)}"
    body = "".join(f'<div class="bn-frame" data-index="{i}"{"" if i == start else " hidden"}>'
                   f'{view_html(f)}</div>' for i, f in enumerate(frames))
    n = len(frames)
    speeds = "".join(f'<option value="{s}"{" selected" if s == 1 else ""}>{s}×</option>'
                     for s in (0.25, 0.5, 1, 2, 4))
    controls = (
        '<div class="bn-controls">'
        '<button type="button" class="bn-back" aria-label="step back" title="step back">◀ back</button>'
        '<button type="button" class="bn-play" aria-label="play" title="play">▶ play</button>'
        '<button type="button" class="bn-pause" aria-label="pause" title="pause" disabled>❚❚ pause</button>'
        '<button type="button" class="bn-step" aria-label="step forward" title="step forward">step ▶</button>'
        f'<input type="range" class="bn-scrub" min="0" max="{n - 1}" step="1" value="{start}" '
        'aria-label="frame">'
        f'<label>speed <select class="bn-speed" aria-label="speed">{speeds}</select></label>'
        f'<span class="bn-counter">{start + 1} / {n}</span></div>')
    return (f'<style>{static_text("player.css")}</style>'
            f'<div class="bn-player mathjax_ignore tex2jax_ignore" id="{uid}" data-frame="{start}" '
            f'data-frames="{n}" data-fps="{fps:g}" tabindex="0" role="group" aria-label="{esc(title)}">'
            f'<div class="bn-title">{esc(title)}</div>{body}{controls}</div>'
            f'<script>{static_text("player.js")}</script>')
