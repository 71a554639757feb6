"""One diagram that steps through the batch-norm graph, node by node, forward or backward.

Each frame highlights one node of ``bnlib.graph.NODES`` (and the edges into it,
or out of it when stepping backward), writes the shape of every value on the
edges, and says what the node computes: its formula forward, its local
derivative backward. Values (or gradients) are shown only with
``show_values=True``, so a chapter can ask the reader to predict them first.

The shapes read (N,) and "scalar" for one feature (a 1-D batch with scalar γ
and β), (N, D) and (D,) for a batch of D features.
"""
from __future__ import annotations

import numpy as np

from .. import graph
from ._animation import Animation
from ._graphsvg import graph_svg
from ._player import Frame
from ._svg import esc
from ._tensors import tensor_block

__all__ = ["GraphWalk", "graph_walk"]


def _shape(value, one_feature: bool) -> str:
    nd = np.ndim(value)
    if nd == 0:
        return "scalar"
    if nd == 2:
        return "(N, D)"
    return "(N,)" if one_feature else "(D,)"


def _d(name: str) -> str:
    lab = graph.label(name)
    return f"d{lab}" if len(lab) <= 2 else f"d({lab})"


class GraphWalk(Animation):
    """Frames: the inputs, then one per node (forward order, or reverse order backward)."""

    fps = 0.5

    def __init__(self, x, gamma, beta, eps=0.0, dy=None, direction="forward", show_values=False):
        super().__init__()
        if direction not in ("forward", "backward"):
            raise ValueError(f"direction must be 'forward' or 'backward'; got {direction!r}")
        if direction == "backward" and dy is None:
            raise ValueError("a backward walk needs the upstream gradient dy (same shape as x)")
        y, cache = graph.forward(x, gamma, beta, eps)
        self.cache, self.direction, self.show_values = cache, direction, bool(show_values)
        self.trace = graph.backward_trace(dy, cache) if direction == "backward" else None
        self.one_feature = np.ndim(cache["x"]) == 1
        self.title = f"The batch-norm graph, {direction}, one node at a time"

    def compute(self):
        return None                      # everything was computed once, in __init__

    def n_frames(self, state) -> int:
        return len(graph.NODES) + 1

    def _order(self):
        return list(graph.NODES) if self.direction == "forward" else list(reversed(graph.NODES))

    def _edge_shapes(self):
        return {(p, c): _shape(self.cache[p], self.one_feature) for p, c in graph.EDGES}

    def render(self, state, i: int) -> Frame:
        if i == 0:
            return self._start()
        n = self._order()[i - 1]
        k, total = i, len(graph.NODES)
        parents = n.parents + n.constants
        if self.direction == "forward":
            text = f"{n.text}  ({n.description}); from {', '.join(map(graph.label, parents))}"
            value = tensor_block(graph.label(n.name), self.cache[n.name])
            alt = f"computing {graph.label(n.name)} from {', '.join(map(graph.label, parents))}"
        else:
            text = (f"{_d(n.name)} arrives; local derivative {n.grad_text}; it sends "
                    f"{' and '.join(_d(p) for p in n.parents)} on")
            step = self.trace.steps[k - 1]
            value = "".join(tensor_block(f"to {_d(p)}", g) for p, g in step.to_parents.items())
            alt = f"{graph.label(n.name)} sends gradients to {', '.join(map(graph.label, n.parents))}"
        for p in n.parents:
            kids = graph.children(p)
            if len(kids) > 1 and self.direction == "backward":
                text += (f". {graph.label(p)} fans out to {' and '.join(map(graph.label, kids))}: "
                         f"{_d(p)} is the sum of what they send")
        svg = graph_svg(f"Batch-norm graph, {self.direction} step {k} of {total}: {alt}",
                        highlight=[n.name], edges=[(p, n.name) for p in parents],
                        edge_labels=self._edge_shapes(), direction=self.direction)
        return self._frame(svg, f"Step {k} of {total}: {graph.label(n.name)}", text,
                           value if self.show_values else "")

    def _start(self):
        names = graph.INPUTS + graph.CONSTANTS
        svg = graph_svg("Batch-norm graph with its inputs x, γ, β and ε highlighted",
                        highlight=names, edge_labels=self._edge_shapes(), direction=self.direction)
        shape = "one feature, N values" if self.one_feature else "N rows and D features"
        if self.direction == "forward":
            text = (f"The inputs: a batch x ({shape}), γ, β and the constant ε. Edges carry the "
                    "shape of the value on them. Step ▶ to compute one node at a time.")
        else:
            text = ("The upstream gradient dy = ∂L/∂y arrives at y, with y's shape. Step ▶ to send it "
                    "back one node at a time; each node multiplies by its local derivative.")
        values = ""
        if self.show_values:
            values = "".join(tensor_block(graph.label(k), self.cache[k]) for k in graph.INPUTS)
            if self.direction == "backward":
                values += tensor_block("dy", self.trace.steps[0].upstream)
        return self._frame(svg, "Start", text, values)

    def _frame(self, svg, heading, text, values):
        panel = f'<div class="bn-label">{esc(heading)}</div>{values}' if values else ""
        body = (f'<div class="bn-row"><div class="bn-graph">{svg}</div>'
                f'<div class="bn-panel">{panel}</div></div>')
        return Frame(body, esc(f"{heading}: {text.rstrip('.')}."))


def graph_walk(x, gamma, beta, eps=0.0, dy=None, direction="forward",
               show_values=False) -> GraphWalk:
    """A player stepping through the graph one node at a time (kernel-free in the book).

    ``x`` is (N,) with scalar ``gamma``, ``beta`` (one feature) or (N, D) with (D,)
    ones; ``eps`` may be 0 when no feature is constant. ``direction="backward"``
    needs ``dy``. With ``show_values`` each frame also shows the node's value
    (forward) or the gradients it sends (backward).
    """
    return GraphWalk(x, gamma, beta, eps, dy, direction, show_values)
