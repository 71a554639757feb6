r"""Batch norm in closed form ("gradients on paper"): the reference, and the BatchNorm layer.

:func:`batchnorm_forward` and :func:`batchnorm_backward` are the formulas of the
chapter "Gradients on paper" written as code, a few lines with named terms;
:mod:`bnlib.fastpath` computes the same results faster (cache-blocked) and is
tested against them. The functions are pure math; :class:`BatchNorm` only does
bookkeeping (the parameters, the running statistics and the train/eval flag).

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

import numpy as np

from . import fastpath
from ._bncache import BNCache, batch_axes, check_backward_args, check_forward_args
from ._checks import (as_float_array, check_batch, check_dout, check_eps, check_int, check_param,
                      per_channel, raise_not_finite)
from .layer import AffineNorm

__all__ = ["BNCache", "batchnorm_forward", "batchnorm_backward", "batchnorm_inference",
           "fold_into_linear", "BatchNorm"]


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Training-mode batch norm: ``(y, BNCache)``.

    ``x``: (N, D), statistics over axis 0, or (N, C, H, W), statistics per channel
    over (N, H, W); ``gamma``, ``beta``: (D,) or (C,). Float32 stays float32.
    """
    x, gamma, beta, eps = check_forward_args(x, gamma, beta, eps)
    axes = batch_axes(x.ndim)
    mu = x.mean(axis=axes, keepdims=True)
    if not np.isfinite(mu).all():        # one NaN or inf in a feature makes its mean NaN or inf
        raise_not_finite()
    xmu = x - mu
    var = (xmu * xmu).mean(axis=axes, keepdims=True)    # biased; mean first, then deviations
    if eps == 0 and not (var > 0).all():
        raise ValueError("with eps = 0 every feature must vary; a feature of x is constant "
                         "(variance 0), so x_hat would be 0/0. Use eps > 0")
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = xmu * inv_std
    y = gamma * x_hat + beta
    return y, BNCache(x_hat, gamma, inv_std.reshape(gamma.shape))


def batchnorm_backward(dout, cache: BNCache):
    """The closed-form backward: ``(dx, dgamma, dbeta)``, with ``g = dout`` = dL/dy.

    ``m`` is the number of values each statistic was taken over (N, or N·H·W).
    """
    g = check_backward_args(dout, cache)         # dL/dy, checked, in x_hat's dtype
    x_hat, gamma, inv_std = cache
    axes = batch_axes(g.ndim)
    m = g.size // g.shape[1]
    dbeta = g.sum(axis=axes, keepdims=True)
    dgamma = (g * x_hat).sum(axis=axes, keepdims=True)
    dx = gamma * inv_std * (g - dbeta / m - x_hat * dgamma / m)
    return dx, dgamma.reshape(-1), dbeta.reshape(-1)


def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Eval-mode batch norm: normalize with fixed (running) statistics."""
    x = check_batch(x, training=False)
    c = x.shape[1]
    gamma, beta = check_param(gamma, "gamma", c), check_param(beta, "beta", c)
    mean = check_param(running_mean, "running_mean", c)
    var = check_param(running_var, "running_var", c)
    scale = gamma / np.sqrt(var + check_eps(eps))
    nd = x.ndim
    return ((x - per_channel(mean, nd)) * per_channel(scale, nd)
            + per_channel(beta, nd)).astype(x.dtype, copy=False)


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
    Training uses :mod:`bnlib.fastpath`, which gives the reference's results
    about twice as fast (``make bench`` measures it).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        num_features = check_int(num_features, "num_features")
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
            raise TypeError(f"momentum must be a number in [0, 1]; got {type(momentum).__name__}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1] (the weight of the new batch "
                             f"statistic); got {momentum}")
        super().__init__(num_features)
        self.eps = check_eps(eps)
        self.momentum = float(momentum)
        self.running_mean = np.zeros(self.num_features)
        self.running_var = np.ones(self.num_features)

    def forward(self, x):
        """Normalize a (N, C) or (N, C, H, W) batch per channel; returns y, same shape and dtype."""
        # in training the fast path tests finiteness, before any state changes
        x = check_batch(x, training=self.training, num_features=self.num_features, finite=False)
        gamma, beta = self.gamma.astype(x.dtype), self.beta.astype(x.dtype)
        if self.training:
            out, cache, mu, var = fastpath.train_forward(x, gamma, beta, self.eps)
            m = x.size // self.num_features
            k = self.momentum
            self.running_mean = (1 - k) * self.running_mean + k * mu
            self.running_var = (1 - k) * self.running_var + k * var * (m / (m - 1))
        else:
            nd = x.ndim
            inv_std = per_channel((1.0 / np.sqrt(self.running_var + self.eps)).astype(x.dtype), nd)
            x_hat = (x - per_channel(self.running_mean.astype(x.dtype), nd)) * inv_std
            gamma, beta = per_channel(gamma, nd), per_channel(beta, nd)
            out = gamma * x_hat + beta
            cache = BNCache(x_hat, gamma, inv_std)
        self._cache = (cache, self.training)
        return out

    def backward(self, dout):
        """Gradient of the loss with respect to the last forward's input; sets dgamma and dbeta."""
        cache, training = self._saved()
        if training:
            dx, dgamma, dbeta = fastpath.batchnorm_backward(dout, cache)
        else:   # fixed statistics: y is an affine map of x
            g = check_backward_args(dout, cache)
            axes = batch_axes(g.ndim)
            dbeta = g.sum(axis=axes)
            dgamma = (g * cache.x_hat).sum(axis=axes)
            dx = g * (cache.gamma * cache.inv_std)
        self._store_grads(dgamma, dbeta)
        return dx

    def __repr__(self):
        mode = "train" if self.training else "eval"
        return (f"BatchNorm({self.num_features}, eps={self.eps:g}, momentum={self.momentum:g}, "
                f"mode={mode})")
