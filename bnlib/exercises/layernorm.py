r"""A closed-form layer-norm reference for the checkers: statistics per example (per row).

For an (N, D) batch, each row :math:`i` is normalized with its own mean and variance over
its D features, then scaled and shifted per feature:

.. math::
   \mu_i = \tfrac1D\sum_j x_{ij},\quad \sigma_i^2 = \tfrac1D\sum_j (x_{ij}-\mu_i)^2,\quad
   \hat x_{ij} = \frac{x_{ij}-\mu_i}{\sqrt{\sigma_i^2+\epsilon}},\quad y_{ij} = \gamma_j\hat x_{ij}+\beta_j.

Backward, with :math:`g_{ij} = \gamma_j\,dout_{ij}` and row means :math:`\overline{\,\cdot\,}_i`:

.. math::
   dx_{ij} = \frac{1}{\sqrt{\sigma_i^2+\epsilon}}\big(g_{ij} - \overline{g}_i
             - \hat x_{ij}\,\overline{g\hat x}_i\big),\quad
   d\gamma_j = \sum_i dout_{ij}\hat x_{ij},\quad d\beta_j = \sum_i dout_{ij}.

Unlike batch norm, layer norm behaves the same in training and evaluation.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_dout, check_eps, check_param

__all__ = ["LNCache", "layernorm_forward", "layernorm_backward"]


class LNCache(NamedTuple):
    """What the backward needs: the normalized input (N, D), gamma (D,), 1/std per row (N, 1)."""

    x_hat: np.ndarray
    gamma: np.ndarray
    inv_std: np.ndarray


def layernorm_forward(x, gamma, beta, eps=1e-5):
    """Layer norm of an (N, D) batch: ``(y, LNCache)``; gamma, beta are (D,)."""
    x = as_float_array(x, "x")
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"x must be 2-D (N, D) with D >= 2 features per row; got shape {x.shape}")
    d = x.shape[1]
    gamma, beta = check_param(gamma, "gamma", d), check_param(beta, "beta", d)
    mu = x.mean(axis=1, keepdims=True)
    xmu = x - mu
    inv_std = 1.0 / np.sqrt((xmu ** 2).mean(axis=1, keepdims=True) + check_eps(eps))
    x_hat = xmu * inv_std
    return gamma * x_hat + beta, LNCache(x_hat, gamma, inv_std)


def layernorm_backward(dout, cache: LNCache):
    """Closed-form backward: ``(dx, dgamma, dbeta)``."""
    if not isinstance(cache, LNCache):
        raise TypeError(f"cache must be the LNCache from layernorm_forward; got {type(cache).__name__}")
    x_hat, gamma, inv_std = cache
    dout = check_dout(dout, x_hat.shape)
    g = dout * gamma
    dx = inv_std * (g - g.mean(axis=1, keepdims=True)
                    - x_hat * (g * x_hat).mean(axis=1, keepdims=True))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
