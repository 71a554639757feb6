r"""Variance in finite precision: three algorithms, Chan's merge, and emulated number formats.

The (biased) variance of the :math:`m` values :math:`x_1..x_m` along an axis, three ways:

- ``"one_pass"``: :math:`\sigma^2 = \tfrac1m\sum x_i^2 - \big(\tfrac1m\sum x_i\big)^2`, one sweep over the
  data; it subtracts two nearly equal numbers when :math:`|\mu| \gg \sigma` and cancels catastrophically;
- ``"two_pass"``: :math:`\mu = \tfrac1m\sum x_i`, then :math:`\sigma^2 = \tfrac1m\sum (x_i-\mu)^2`;
- ``"welford"``: one sample at a time, :math:`\delta = x_k - \mu_{k-1}`, :math:`\mu_k = \mu_{k-1} + \delta/k`,
  :math:`M_k = M_{k-1} + \delta\,(x_k - \mu_k)`, and :math:`\sigma^2 = M_m/m` :cite:p:`welford1962note`.

:func:`chan_merge` combines the ``(count, mean, M)`` of parts into the whole's, where :math:`M` is the sum of
squared deviations from the part's own mean :cite:p:`chan1983algorithms`; it is how parallel kernels and
synchronized batch norm (:mod:`bnlib.distributed`) add up statistics.

**Rounding model.** ``dtype`` is the format every intermediate result is rounded to (default: x's). x is
rounded to it first; a sum is a pairwise tree (as in a GPU block reduction) whose every addition is
rounded; counts are exact integers (a kernel keeps them in an integer register). numpy has no bfloat16:
``"bfloat16"`` is emulated by computing in float32 and rounding each result to bfloat16's 7 stored
fraction bits (:func:`to_bfloat16`); that equals true bfloat16 arithmetic except for rare double roundings.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ._checks import as_float_array

__all__ = ["Format", "FORMATS", "METHODS", "ORDERS", "to_bfloat16", "get_format", "round_to",
           "rounded_sum", "variance", "moments", "chan_merge", "merge_unchecked"]

METHODS = ("one_pass", "two_pass", "welford")
"""The variance algorithms :func:`variance` knows."""
ORDERS = ("pairwise", "sequential")
"""The summation orders :func:`rounded_sum` knows."""


def to_bfloat16(x) -> np.ndarray:
    """Round to the nearest bfloat16 (ties to even); returns float32 values that bfloat16 can hold.

    bfloat16 is the top 16 bits of a float32 (sign, 8 exponent bits, 7 fraction bits), so rounding
    works on the bit pattern: add ``0x7FFF`` plus the lowest kept bit, then clear the low 16 bits.
    Overflow rounds to inf, as it should; NaN stays NaN. Non-float32 input is cast to float32 first.
    """
    with np.errstate(over="ignore"):          # a float64 beyond float32's range is inf in both
        x = np.asarray(as_float_array(x, "x"), dtype=np.float32)
    bits = x.view(np.uint32).astype(np.uint64)          # 64 bits: the carry cannot wrap around
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    out = bits.astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), np.float32(np.nan), out)


class Format(NamedTuple):
    """A number format: its name, the numpy dtype holding its values, and its rounding."""

    name: str
    storage: np.dtype
    fraction_bits: int
    max: float
    round: Callable

    @property
    def spacing_at_one(self) -> float:
        """The distance from 1 to the next larger number in this format, 2 ** -fraction_bits."""
        return 2.0 ** -self.fraction_bits


def _native(dtype) -> Format:
    dt, info = np.dtype(dtype), np.finfo(dtype)

    def round_native(a):      # callers silence the overflow warning: beyond the largest number is inf
        return np.asarray(a).astype(dt, copy=False)

    return Format(dt.name, dt, int(info.nmant), float(info.max), round_native)


FORMATS = {f.name: f for f in (_native(np.float64), _native(np.float32), _native(np.float16),
                               Format("bfloat16", np.dtype(np.float32), 7, (2 - 2 ** -7) * 2.0 ** 127,
                                      to_bfloat16))}
"""float64, float32, float16 (native numpy) and bfloat16 (emulated), by name."""


def get_format(dtype) -> Format:
    """The :class:`Format` for a numpy float dtype or a name such as ``"float16"``, ``"bfloat16"``."""
    if isinstance(dtype, Format):
        return dtype
    name = dtype if isinstance(dtype, str) and dtype in FORMATS else None
    if name is None:
        try:
            name = np.dtype(dtype).name
        except TypeError:          # not a dtype at all, e.g. a list
            name = None
    if name not in FORMATS:
        raise ValueError(f"dtype must be one of {', '.join(FORMATS)} (a numpy dtype or its name); "
                         f"got {dtype!r}")
    return FORMATS[name]


def round_to(x, dtype) -> np.ndarray:
    """``x`` rounded to the format ``dtype`` (float16 overflows to inf above 65504, for example)."""
    with np.errstate(over="ignore"):
        return get_format(dtype).round(as_float_array(x, "x"))


def _prepare(x, axis, dtype):
    """x as an array with the reduced axis first, rounded to the format; the format."""
    x = as_float_array(x, "x")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int; got {type(axis).__name__} {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for an array of shape {x.shape}")
    fmt = get_format(x.dtype if dtype is None else dtype)
    with np.errstate(over="ignore"):        # values beyond the format's range become inf, by design
        return fmt.round(np.moveaxis(x, axis, 0)), fmt


def _pairwise(a: np.ndarray, fmt: Format) -> np.ndarray:
    """Sum over axis 0 as a tree of rounded pairwise additions."""
    if a.shape[0] == 0:
        return np.zeros(a.shape[1:], fmt.storage)
    while a.shape[0] > 1:
        if a.shape[0] % 2:
            a = np.concatenate([a, np.zeros_like(a[:1])])
        a = fmt.round(a[0::2] + a[1::2])
    return a[0]


def _sequential(a: np.ndarray, fmt: Format) -> np.ndarray:
    """Sum over axis 0 one value at a time into one rounded accumulator (a naive loop)."""
    if fmt.name in ("float64", "float32", "float16"):
        if a.shape[0] == 0:
            return np.zeros(a.shape[1:], fmt.storage)
        return np.cumsum(a, axis=0, dtype=fmt.storage)[-1]     # add.accumulate: one value at a time
    total = np.zeros(a.shape[1:], fmt.storage)
    for row in a:
        total = fmt.round(total + row)
    return total


def rounded_sum(x, axis=0, dtype=None, order="pairwise") -> np.ndarray:
    """Sum along ``axis`` with every addition rounded to ``dtype``.

    ``order="pairwise"`` adds neighbours in a tree (error growing like log m); ``"sequential"`` adds
    one value at a time to a running total, which stops growing once the total's spacing exceeds
    twice the values added (a float16 total of ones sticks at 2048). Shape: x's without ``axis``.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}; got {order!r}")
    a, fmt = _prepare(x, axis, dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        return (_pairwise if order == "pairwise" else _sequential)(a, fmt)


def _div(a, n: int, fmt: Format) -> np.ndarray:
    """a / n rounded once: n is an exact integer count."""
    return fmt.round(np.asarray(a, dtype=np.float64) / n)


def _welford(a: np.ndarray, fmt: Format) -> np.ndarray:
    r = fmt.round
    mean = m2 = np.zeros(a.shape[1:], fmt.storage)
    for k, xk in enumerate(a, start=1):
        delta = r(xk - mean)
        mean = r(mean + _div(delta, k, fmt))
        m2 = r(m2 + r(delta * r(xk - mean)))
    return _div(m2, a.shape[0], fmt)


def variance(x, axis=0, method="two_pass", dtype=None) -> np.ndarray:
    """Biased variance along ``axis`` by ``method`` (one of :data:`METHODS`), computed in ``dtype``.

    Shape: x's without ``axis``; dtype: ``dtype``'s storage (float32 for bfloat16). The one-pass
    result can come out negative, or inf where a sum of squares overflows: it is returned as computed.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    a, fmt = _prepare(x, axis, dtype)
    m = a.shape[0]
    if m == 0:
        raise ValueError(f"a variance needs at least one value along axis {axis}; x has shape "
                         f"{np.shape(x)}")
    r = fmt.round
    with np.errstate(over="ignore", invalid="ignore"):
        if method == "welford":
            return _welford(a, fmt)
        mean = _div(_pairwise(a, fmt), m, fmt)
        if method == "one_pass":
            mean_sq = _div(_pairwise(r(a * a), fmt), m, fmt)
            return r(mean_sq - r(mean * mean))
        d = r(a - mean)
        return _div(_pairwise(r(d * d), fmt), m, fmt)


def moments(x, axis=0, dtype=None):
    r"""``(count, mean, m2)`` of x along ``axis`` (two passes, in ``dtype``): one part for :func:`chan_merge`.

    ``m2`` is the sum of squared deviations from the mean, :math:`\sum (x_i-\mu)^2`; count 0 gives
    mean 0 and m2 0 (a part with no values, which the merge then skips).
    """
    a, fmt = _prepare(x, axis, dtype)
    m = a.shape[0]
    if m == 0:
        zero = np.zeros(a.shape[1:], fmt.storage)
        return 0, zero, zero.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        mean = _div(_pairwise(a, fmt), m, fmt)
        d = fmt.round(a - mean)
        return m, mean, _pairwise(fmt.round(d * d), fmt)


def _check_merge(counts, means, m2s):
    means, m2s = as_float_array(means, "means"), as_float_array(m2s, "m2s")
    counts = as_float_array(counts, "counts")
    if means.ndim == 0 or means.shape[0] == 0 or m2s.shape != means.shape:
        raise ValueError(f"means and m2s must have the same shape (K, ...) with K >= 1 parts; got "
                         f"{means.shape} and {m2s.shape}")
    if counts.shape not in ((means.shape[0],), means.shape):
        raise ValueError(f"counts must have shape ({means.shape[0]},), one per part, or {means.shape}; "
                         f"got {counts.shape}")
    if not (np.all(np.isfinite(counts)) and np.all(counts >= 0) and np.all(counts == np.round(counts))):
        raise ValueError(f"counts must be whole numbers >= 0; got {counts}")
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(m2s)) and np.all(m2s >= 0)):
        raise ValueError("means must be finite and m2s (sums of squared deviations) finite and >= 0")
    counts = np.broadcast_to(counts.reshape(counts.shape + (1,) * (means.ndim - counts.ndim)), means.shape)
    if np.any(m2s[counts == 0] != 0):
        raise ValueError("a part with count 0 has no deviations: its m2 must be 0")
    return counts, means, m2s


def chan_merge(counts, means, m2s):
    r"""Merge K parts' ``(count, mean, m2)`` into the whole's ``(count, mean, m2)``.

    Two parts a and b merge as :math:`n = n_a+n_b`, :math:`\delta = \mu_b-\mu_a`,
    :math:`\mu = \mu_a + \delta\,n_b/n`, :math:`M = M_a + M_b + \delta^2 n_a n_b/n`; the last term is the
    spread *between* the parts. K parts are folded in from left to right; parts with count 0 add nothing.
    Shapes: ``counts`` (K,) or (K, ...) like ``means`` and ``m2s`` (K, ...); returns arrays of shape (...).
    """
    counts, means, m2s = _check_merge(counts, means, m2s)
    if np.any(counts.sum(axis=0) == 0):
        raise ValueError("chan_merge needs at least one value overall; some entry has count 0 in "
                         "every part")
    return merge_unchecked(counts, means, m2s)


def merge_unchecked(counts, means, m2s):
    """:func:`chan_merge` without the input checks, for callers whose parts are already valid (or,
    in a low-precision experiment, overflowed: inf and NaN then pass through as computed)."""
    counts = np.broadcast_to(np.reshape(counts, np.shape(counts) + (1,) * (np.ndim(means) - np.ndim(counts))),
                             np.shape(means))
    n, mean, m2 = counts[0].astype(means.dtype), means[0], m2s[0]
    for nb, mb, m2b in zip(counts[1:], means[1:], m2s[1:]):
        nb = nb.astype(means.dtype)
        total = n + nb
        # where both counts are 0 there is nothing to weigh: the fractions are 0, not 0/0
        frac = np.divide(nb, total, out=np.zeros_like(total), where=total > 0)
        delta = mb - mean
        # a part with count 0 has no mean to move towards: take the other part's as it is
        mean = np.where(n == 0, mb, mean + delta * frac)
        m2 = m2 + m2b + delta * delta * n * frac
        n = total
    return n, mean, m2
