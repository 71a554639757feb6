"""Checkers for one node of the batch-norm graph: its forward and its local backward.

The reference is the node itself (:func:`bnlib.graph.node`), evaluated on the
values a full forward pass of :mod:`bnlib.graph` produces for the three test
batches (standard, a mean about 40, a variance about eps), with a seeded
random upstream gradient for the backward.
"""
from __future__ import annotations

import numpy as np

from .. import graph
from ._judge import Case, Mistake, judge
from ._norm import BN, make_cases
from ._result import Fail, as_output, as_outputs, call_student, checker, unpack

__all__ = ["check_node_forward", "check_node_backward"]

_FWD = {  # node -> {mistake key: (Mistake, variant(args))}
    "mu": {"no_1_over_n": (Mistake("the 1/N factor is missing", "the mean divides the sum by N."),
                           lambda x: x.sum(axis=0))},
    "xmu": {},
    "var": {"no_1_over_n": (Mistake("the 1/N factor is missing", "the variance is the MEAN of "
                                    "the squares: divide by N."), lambda sq: sq.sum(axis=0)),
            "unbiased": (Mistake("unbiased variance (N - 1) used in training", "training "
                                 "normalizes with the biased variance: divide by N."),
                         lambda sq: sq.sum(axis=0) / (sq.shape[0] - 1))},
    "std": {"eps_outside": (Mistake("eps is outside the square root", "use sqrt(var + eps)."),
                            lambda var, eps: np.sqrt(var) + eps),
            "eps_missing": (Mistake("eps is missing", "use sqrt(var + eps)."), lambda var, eps: np.sqrt(var)),
            "no_sqrt": (Mistake("the square root is missing", "use sqrt(var + eps)."),
                        lambda var, eps: var + eps)},
    "inv_std": {},
    "x_hat": {"divide": (Mistake("divided by 1/std instead of multiplying by it",
                                 "x_hat = (x - mu) * inv_std."), lambda xmu, inv: xmu / inv)},
    "scaled": {"gamma_missing": (Mistake("gamma is missing", "scaled = gamma * x_hat."),
                                 lambda gamma, x_hat: x_hat)},
    "y": {"sign_beta": (Mistake("a sign error on beta", "y = scaled + beta."),
                        lambda scaled, beta: scaled - beta)},
}

_BWD = {  # node -> {mistake key: (Mistake, output name, variant(dout, out, *args))}
    "mu": {"no_1_over_n": (Mistake("the 1/N factor is missing", "each x_i contributes 1/N to "
                                   "the mean, so each gets dmu / N."), "dx",
                           lambda d, o, x: np.broadcast_to(d, x.shape).copy())},
    "var": {"no_1_over_n": (Mistake("the 1/N factor is missing", "each square contributes 1/N "
                                    "to var, so each gets dvar / N."), "dsq",
                            lambda d, o, sq: np.broadcast_to(d, sq.shape).copy()),
            "unbiased": (Mistake("unbiased variance (N - 1) used in training", "the batch "
                                 "variance divides by N, so its derivative is 1/N."), "dsq",
                         lambda d, o, sq: np.broadcast_to(d / (sq.shape[0] - 1), sq.shape).copy())},
    "sq": {"factor_2": (Mistake("the factor 2 is missing", "d(u**2)/du = 2u."), "dxmu",
                        lambda d, o, xmu: xmu * d),
           "used_output": (Mistake("used the node's output instead of its input",
                                   "d(u**2)/du = 2u with u = x - mu, not u**2."), "dxmu",
                           lambda d, o, xmu: 2 * o * d)},
    "std": {"half": (Mistake("the factor 1/2 is missing", "d sqrt(v)/dv = 1 / (2 sqrt(v))."), "dvar",
                     lambda d, o, var, eps: d / o),
            "eps_missing": (Mistake("eps is missing", "the derivative is 1 / (2 sqrt(var + eps))."),
                            "dvar", lambda d, o, var, eps: 0.5 * d / np.sqrt(var))},
    "inv_std": {"power": (Mistake("the power is wrong", "d(1/s)/ds = -1/s**2."), "dstd",
                          lambda d, o, std: -d / std)},
    "scaled": {"gamma_missing": (Mistake("gamma is missing from dx_hat", "d(gamma * x_hat)/dx_hat "
                                         "= gamma."), "dx_hat", lambda d, o, gamma, x_hat: d.copy())},
}

_SIGN = Mistake("a sign error", "check the sign of the local derivative.")


def _node(name):
    try:
        return graph.node(name)
    except KeyError as e:
        raise Fail(str(e).strip('"')) from None


def _values():
    """Graph values and a seeded upstream gradient for each test batch."""
    out = []
    for label, x, gamma, beta, eps, _ in make_cases(BN, seed=1):
        out.append((label, dict(graph.forward(x, gamma, beta, eps)[1])))
    return out


@checker("node forward")
def check_node_forward(name, fn):
    """Check ``fn(*parent_values, *constants)`` against ``graph.node(name).forward``."""
    node = _node(name)
    what = f"your forward of node {name!r}"
    known = _FWD.get(name, {})
    outputs, cases = [], []
    for label, vals in _values():
        args = tuple(vals[p] for p in node.parents + node.constants)
        want = node.forward(*args)
        got = call_student(fn, args, what, label, node.parents + node.constants)
        outputs.append({name: as_output(got, name, np.shape(want), what)})
        with np.errstate(all="ignore"):
            variants = {k: {name: f(*args)} for k, (_, f) in known.items()}
        variants["sign"] = {name: -want}
        cases.append(Case(label, {name: np.asarray(want)}, variants, {"N": vals["x"].shape[0]}))
    mistakes = {k: m for k, (m, _) in known.items()} | {"sign": _SIGN}
    return judge(outputs, cases, what, mistakes)


@checker("node backward")
def check_node_backward(name, fn):
    """Check ``fn(dout, out, *parents, *constants) -> tuple`` (one gradient per parent)."""
    node = _node(name)
    what = f"your backward of node {name!r}"
    known = _BWD.get(name, {})
    names = tuple("d" + p for p in node.parents)
    rng = np.random.default_rng(7)
    outputs, cases = [], []
    for label, vals in _values():
        args = tuple(vals[p] for p in node.parents + node.constants)
        out = vals[name]
        dout = rng.standard_normal(np.shape(out)) + 0.5
        want = node.backward(dout, out, *args)
        res = call_student(fn, (dout, out) + args, what, label,
                           ("dout", "out") + node.parents + node.constants)
        if len(names) == 1 and isinstance(res, np.ndarray):
            raise Fail(f"{what} returned a bare array; return a tuple with one gradient per "
                       f"parent, here `return ({names[0]},)`.")
        grads = unpack(res, len(names), what, names)
        outputs.append(as_outputs(grads, names, tuple(np.shape(w) for w in want), what))
        with np.errstate(all="ignore"):
            variants = {k: {o: f(dout, out, *args)} for k, (_, o, f) in known.items()}
        variants |= {f"sign_{n}": {n: -np.asarray(w)} for n, w in zip(names, want)}
        cases.append(Case(label, {n: np.asarray(w) for n, w in zip(names, want)}, variants,
                          {"N": vals["x"].shape[0]}))
    mistakes = {k: m for k, (m, _, _) in known.items()} | {f"sign_{n}": _SIGN for n in names}
    return judge(outputs, cases, what, mistakes)
