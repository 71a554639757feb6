r"""The closed-form batch norm of :mod:`bnlib.batchnorm`, arranged for speed.

Same signatures, same results (to rounding; ``tests/test_fastpath.py`` checks
1e-12 in float64) and the same :class:`~bnlib.batchnorm.BNCache`, so a cache from
either forward works with either backward. The book shows the reference; this
module is what :class:`bnlib.batchnorm.BatchNorm` and the experiments run.

Batch norm does almost no arithmetic per value, so its speed is the number of
passes over memory and how fast each one streams. Hence:

* the batch is handled as the wide matrix of ``bnlib._layout`` (its docstring
  says why that streams faster), with per-channel sums by einsum;
* every result is written into an array made once (``np.empty_like``, ``out=``,
  in-place operators), never into a fresh temporary per operation;
* per-channel factors such as ``gamma * inv_std`` are combined on the (C,)
  vectors first, which costs C operations instead of N·C;
* work is done slab by slab, so consecutive operations find the data in cache.

``scripts/bench.py`` measures the result against the reference and PyTorch.
"""
from __future__ import annotations

import numpy as np

from ._bncache import BNCache, check_backward_args, check_forward_args
from ._checks import per_channel, raise_not_finite
from ._layout import Layout

__all__ = ["batchnorm_forward", "batchnorm_backward", "train_forward"]


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


def train_forward(x, gamma, beta, eps):
    """Forward on checked input (``gamma``, ``beta``: (C,) in x's dtype): ``(y, cache, mu, var)``.

    ``mu`` and ``var`` (biased) are (C,); the BatchNorm layer updates its running
    statistics from them.
    """
    x = np.ascontiguousarray(x)                  # the matrix view needs C order (copies only if not)
    lay = Layout.of(x)
    x = lay.matrix(x)
    x_hat, out = np.empty_like(x), np.empty_like(x)
    # x_hat's own buffer first receives x - mu, then is normalized in place: no
    # separate centred array is ever allocated
    mu, var = _moments(x, lay, x_hat)
    if eps == 0 and not (var > 0).all():
        raise ValueError("with eps = 0 every feature must vary; a feature of x is constant "
                         "(variance 0), so x_hat would be 0/0. Use eps > 0")
    inv_std = 1.0 / np.sqrt(var + eps)           # eps is a Python float: the dtype stays x's
    inv_std_row, gamma_row, beta_row = lay.pattern(inv_std), lay.pattern(gamma), lay.pattern(beta)
    for s in lay.slabs:
        xh, o = x_hat[s], out[s]
        xh *= inv_std_row
        np.multiply(xh, gamma_row, out=o)
        o += beta_row
    nd = len(lay.shape)
    cache = BNCache(x_hat.reshape(lay.shape), per_channel(gamma, nd), per_channel(inv_std, nd))
    return out.reshape(lay.shape), cache, mu, var


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Training-mode batch norm, as :func:`bnlib.batchnorm.batchnorm_forward`: ``(y, BNCache)``."""
    x, gamma, beta, eps = check_forward_args(x, gamma, beta, eps)
    out, cache, _, _ = train_forward(x, gamma.reshape(-1), beta.reshape(-1), eps)
    return out, cache


def batchnorm_backward(dout, cache: BNCache):
    """The closed-form backward, as :func:`bnlib.batchnorm.batchnorm_backward`: ``(dx, dgamma, dbeta)``."""
    # float64 dout on a float32 batch is cast once here, so every pass below stays float32
    dout = np.ascontiguousarray(check_backward_args(dout, cache))
    x_hat = np.ascontiguousarray(cache.x_hat)
    gamma, inv_std = cache.gamma.reshape(-1), cache.inv_std.reshape(-1)
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
