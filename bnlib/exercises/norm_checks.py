"""Checkers for batch norm (2-D and spatial) and layer norm, forward and backward.

Each runs the student's functions on three seeded float64 cases (standard,
a mean about 40, a variance about eps), compares with the library's closed
form (:mod:`bnlib.batchnorm`, :mod:`bnlib.norms`) within
``bnlib.exercises._judge.TOL`` (``TOL32`` for float32 answers), and names a
known mistake when the answer matches one. When a batch-norm backward is wrong,
its intermediate gradients (``dxmu``, ``dvar``, ...) are compared with
:func:`bnlib.graph.backward_trace` and the first node that differs is named.
"""
from __future__ import annotations

from ..batchnorm import batchnorm_backward, batchnorm_forward
from ..norms import layernorm_backward, layernorm_forward
from ._diagnose import close
from ._hints import backward_mistakes, forward_mistakes
from ._judge import TOL, judge, tolerance
from ._norm import BN, LN, SPATIAL, backward_case, forward_case, make_cases
from ._result import Fail, as_output, as_outputs, call_student, call_traced, checker, unpack
from ._trace import first_difference

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
        if e.status == "todo":
            raise
        raise Fail(f"the backward check runs your forward first, and the forward is not right "
                   f"yet, so fix it first.\n{e}") from None
    ref_forward, ref_backward = _REFERENCE[layout.name]
    names = ("dx", "dgamma", "dbeta")
    outputs, judged, traced = [], [], []
    for (label, x, gamma, beta, eps, dout), cache in zip(cases, caches):
        res, frame_locals = call_traced(backward, (dout, cache), what, label, ("dout", "cache"))
        grads = unpack(res, 3, what, names)
        outputs.append(as_outputs(grads, names, (x.shape, gamma.shape, gamma.shape), what))
        case = backward_case(layout, label, x, gamma, beta, eps, dout)
        case.want.update(zip(names, ref_backward(dout, ref_forward(x, gamma, beta, eps)[1])))
        judged.append(case)
        traced.append((frame_locals, (x, gamma, beta, eps, dout), label))
    try:
        return judge(outputs, judged, f"(dx, dgamma, dbeta) of {what}", backward_mistakes(layout))
    except Fail as e:
        raise Fail(_with_trace(str(e), layout, outputs, judged, traced)) from None


def _with_trace(message, layout, outputs, cases, traced) -> str:
    """Add, for a wrong dx of a 2-D batch norm, the first intermediate gradient that differs."""
    if layout is not BN:
        return message
    for out, case, (frame_locals, inputs, label) in zip(outputs, cases, traced):
        if not close(out["dx"], case.want["dx"], tolerance(out["dx"], TOL)):
            extra = first_difference(frame_locals, *inputs, tolerance(out["dx"], TOL), label)
            return f"{message}\n{extra}" if extra else message
    return message



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
