"""The batch-norm graph as an SVG template: laid out once by graphviz, restyled per frame.

``dot`` runs once per arrow direction (forward values, backward gradients) on
:func:`bnlib.widgets.diagram.to_dot` with a placeholder label on every edge, so the layout
never jumps between frames. A frame then only swaps colours and label text in
the SVG string, which takes well under a millisecond (a ``dot`` call takes tens).
"""
from __future__ import annotations

import re
from functools import lru_cache
from html import unescape

from .. import graph
from ..viz import COLORS
from ._svg import esc
from .diagram import clean_svg, run_dot, to_dot

__all__ = ["graph_svg"]

_PLACEHOLDER = "+0.00000"       # sizes every edge label during layout

_GROUP = re.compile(r'<g class="(node|edge)">\s*<title>(.*?)</title>(.*?)</g>', re.S)


@lru_cache(maxsize=2)
def _template(direction: str) -> tuple:
    """Split dot's SVG into static text and (kind, key, inner) groups."""
    # top to bottom, packed tight: narrow enough to sit beside the tensor panel
    src = to_dot(edge_labels={e: _PLACEHOLDER for e in graph.EDGES}, direction=direction,
                 rankdir="TB", ranksep=0.22, nodesep=0.3)
    svg = clean_svg(run_dot(src))
    pieces, pos = [], 0
    for m in _GROUP.finditer(svg):
        pieces.append(svg[pos:m.start()])
        key = unescape(m.group(2))
        if m.group(1) == "edge":
            key = tuple(key.split("->"))
        pieces.append((m.group(1), key, m.group(3)))
        pos = m.end()
    pieces.append(svg[pos:])
    return tuple(pieces)


def _node(inner: str, on: bool) -> str:
    if not on:
        return inner
    inner = re.sub(r'fill="[^"]*"', f'fill="{COLORS["highlight"]}"', inner, count=1)
    return inner.replace('stroke="black"', 'stroke="black" stroke-width="2.5"', 1)


def _edge(inner: str, on: bool, label: str) -> str:
    if on:
        inner = inner.replace(COLORS["neutral"], COLORS["highlight_line"])
        inner = inner.replace('<path fill="none"', '<path fill="none" stroke-width="3"', 1)
    weight = ' font-weight="bold"' if on and label else ""
    return re.sub(r"(<text[^>]*)>[^<]*</text>",
                  lambda m: f"{m.group(1)}{weight}>{esc(label)}</text>" if label else "", inner)


def graph_svg(label: str, highlight=(), edges=(), edge_labels=None, direction="forward") -> str:
    """The graph with ``highlight`` nodes filled, ``edges`` drawn thick and text on edges.

    ``label`` becomes the SVG's aria-label (its alt text).
    """
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward'; got {direction!r}")
    edge_labels = edge_labels or {}
    hl, he = set(highlight), set(edges)
    out = []
    for piece in _template(direction):
        if isinstance(piece, str):
            out.append(piece)
            continue
        kind, key, inner = piece
        if kind == "node":
            body = _node(inner, key in hl)
        else:
            body = _edge(inner, key in he, edge_labels.get(key, ""))
        out.append(f'<g class="{kind}"><title>{esc(key if kind == "node" else "->".join(key))}</title>'
                   f"{body}</g>")
    svg = "".join(out)
    return svg.replace("<svg", f'<svg role="img" aria-label="{esc(label)}"', 1).replace(
        ">", f"><title>{esc(label)}</title>", 1) if "<svg" in svg else svg
