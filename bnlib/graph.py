r"""The batch-norm computational graph, node by node.

The graph is data: ``NODES`` is one ordered list (a topological order) of
:class:`Node` records. That single list drives

* :func:`forward`, which evaluates the nodes in order and keeps every value;
* :func:`backward` / :func:`backward_trace`, which visit the nodes in reverse
  order, apply each node's local derivative and *add* gradients where a value
  fans out (``x`` feeds ``mu`` and ``xmu``; ``xmu`` feeds ``sq`` and ``x_hat``);
* :data:`EDGES`, :func:`children` and :func:`label`, from which the diagrams in
  :mod:`bnlib.widgets` are drawn (the core itself draws nothing);
* :func:`node_table`, the per-node table shown in the book.

The graph works on an (N, D) batch in training mode, or on one feature: an
(N,) batch with scalar ``gamma`` and ``beta`` (the pencil-and-paper walk).
``eps`` may be 0 for such a walk, as long as no feature is constant:

.. math::

   \mu = \tfrac1N\sum_i x_i,\quad
   \sigma^2 = \tfrac1N\sum_i (x_i-\mu)^2,\quad
   \hat x_i = \frac{x_i-\mu}{\sqrt{\sigma^2+\epsilon}},\quad
   y_i = \gamma \hat x_i + \beta .
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._checks import as_float_array, check_batch, check_dout, check_eps, check_param

__all__ = [
    "Node", "NODES", "INPUTS", "CONSTANTS", "INPUT_LABELS", "EDGES", "node", "label", "children",
    "forward", "backward", "backward_trace", "GraphCache", "BackwardStep", "BackwardTrace",
    "node_table",
]

INPUTS = ("x", "gamma", "beta")
"""The graph inputs that receive a gradient."""
CONSTANTS = ("eps",)
"""The graph inputs that are fixed numbers; they feed a node but get no gradient."""
INPUT_LABELS = {"x": "x", "gamma": "γ", "beta": "β", "eps": "ε"}
"""Plain-text labels of the graph inputs (the nodes carry their own)."""


@dataclass(frozen=True)
class Node:
    """One operation of the graph.

    ``forward(*parents, *constants)`` computes the node's value;
    ``backward(dout, out, *parents, *constants)`` returns one gradient per
    parent (same shape as that parent), i.e. the upstream gradient ``dout``
    times the local derivative.
    """

    name: str
    label: str                     # plain text for diagrams and captions, e.g. "μ"
    symbol: str                    # LaTeX for the value, e.g. r"\mu"
    formula: str                   # LaTeX for how it is computed
    local_grad: str                # LaTeX for its local derivative(s)
    parents: tuple[str, ...]
    forward: Callable[..., np.ndarray]
    backward: Callable[..., tuple[np.ndarray, ...]]
    constants: tuple[str, ...] = ()
    description: str = ""
    text: str = ""                 # the formula in plain text, for captions and players
    grad_text: str = ""            # the local derivative(s) in plain text


# --- local forward and backward functions, one small pair per node ----------

def mean_forward(x):
    return x.mean(axis=0)


def mean_backward(dout, out, x):
    # every row contributed 1/N of the mean (the variance node reuses this: x is then sq)
    return (np.broadcast_to(dout / x.shape[0], x.shape).copy(),)


def subtract_forward(x, mu):
    return x - mu


def subtract_backward(dxmu, xmu, x, mu):
    # mu was broadcast over the N rows, so its gradient sums over them
    return dxmu, -dxmu.sum(axis=0)


def square_forward(xmu):
    return xmu ** 2


def square_backward(dsq, sq, xmu):
    return (2.0 * xmu * dsq,)


def sqrt_forward(var, eps):
    return np.sqrt(var + eps)


def sqrt_backward(dstd, std, var, eps):
    return (dstd * 0.5 / std,)


def reciprocal_forward(std):
    return 1.0 / std


def reciprocal_backward(dinv_std, inv_std, std):
    return (-dinv_std / std ** 2,)


def normalize_forward(xmu, inv_std):
    return xmu * inv_std


def normalize_backward(dx_hat, x_hat, xmu, inv_std):
    # inv_std was broadcast over the rows: sum its gradient over them
    return dx_hat * inv_std, (dx_hat * xmu).sum(axis=0)


def scale_forward(gamma, x_hat):
    return gamma * x_hat


def scale_backward(dscaled, scaled, gamma, x_hat):
    return (dscaled * x_hat).sum(axis=0), dscaled * gamma


def shift_forward(scaled, beta):
    return scaled + beta


def shift_backward(dy, y, scaled, beta):
    return dy, dy.sum(axis=0)


NODES: tuple[Node, ...] = (
    Node("mu", "μ", r"\mu", r"\mu = \frac{1}{N}\sum_{i=1}^{N} x_i",
         r"\frac{\partial \mu}{\partial x_i} = \frac{1}{N}",
         ("x",), mean_forward, mean_backward,
         description="mean of each feature over the batch",
         text="μ = (1/N) Σᵢ xᵢ", grad_text="∂μ/∂xᵢ = 1/N"),
    Node("xmu", "x − μ", r"x-\mu", r"(x-\mu)_i = x_i - \mu",
         r"\frac{\partial (x-\mu)_i}{\partial x_i} = 1,\quad \frac{\partial (x-\mu)_i}{\partial \mu} = -1",
         ("x", "mu"), subtract_forward, subtract_backward,
         description="centred input",
         text="(x − μ)ᵢ = xᵢ − μ", grad_text="∂(x − μ)ᵢ/∂xᵢ = 1, ∂(x − μ)ᵢ/∂μ = −1"),
    Node("sq", "(x − μ)²", r"(x-\mu)^2", r"(x-\mu)^2_i = (x_i-\mu)^2",
         r"\frac{\partial (x-\mu)^2_i}{\partial (x-\mu)_i} = 2(x_i-\mu)",
         ("xmu",), square_forward, square_backward,
         description="squared deviation",
         text="(x − μ)²ᵢ = (xᵢ − μ)²", grad_text="∂(x − μ)²ᵢ/∂(x − μ)ᵢ = 2(xᵢ − μ)"),
    Node("var", "σ²", r"\sigma^2", r"\sigma^2 = \frac{1}{N}\sum_{i=1}^{N} (x_i-\mu)^2",
         r"\frac{\partial \sigma^2}{\partial (x-\mu)^2_i} = \frac{1}{N}",
         ("sq",), mean_forward, mean_backward,
         description="biased batch variance",
         text="σ² = (1/N) Σᵢ (xᵢ − μ)²", grad_text="∂σ²/∂(x − μ)²ᵢ = 1/N"),
    Node("std", "√(σ² + ε)", r"\sqrt{\sigma^2+\epsilon}", r"\sqrt{\sigma^2+\epsilon}",
         r"\frac{\partial \sqrt{\sigma^2+\epsilon}}{\partial \sigma^2} = \frac{1}{2\sqrt{\sigma^2+\epsilon}}",
         ("var",), sqrt_forward, sqrt_backward, constants=("eps",),
         description="standard deviation, kept away from zero by eps",
         text="√(σ² + ε)", grad_text="∂√(σ² + ε)/∂σ² = 1 / (2√(σ² + ε))"),
    Node("inv_std", "1 / √(σ² + ε)", r"1/\sqrt{\sigma^2+\epsilon}", r"\frac{1}{\sqrt{\sigma^2+\epsilon}}",
         r"\frac{\partial (1/s)}{\partial s} = -\frac{1}{s^2}",
         ("std",), reciprocal_forward, reciprocal_backward,
         description="inverse standard deviation",
         text="1 / √(σ² + ε)", grad_text="∂(1/s)/∂s = −1/s², with s = √(σ² + ε)"),
    Node("x_hat", "x̂", r"\hat{x}", r"\hat{x}_i = (x_i-\mu)\cdot\frac{1}{\sqrt{\sigma^2+\epsilon}}",
         r"\frac{\partial \hat{x}_i}{\partial (x-\mu)_i} = \frac{1}{\sqrt{\sigma^2+\epsilon}},\quad"
         r" \frac{\partial \hat{x}_i}{\partial (1/\sqrt{\sigma^2+\epsilon})} = x_i-\mu",
         ("xmu", "inv_std"), normalize_forward, normalize_backward,
         description="normalized input",
         text="x̂ᵢ = (xᵢ − μ) · 1/√(σ² + ε)",
         grad_text="∂x̂ᵢ/∂(x − μ)ᵢ = 1/√(σ² + ε), ∂x̂ᵢ/∂(1/√(σ² + ε)) = xᵢ − μ"),
    Node("scaled", "γx̂", r"\gamma\hat{x}", r"(\gamma\hat{x})_i = \gamma\,\hat{x}_i",
         r"\frac{\partial (\gamma\hat{x})_i}{\partial \gamma} = \hat{x}_i,\quad"
         r" \frac{\partial (\gamma\hat{x})_i}{\partial \hat{x}_i} = \gamma",
         ("gamma", "x_hat"), scale_forward, scale_backward,
         description="scaled by gamma",
         text="(γx̂)ᵢ = γ · x̂ᵢ", grad_text="∂(γx̂)ᵢ/∂γ = x̂ᵢ, ∂(γx̂)ᵢ/∂x̂ᵢ = γ"),
    Node("y", "y", r"y", r"y_i = \gamma\hat{x}_i + \beta",
         r"\frac{\partial y_i}{\partial (\gamma\hat{x})_i} = 1,\quad \frac{\partial y_i}{\partial \beta} = 1",
         ("scaled", "beta"), shift_forward, shift_backward,
         description="shifted by beta: the output",
         text="yᵢ = γx̂ᵢ + β", grad_text="∂yᵢ/∂(γx̂)ᵢ = 1, ∂yᵢ/∂β = 1"),
)

_BY_NAME = {n.name: n for n in NODES}

EDGES: tuple[tuple[str, str], ...] = tuple((p, n.name) for n in NODES for p in n.parents + n.constants)
"""Every (parent, child) edge, in graph order."""


def children(name: str) -> tuple[str, ...]:
    """The nodes that read ``name``; more than one means it fans out (its gradients add)."""
    return tuple(c for p, c in EDGES if p == name)


def label(name: str) -> str:
    """Plain-text label of a node or input: ``label("x_hat") == "x̂"``."""
    return INPUT_LABELS[name] if name in INPUT_LABELS else node(name).label


def node(name: str) -> Node:
    """Return the node called ``name`` (a KeyError lists the valid names)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no node {name!r}; the nodes are {[n.name for n in NODES]}") from None


class GraphCache(Mapping):
    """Every value of a forward pass by name: the inputs, eps and each node.

    Read-only: ``cache["x_hat"]``, ``list(cache)`` in graph order.
    """

    def __init__(self, values: dict):
        self._values = dict(values)

    def __getitem__(self, name):
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        shapes = ", ".join(f"{k}: {np.shape(v)}" for k, v in self._values.items())
        return f"GraphCache({shapes})"


def forward(x, gamma, beta, eps=1e-5):
    """Training-mode batch norm, one node at a time: ``(y, cache)``.

    ``x`` is an (N, D) batch with ``gamma``, ``beta`` of shape (D,), or one
    feature: an (N,) batch with scalar ``gamma`` and ``beta``. ``cache`` maps
    every node name to its value. ``eps`` >= 0; with ``eps = 0`` every feature
    must vary, or x̂ would be 0/0.
    """
    x, gamma, beta = _check_inputs(x, gamma, beta)
    values = {"x": x, "gamma": gamma, "beta": beta, "eps": check_eps(eps, allow_zero=True)}
    for n in NODES:
        values[n.name] = n.forward(*(values[p] for p in n.parents + n.constants))
        if n.name == "var" and values["eps"] == 0 and not np.all(values["var"] > 0):
            raise ValueError("with eps = 0 every feature must vary; a feature of x is constant "
                             "(variance 0), so x̂ would be 0/0. Use eps > 0")
    return values["y"], GraphCache(values)


def _check_inputs(x, gamma, beta):
    """(N, D) with (D,) parameters, or (N,) with scalar ones; errors say which was expected."""
    x = as_float_array(x, "x")
    if x.ndim != 1:
        x = check_batch(x, training=True, ndims=(2,))
        d = x.shape[1]
        return x, check_param(gamma, "gamma", d), check_param(beta, "beta", d)
    check_batch(x[:, None], training=True, ndims=(2,))
    params = []
    for name, p in (("gamma", gamma), ("beta", beta)):
        p = as_float_array(p, name)
        if p.shape != ():
            raise ValueError(f"for a one-feature batch x of shape {x.shape}, {name} must be a "
                             f"scalar; got shape {p.shape}")
        params.append(p[()])
    return (x, *params)


@dataclass(frozen=True)
class BackwardStep:
    """What happened at one node during the backward pass."""

    node: str
    upstream: np.ndarray                 # d loss / d (this node's value)
    to_parents: dict[str, np.ndarray]    # the contribution sent to each parent
    totals: dict[str, np.ndarray]        # each parent's gradient summed so far


@dataclass(frozen=True)
class BackwardTrace:
    """The whole backward pass: steps in the order taken, final gradients."""

    steps: tuple[BackwardStep, ...]
    grads: dict[str, np.ndarray] = field(default_factory=dict)

    def fan_in(self, name: str) -> list[tuple[str, np.ndarray]]:
        """The contributions that were added to form ``d<name>``, as (from_node, array)."""
        return [(s.node, s.to_parents[name]) for s in self.steps if name in s.to_parents]


def _check_cache(cache) -> None:
    if cache is None:
        raise RuntimeError("backward needs the cache returned by graph.forward; got None "
                           "(call forward first)")
    missing = [k for k in INPUTS + CONSTANTS + tuple(_BY_NAME) if k not in cache]
    if missing:
        raise ValueError(f"cache is missing {missing}; pass the cache that graph.forward returned")


def backward_trace(dout, cache) -> BackwardTrace:
    """Backpropagate ``dout`` through the graph and record every step.

    Nodes are visited in reverse topological order, so a node's gradient is
    complete (all children have contributed) before it is used.
    """
    _check_cache(cache)
    grads = {"y": check_dout(dout, np.shape(cache["y"]))}
    steps = []
    for n in reversed(NODES):
        upstream = grads[n.name]
        inputs = [cache[p] for p in n.parents + n.constants]
        local = n.backward(upstream, cache[n.name], *inputs)
        for parent, g in zip(n.parents, local):
            # a value that fans out gets the sum of its children's gradients;
            # a new array (not +=) so recorded steps are never changed afterwards
            grads[parent] = grads[parent] + g if parent in grads else g
        steps.append(BackwardStep(n.name, upstream, dict(zip(n.parents, local)),
                                  {p: grads[p] for p in n.parents}))
    return BackwardTrace(tuple(steps), grads)


def backward(dout, cache):
    """Gradients of the graph's inputs: ``(dx, dgamma, dbeta)``."""
    g = backward_trace(dout, cache).grads
    return g["x"], g["gamma"], g["beta"]


def node_table() -> list[dict]:
    """One row per node: name, formula, parents and local derivative (LaTeX)."""
    return [{"node": n.name, "symbol": n.symbol, "formula": n.formula,
             "parents": n.parents + n.constants, "local derivative": n.local_grad,
             "description": n.description} for n in NODES]
