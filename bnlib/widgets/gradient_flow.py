"""Gradient flow through the batch-norm graph: the forward pass, then the backward pass, node by node.

Frames (for an (N, D) batch; 21 in all):

* 0: the inputs ``x, gamma, beta, eps``;
* 1–9: forward, one node of ``bnlib.graph.NODES`` each, its value in the panel;
* 10: the upstream gradient ``dy`` arrives;
* 11–19: backward, nodes in reverse order; each sends ``dout * local derivative``
  to its parents, and where a value fans out (``x`` and ``x - mu``) the panel
  shows the contributions being added, ``dx = (from x-mu) + (from mu)``;
* 20: the results ``dx, dgamma, dbeta``.

Edge labels show entry [0, 0] of the value (forward) or gradient contribution
(backward) travelling along the edge. The numbers are exactly those of
:func:`bnlib.graph.forward` and :func:`bnlib.graph.backward_trace`.
"""
from __future__ import annotations

import numpy as np

from .. import graph
from ._animation import Animation, Param
from ._graphsvg import graph_svg
from ._player import Frame
from ._tensors import tensor_block, sum_block

__all__ = ["GradientFlow", "gradient_flow", "UPSTREAM"]

UPSTREAM = ("random", "uniform", "one entry", "y (loss ½Σy²)")
"""Choices for the upstream gradient dy = dL/dy."""

FAN_OUT = tuple(name for name in graph.INPUTS + tuple(n.name for n in graph.NODES)
                if len(graph.children(name)) > 1)
"""The values that feed two nodes (x and x − μ): where gradients add up."""
WHY_UNIFORM = ("A uniform dy means the loss only sees each column's sum of y, which is N·β whatever x is "
               "(x̂ always sums to zero over the batch), so x gets no gradient.")


def _d(name: str) -> str:
    lab = graph.label(name)
    return f"d{lab}" if len(lab) <= 2 else f"d({lab})"


def _entry(a) -> str:
    """Entry [0, 0] (or [0]) of an array, short: what an edge label shows."""
    v = float(np.asarray(a).flat[0])
    return "0" if abs(v) < 5e-16 else f"{v:+.3g}"


class GradientFlow(Animation):
    """Forward then backward through :mod:`bnlib.graph`, with live N, D, gamma, beta, eps and dy."""

    title = "Gradient flow through the batch-norm graph"
    fps = 1.0
    params = (
        Param("N", "int", 4, 2, 64, 1, label="batch N"),
        Param("D", "int", 3, 1, 16, 1, label="features D"),
        Param("gamma", "float", 1.5, -3.0, 3.0, 0.1, label="γ"),
        Param("beta", "float", 0.5, -3.0, 3.0, 0.1, label="β"),
        Param("eps", "log", 1e-5, 1e-8, 10.0, 0.5, label="ε"),
        Param("upstream", "choice", "random", options=UPSTREAM, label="upstream dy"),
        Param("seed", "int", 0, 0, 10_000, 1),
    )

    def compute(self, N, D, gamma, beta, eps, upstream, seed):
        """Inputs, dy, the forward cache and the backward trace."""
        rng = np.random.default_rng(seed)
        x = np.round(rng.normal(2.0, 1.5, size=(N, D)), 2)   # two decimals: readable tables
        g, b = np.full(D, gamma), np.full(D, beta)
        y, cache = graph.forward(x, g, b, eps)
        dy = {"random": lambda: np.round(rng.normal(size=(N, D)), 2),
              "uniform": lambda: np.ones((N, D)),
              "one entry": lambda: np.eye(N, D),
              UPSTREAM[3]: lambda: y.copy()}[upstream]()
        return {"cache": cache, "dy": dy, "trace": graph.backward_trace(dy, cache), "upstream": upstream}

    def n_frames(self, state) -> int:
        return 2 * len(graph.NODES) + 3

    def render(self, state, i: int) -> Frame:
        nf = len(graph.NODES)
        if i == 0:
            return self._inputs(state)
        if i <= nf:
            return self._forward(state, i - 1)
        if i == nf + 1:
            return self._dy(state)
        if i <= 2 * nf + 1:
            return self._backward(state, i - nf - 2)
        return self._done(state)

    # --- frames -------------------------------------------------------------------
    def _frame(self, svg, panel, caption, data):
        body = (f'<div class="bn-row"><div class="bn-graph">{svg}</div>'
                f'<div class="bn-panel">{panel}</div></div>')
        return Frame(body, caption, data)

    def _inputs(self, s):
        c = s["cache"]
        svg = graph_svg("Batch-norm graph; the inputs x, γ, β and ε are highlighted",
                        highlight=graph.INPUTS + graph.CONSTANTS)
        panel = "".join(tensor_block(graph.label(k), c[k]) for k in graph.INPUTS) + \
            f'<div class="bn-label">ε = {c["eps"]:.3g}</div>'
        n, d = c["x"].shape
        return self._frame(svg, panel, f"The inputs: a batch x of N = {n} rows and D = {d} features, "
                           "the parameters γ and β, and the constant ε. Press play or step ▶.",
                           {"phase": "inputs", "x": c["x"]})

    def _forward(self, s, k):
        c, n = s["cache"], graph.NODES[k]
        done = {m.name for m in graph.NODES[:k + 1]}
        labels = {(p, m): (f"{c[p]:.2g}" if p == "eps" else _entry(c[p]))
                  for m in done for p in graph.node(m).parents + graph.node(m).constants}
        into = [(p, n.name) for p in n.parents + n.constants]
        svg = graph_svg(f"Batch-norm graph, forward step {k + 1} of {len(graph.NODES)}: "
                        f"computing {graph.label(n.name)} from {', '.join(graph.label(p) for p in n.parents)}",
                        highlight=[n.name], edges=into, edge_labels=labels)
        panel = (f'<div class="bn-note">{n.description}</div>'
                 + tensor_block(graph.label(n.name), c[n.name]))
        cap = (f"Forward {k + 1}/{len(graph.NODES)}: {graph.label(n.name)} from "
               f"{' and '.join(graph.label(p) for p in n.parents + n.constants)}. "
               "Edge labels: entry [0, 0] of the value on each edge.")
        return self._frame(svg, panel, cap, {"phase": "forward", "node": n.name, "value": c[n.name]})

    def _dy(self, s):
        svg = graph_svg("Batch-norm graph, backward pass: the upstream gradient dy arrives at y",
                        highlight=["y"], direction="backward")
        panel = tensor_block("dy = ∂L/∂y", s["dy"])
        note = {"uniform": " Every entry is 1: the loss only cares about the sum of y.",
                "one entry": " Only y[0, 0] matters to this loss.",
                UPSTREAM[3]: " For L = ½Σy², dy = y."}.get(s["upstream"], "")
        return self._frame(svg, panel, f"Backward: the upstream gradient dy ({s['upstream']}) "
                           f"arrives from the loss.{note}", {"phase": "dy", "dy": s["dy"]})

    def _backward(self, s, j):
        trace = s["trace"]
        step = trace.steps[j]
        n = graph.node(step.node)
        labels = {(p, t.node): _entry(g) for t in trace.steps[:j + 1] for p, g in t.to_parents.items()}
        out_edges = [(p, n.name) for p in n.parents]
        svg = graph_svg(f"Batch-norm graph, backward step {j + 1} of {len(graph.NODES)}: "
                        f"{graph.label(n.name)} sends gradients to {', '.join(graph.label(p) for p in n.parents)}",
                        highlight=[n.name], edges=out_edges, edge_labels=labels, direction="backward")
        parts = [tensor_block(f"upstream {_d(n.name)}", step.upstream)]
        notes = []
        for p in n.parents:
            fan = [(src, g) for src, g in trace.fan_in(p)
                   if [t.node for t in trace.steps].index(src) <= j]
            if p in FAN_OUT and len(fan) == 2:
                parts.append(sum_block(_d(p), [(f"from {graph.label(a)}", g) for a, g in fan], step.totals[p]))
                notes.append(f"{graph.label(p)} fans out, so its two contributions are added.")
            else:
                parts.append(tensor_block(f"to {_d(p)}", step.to_parents[p]))
                if p in FAN_OUT:
                    notes.append(f"{graph.label(p)} fans out: {_d(p)} is not complete until its other "
                                 "child has sent its part.")
        if n.name == "mu" and s["upstream"] == "uniform":
            dx = step.totals["x"]
            notes.append(f"With a uniform dy the two parts cancel: max |dx| = {np.abs(dx).max():.1e}. "
                         + WHY_UNIFORM)
        cap = (f"Backward {j + 1}/{len(graph.NODES)}: {_d(n.name)} times the local derivative of "
               f"{graph.label(n.name)} goes to {', '.join(graph.label(p) for p in n.parents)}. " + " ".join(notes)
               + " Edge labels: entry [0, 0] of the gradient sent along each edge.")
        return self._frame(svg, "".join(parts), cap, {
            "phase": "backward", "node": n.name, "upstream": step.upstream,
            "to_parents": dict(step.to_parents), "totals": dict(step.totals)})

    def _done(self, s):
        g = s["trace"].grads
        svg = graph_svg("Batch-norm graph, backward pass done: x, γ and β have their gradients",
                        highlight=graph.INPUTS, direction="backward")
        panel = "".join(tensor_block(_d(k), g[k]) for k in graph.INPUTS)
        cap = (f"Done: dx, dγ and dβ. max |dx| = {np.abs(g['x']).max():.3g}; "
               f"each column of dx sums to {np.abs(g['x'].sum(axis=0)).max():.1e} (zero up to rounding).")
        if s["upstream"] == "uniform":
            cap += " " + WHY_UNIFORM
        return self._frame(svg, panel, cap, {"phase": "done", "dx": g["x"], "dgamma": g["gamma"],
                                             "dbeta": g["beta"]})


def gradient_flow(N: int = 4, D: int = 3, seed: int = 0, **kw) -> GradientFlow:
    """The forward then backward pass of :mod:`bnlib.graph`, node by node, as an animation.

    Extra keywords: ``gamma``, ``beta`` (one value for every feature), ``eps`` and
    ``upstream`` (one of ``UPSTREAM``; "uniform" shows dx = 0).
    """
    return GradientFlow(N=N, D=D, seed=seed, **kw)
