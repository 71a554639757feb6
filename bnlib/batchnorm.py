r"""Batch norm in closed form ("gradients on paper") and the BatchNorm layer.

The functions are pure math; :class:`BatchNorm` only does bookkeeping (the
parameters, the running statistics and the train/eval flag).

Shapes: ``x`` is (N, D), statistics over axis 0, or (N, C, H, W), statistics
per channel over (N, H, W). Below, :math:`m` is the number of values each
statistic is taken over (N, or N·H·W). Forward (training):

.. math:: \hat x = (x-\mu)\,/\sqrt{\sigma^2+\epsilon},\qquad y = \gamma\hat x + \beta.

Backward, with :math:`g = \partial L/\partial y`:

.. math::
   \frac{\partial L}{\partial \beta} = \sum g,\qquad
   \frac{\partial L}{\partial \gamma} = \sum g\,\hat x,\qquad
   \frac{\partial L}{\partial x} = \frac{\gamma}{\sqrt{\sigma^2+\epsilon}}
      \Big(g - \tfrac{1}{m}\tfrac{\partial L}{\partial \beta}
             - \hat x\,\tfrac{1}{m}\tfrac{\partial L}{\partial \gamma}\Big).

Conventions (PyTorch's, fixed here and nowhere else): ``momentum`` weights the
new batch statistic; the batch is normalized with the biased variance while
``running_var`` is updated with the unbiased one, :math:`\sigma^2\,m/(m-1)`.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ._checks import (as_float_array, check_batch, check_dout, check_eps, check_param,
                      raise_not_finite)
from ._layout import Layout
from .layer import AffineNorm

__all__ = ["BNCache", "batchnorm_forward", "batchnorm_backward", "batchnorm_inference",
           "fold_into_linear", "BatchNorm"]


class BNCache(NamedTuple):
    """What the compact backward needs: the normalized input, gamma and 1/std."""

    x_hat: np.ndarray
    gamma: np.ndarray     # (C,)
    inv_std: np.ndarray   # (C,)


def _axes(ndim: int) -> tuple[int, ...]:
    """The axes a statistic is reduced over: all but the feature axis 1."""
    return (0,) + tuple(range(2, ndim))


def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape a (C,) vector so it broadcasts against an ndim-D batch."""
    return v if ndim == 2 else v.reshape((1, -1) + (1,) * (ndim - 2))


# --- the fast path -------------------------------------------------------------
# Batch norm does almost no arithmetic per value, so its speed is the number of
# passes over memory. Hence: the batch is handled as the wide matrix of
# bnlib._layout (its docstring says why that streams faster); every result is
# written into an array made once (np.empty_like, out=, in-place operators), never
# into a fresh temporary per operation; per-channel factors such as gamma * inv_std
# are combined on the (C,) vectors first, which costs C operations instead of N*C;
# and work is done slab by slab so that consecutive operations find the data in cache.
# scripts/bench.py measures the result against PyTorch and against np.copyto.

def _sum_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-channel sum of a * b without materialising the product."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return Layout.of(a).channel_sum(a, b)


def _moments(x: np.ndarray, lay: Layout, centred: np.ndarray):
    """Per-channel mean and biased variance of the matrix ``x``; ``x - mean`` goes into ``centred``.

    Two passes, mean first, then the mean squared deviation: the one-pass
    E[x^2] - E[x]^2 saves a pass but cancels catastrophically when |mean| >> std.
    """
    m = x.size // lay.C
    mu = lay.channel_sum(x) / m
    if not np.isfinite(mu).all():    # any NaN or inf in a channel makes its sum NaN or inf
        raise_not_finite()
    mu_row = lay.pattern(mu)
    sq = None
    for s in lay.slabs:
        d = np.subtract(x[s], mu_row, out=centred[s])
        part = lay.channel_sum(d, d)             # reads the slab just written, from cache
        sq = part if sq is None else sq + part
    return mu, sq / m


def _train_forward(x, gamma, beta, eps):
    """Forward in training mode; also returns the batch mean and variance."""
    x = np.ascontiguousarray(x)                  # the matrix view needs C order (copies only if not)
    lay = Layout.of(x)
    x = lay.matrix(x)
    x_hat, out = np.empty_like(x), np.empty_like(x)
    # x_hat's own buffer first receives x - mu, then is normalized in place: no
    # separate centred array is ever allocated
    mu, var = _moments(x, lay, x_hat)
    inv_std = 1.0 / np.sqrt(var + eps)           # eps is a Python float: the dtype stays x's
    inv_std_row, gamma_row, beta_row = lay.pattern(inv_std), lay.pattern(gamma), lay.pattern(beta)
    for s in lay.slabs:
        xh, o = x_hat[s], out[s]
        xh *= inv_std_row
        np.multiply(xh, gamma_row, out=o)
        o += beta_row
    shape = lay.shape
    return out.reshape(shape), BNCache(x_hat.reshape(shape), gamma, inv_std), mu, var


def _params(x, gamma, beta):
    c = x.shape[1]
    gamma = check_param(gamma, "gamma", c).astype(x.dtype, copy=False)
    beta = check_param(beta, "beta", c).astype(x.dtype, copy=False)
    return gamma, beta


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Training-mode batch norm in closed form: ``(y, BNCache)``.

    ``x``: (N, D) or (N, C, H, W); ``gamma``, ``beta``: (D,) or (C,).
    Float32 input gives float32 output.
    """
    x = check_batch(x, training=True, finite=False)   # _moments tests finiteness
    gamma, beta = _params(x, gamma, beta)
    out, cache, _, _ = _train_forward(x, gamma, beta, check_eps(eps))
    return out, cache


def batchnorm_backward(dout, cache: BNCache):
    """Compact backward: ``(dx, dgamma, dbeta)`` from the closed form above."""
    if not isinstance(cache, BNCache):
        raise TypeError(f"cache must be the BNCache returned by batchnorm_forward; got "
                        f"{type(cache).__name__}")
    x_hat, gamma, inv_std = cache
    # float64 dout on a float32 batch is cast once here, so every pass below stays float32
    dout = np.ascontiguousarray(check_dout(dout, x_hat.shape), dtype=x_hat.dtype)
    lay = Layout.of(x_hat)
    x_hat, dout = lay.matrix(x_hat), lay.matrix(dout)
    m = x_hat.size // lay.C
    dbeta = dgamma = None
    for s in lay.slabs:  # both sums in one sweep: the second finds the slab of dout in cache
        g, xh = dout[s], x_hat[s]
        db, dg = lay.channel_sum(g), lay.channel_sum(g, xh)
        dbeta, dgamma = (db, dg) if dbeta is None else (dbeta + db, dgamma + dg)
    a, b, k = lay.pattern(dgamma / -m), lay.pattern(dbeta / m), lay.pattern(gamma * inv_std)
    dx = np.empty_like(x_hat)
    # dx = gamma * inv_std * (dout - dbeta/m - x_hat * dgamma/m): four passes, each over
    # a slab still in cache from the one before
    for s in lay.slabs:
        d = np.multiply(x_hat[s], a, out=dx[s])
        d += dout[s]
        d -= b
        d *= k
    return dx.reshape(lay.shape), dgamma, dbeta


def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Eval-mode batch norm: normalize with fixed (running) statistics."""
    x = check_batch(x, training=False)
    gamma, beta = _params(x, gamma, beta)
    c = x.shape[1]
    mean = check_param(running_mean, "running_mean", c)
    var = check_param(running_var, "running_var", c)
    scale = gamma / np.sqrt(var + check_eps(eps))
    nd = x.ndim
    return ((x - _per_channel(mean, nd)) * _per_channel(scale, nd)
            + _per_channel(beta, nd)).astype(x.dtype, copy=False)


def fold_into_linear(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    r"""Fold eval-mode BN into the linear layer before it.

    For ``z = x @ W + b`` followed by BN with fixed statistics, returns
    ``(W', b')`` with ``x @ W' + b' == BN(z)``:
    :math:`W' = W\,s,\ b' = (b-\mu_{run})\,s + \beta` with :math:`s = \gamma/\sqrt{\sigma^2_{run}+\epsilon}`.
    """
    W, b = as_float_array(W, "W"), as_float_array(b, "b")
    if W.ndim != 2 or b.shape != (W.shape[1],):
        raise ValueError(f"W must be (D_in, D_out) and b (D_out,); got {W.shape} and {b.shape}")
    c = W.shape[1]
    s = check_param(gamma, "gamma", c) / np.sqrt(check_param(running_var, "running_var", c)
                                                 + check_eps(eps))
    return W * s, (b - check_param(running_mean, "running_mean", c)) * s + check_param(beta, "beta", c)


class BatchNorm(AffineNorm):
    """A batch-norm layer for (N, C) or (N, C, H, W) input, with PyTorch's conventions.

    ``forward(x)`` in training mode normalizes with the batch statistics and
    updates ``running_mean`` and ``running_var``; in eval mode it uses them and
    changes nothing. ``backward(dout)`` returns dx and sets ``dgamma``/``dbeta``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        if isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral):
            raise TypeError(f"num_features must be an int; got {type(num_features).__name__}")
        if num_features < 1:
            raise ValueError(f"num_features must be at least 1; got {num_features}")
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
            raise TypeError(f"momentum must be a number in [0, 1]; got {type(momentum).__name__}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1] (the weight of the new batch "
                             f"statistic); got {momentum}")
        super().__init__(int(num_features))
        self.eps = check_eps(eps)
        self.momentum = float(momentum)
        self.running_mean = np.zeros(self.num_features)
        self.running_var = np.ones(self.num_features)

    def forward(self, x):
        """Normalize a (N, C) or (N, C, H, W) batch per channel; returns y, same shape and dtype."""
        # in training, _moments tests finiteness (before any state changes)
        x = check_batch(x, training=self.training, num_features=self.num_features, finite=False)
        gamma, beta = self.gamma.astype(x.dtype), self.beta.astype(x.dtype)
        if self.training:
            out, cache, mu, var = _train_forward(x, gamma, beta, self.eps)
            m = x.size // self.num_features
            k = self.momentum
            self.running_mean = (1 - k) * self.running_mean + k * mu
            self.running_var = (1 - k) * self.running_var + k * var * (m / (m - 1))
        else:
            nd = x.ndim
            inv_std = (1.0 / np.sqrt(self.running_var + self.eps)).astype(x.dtype)
            x_hat = (x - _per_channel(self.running_mean.astype(x.dtype), nd)) * _per_channel(inv_std, nd)
            out = x_hat * _per_channel(gamma, nd) + _per_channel(beta, nd)
            cache = BNCache(x_hat, gamma, inv_std)
        self._cache = (cache, self.training)
        return out

    def backward(self, dout):
        """Gradient of the loss with respect to the last forward's input; sets dgamma and dbeta."""
        cache, training = self._saved()
        if training:
            dx, dgamma, dbeta = batchnorm_backward(dout, cache)
        else:   # fixed statistics: y is an affine map of x
            dout = check_dout(dout, cache.x_hat.shape)
            axes, nd = _axes(dout.ndim), dout.ndim
            dbeta = dout.sum(axis=axes)
            dgamma = _sum_product(dout, cache.x_hat)
            dx = dout * _per_channel(cache.gamma * cache.inv_std, nd)
        self._store_grads(dgamma, dbeta)
        return dx

    def __repr__(self):
        mode = "train" if self.training else "eval"
        return (f"BatchNorm({self.num_features}, eps={self.eps:g}, momentum={self.momentum:g}, "
                f"mode={mode})")
