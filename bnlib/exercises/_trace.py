"""Compare a student's intermediate gradients with :func:`bnlib.graph.backward_trace`.

A node-by-node backward keeps one variable per node's gradient: ``dx_hat``,
``dxmu``, ``dvar``, ... When its result is wrong, the local variables it had
when it returned (captured by :func:`._calls.call_traced`) are compared, in the
order of the backward pass, with the gradients the graph computes on the same
batch, and the first node that differs is named: the bug is at that node or
at a branch point just before it.
"""
from __future__ import annotations

import numpy as np

from .. import graph
from ._diagnose import close

__all__ = ["ALIASES", "first_difference"]

ALIASES = {  # node -> names a student's variable for its gradient is likely to have
    "y": ("dy",), "scaled": ("dscaled", "dgamma_x_hat", "dgx"), "x_hat": ("dx_hat", "dxhat"),
    "inv_std": ("dinv_std", "dinvstd", "divar", "dinv", "distd"), "std": ("dstd", "dsqrtvar"),
    "var": ("dvar",), "sq": ("dsq", "dsquare"), "xmu": ("dxmu", "dxc", "dxcentered"), "mu": ("dmu",),
}


def _fans_out() -> set:
    """Values that feed more than one node (their gradients are sums)."""
    count: dict = {}
    for n in graph.NODES:
        for p in n.parents:
            count[p] = count.get(p, 0) + 1
    return {p for p, k in count.items() if k > 1}


def _student(frame_locals: dict, name: str):
    for alias in ALIASES.get(name, ()):
        value = frame_locals.get(alias)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            return alias, value
    return None, None


def _why(name: str, alias: str, value, want) -> str:
    n = graph.node(name)
    what = f"`{alias}`, the gradient of node {name} ({n.description})"
    if np.size(value) != np.size(want):
        broadcast = name in ("mu", "inv_std", "var", "std")
        return (f"{what}: it has shape {np.shape(value)} where bnlib.graph's has {np.shape(want)}"
                + (". This value was broadcast over the batch in the forward pass, so its gradient "
                   "is a sum over the batch (axis 0): a column sum is missing." if broadcast else "."))
    children = [c.name for c in graph.NODES if name in c.parents]
    if name in _fans_out():
        return (f"{what}. It is a branch point: it feeds {' and '.join(children)}, so its "
                f"gradient is the SUM of what they send back (`+=`, not `=`).")
    return f"{what}: look at this node's local derivative, or at what flows into it."


def first_difference(frame_locals: dict, x, gamma, beta, eps, dout, tol: float, label: str) -> str:
    """A sentence naming the first intermediate gradient that differs, or "" if none is known."""
    if not frame_locals:
        return ""
    _, cache = graph.forward(x, gamma, beta, eps)
    grads = graph.backward_trace(dout, cache).grads
    matched = []
    for n in reversed(graph.NODES):
        alias, value = _student(frame_locals, n.name)
        if alias is None:
            continue
        want = grads[n.name]
        if np.size(value) != np.size(want) or not close(np.reshape(value, np.shape(want)), want, tol):
            ok = (f"{', '.join(f'`{m}`' for m in matched)} match{'es' if len(matched) == 1 else ''}; "
                  if matched else "")
            return (f"Your intermediate gradients compared with bnlib.graph.backward_trace (test case: "
                    f"{label}): {ok}the first that differs is {_why(n.name, alias, value, want)}")
        matched.append(alias)
    if not matched:
        return ""
    return (f"Your intermediate gradients {', '.join(f'`{m}`' for m in matched)} all match "
            f"bnlib.graph.backward_trace (test case: {label}), so the mistake is in the "
            f"last step: x is a branch point (it feeds x − μ and μ), so dx is the SUM of both "
            f"contributions, d(x − μ) + dμ/N.")
