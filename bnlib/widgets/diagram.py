"""A static graph diagram with alt text: :func:`bnlib.graph.to_dot` as inline, labelled SVG.

``bnlib.graph.draw`` returns a ``graphviz.Source``, which Jupyter shows as an SVG
image; in the built book that becomes an ``<img>`` whose alt text is only its
file name. :func:`diagram` gives the same picture as inline SVG with
``role="img"`` and an ``aria-label``, so it is accessible and passes the
browser tests. Use it wherever a chapter displays the graph.
"""
from __future__ import annotations

from .. import graph
from ._graphsvg import _run_dot, clean_svg
from ._svg import esc

__all__ = ["Diagram", "diagram"]


class Diagram:
    """The SVG of one graph diagram and its alt text; displays inline in Jupyter and in the book."""

    def __init__(self, svg: str, alt: str):
        self.svg, self.alt = svg, alt

    def _repr_html_(self) -> str:
        # scale down to the column width instead of being cut off (height follows the aspect ratio)
        svg = self.svg.replace("<svg", f'<svg role="img" aria-label="{esc(self.alt)}" '
                               'style="max-width:100%;height:auto"', 1)
        svg = svg.replace(">", f"><title>{esc(self.alt)}</title>", 1)
        return f'<div class="bn-diagram" style="max-width:100%;overflow-x:auto">{svg}</div>'

    def __repr__(self):
        return f"Diagram({self.alt!r})"


def diagram(alt: str, **to_dot_kwargs) -> Diagram:
    """The batch-norm graph drawn by graphviz with alt text ``alt``.

    ``to_dot_kwargs`` go to :func:`bnlib.graph.to_dot` (``highlight``, ``edge``,
    ``edge_labels``, ``rankdir``, ``show``, ``direction``).
    """
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError("diagram needs alt text: a non-empty string saying what the picture shows")
    return Diagram(clean_svg(_run_dot(graph.to_dot(**to_dot_kwargs))), alt.strip())
