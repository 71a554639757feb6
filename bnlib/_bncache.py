"""The record batch norm's forward leaves for its backward, and the checks both share.

It lives apart from :mod:`bnlib.batchnorm` (the readable reference) and
:mod:`bnlib.fastpath` (the same arithmetic, cache-blocked) so that both can use
it and neither imports the other's module.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import check_batch, check_dout, check_eps, check_param, per_channel

__all__ = ["BNCache", "batch_axes", "check_forward_args", "check_backward_args"]


class BNCache(NamedTuple):
    """What the closed-form backward needs: x̂, γ and 1/√(σ² + ε).

    ``gamma`` and ``inv_std`` are shaped to broadcast against ``x_hat``: (D,) for an
    (N, D) batch, (1, C, 1, 1) for an (N, C, H, W) one.
    """

    x_hat: np.ndarray
    gamma: np.ndarray
    inv_std: np.ndarray


def batch_axes(ndim: int) -> tuple[int, ...]:
    """The axes a statistic is reduced over: all but the feature axis 1."""
    return (0,) + tuple(range(2, ndim))


def check_forward_args(x, gamma, beta, eps):
    """Validate a training-mode call; ``(x, gamma, beta, eps)`` with gamma, beta broadcast-shaped.

    ``eps`` may be 0 (the by-hand examples); the forward then rejects a constant
    feature itself. The NaN/inf test is left to the forward, which finds it in the
    batch mean without a pass of its own.
    """
    x = check_batch(x, training=True, finite=False)
    c, nd = x.shape[1], x.ndim
    gamma = per_channel(check_param(gamma, "gamma", c).astype(x.dtype, copy=False), nd)
    beta = per_channel(check_param(beta, "beta", c).astype(x.dtype, copy=False), nd)
    return x, gamma, beta, check_eps(eps, allow_zero=True)


def check_backward_args(dout, cache) -> np.ndarray:
    """Validate ``dout`` against a :class:`BNCache`; returns it in x̂'s dtype (float32 stays float32)."""
    if not isinstance(cache, BNCache):
        raise TypeError(f"cache must be the BNCache returned by batchnorm_forward; got "
                        f"{type(cache).__name__}")
    return check_dout(dout, cache.x_hat.shape).astype(cache.x_hat.dtype, copy=False)
