"""One shared style for the book's pictures (a view: the numpy core never imports it).

Colours are the Okabe–Ito palette, which stays distinguishable under the
common forms of colour blindness. Use ``COLORS`` by role so every chapter
draws "with BN" and "without BN" in the same colours, and so matplotlib
figures, the SVG players and the graph diagrams highlight in the same orange.
Importing the palette is cheap: matplotlib is imported only by
:func:`use_style` and :func:`figure`.
"""
from __future__ import annotations

__all__ = ["PALETTE", "COLORS", "use_style", "figure", "SATURATED_REGION"]

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
COLORS = {
    "bn": "#0072B2",        # with batch norm: blue
    "plain": "#D55E00",     # without: vermillion
    "dropout": "#009E73",
    "both": "#CC79A7",
    "layernorm": "#E69F00",
    "groupnorm": "#56B4E9",
    "neutral": "#555555",        # also the graph diagrams' edges
    "highlight": "#E69F00",      # the node (or bar) being looked at: fills
    "highlight_line": "#D55E00",  # the same highlight for lines and arrows (3:1 on white)
    "input": "#E8EEF7",          # graph inputs (x, γ, β, ε) in the diagrams
}
SATURATED_REGION = 4.0
"""``abs(input)`` beyond which the sigmoid's slope is below 0.018 (saturated), shaded in plots."""

_STYLE = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.figsize": (6.4, 3.6),
    "font.size": 11,
    "legend.frameon": False,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the book's matplotlib style (call once per notebook)."""
    import matplotlib as mpl

    mpl.rcParams.update({**_STYLE, "axes.prop_cycle": mpl.cycler(color=PALETTE)})


def figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.6, **kw):
    """``plt.subplots`` with the book's style and a size in inches."""
    import matplotlib.pyplot as plt

    use_style()
    return plt.subplots(nrows, ncols, figsize=(width, height), constrained_layout=True, **kw)
