"""The pencil walk as an explorable: edit one feature's batch and dy, see every node's value and gradient.

One object, two views (like the players):

* in the built book, ``text/html``: number inputs for the batch ``x``, the upstream
  gradient ``dy``, ``gamma``, ``beta`` and ``eps``, and a table with every node of
  :data:`bnlib.graph.NODES` (value and gradient) and the results ``dx, dgamma, dbeta``,
  recomputed in the browser by ``bnlib/static/explorable.js`` on every change (no
  kernel). The nodes' names, labels, parents and operations are passed to the script
  as data, so the graph is written down once. The table holds the default values
  computed here by :mod:`bnlib.graph`, so it reads the same without JavaScript and in print;
* in Jupyter, an ipywidgets form whose table is recomputed by :mod:`bnlib.graph`.

The defaults are the pencil-walk example: x = [2, 4, 4, 4, 5, 5, 7, 9], γ = 2, β = 1,
ε = 0, dy = [0, 0, 0, 0, 1, 2, 2, 3].
"""
from __future__ import annotations

import itertools
import json

import numpy as np

from .. import graph
from ._player import static_text, style_tag
from ._svg import esc, fmt

__all__ = ["Explorable", "explorable", "OPS", "PENCIL_X", "PENCIL_DY"]

PENCIL_X = (2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0)
PENCIL_DY = (0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 2.0, 3.0)
OPS = {"mean", "subtract", "square", "sqrt", "reciprocal", "normalize", "scale", "shift"}
"""The local operations explorable.js implements, by the name of each node's forward function."""
MAX_N = 16
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_ids = itertools.count(1)


def _op(n: graph.Node) -> str:
    name = n.forward.__name__.removesuffix("_forward")
    if name not in OPS:
        raise ValueError(f"explorable.js has no operation {name!r} (node {n.name}); it knows {sorted(OPS)}")
    return name


def spec() -> dict:
    """What the page's script needs to know about the graph, all from :mod:`bnlib.graph`."""
    names = graph.INPUTS + graph.CONSTANTS
    return {"inputs": list(graph.INPUTS), "constants": list(graph.CONSTANTS),
            "labels": {k: graph.label(k) for k in names + tuple(n.name for n in graph.NODES)},
            "nodes": [{"name": n.name, "op": _op(n), "parents": list(n.parents),
                       "constants": list(n.constants), "text": n.text} for n in graph.NODES]}


def _d(name: str) -> str:
    lab = graph.label(name)
    return f"d{lab}" if len(lab) <= 2 else f"d({lab})"


def _show(v) -> str:
    a = np.atleast_1d(np.asarray(v, float))
    text = ", ".join(fmt(t, 4) for t in a)
    return text if np.ndim(v) == 0 else f"[{text}]"


class Explorable:
    """The pencil walk: one feature ``x`` (N values), ``dy``, scalar ``gamma``, ``beta``, ``eps``."""

    title = "Explore the pencil walk: change the batch or dy, every node updates"

    def __init__(self, x=PENCIL_X, dy=PENCIL_DY, gamma=2.0, beta=1.0, eps=0.0):
        self.set(x=x, dy=dy, gamma=gamma, beta=beta, eps=eps)

    def set(self, **values) -> "Explorable":
        """Change inputs; raises a clear error (and changes nothing) if they are invalid."""
        new = {**getattr(self, "values", {}), **values}
        x, dy = np.asarray(new["x"], float), np.asarray(new["dy"], float)
        if x.ndim != 1 or not 2 <= x.size <= MAX_N:
            raise ValueError(f"x must be one feature of 2 to {MAX_N} values; got shape {x.shape}")
        if dy.shape != x.shape:
            raise ValueError(f"dy must have one value per value of x ({x.size}); got {dy.size}")
        result = self._compute(x, dy, new["gamma"], new["beta"], new["eps"])
        self.values, self.result = {**new, "x": tuple(x), "dy": tuple(dy)}, result
        return self

    @staticmethod
    def _compute(x, dy, gamma, beta, eps):
        _, cache = graph.forward(x, gamma, beta, eps)
        return cache, graph.backward_trace(dy, cache)

    # --- the table (both views) ----------------------------------------------------------
    def table_html(self) -> str:
        """Every node's value and gradient, then dx, dγ, dβ (the static, no-JavaScript view)."""
        cache, trace = self.result
        rows = [("x", "input", cache["x"], trace.grads["x"])]
        rows += [(k, "input", cache[k], trace.grads[k]) for k in ("gamma", "beta")]
        rows += [("eps", "constant", cache["eps"], None)]
        rows += [(n.name, n.text, cache[n.name], trace.grads[n.name]) for n in graph.NODES]
        body = "".join(
            f'<tr data-node="{name}"><th scope="row">{esc(graph.label(name))}</th><td>{esc(how)}</td>'
            f'<td class="bn-x-value">{_show(v)}</td>'
            f'<td class="bn-x-grad">{"—" if g is None else _show(g)}</td></tr>' for name, how, v, g in rows)
        g = trace.grads
        results = "".join(f'<div><span class="bn-x-name">{esc(_d(k))}</span> = '
                          f'<output class="bn-x-result" data-of="{k}">{_show(g[k])}</output></div>'
                          for k in graph.INPUTS)
        return (f'<table class="bn-table bn-x-table"><caption>Every value of the graph and its '
                f'gradient d(loss)/d(value)</caption><thead><tr><th scope="col">node</th>'
                f'<th scope="col">how it is computed</th><th scope="col">value</th>'
                f'<th scope="col">gradient</th></tr></thead><tbody>{body}</tbody></table>'
                f'<div class="bn-x-results" aria-label="results">{results}</div>')

    # --- the book's view ------------------------------------------------------------------
    def _field(self, uid, name, label, value, step="any"):
        return (f'<label class="bn-x-field"><span>{esc(label)}</span>'
                f'<input type="number" step="{step}" inputmode="decimal" data-name="{name}" '
                f'value="{value:g}" id="{uid}-{name}"></label>')

    def _row(self, uid, name, values):
        cells = "".join(f'<input type="number" step="any" inputmode="decimal" data-name="{name}" '
                        f'data-index="{i}" value="{v:g}" aria-label="{name} {i + 1}">'
                        for i, v in enumerate(values))
        return (f'<fieldset class="bn-x-row"><legend>{esc("batch x" if name == "x" else "upstream gradient dy")}'
                f' ({len(values)} values)</legend><div class="bn-x-cells" data-row="{name}">{cells}</div></fieldset>')

    def to_html(self) -> str:
        """The kernel-free explorable: inputs (shown once the script runs), the table, the script."""
        uid = f"bn-explorable-{next(_ids)}"
        v = self.values
        controls = (
            f'<div class="bn-x-controls" hidden>{self._row(uid, "x", v["x"])}{self._row(uid, "dy", v["dy"])}'
            '<div class="bn-x-scalars">'
            + self._field(uid, "gamma", "γ", v["gamma"]) + self._field(uid, "beta", "β", v["beta"])
            + self._field(uid, "eps", "ε", v["eps"])
            + '<button type="button" class="bn-x-add">add a value</button>'
            '<button type="button" class="bn-x-remove">remove the last value</button>'
            '<button type="button" class="bn-x-reset">reset</button></div>'
            '<p class="bn-x-error" role="alert" hidden></p></div>')
        data = json.dumps({"spec": spec(), "defaults": {k: list(v[k]) if k in ("x", "dy") else v[k]
                                                         for k in ("x", "dy", "gamma", "beta", "eps")},
                           "max_n": MAX_N}).replace("</", "<\\/")      # never ends the script element
        return (f'{style_tag()}<style>{static_text("explorable.css")}</style>'
                f'<div class="bn-explorable bn-vars" id="{uid}" role="group" aria-label="{esc(self.title)}">'
                f'<div class="bn-title">{esc(self.title)}</div>{controls}'
                f'<div class="bn-x-out" aria-live="polite">{self.table_html()}</div>'
                f'<script type="application/json" class="bn-x-data">{data}</script></div>'
                f'<script>{static_text("explorable.js")}</script>')

    # --- Jupyter's view -------------------------------------------------------------------
    def widget(self):
        """ipywidgets: one box per value of x and dy, γ, β, ε; the table recomputed by bnlib.graph."""
        import ipywidgets as W

        out = W.HTML(value=style_tag() + f"<style>{static_text('explorable.css')}</style>" + self.table_html())
        error = W.HTML()
        xs = [W.FloatText(value=t, description=f"x{i + 1}", layout=W.Layout(width="9em"))
              for i, t in enumerate(self.values["x"])]
        ds = [W.FloatText(value=t, description=f"dy{i + 1}", layout=W.Layout(width="9em"))
              for i, t in enumerate(self.values["dy"])]
        scalars = {k: W.FloatText(value=self.values[k], description=graph.label(k), layout=W.Layout(width="9em"))
                   for k in ("gamma", "beta", "eps")}

        def update(_=None):
            try:
                self.set(x=[w.value for w in xs], dy=[w.value for w in ds],
                         **{k: w.value for k, w in scalars.items()})
            except (ValueError, TypeError) as e:
                error.value = f'<p class="bn-x-error" role="alert">{esc(e)}</p>'
                return
            error.value = ""
            out.value = style_tag() + f"<style>{static_text('explorable.css')}</style>" + self.table_html()

        for w in xs + ds + list(scalars.values()):
            w.observe(update, names="value")
        box = W.VBox([W.HBox(xs, layout=W.Layout(flex_flow="row wrap")),
                      W.HBox(ds, layout=W.Layout(flex_flow="row wrap")),
                      W.HBox(list(scalars.values())), error, out])
        box.controls = {"x": xs, "dy": ds, **scalars}
        box.view, box.explorable = out, self
        return box

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": repr(self), "text/html": self.to_html()}
        try:
            view = self.widget()._repr_mimebundle_()
        except ImportError:       # no ipywidgets: the HTML view alone still works
            view = {}
        if WIDGET_VIEW in view:
            bundle[WIDGET_VIEW] = view[WIDGET_VIEW]
        return bundle

    def __repr__(self):
        v = self.values
        return (f"Explorable(x={list(v['x'])}, dy={list(v['dy'])}, gamma={v['gamma']:g}, "
                f"beta={v['beta']:g}, eps={v['eps']:g})")


def explorable(x=PENCIL_X, dy=PENCIL_DY, gamma=2.0, beta=1.0, eps=0.0) -> Explorable:
    """The pencil walk's explorable (defaults: the chapter-3 example); see ``Explorable``."""
    return Explorable(x=x, dy=dy, gamma=gamma, beta=beta, eps=eps)
