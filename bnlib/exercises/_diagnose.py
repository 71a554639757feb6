"""Diagnoses for wrong answers outside a checker's catalogue of mistakes.

Simple tests on one wrong output against the right one: all zero, off by one
constant factor (the sign, 2, or the length of an axis such as 1/N), off by a
factor or a shift per column, or transposed. :func:`explain` returns one
sentence, or None when none of them fits. :func:`swapped_outputs` finds
outputs that hold each other's values.
"""
from __future__ import annotations

import numpy as np

__all__ = ["explain", "swapped_outputs", "close"]


def close(a, b, tol: float) -> bool:
    """gradcheck's relative error ``max|a-b| / (max|a|+max|b|)`` is at most ``tol`` (shapes must agree)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    scale = np.max(np.abs(a), initial=0.0) + np.max(np.abs(b), initial=0.0)
    return bool(scale == 0 or np.max(np.abs(a - b), initial=0.0) / scale <= tol)


def _factor_words(c: float, sizes: dict) -> str:
    """Name a constant factor: the sign, 2, or a size such as N, in the reader's words."""
    sign = "the opposite sign" if c < 0 else ""
    m = abs(c)
    named = [(f"1/{k}", v, 1.0 / v) for k, v in sizes.items()] + [(k, v, float(v)) for k, v in sizes.items()]
    for label, v, f in named:
        if np.isclose(m, f, rtol=1e-6):
            inverse = label.startswith("1/")
            what = (f"exactly {label} of the expected values ({label.split('/')[-1]} = {v}): a mean "
                    f"where a sum belongs, or a division too many?" if inverse else
                    f"exactly {label} = {v} times the expected values: a sum where a mean belongs, "
                    f"or a missing division by {label}?")
            return f"{sign} and {what}" if sign else what
    if np.isclose(m, 1.0, rtol=1e-6):
        return ("exactly the negative of the expected values: a sign error (check each local "
                "derivative's sign, and x - mu against mu - x).")
    for k in (2, 3, 4):
        if np.isclose(m, k, rtol=1e-6) or np.isclose(m, 1.0 / k, rtol=1e-6):
            word = f"{k} times" if m > 1 else f"1/{k} of"
            return f"{sign + ' and ' if sign else ''}exactly {word} the expected values: a missing or extra factor {k}?"
    return (f"{sign + ' and ' if sign else ''}the expected values times one constant, {c:.6g}: every entry is "
            f"off by the same factor, so the structure is right and a scale factor is wrong.")


def explain(got: np.ndarray, want: np.ndarray, tol: float, sizes: dict | None = None) -> str | None:
    """One sentence on how ``got`` relates to ``want``, or None."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape or not np.any(want):
        return None
    sizes = dict(sizes or {}) or {f"the length of axis {i}": n for i, n in enumerate(want.shape) if n > 1}
    if np.max(np.abs(got)) <= 1e-12 * np.max(np.abs(want)):
        return ("It is zero everywhere, but the right answer is not: a term is lost on the way "
                "(a gradient overwritten instead of added at a branch point, or a path left out).")
    c = float(np.sum(got * want) / np.sum(want * want))
    if c != 0 and close(got, c * want, tol):
        return "It is " + _factor_words(c, sizes)
    if want.ndim == 2 and want.shape[0] == want.shape[1] and close(got, want.T, tol):
        return "It is the transpose of the right answer: the two axes are swapped (a stray `.T`?)."
    if want.ndim >= 2:
        axes = tuple(a for a in range(want.ndim) if a != 1)
        num, den = np.sum(got * want, axis=axes, keepdims=True), np.sum(want * want, axis=axes, keepdims=True)
        per = np.divide(num, den, out=np.ones_like(num), where=den != 0)
        if close(got, per * want, tol):
            return ("Each feature (axis 1) is off by its own constant factor: a per-feature "
                    "scale (gamma, or 1/std) is missing, applied twice, or taken per example.")
        shift = (got - want).mean(axis=axes, keepdims=True)
        if close(got, want + shift, tol):
            return ("Each feature (axis 1) is off by its own constant shift: a per-feature "
                    "offset (beta, or the mean) is missing or added twice.")
    return None


def swapped_outputs(outputs: dict, wants: dict, tol: float) -> list[tuple[str, str]]:
    """Pairs (a, b) of outputs where the student's ``a`` is the right ``b`` and vice versa."""
    names, out = list(wants), []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if close(outputs[a], wants[b], tol) and close(outputs[b], wants[a], tol) \
                    and not close(wants[a], wants[b], tol):
                out.append((a, b))
    return out
