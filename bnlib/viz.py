"""The book's one visual style: palette, font family and sizes for matplotlib, SVG players and diagrams.

Colours are the Okabe–Ito palette, which stays distinguishable under the common
forms of colour blindness. Use ``COLORS`` by role so every chapter draws "with BN"
and "without BN" in the same colours, and so matplotlib figures, the SVG players
and the graph diagrams highlight in the same orange; the book's stylesheet and the players read the
same values as CSS variables (:func:`css_variables`), so no hex value is copied.

Sizes are CSS pixels as a reader sees them. :func:`figure` turns them into points for
the figure's own size: a figure is shown at most ``COLUMN_PX`` wide in the text column
at 1280 px (``WIDE_PX`` with ``wide=True``: tag the cell ``full-width``, or give a
``{glue:figure}`` ``:figclass: bn-wide``), so a 12-inch figure gets larger points than
a 6-inch one and its tick labels still render at ``SIZES["tick"]`` px. The PNG is
drawn at twice that resolution (sharp on high-density screens) in 256 colours (a quarter
of the bytes) and declares its CSS width, so on a phone it keeps that size inside a
scrolling box instead of shrinking.
matplotlib is imported only when a figure is made (the players need only the palette).
"""
from __future__ import annotations

__all__ = ["PALETTE", "COLORS", "FONT_FAMILY", "SIZES", "COLUMN_PX", "WIDE_PX", "MIN_TEXT_PX",
           "SATURATED_REGION", "use_style", "figure", "figure_scale", "css_variables"]

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
UI = {
    # text and badge colours for the page (checked for 4.5:1 contrast on their backgrounds)
    "light": {"ok": "#116329", "ok-bg": "#e6f4ea", "fail": "#a40e26", "fail-bg": "#fde8ea",
              "todo": "#7a4a00", "todo-bg": "#fff4d6", "weak": "#6b4c00", "weak-bg": "#fff4d6",
              "card": "#ffffff", "ink": "#1b1b1b", "line": "#d0d7de", "muted": "#57606a",
              "link-on-tint": "#0a4fb3", "node": "#ffffff", "node-input": "#e8eef7", "edge": "#555555",
              "accent": "#0072B2"},
    "dark": {"ok": "#6fdd8b", "ok-bg": "#12301c", "fail": "#ff9492", "fail-bg": "#3c1518",
             "todo": "#e3b341", "todo-bg": "#35290b", "weak": "#e3b341", "weak-bg": "#35290b",
             "card": "#1e2228", "ink": "#e6e6e6", "line": "#444c56", "muted": "#a8b1bb",
             "link-on-tint": "#8ab4f8", "node": "#2a3038", "node-input": "#1f3347", "edge": "#9aa4ae",
             "accent": "#8ab4f8"},
}
FONT_FAMILY = ("DejaVu Sans", "Verdana", "sans-serif")
"""The one font family of figures, players and diagrams (matplotlib ships DejaVu Sans; SVG asks for it first)."""
SIZES = {"text": 13.0, "tick": 11.5, "legend": 11.5, "title": 14.0}
"""Rendered text sizes in CSS px of axis labels, tick labels, legends and titles."""
MIN_TEXT_PX = 9.0
"""No text of a figure, a player or a diagram renders smaller than this."""
COLUMN_PX = 670
"""Width of a figure in the text column at a 1280 px window (the column is 688 px)."""
WIDE_PX = 900
"""Width of a ``full-width`` figure at 1280 px (the theme gives such cells 136 % of the column)."""
CSS_PX_PER_INCH = 100
"""A figure narrower than its column is shown at this many CSS px per inch (never enlarged)."""
SATURATED_REGION = 4.0
"""``abs(input)`` beyond which the sigmoid's slope is below 0.018 (saturated), shaded in plots."""


def figure_scale(width: float, wide: bool = False) -> float:
    """CSS px per figure inch when a ``width``-inch figure is shown at 1280 px."""
    if not width > 0:
        raise ValueError(f"width must be a positive number of inches; got {width}")
    shown = min(width * CSS_PX_PER_INCH, WIDE_PX if wide else COLUMN_PX)
    return shown / width


def _style(px_per_inch: float) -> dict:
    import matplotlib as mpl

    pt = {k: v * 72.0 / px_per_inch for k, v in SIZES.items()}     # px on screen -> points
    return {
        "axes.prop_cycle": mpl.cycler(color=PALETTE),
        "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "grid.alpha": 0.3,
        "font.family": "sans-serif", "font.sans-serif": list(FONT_FAMILY[:2]) + ["DejaVu Sans"],
        "font.size": pt["text"], "axes.labelsize": pt["text"], "axes.titlesize": pt["title"],
        "xtick.labelsize": pt["tick"], "ytick.labelsize": pt["tick"],
        "legend.fontsize": pt["legend"], "legend.title_fontsize": pt["legend"],
        "figure.titlesize": pt["title"], "legend.frameon": False,
        # figure dpi = CSS px per inch; the inline backend draws at twice that ("retina")
        "figure.dpi": px_per_inch, "savefig.dpi": "figure",
        "image.cmap": "viridis",
    }


def _png(fig):
    """A figure as a PNG at twice its CSS size (sharp on high-density screens) that declares that size.

    Reduced to 256 colours without dithering: a plot has few colours, so it looks the same
    at about a quarter of the bytes (pages stay under their weight budget).
    """
    import io
    from binascii import b2a_base64

    from PIL import Image

    if not fig.axes:
        return None
    raw = io.BytesIO()
    fig.savefig(raw, format="png", dpi=2 * fig.dpi, bbox_inches="tight", facecolor=fig.get_facecolor())
    image = Image.open(io.BytesIO(raw.getvalue())).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        out, "PNG", optimize=True)
    return b2a_base64(out.getvalue(), newline=False).decode("ascii"), {
        "width": image.width // 2, "height": image.height // 2}


def _retina() -> None:
    """Figures display through :func:`_png` (IPython only; elsewhere there is nothing to do)."""
    try:
        from IPython import get_ipython
        from matplotlib.figure import Figure
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        import matplotlib.pyplot as plt

        # pyplot loads its backend at the first figure, and Jupyter's inline backend then sets its
        # own PNG formatter: load it now, so that _png, registered after it, is the one used
        getattr(plt, "_get_backend_mod", lambda: None)()
        shell.display_formatter.formatters["image/png"].for_type(Figure, _png)


def use_style(width: float = 6.4, wide: bool = False) -> None:
    """Apply the book's matplotlib style, sized for a ``width``-inch figure (see :func:`figure`)."""
    import matplotlib as mpl

    mpl.rcParams.update(_style(figure_scale(width, wide)))
    _retina()


def figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.6, wide: bool = False,
           **kw):
    """``plt.subplots`` with the book's style, ``width`` x ``height`` inches.

    Text sizes follow :data:`SIZES` in rendered px whatever the width: a figure wider
    than the column is shown shrunk, so its points are scaled up to match. Use
    ``wide=True`` for a multi-panel figure in a ``full-width`` cell (or a
    ``{glue:figure}`` with ``:figclass: bn-wide``). Pass relative font sizes
    (``fontsize="small"``), not numbers, so they scale too.
    """
    import matplotlib.pyplot as plt

    use_style(width, wide)
    return plt.subplots(nrows, ncols, figsize=(width, height), constrained_layout=True, **kw)


def css_variables() -> str:
    """The palette, font and UI colours as CSS custom properties (light, and dark under the theme's switch).

    ``--bn-<role>`` for each of ``COLORS``, ``--bn-c<i>`` for ``PALETTE``, ``--bn-font``,
    ``--bn-<ui>`` for the page colours; dark values apply under ``html[data-theme="dark"]``.
    """
    font = ", ".join(f'"{f}"' if " " in f else f for f in FONT_FAMILY)
    common = [f"--bn-{k}: {v};" for k, v in COLORS.items()]
    common += [f"--bn-c{i}: {c};" for i, c in enumerate(PALETTE)]
    common += [f"--bn-font: {font};"] + [f"--bn-size-{k}: {v:g}px;" for k, v in SIZES.items()]
    light = " ".join(common + [f"--bn-{k}: {v};" for k, v in UI["light"].items()])
    dark = " ".join(f"--bn-{k}: {v};" for k, v in UI["dark"].items())
    return (f':root, .bn-vars {{ {light} }}\n'
            f'html[data-theme="dark"], html[data-theme="dark"] .bn-vars {{ {dark} }}\n' + _dark_diagrams())


def _dark_diagrams() -> str:
    """Dark-mode rules for graphviz's SVG (diagrams and the players' graph), keyed by these colours.

    Matched case-insensitively (``i``): graphviz writes colours in lower case, the players' restyling
    in the palette's own case.
    """
    dark = 'html[data-theme="dark"] :is(.bn-diagram, .bn-graph) svg'
    hl, inp, edge = (COLORS[k].lower() for k in ("highlight", "input", "neutral"))
    return "\n".join([
        f"{dark} text {{ fill: var(--bn-ink); }}",
        f'{dark} g.node [fill="#ffffff"] {{ fill: var(--bn-node); }}',
        f'{dark} g.node [fill="{inp}" i] {{ fill: var(--bn-node-input); }}',
        f'{dark} g.node [stroke="black"] {{ stroke: var(--bn-muted); }}',
        f'{dark} g.node:has([fill="{hl}" i]) text {{ fill: #1b1b1b; }}',
        f'{dark} g.edge [stroke="{edge}" i] {{ stroke: var(--bn-edge); }}',
        f'{dark} g.edge [fill="{edge}" i] {{ fill: var(--bn-edge); }}',
    ]) + "\n"
