"""The batch-norm graph as a picture: DOT source, inline SVG with alt text, and its description.

Everything here is derived from ``bnlib.graph.NODES`` (labels, edges, which
values fan out) and coloured from ``bnlib.viz.COLORS``; nothing about the
graph is written down twice. ``draw_graph`` gives inline SVG with
``role="img"`` and an ``aria-label`` (a plain ``graphviz.Source`` would become an
``<img>`` whose alt text is only a file name).
"""
from __future__ import annotations

from .. import graph
from ..viz import COLORS
from ._svg import esc

__all__ = ["Diagram", "to_dot", "draw_graph", "describe_graph", "run_dot", "clean_svg"]

_NAMES = graph.INPUTS + graph.CONSTANTS + tuple(n.name for n in graph.NODES)


def _as_set(one_or_many, pair: bool = False) -> set:
    if not one_or_many:
        return set()
    if (pair and isinstance(one_or_many[0], str)) or isinstance(one_or_many, str):
        return {one_or_many if not pair else tuple(one_or_many)}
    return {tuple(e) if pair else e for e in one_or_many}


def to_dot(highlight=None, edge=None, edge_labels=None, rankdir="LR", show="label",
           direction="forward", ranksep=0.25, nodesep=0.15) -> str:
    """DOT source of the graph.

    ``highlight``: a node name (or iterable of names) drawn filled;
    ``edge``: a (parent, child) pair (or iterable of pairs) drawn thick;
    ``edge_labels``: {(parent, child): text} written on edges;
    ``show``: "label" (plain text such as x̂) or "name" (x_hat);
    ``direction``: "backward" draws arrows from child to parent (gradient flow);
    ``rankdir``, ``ranksep``, ``nodesep``: graphviz's layout direction and spacing (inches).
    """
    if show not in ("label", "name"):
        raise ValueError(f"show must be 'label' or 'name'; got {show!r}")
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward'; got {direction!r}")
    hl, he = _as_set(highlight), _as_set(edge, pair=True)
    unknown = sorted(hl - set(_NAMES)) + sorted(map(str, he - set(graph.EDGES)))
    if unknown:
        raise ValueError(f"not in the graph: {unknown}; nodes are {list(_NAMES)}")
    edge_labels = edge_labels or {}
    lines = [f'digraph bn {{ rankdir={rankdir}; bgcolor="transparent"; ranksep={ranksep:g}; '
             f'nodesep={nodesep:g};',
             '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", '
             'fontname="Helvetica", fontsize=12];',
             f'  edge [fontname="Helvetica", fontsize=10, color="{COLORS["neutral"]}"];']
    for name in _NAMES:
        is_input = name in graph.INPUTS + graph.CONSTANTS
        fill = COLORS["highlight"] if name in hl else (COLORS["input"] if is_input else "#ffffff")
        text = graph.label(name) if show == "label" else name
        lines.append(f'  "{name}" [label="{text}", shape={"ellipse" if is_input else "box"}, '
                     f'fillcolor="{fill}"{", penwidth=2.5" if name in hl else ""}, tooltip="{name}"];')
    for p, c in graph.EDGES:
        attrs = [f'color="{COLORS["highlight_line"]}"', "penwidth=3"] if (p, c) in he else []
        if p in graph.CONSTANTS:
            attrs.append("style=dashed")
        if (p, c) in edge_labels:
            attrs.append(f'label="{edge_labels[(p, c)]}"')
        if direction == "backward":
            attrs.append("dir=back")
        lines.append(f'  "{p}" -> "{c}" [{", ".join(attrs)}];')
    lines.append("}")
    return "\n".join(lines)


def describe_graph(highlight=None, edge=None, direction="forward", **_) -> str:
    """A sentence saying what a :func:`bnlib.widgets.diagram.to_dot` picture shows (its alt text)."""
    steps = ", ".join(graph.label(n.name) for n in graph.NODES)
    text = (f"The batch-norm computational graph: inputs x, γ, β and ε flow through {steps}; "
            f"{' and '.join(graph.label(n) for n in _NAMES if len(graph.children(n)) > 1)} fan out "
            "to two nodes each")
    if direction == "backward":
        text += "; arrows drawn for the backward pass"
    if highlight:
        text += "; highlighted: " + ", ".join(graph.label(n) for n in sorted(_as_set(highlight),
                                                                               key=_NAMES.index))
    if edge:
        text += "; highlighted edges: " + ", ".join(f"{graph.label(p)} to {graph.label(c)}"
                                                    for p, c in sorted(_as_set(edge, pair=True)))
    return text + "."


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


def draw_graph(alt: str | None = None, **to_dot_kwargs) -> Diagram:
    """The batch-norm graph drawn by graphviz, as inline SVG with alt text.

    ``to_dot_kwargs`` go to :func:`bnlib.widgets.diagram.to_dot` (``highlight``, ``edge``, ``edge_labels``,
    ``rankdir``, ``show``, ``direction``, spacing). Without ``alt`` the text says
    what is highlighted (:func:`describe_graph`).
    """
    if alt is not None and (not isinstance(alt, str) or not alt.strip()):
        raise ValueError("alt must be a non-empty string saying what the picture shows (or None)")
    text = alt.strip() if alt else describe_graph(**to_dot_kwargs)
    return Diagram(clean_svg(run_dot(to_dot(**to_dot_kwargs))), text)


def clean_svg(svg: str) -> str:
    """dot's SVG made fit to inline in a page: no XML prolog, comments, ids or graph title.

    Ids go because several diagrams on one page would repeat them.
    """
    import re

    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r'\s(id|class)="graph0?"', "", svg)
    svg = re.sub(r'\sid="[^"]*"', "", svg)
    return re.sub(r"<title>bn</title>", "", svg)


def run_dot(src: str) -> str:
    """Lay out DOT source with graphviz's ``dot`` (the [book] extra) and return SVG text."""
    import graphviz

    return graphviz.Source(src).pipe(format="svg", encoding="utf-8")
