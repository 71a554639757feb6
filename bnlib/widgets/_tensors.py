"""Tensors in the side panel: numbers for a small array, a heatmap for a larger one."""
from __future__ import annotations

import numpy as np

from ._svg import esc, fmt, heatmap

__all__ = ["tensor_block", "sum_block", "MAX_TABLE"]

MAX_TABLE = 24
"""Arrays with at most this many entries are printed as numbers."""


def _table(a) -> str:
    a = np.atleast_2d(a)
    rows = "".join("<tr>" + "".join(f"<td>{fmt(v, 3)}</td>" for v in row) + "</tr>" for row in a)
    return f'<table class="bn-num">{rows}</table>'


def tensor_view(name: str, a, scale=None) -> str:
    """The array alone: a table or a heatmap whose alt text names it."""
    a = np.asarray(a, float)
    if a.size <= MAX_TABLE:
        return _table(a)
    big = float(np.abs(a).max())
    return heatmap(a, f"heatmap of {name}, shape {a.shape}, largest magnitude {fmt(big)}; "
                      "blue negative, orange positive", scale=scale)


def tensor_block(name: str, a) -> str:
    """A labelled array: name, shape and its values (a table or a heatmap)."""
    a = np.asarray(a, float)
    shape = "×".join(map(str, a.shape)) or "scalar"
    extra = "" if a.size <= MAX_TABLE else f", max |·| = {fmt(np.abs(a).max())}; blue < 0 < orange"
    return (f'<div class="bn-label">{esc(name)} <span class="bn-note">({shape}{extra})</span></div>'
            f"{tensor_view(name, a)}")


def sum_block(name: str, parts: list, total) -> str:
    """``name = part1 + part2 = total``, each array drawn the same way (one colour scale)."""
    scale = max(float(np.abs(np.asarray(g)).max()) for _, g in parts) or 1.0
    cells = []
    for k, (label, g) in enumerate(parts):
        if k:
            cells.append('<span class="bn-op">+</span>')
        cells.append(f'<div><div class="bn-note">{esc(label)}</div>{tensor_view(label, g, scale)}</div>')
    cells.append('<span class="bn-op">=</span>')
    cells.append(f'<div><div class="bn-note">total</div>{tensor_view(name, total, scale)}</div>')
    return (f'<div class="bn-label">{esc(name)}: contributions added</div>'
            f'<div class="bn-sum">{"".join(cells)}</div>')
