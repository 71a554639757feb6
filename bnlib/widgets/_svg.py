"""A few hand-written SVG charts for the players (histograms, bands, lines, heatmaps).

Why not matplotlib: a player holds dozens of frames and a live control must
redraw in well under 50 ms; a small SVG string is a few kilobytes and takes a
millisecond to build. Colours, the font family and text sizes come from
:mod:`bnlib.viz` (the book's one style); text and axes are drawn in
``currentColor`` so a chart follows the page's light or dark theme. Every chart
is an ``<svg role="img" aria-label=...>`` so screen readers and the browser tests
find its text alternative.
"""
from __future__ import annotations

import math
from html import escape

import numpy as np

from ..viz import FONT_FAMILY, SIZES

__all__ = ["esc", "Chart", "heatmap", "nice_ticks", "fmt", "wrap"]

FONT = 'font-family="{}"'.format(", ".join(FONT_FAMILY))
TICK, LABEL, TITLE = (round(SIZES[k], 1) for k in ("tick", "text", "title"))
CHAR_EM = 0.6
"""Average advance of a character of the font, in em (DejaVu Sans; bold is a little wider)."""


def esc(text) -> str:
    """Escape text for HTML/SVG content and attributes."""
    return escape(str(text), quote=True)


def fmt(v: float, digits: int = 3) -> str:
    """A short number: ``0.523``, ``-12.4``, ``1.2e-05``, ``20k``; ``-0`` shown as ``0``."""
    v = float(v)
    if v == 0 or abs(v) < 5e-16:
        return "0"
    if abs(v) >= 1000 and v == round(v):
        return f"{v / 1000:g}k"          # training steps: 2k reads better than 2e+03
    return f"{v:.{digits}g}"


def wrap(text: str, width_px: float, size: float) -> list[str]:
    """Split ``text`` into lines that fit ``width_px`` at font ``size`` px (by words)."""
    per_line = max(int(width_px / (size * CHAR_EM)), 8)
    lines, line = [], ""
    for word in str(text).split():
        if line and len(line) + 1 + len(word) > per_line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line] if line else lines


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick positions covering [lo, hi] (about ``n`` of them)."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + k * step, 10) for k in range(int((hi - first) / step + 1e-9) + 1)]


class Chart:
    """One plotting area: data coordinates to pixels, and SVG elements appended in order.

    ``Chart(w, h, xlim, ylim)``; the plot box leaves margins for tick labels.
    ``svg(label)`` returns the finished ``<svg>`` with ``label`` as its alt text.
    """

    def __init__(self, width, height, xlim, ylim, margin=(8, 10, 32, 44), title=""):
        self.w = width
        self.top, self.right, self.bottom, self.left = margin
        # a long title wraps instead of running off the picture; the chart grows to hold it
        lines = wrap(title, width - 8, TITLE) if title else []
        extra = round(len(lines) * TITLE * 1.25)
        self.top += extra
        self.h = height + extra
        self.xlim, self.ylim = (float(xlim[0]), float(xlim[1])), (float(ylim[0]), float(ylim[1]))
        self.parts: list[str] = []
        for k, line in enumerate(lines):
            self.parts.append(f'<text x="4" y="{TITLE * (1.05 + 1.25 * k):.1f}" font-size="{TITLE}" '
                              f'font-weight="bold" fill="currentColor" {FONT}>{esc(line)}</text>')

    def px(self, x):
        (a, b), span = self.xlim, self.w - self.left - self.right
        return self.left + (np.asarray(x, float) - a) / (b - a) * span

    def py(self, y):
        (a, b), span = self.ylim, self.h - self.top - self.bottom
        return self.h - self.bottom - (np.asarray(y, float) - a) / (b - a) * span

    def _clip_x(self, x):
        return float(np.clip(self.px(x), self.left, self.w - self.right))

    def _clip_y(self, y):
        return float(np.clip(self.py(y), self.top, self.h - self.bottom))

    def vspan(self, x0, x1, color, opacity=0.15):
        """A shaded vertical strip between data x0 and x1 (clipped to the box)."""
        a, b = self._clip_x(x0), self._clip_x(x1)
        if b > a:
            self.parts.append(f'<rect x="{a:.1f}" y="{self.top}" width="{b - a:.1f}" '
                              f'height="{self.h - self.top - self.bottom}" fill="{color}" '
                              f'fill-opacity="{opacity}"/>')

    def hspan(self, y0, y1, color, opacity=0.15):
        """A shaded horizontal strip between data y0 and y1 (clipped to the box)."""
        a, b = self._clip_y(y1), self._clip_y(y0)
        if b > a:
            self.parts.append(f'<rect x="{self.left}" y="{a:.1f}" width="{self.w - self.left - self.right}" '
                              f'height="{b - a:.1f}" fill="{color}" fill-opacity="{opacity}"/>')

    def bars(self, edges, heights, color, opacity=0.8):
        """Histogram bars: ``heights[i]`` over ``[edges[i], edges[i+1]]``."""
        y0 = float(self.py(self.ylim[0]))
        xs, ys = self.px(edges), self.py(np.minimum(heights, self.ylim[1]))
        path = "".join(f"M{xs[i]:.1f} {y0:.1f}V{ys[i]:.1f}H{xs[i + 1]:.1f}V{y0:.1f}Z"
                       for i in range(len(heights)) if heights[i] > 0)
        self.parts.append(f'<path d="{path}" fill="{color}" fill-opacity="{opacity}" '
                          f'style="stroke:var(--bn-card, #ffffff)" stroke-width="0.5"/>')

    def line(self, x, y, color, width=1.8, dash=None):
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(self.px(x), self.py(y)))
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" '
                          f'stroke-width="{width}"{d}/>')

    def band(self, x, lo, hi, color, opacity=0.25):
        """A filled band between two curves over the same x."""
        xs = self.px(x)
        pts = [f"{a:.1f},{b:.1f}" for a, b in zip(xs, self.py(hi))]
        pts += [f"{a:.1f},{b:.1f}" for a, b in zip(xs[::-1], self.py(lo)[::-1])]
        self.parts.append(f'<polygon points="{" ".join(pts)}" fill="{color}" fill-opacity="{opacity}"/>')

    def vline(self, x, color, width=1.5, dash=None):
        if self.xlim[0] <= x <= self.xlim[1]:
            p = float(self.px(x))
            d = f' stroke-dasharray="{dash}"' if dash else ""
            self.parts.append(f'<line x1="{p:.1f}" x2="{p:.1f}" y1="{self.top}" y2="{self.h - self.bottom}" '
                              f'stroke="{color}" stroke-width="{width}"{d}/>')

    def points(self, x, y, color, r=3.0):
        self.parts.append("".join(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="{r}" fill="{color}"/>'
                                  for a, b in zip(self.px(x), self.py(y))))

    def text(self, x, y, s, size=TICK, anchor="start", color="currentColor"):
        """Text at data coordinates."""
        self.parts.append(f'<text x="{float(self.px(x)):.1f}" y="{float(self.py(y)):.1f}" '
                          f'font-size="{size}" text-anchor="{anchor}" fill="{color}" {FONT}>{esc(s)}</text>')

    def axes(self, xlabel="", ylabel="", xticks=None, yticks=None, xtick_labels=None):
        """Box, ticks and labels (call last so they sit on top)."""
        L, R, T, B = self.left, self.w - self.right, self.top, self.h - self.bottom
        out = [f'<path d="M{L} {T}V{B}H{R}" fill="none" stroke="currentColor" stroke-width="1"/>']
        xt = nice_ticks(*self.xlim) if xticks is None else xticks
        labels = xtick_labels or [fmt(t) for t in xt]
        for t, lab in zip(xt, labels):
            p = float(self.px(t))
            out.append(f'<line x1="{p:.1f}" x2="{p:.1f}" y1="{B}" y2="{B + 4}" stroke="currentColor"/>'
                       f'<text x="{p:.1f}" y="{B + 4 + TICK}" font-size="{TICK}" text-anchor="middle" '
                       f'fill="currentColor" {FONT}>{esc(lab)}</text>')
        for t in (nice_ticks(*self.ylim, n=4) if yticks is None else yticks):
            p = float(self.py(t))
            out.append(f'<line x1="{L - 4}" x2="{L}" y1="{p:.1f}" y2="{p:.1f}" stroke="currentColor"/>'
                       f'<text x="{L - 6}" y="{p + TICK * 0.35:.1f}" font-size="{TICK}" text-anchor="end" '
                       f'fill="currentColor" {FONT}>{esc(fmt(t))}</text>')
        if xlabel:
            out.append(f'<text x="{(L + R) / 2:.1f}" y="{self.h - 3}" font-size="{LABEL}" '
                       f'text-anchor="middle" fill="currentColor" {FONT}>{esc(xlabel)}</text>')
        if ylabel:
            out.append(f'<text x="{LABEL}" y="{(T + B) / 2:.1f}" font-size="{LABEL}" text-anchor="middle" '
                       f'transform="rotate(-90 {LABEL} {(T + B) / 2:.1f})" fill="currentColor" {FONT}>'
                       f'{esc(ylabel)}</text>')
        self.parts.extend(out)

    def svg(self, label: str) -> str:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
                f'viewBox="0 0 {self.w} {self.h}" role="img" aria-label="{esc(label)}">'
                f'<title>{esc(label)}</title>{"".join(self.parts)}</svg>')


def _diverging(t: float) -> str:
    """Colour for t in [-1, 1]: blue (negative), white (0), vermillion (positive)."""
    neg, pos = (0, 114, 178), (213, 94, 0)
    end = pos if t > 0 else neg
    a = min(abs(t), 1.0)
    r, g, b = (round(255 + (c - 255) * a) for c in end)
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(a, label: str, cell: int = 12, scale: float | None = None) -> str:
    """An (N, D) array as a grid of coloured cells (0 is white), with ``label`` as alt text."""
    a = np.atleast_2d(np.asarray(a, float))
    n, d = a.shape
    scale = scale or float(np.max(np.abs(a))) or 1.0
    cell = max(3, min(cell, 360 // max(d, 1), 240 // max(n, 1)))
    rects = "".join(f'<rect x="{j * cell}" y="{i * cell}" width="{cell}" height="{cell}" '
                    f'fill="{_diverging(a[i, j] / scale)}"/>' for i in range(n) for j in range(d))
    w, h = d * cell, n * cell
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            f'role="img" aria-label="{esc(label)}"><title>{esc(label)}</title>{rects}'
            f'<rect x="0" y="0" width="{w}" height="{h}" fill="none" stroke="#999"/></svg>')
