r"""Checker for a numerical gradient by centred differences.

The student writes ``fn(f, x, dout, h)`` returning, for every entry :math:`j` of ``x``,

.. math:: \frac{L(x + h e_j) - L(x - h e_j)}{2h},\qquad L(x) = \sum f(x) \odot dout .

The reference is :func:`bnlib.gradcheck.numerical_gradient` with the same ``h``.
The test functions mix entries (``f`` is not elementwise) and use steps large
enough that a one-sided difference is visibly less accurate.
"""
from __future__ import annotations

import numpy as np

from ..gradcheck import numerical_gradient
from ._judge import Case, Mistake, judge
from ._result import as_output, call_student, checker

__all__ = ["check_numerical_gradient"]

TOL = 1e-6
"""Tolerance here: two centred differences with the same h agree to ~1e-10."""


def _cases():
    rng = np.random.default_rng(11)
    A = rng.standard_normal((4, 4)) / 2
    yield "2-D x, h = 1e-4", (lambda x: np.tanh(x @ A)), rng.standard_normal((3, 4)), 1e-4
    yield "1-D x, h = 1e-3", (lambda x: x ** 3 - x.sum() * x), rng.standard_normal(6), 1e-3
    yield "2-D x, h = 1e-5", (lambda x: np.sin(x) * x.sum(axis=0)), rng.standard_normal((2, 3)), 1e-5


def _loop(x, step):
    """Apply ``step(j_index)`` to every entry and collect the results in x's shape."""
    g = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        g[j] = step(j)
    return g


def _variants(f, x, dout, h):
    def L(z, d=dout):
        return float(np.sum(f(z) * d))

    def moved(j, delta):
        z = x.copy()
        z[j] += delta
        return z

    out = {
        "forward": _loop(x, lambda j: (L(moved(j, h)) - L(x)) / h),
        "no_2": _loop(x, lambda j: (L(moved(j, h)) - L(moved(j, -h))) / h),
        "no_dout": _loop(x, lambda j: (L(moved(j, h), 1.0) - L(moved(j, -h), 1.0)) / (2 * h)),
        "elementwise": _loop(x, lambda j: (f(moved(j, h))[j] - f(moved(j, -h))[j]) / (2 * h) * dout[j]),
    }
    return {k: {"grad": v} for k, v in out.items()}


_MISTAKES = {
    "forward": Mistake("a one-sided (forward) difference", "use the centred difference "
                       "(L(x + h) - L(x - h)) / (2h): its error shrinks like h**2, not h."),
    "no_2": Mistake("the factor 2 is missing", "the two points are 2h apart: divide by 2 * h."),
    "no_dout": Mistake("dout is ignored", "the scalar is L = sum(f(x) * dout): multiply by dout "
                                          "before summing."),
    "elementwise": Mistake("f was treated as elementwise", "moving x[j] can change every output "
                           "of f: sum the whole change of f(x) * dout, not only entry j."),
}


@checker("numerical gradient")
def check_numerical_gradient(fn):
    """Check ``fn(f, x, dout, h) -> gradient`` of ``sum(f(x) * dout)`` (x must not change)."""
    rng = np.random.default_rng(12)
    what, outputs, cases = "your numerical gradient", [], []
    for label, f, x, h in _cases():
        dout = rng.standard_normal(np.shape(f(x))) + 0.5
        got = call_student(fn, (f, x, dout, h), what, label, ("f", "x", "dout", "h"))
        outputs.append({"grad": as_output(got, "grad", x.shape, what)})
        want = numerical_gradient(f, x, dout, h)
        cases.append(Case(label, {"grad": want}, _variants(f, x, dout, h)))
    return judge(outputs, cases, what, _MISTAKES, tol=TOL)
