"""The book's style sheet variables, written from ``bnlib.viz`` at build time.

``bnlib.viz.css_variables()`` (palette, font, UI colours for light and dark) becomes
``_static/bn-palette.css`` in the built site, loaded before the book's own
``_static/bn-book.css``, so the page, the players and the figures share one palette
and no hex value is copied into a stylesheet.
"""
from __future__ import annotations

from pathlib import Path

NAME = "bn-palette.css"


def add_palette(app):
    if app.builder.format == "html":
        app.add_css_file(NAME, priority=400)


def write_palette(app, exception):
    if exception is None and app.builder.format == "html":
        from bnlib.viz import css_variables

        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        (static / NAME).write_text(css_variables(), encoding="utf-8")


def setup(app):
    app.connect("builder-inited", add_palette)
    app.connect("build-finished", write_palette)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
