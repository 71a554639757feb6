"""Checkers for batch norm (2-D and spatial) and layer norm, forward and backward.

Each runs the student's functions on three seeded float64 cases (standard,
a mean about 40, a variance about eps), compares with the library's closed
form (:mod:`bnlib.batchnorm`, :mod:`bnlib.exercises.layernorm`) within
``bnlib.exercises._judge.TOL``, and names a known mistake when the
answer matches one.
"""
from __future__ import annotations

from ..batchnorm import batchnorm_backward, batchnorm_forward
from ._judge import judge
from ._hints import backward_mistakes, forward_mistakes
from ._norm import BN, LN, SPATIAL, backward_case, forward_case, make_cases
from ._result import NOT_IMPLEMENTED, Fail, as_output, call_student, checker, unpack
from .layernorm import layernorm_backward, layernorm_forward

__all__ = ["check_batchnorm_forward", "check_batchnorm_backward", "check_spatial_batchnorm",
           "check_layernorm_forward", "check_layernorm_backward"]

_REFERENCE = {BN.name: (batchnorm_forward, batchnorm_backward),
              SPATIAL.name: (batchnorm_forward, batchnorm_backward),
              LN.name: (layernorm_forward, layernorm_backward)}


def _forward(forward, layout, what):
    """Run and judge the forward; return the student's caches and the cases."""
    cases = make_cases(layout)
    ref_forward = _REFERENCE[layout.name][0]
    outputs, caches, judged = [], [], []
    for label, x, gamma, beta, eps, _ in cases:
        res = call_student(forward, (x, gamma, beta, eps), what, label, ("x", "gamma", "beta", "eps"))
        out, cache = unpack(res, 2, what, ("out", "cache"))
        outputs.append({"out": as_output(out, "out", x.shape, what)})
        if cache is None:
            raise Fail(f"{what} returned no cache (None as the second value). Return "
                       f"(out, cache) with what the backward pass will need, e.g. x_hat, gamma "
                       f"and 1 / sqrt(var + eps).")
        caches.append(cache)
        case = forward_case(layout, label, x, gamma, beta, eps)
        case.want["out"] = ref_forward(x, gamma, beta, eps)[0]
        judged.append(case)
    return judge(outputs, judged, f"`out` of {what}", forward_mistakes(layout)), caches, cases


def _backward(forward, backward, layout, what):
    try:
        _, caches, cases = _forward(forward, layout, "your forward")
    except Fail as e:
        if str(e).startswith(NOT_IMPLEMENTED):
            raise
        raise Fail(f"the backward check runs your forward first, and the forward is not right "
                   f"yet, so fix it first.\n{e}") from None
    ref_forward, ref_backward = _REFERENCE[layout.name]
    outputs, judged = [], []
    for (label, x, gamma, beta, eps, dout), cache in zip(cases, caches):
        res = call_student(backward, (dout, cache), what, label, ("dout", "cache"))
        grads = unpack(res, 3, what, ("dx", "dgamma", "dbeta"))
        shapes = (x.shape, gamma.shape, gamma.shape)
        outputs.append({n: as_output(g, n, s, what)
                        for n, g, s in zip(("dx", "dgamma", "dbeta"), grads, shapes)})
        case = backward_case(layout, label, x, gamma, beta, eps, dout)
        case.want.update(zip(("dx", "dgamma", "dbeta"),
                             ref_backward(dout, ref_forward(x, gamma, beta, eps)[1])))
        judged.append(case)
    return judge(outputs, judged, f"(dx, dgamma, dbeta) of {what}", backward_mistakes(layout))


@checker("batch-norm forward")
def check_batchnorm_forward(forward):
    """Check ``forward(x, gamma, beta, eps) -> (out, cache)`` on (N, D) batches."""
    return _forward(forward, BN, "your forward")[0]


@checker("batch-norm backward")
def check_batchnorm_backward(forward, backward):
    """Check ``backward(dout, cache) -> (dx, dgamma, dbeta)``, cache from the student's forward."""
    return _backward(forward, backward, BN, "your backward")


@checker("spatial batch norm")
def check_spatial_batchnorm(forward, backward=None):
    """Check forward (and backward, if given) on (N, C, H, W) batches, statistics per channel."""
    msg = _forward(forward, SPATIAL, "your spatial forward")[0]
    if backward is not None:
        msg += "\n" + _backward(forward, backward, SPATIAL, "your spatial backward")
    return msg


@checker("layer-norm forward")
def check_layernorm_forward(forward):
    """Check ``forward(x, gamma, beta, eps) -> (out, cache)`` with per-row statistics."""
    return _forward(forward, LN, "your layer-norm forward")[0]


@checker("layer-norm backward")
def check_layernorm_backward(forward, backward):
    """Check a layer-norm ``backward(dout, cache) -> (dx, dgamma, dbeta)``."""
    return _backward(forward, backward, LN, "your layer-norm backward")
