r"""Numerical gradients by centred differences, and a relative-error measure.

For a function ``f`` with array output and an upstream gradient ``dout``, the
gradient of the scalar :math:`L = \sum f(x) \odot dout` with respect to one entry is

.. math:: \frac{\partial L}{\partial x_j} \approx \frac{L(x + h e_j) - L(x - h e_j)}{2h}.

Inputs are copied, never changed in place.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

__all__ = ["numerical_gradient", "numerical_gradients", "rel_error", "check_gradients",
           "GradCheckResult"]


def numerical_gradient(f: Callable, x, dout, h: float = 1e-5) -> np.ndarray:
    """Centred-difference gradient of ``sum(f(x) * dout)`` with respect to ``x``."""
    return numerical_gradients(lambda a: f(a), [x], dout, h)[0]


def numerical_gradients(f: Callable, inputs: Sequence, dout, h: float = 1e-5) -> list:
    """Centred-difference gradients of ``sum(f(*inputs) * dout)`` for every input.

    Works in float64 on private copies, so the caller's arrays are untouched.
    """
    args = [np.array(a, dtype=np.float64, copy=True) for a in inputs]
    dout = np.asarray(dout, dtype=np.float64)
    grads = []
    for a in args:
        g = np.zeros_like(a)
        flat, gflat = a.reshape(-1), g.reshape(-1)   # views into a and g
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + h
            plus = np.sum(np.asarray(f(*args), dtype=np.float64) * dout)
            flat[j] = old - h
            minus = np.sum(np.asarray(f(*args), dtype=np.float64) * dout)
            flat[j] = old
            gflat[j] = (plus - minus) / (2 * h)
        grads.append(g)
    return grads


def rel_error(a, b) -> float:
    """Largest difference relative to the size of the arrays.

    ``max|a - b| / (max|a| + max|b|)`` (0 when both are zero). Measuring against
    the arrays' scale, not entry by entry, keeps an entry that happens to be
    nearly zero (where centred differences leave ~1e-10 of round-off) from
    reporting a large error on a correct gradient.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs arrays of the same shape; got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = np.max(np.abs(a)) + np.max(np.abs(b))
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else 0.0


@dataclass(frozen=True)
class GradCheckResult:
    """Relative error of each analytic gradient against centred differences."""

    errors: dict
    tol: float

    @property
    def passed(self) -> bool:
        return all(e <= self.tol for e in self.errors.values())

    @property
    def worst(self) -> float:
        return max(self.errors.values())

    def __repr__(self):
        parts = ", ".join(f"{k}: {v:.1e}" for k, v in self.errors.items())
        return f"GradCheckResult({'passed' if self.passed else 'FAILED'}; {parts}; tol={self.tol:g})"


def check_gradients(forward: Callable, backward: Callable, inputs: dict, dout=None,
                    h: float = 1e-5, tol: float = 1e-7, rng=None) -> GradCheckResult:
    """Compare a forward/backward pair with centred differences.

    ``forward(*inputs.values()) -> (out, cache)`` and ``backward(dout, cache)``
    returning one gradient per input in the same order. ``dout`` defaults to
    a seeded random array. Inputs are copied before each call.
    """
    names = list(inputs)
    arrays = [np.array(v, dtype=np.float64, copy=True) for v in inputs.values()]
    out, cache = forward(*[a.copy() for a in arrays])
    if dout is None:
        rng = np.random.default_rng(2015) if rng is None else rng
        dout = rng.standard_normal(np.shape(out))
    analytic = backward(np.array(dout, copy=True), cache)
    analytic = analytic if isinstance(analytic, (tuple, list)) else (analytic,)
    if len(analytic) != len(names):
        raise ValueError(f"backward returned {len(analytic)} gradient(s) for {len(names)} input(s) "
                         f"{names}; it must return one per input, in the same order")
    numeric = numerical_gradients(lambda *a: forward(*[v.copy() for v in a])[0], arrays, dout, h)
    return GradCheckResult({n: rel_error(a, b) for n, a, b in zip(names, analytic, numeric)}, tol)
