r"""The normalization family as one computation: statistics over a chosen set of axes.

Batch, layer, instance and group norm differ only in which axes of ``x`` their
mean and variance are taken over. For ``x`` of shape (N, C, H, W):

* batch norm: ``axes=(0, 2, 3)`` :cite:p:`ioffe2015batch`;
* layer norm: ``axes=(1, 2, 3)`` :cite:p:`ba2016layer`;
* instance norm: ``axes=(2, 3)`` :cite:p:`ulyanov2016instance`;
* group norm: reshape to (N, G, C/G, H, W), then ``axes=(2, 3, 4)`` :cite:p:`wu2018group`;
* RMSNorm: ``axes=(-1,)`` with ``centre=False`` :cite:p:`zhang2019root`;
* weight standardization: a weight's fan-in axes, ``axes=(0,)`` for ``W`` (d_in, d_out)
  :cite:p:`qiao2019micro`.

With :math:`M` values per statistic and means :math:`\overline{\,\cdot\,}` over ``axes``:

.. math:: \mu = \overline{x},\qquad \sigma^2 = \overline{(x-\mu)^2},\qquad
          \hat x = \frac{x-\mu}{\sqrt{\sigma^2+\epsilon}} .

``centre=False`` drops the mean: :math:`\mu = 0` and :math:`\sigma^2` becomes the
mean square :math:`\overline{x^2}`. One backward covers every member. With
:math:`g = \partial L/\partial\hat x` (the affine part, :math:`\gamma\,\partial L/\partial y`,
is applied by the caller, because where :math:`\gamma` lives differs per member):

.. math:: \frac{\partial L}{\partial x} = \frac{1}{\sqrt{\sigma^2+\epsilon}}
          \Big(g - [\text{centre}]\,\overline{g} - \hat x\,\overline{g\,\hat x}\Big).

The term :math:`\overline{g}` comes from the path through :math:`\mu`; without a
mean it drops out, and only the projection onto :math:`\hat x` (the path through
:math:`\sigma^2`) is left.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_dout, check_eps

__all__ = ["AxesCache", "normalize_forward", "normalize_backward"]


class AxesCache(NamedTuple):
    """What the backward needs: x_hat, 1/std (with the reduced axes kept), the axes, the mean flag."""

    x_hat: np.ndarray
    inv_std: np.ndarray   # x.ndim dims, length 1 along the reduced axes
    axes: tuple
    centre: bool


def _check_axes(axes, ndim: int) -> tuple:
    """Validate ``axes``: distinct ints within ``ndim`` dims; returns them non-negative and sorted."""
    if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
        axes = (axes,)
    try:
        items = tuple(axes)
    except TypeError:
        raise TypeError(f"axes must be an int or a tuple of ints; got {axes!r}") from None
    if not items or any(isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in items):
        raise TypeError(f"axes must be a non-empty tuple of ints; got {axes!r}")
    if any(not -ndim <= a < ndim for a in items):
        raise ValueError(f"axes {items} do not fit an input with {ndim} dimensions")
    out = tuple(sorted(int(a) % ndim for a in items))
    if len(set(out)) != len(out):
        raise ValueError(f"axes must be distinct; got {items}")
    return out


def normalize_forward(x, axes, eps: float = 1e-5, *, centre: bool = True):
    """Normalize ``x`` with statistics over ``axes``: ``(x_hat, AxesCache)``, x_hat shaped like x.

    No scale or shift: every member applies its own ``gamma``/``beta`` afterwards.
    ``centre=False`` divides by the root mean square instead (no mean is removed).
    """
    x = as_float_array(x, "x")
    axes = _check_axes(axes, x.ndim)
    eps = check_eps(eps)
    m = int(np.prod([x.shape[a] for a in axes]))
    if m < (2 if centre else 1):
        raise ValueError(f"each statistic over axes {axes} of shape {x.shape} averages {m} value(s); "
                         f"a mean and a variance need at least two")
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or inf; the input must be finite")
    xc = x - x.mean(axis=axes, keepdims=True) if centre else x
    inv_std = 1.0 / np.sqrt((xc * xc).mean(axis=axes, keepdims=True) + eps)
    x_hat = xc * inv_std
    return x_hat, AxesCache(x_hat, inv_std, axes, bool(centre))


def normalize_backward(dx_hat, cache: AxesCache):
    """Backward of :func:`normalize_forward`: dx from ``dx_hat`` = dL/dx_hat, by the one formula."""
    if not isinstance(cache, AxesCache):
        raise TypeError(f"cache must be the AxesCache returned by normalize_forward; got "
                        f"{type(cache).__name__}")
    x_hat, inv_std, axes, centre = cache
    g = check_dout(dx_hat, x_hat.shape).astype(x_hat.dtype, copy=False)
    projection = x_hat * (g * x_hat).mean(axis=axes, keepdims=True)   # path through sigma^2
    mean_path = g.mean(axis=axes, keepdims=True) if centre else 0.0   # path through mu
    return inv_std * (g - mean_path - projection)
