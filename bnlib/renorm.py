r"""Batch renormalization :cite:p:`ioffe2017batch`: train with the output inference will give.

Batch norm trains with the batch statistics :math:`\mu_B, \sigma_B` but predicts
with the running ones :math:`\mu, \sigma`. Batch renorm corrects the first towards
the second with two per-channel factors, clipped and treated as constants:

.. math::
   \sigma_B = \sqrt{\sigma_B^2+\epsilon},\quad \sigma = \sqrt{\sigma^2_{run}+\epsilon},\quad
   r = \mathrm{clip}_{[1/r_{max},\,r_{max}]}\Big(\frac{\sigma_B}{\sigma}\Big),\quad
   d = \mathrm{clip}_{[-d_{max},\,d_{max}]}\Big(\frac{\mu_B-\mu}{\sigma}\Big),

.. math:: u = \frac{x-\mu_B}{\sigma_B},\qquad \hat x = r\,u + d,\qquad y = \gamma\hat x + \beta .

When neither factor is clipped, :math:`\hat x = (x-\mu)/\sigma`: exactly the eval-mode
output. With :math:`r_{max} = 1, d_{max} = 0` it is batch norm. Backward, with
:math:`g = \partial L/\partial y`, :math:`r` and :math:`d` constants and sums over
the :math:`m` values of a channel (batch norm's backward with :math:`\gamma r`
in place of :math:`\gamma`):

.. math:: \frac{\partial L}{\partial x} = \frac{\gamma\,r}{\sigma_B}
          \Big(g - \overline{g} - u\,\overline{g\,u}\Big),\qquad
          \frac{\partial L}{\partial\gamma} = \sum g\,\hat x,\qquad
          \frac{\partial L}{\partial\beta} = \sum g .

Running statistics follow :class:`bnlib.batchnorm.BatchNorm` (``momentum`` weights
the new batch, ``running_var`` takes the unbiased batch variance), so eval mode is
batch norm's. The paper averages :math:`\sigma` itself; keeping ``running_var``
lets a renorm layer and a batch-norm layer share their eval mode and their state.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_batch, check_dout, check_eps, check_param, per_channel
from .batchnorm import BatchNorm

__all__ = ["RenormCache", "renorm_correction", "batchrenorm_forward", "batchrenorm_backward",
           "BatchRenorm"]


class RenormCache(NamedTuple):
    """What the backward needs, plus the batch statistics the layer's running averages take."""

    u: np.ndarray         # (x - mu_B) / sigma_B, shape of x
    gamma: np.ndarray     # (C,)
    r: np.ndarray         # (C,)
    d: np.ndarray         # (C,)
    inv_std: np.ndarray   # 1 / sigma_B, (C,)
    mu: np.ndarray        # batch mean, (C,)
    var: np.ndarray       # biased batch variance, (C,)


def _check_limit(value, name: str, low: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise TypeError(f"{name} must be a finite real number; got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low:g}; got {value}")
    return float(value)


def renorm_correction(mu_B, var_B, running_mean, running_var, r_max: float = 3.0,
                      d_max: float = 5.0, eps: float = 1e-5):
    """The clipped correction factors ``(r, d)``, one per channel (see the module's formula).

    All four statistics are (C,) arrays; ``var_B`` is the biased batch variance.
    """
    r_max, d_max = _check_limit(r_max, "r_max", 1.0), _check_limit(d_max, "d_max", 0.0)
    eps = check_eps(eps)
    mu_B = as_float_array(mu_B, "mu_B")
    if mu_B.ndim != 1:
        raise ValueError(f"mu_B must be a (C,) vector of batch means; got shape {mu_B.shape}")
    c = mu_B.shape[0]
    var_B, mean, var = (check_param(a, name, c) for a, name in
                        ((var_B, "var_B"), (running_mean, "running_mean"), (running_var, "running_var")))
    stats = (mu_B, var_B, mean, var)
    if not all(np.isfinite(a).all() for a in stats) or (var_B < 0).any() or (var < 0).any():
        raise ValueError("the statistics must be finite, and var_B and running_var >= 0")
    sigma = np.sqrt(var + eps)
    r = np.clip(np.sqrt(var_B + eps) / sigma, 1.0 / r_max, r_max)
    d = np.clip((mu_B - mean) / sigma, -d_max, d_max)
    return r, d


def batchrenorm_forward(x, gamma, beta, running_mean, running_var, r_max: float = 3.0,
                        d_max: float = 5.0, eps: float = 1e-5):
    """Training-mode batch renorm: ``(y, RenormCache)``; the running statistics are only read.

    ``x``: (N, D) or (N, C, H, W); ``gamma``, ``beta``, ``running_mean``,
    ``running_var``: (C,). Float32 input gives float32 output.
    """
    x = check_batch(x, training=True)
    c, nd = x.shape[1], x.ndim
    gamma = check_param(gamma, "gamma", c).astype(x.dtype, copy=False)
    beta = check_param(beta, "beta", c).astype(x.dtype, copy=False)
    eps = check_eps(eps)
    axes = (0,) + tuple(range(2, nd))
    mu = x.mean(axis=axes)
    xmu = x - per_channel(mu, nd)
    var_B = (xmu * xmu).mean(axis=axes)
    inv_std = 1.0 / np.sqrt(var_B + eps)
    r, d = renorm_correction(mu, var_B, running_mean, running_var, r_max, d_max, eps)
    r, d = r.astype(x.dtype, copy=False), d.astype(x.dtype, copy=False)
    u = xmu * per_channel(inv_std, nd)
    x_hat = u * per_channel(r, nd) + per_channel(d, nd)
    y = x_hat * per_channel(gamma, nd) + per_channel(beta, nd)
    return y, RenormCache(u, gamma, r, d, inv_std, mu, var_B)


def batchrenorm_backward(dout, cache: RenormCache):
    """Backward with ``r`` and ``d`` held constant: ``(dx, dgamma, dbeta)``."""
    if not isinstance(cache, RenormCache):
        raise TypeError(f"cache must be the RenormCache returned by batchrenorm_forward; got "
                        f"{type(cache).__name__}")
    u, gamma, r, d, inv_std = cache[:5]
    dout = check_dout(dout, u.shape).astype(u.dtype, copy=False)
    nd = u.ndim
    axes = (0,) + tuple(range(2, nd))
    x_hat = u * per_channel(r, nd) + per_channel(d, nd)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    mean_g = per_channel(dbeta / (u.size // u.shape[1]), nd)                  # mean of g
    mean_gu = per_channel((dout * u).mean(axis=axes), nd)                      # mean of g * u
    dx = per_channel(gamma * r * inv_std, nd) * (dout - mean_g - u * mean_gu)
    return dx, dgamma, dbeta


class BatchRenorm(BatchNorm):
    """A batch-renorm layer: BatchNorm's state and eval mode, renorm's training forward.

    ``r_max`` and ``d_max`` are attributes (checked when set), so a schedule can
    relax them during training as the paper does (it starts at 1 and 0, plain
    batch norm, and widens them to 3 and 5).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 r_max: float = 3.0, d_max: float = 5.0):
        super().__init__(num_features, eps, momentum)
        self.r_max, self.d_max = r_max, d_max

    r_max = property(lambda self: self._r_max,
                     lambda self, v: setattr(self, "_r_max", _check_limit(v, "r_max", 1.0)),
                     doc="Largest allowed r (and 1/r_max the smallest); at least 1.")
    d_max = property(lambda self: self._d_max,
                     lambda self, v: setattr(self, "_d_max", _check_limit(v, "d_max", 0.0)),
                     doc="Largest allowed absolute value of d; at least 0.")

    def forward(self, x):
        """Training mode: renormalize and update the running statistics; eval mode: BatchNorm's."""
        if not self.training:
            return super().forward(x)
        x = check_batch(x, training=True, num_features=self.num_features)
        gamma, beta = self.gamma.astype(x.dtype), self.beta.astype(x.dtype)
        out, cache = batchrenorm_forward(x, gamma, beta, self.running_mean, self.running_var,
                                         self.r_max, self.d_max, self.eps)
        m, k = x.size // self.num_features, self.momentum
        self.running_mean = (1 - k) * self.running_mean + k * cache.mu
        self.running_var = (1 - k) * self.running_var + k * cache.var * (m / (m - 1))
        self._cache = cache
        return out

    def backward(self, dout):
        """Gradient with respect to the last forward's input (r, d constant); sets dgamma, dbeta."""
        cache = self._saved()
        if not isinstance(cache, RenormCache):     # the last forward ran in eval mode
            return super().backward(dout)
        dx, dgamma, dbeta = batchrenorm_backward(dout, cache)
        self._store_grads(dgamma, dbeta)
        return dx

    def __repr__(self):
        mode = "train" if self.training else "eval"
        return (f"BatchRenorm({self.num_features}, eps={self.eps:g}, momentum={self.momentum:g}, "
                f"r_max={self.r_max:g}, d_max={self.d_max:g}, mode={mode})")
