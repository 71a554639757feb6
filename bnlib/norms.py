r"""Batch norm's relatives: layer norm, group norm, instance norm, and the newer members.

All of them normalize each *example* on its own, so none depends on the other
examples in the batch (or on the batch size). They differ only in which values
share a mean and a variance. For ``x`` of shape (N, C, H, W):

* LayerNorm: all of (C, H, W) of one example :cite:p:`ba2016layer`;
* GroupNorm: the channels of one example split into G groups, each group with
  its H, W :cite:p:`wu2018group`;
* InstanceNorm: each channel of one example over (H, W) :cite:p:`ulyanov2016instance`.

LayerNorm is GroupNorm with G = 1 and InstanceNorm is GroupNorm with G = C, so
one pair of functions does the math. For (N, D) input, LayerNorm normalizes
each row and GroupNorm each group of D/G features; InstanceNorm needs spatial
positions and rejects (N, D). With :math:`M` values in a group, forward:

.. math:: \hat x = (x-\mu_g)/\sqrt{\sigma_g^2+\epsilon},\qquad y = \gamma\hat x + \beta,

with :math:`\gamma, \beta` one per channel (or feature), shared by all examples.
Layer norm also takes PyTorch's *elementwise* affine: :math:`\gamma, \beta` of
the normalized shape ``x.shape[1:]``, one pair per value (for (N, D) input the
two conventions coincide). Backward, with :math:`g = \partial L/\partial y` and
:math:`\hat g = \gamma g`, sums over the M values of each group:

.. math::
   \frac{\partial L}{\partial x} = \frac{1}{\sqrt{\sigma_g^2+\epsilon}}
      \Big(\hat g - \tfrac{1}{M}\textstyle\sum \hat g
           - \hat x\,\tfrac{1}{M}\sum \hat g\,\hat x\Big),
   \qquad \frac{\partial L}{\partial\gamma} = \sum_{n,h,w} g\,\hat x,
   \qquad \frac{\partial L}{\partial\beta} = \sum_{n,h,w} g

(elementwise: sums over n only). The layer classes follow the protocol of
:mod:`bnlib.layer`; they keep no running statistics, so ``train()`` and
``eval()`` change nothing they compute.

This module also re-exports the newer members, each in its own module:
:mod:`bnlib.family` (the whole family as one computation over chosen axes),
:mod:`bnlib.rmsnorm` (RMSNorm) and :mod:`bnlib.weightstd` (weight standardization).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_dout, check_eps, check_int, check_param, per_channel
from .family import AxesCache, normalize_backward, normalize_forward
from .layer import AffineNorm
from .rmsnorm import RMSCache, RMSNorm, rmsnorm_backward, rmsnorm_forward
from .weightstd import WSLinear, weight_standardize_backward, weight_standardize_forward

__all__ = ["NormCache", "groupnorm_forward", "groupnorm_backward", "layernorm_forward",
           "layernorm_backward", "instancenorm_forward", "instancenorm_backward",
           "LayerNorm", "GroupNorm", "InstanceNorm",
           # re-exported from bnlib.family, bnlib.rmsnorm and bnlib.weightstd
           "AxesCache", "normalize_forward", "normalize_backward",
           "RMSCache", "rmsnorm_forward", "rmsnorm_backward", "RMSNorm",
           "weight_standardize_forward", "weight_standardize_backward", "WSLinear"]


class NormCache(NamedTuple):
    """What the backward needs: the normalized input, gamma, 1/std per group, G."""

    x_hat: np.ndarray     # shape of x
    gamma: np.ndarray     # (C,), or x.shape[1:] for layer norm's elementwise affine
    inv_std: np.ndarray   # (N, G)
    groups: int


def _check_input(x, groups: int, name: str) -> np.ndarray:
    """Validate x for a per-example norm with ``groups`` groups of channels."""
    x = as_float_array(x, "x")
    if x.ndim not in (2, 4):
        raise ValueError(f"{name}: x must be 2-D (N, D) or 4-D (N, C, H, W); "
                         f"got {x.ndim}-D input of shape {x.shape}")
    if x.shape[0] < 1 or x.shape[1] % groups:
        raise ValueError(f"{name}: the {x.shape[1]} channels (axis 1 of shape {x.shape}) must "
                         f"split evenly into {groups} groups, and the batch must not be empty")
    if x.size // (x.shape[0] * groups) < 2:
        raise ValueError(f"{name}: each group needs at least two values to estimate a variance; "
                         f"shape {x.shape} with {groups} group(s) gives one per group")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: x contains NaN or inf; the input must be finite")
    return x


def _affine_params(x, gamma, beta, name: str, elementwise: bool):
    """gamma and beta: (C,), or also x.shape[1:] when ``elementwise``; cast to x's dtype."""
    c = x.shape[1]
    if not elementwise:
        gamma, beta = check_param(gamma, "gamma", c), check_param(beta, "beta", c)
    else:
        gamma, beta = as_float_array(gamma, "gamma"), as_float_array(beta, "beta")
        for label, p in (("gamma", gamma), ("beta", beta)):
            if p.shape not in ((c,), x.shape[1:]):
                raise ValueError(f"{name}: {label} must have shape ({c},), one per channel, or "
                                 f"{x.shape[1:]} = x.shape[1:], one per value (PyTorch's "
                                 f"elementwise affine); got shape {p.shape}")
        if gamma.shape != beta.shape:
            raise ValueError(f"{name}: gamma and beta must have the same shape; got "
                             f"{gamma.shape} and {beta.shape}")
    return gamma.astype(x.dtype, copy=False), beta.astype(x.dtype, copy=False)


def _spread(p: np.ndarray, ndim: int) -> np.ndarray:
    """Broadcast a (C,) parameter along axis 1, or an elementwise one (x.shape[1:]) as it is."""
    return per_channel(p, ndim) if p.ndim == 1 else p


def _forward(x, gamma, beta, num_groups, eps, name, elementwise=False):
    g = check_int(num_groups, "num_groups")
    x = _check_input(x, g, name)
    gamma, beta = _affine_params(x, gamma, beta, name, elementwise)
    eps = check_eps(eps)
    xg = x.reshape(x.shape[0], g, -1)                 # (N, G, M): one row per group
    xmu = xg - xg.mean(axis=2, keepdims=True)
    inv_std = 1.0 / np.sqrt((xmu * xmu).mean(axis=2) + eps)     # (N, G)
    x_hat = (xmu * inv_std[:, :, None]).reshape(x.shape)
    out = x_hat * _spread(gamma, x.ndim) + _spread(beta, x.ndim)
    return out, NormCache(x_hat, gamma, inv_std, g)


def groupnorm_forward(x, gamma, beta, num_groups: int, eps: float = 1e-5):
    """Group norm: statistics per example over each group of channels, ``(y, NormCache)``.

    ``x``: (N, C) or (N, C, H, W) with C divisible by ``num_groups``;
    ``gamma``, ``beta``: (C,). Float32 input gives float32 output.
    """
    return _forward(x, gamma, beta, num_groups, eps, "groupnorm_forward")


def groupnorm_backward(dout, cache: NormCache):
    """Backward of :func:`groupnorm_forward` (and of layer and instance norm): ``(dx, dgamma, dbeta)``."""
    if not isinstance(cache, NormCache):
        raise TypeError(f"cache must be the NormCache returned by the forward function; "
                        f"got {type(cache).__name__}")
    x_hat, gamma, inv_std, g = cache
    dout = check_dout(dout, x_hat.shape).astype(x_hat.dtype, copy=False)
    nd, n = x_hat.ndim, x_hat.shape[0]
    # a (C,) gamma is shared by every example and position; an elementwise one only by the examples
    axes = (0,) + tuple(range(2, nd)) if gamma.ndim == 1 else (0,)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    gh = (dout * _spread(gamma, nd)).reshape(n, g, -1)        # dL/dx_hat per group
    # the family's one backward formula, reducing over each group's values (axis 2)
    groups = AxesCache(x_hat.reshape(n, g, -1), inv_std[:, :, None], (2,), True)
    return normalize_backward(gh, groups).reshape(x_hat.shape), dgamma, dbeta


def layernorm_forward(x, gamma, beta, eps: float = 1e-5):
    """Layer norm: each example normalized over all its features, ``(y, NormCache)``.

    ``x``: (N, D) with ``gamma``, ``beta`` (D,), or (N, C, H, W) with ``gamma``,
    ``beta`` either (C,), one pair per channel, or (C, H, W) = ``x.shape[1:]``,
    one pair per value (PyTorch's ``normalized_shape`` with elementwise affine).
    """
    return _forward(x, gamma, beta, 1, eps, "layernorm_forward", elementwise=True)


def layernorm_backward(dout, cache: NormCache):
    """Backward of :func:`layernorm_forward`: ``(dx, dgamma, dbeta)``, dgamma shaped like gamma."""
    return groupnorm_backward(dout, cache)


def instancenorm_forward(x, gamma, beta, eps: float = 1e-5):
    """Instance norm: each channel of each example over (H, W), ``(y, NormCache)``.

    ``x``: (N, C, H, W) only (an (N, D) row has one value per channel);
    ``gamma``, ``beta``: (C,).
    """
    x = as_float_array(x, "x")
    if x.ndim != 4:
        raise ValueError(f"instancenorm_forward: x must be 4-D (N, C, H, W), since each channel "
                         f"needs spatial positions to average over; got shape {x.shape}")
    return groupnorm_forward(x, gamma, beta, x.shape[1], eps)


def instancenorm_backward(dout, cache: NormCache):
    """Backward of :func:`instancenorm_forward`: ``(dx, dgamma, dbeta)``."""
    return groupnorm_backward(dout, cache)


class _PerExampleNorm(AffineNorm):
    """Shared bookkeeping: gamma, beta, their gradients and the train/eval flag."""

    _elementwise = False      # may gamma and beta have the shape x.shape[1:]?

    def __init__(self, num_channels: int, num_groups: int, eps: float):
        num_channels = check_int(num_channels, "the number of channels")
        self.num_groups = check_int(num_groups, "num_groups")
        if num_channels % self.num_groups:
            raise ValueError(f"{num_channels} channels do not split evenly into "
                             f"{self.num_groups} groups")
        # train()/eval() exist for the common protocol: the output is the same in both modes
        super().__init__(int(num_channels))
        self.eps = check_eps(eps)

    def forward(self, x):
        """Normalize ``x`` (N, C, ...) and remember what backward needs."""
        x = as_float_array(x, "x")
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"x must have {self.num_features} channels on axis 1; "
                             f"got shape {x.shape}")
        out, self._cache = _forward(x, self.gamma, self.beta, self.num_groups, self.eps,
                                    type(self).__name__, self._elementwise)
        return out

    def backward(self, dout):
        """Return dx and store ``dgamma``/``dbeta`` (also in ``grads``)."""
        dx, dgamma, dbeta = groupnorm_backward(dout, self._saved())
        self._store_grads(dgamma, dbeta)
        return dx

    def __repr__(self):
        return (f"{type(self).__name__}({self.num_features}, groups={self.num_groups}, "
                f"eps={self.eps:g})")


class LayerNorm(_PerExampleNorm):
    """Layer norm for (N, D) or (N, C, H, W) input.

    ``num_features`` an int C: one ``gamma``/``beta`` per feature or channel. A
    tuple, the normalized shape ``x.shape[1:]`` such as ``(C, H, W)``: one pair
    per value, PyTorch's ``nn.LayerNorm(normalized_shape)`` (for (N, D) input,
    ``(D,)`` and ``D`` are the same layer).
    """

    _elementwise = True

    def __init__(self, num_features, eps: float = 1e-5):
        shape = _normalized_shape(num_features)
        super().__init__(shape[0], 1, eps)
        self.normalized_shape = shape
        if len(shape) > 1:
            self.params = {"gamma": np.ones(shape), "beta": np.zeros(shape)}

    def _set(self, name, value):
        if len(self.normalized_shape) == 1:
            return super()._set(name, value)
        p = as_float_array(value, name)
        if p.shape != self.normalized_shape:
            raise ValueError(f"{name} must have the normalized shape {self.normalized_shape}; "
                             f"got shape {p.shape}")
        self.params[name] = p.astype(np.float64)

    def forward(self, x):
        """Normalize each example of ``x`` over all its features and remember what backward needs."""
        x = as_float_array(x, "x")
        if len(self.normalized_shape) > 1 and x.shape[1:] != self.normalized_shape:
            raise ValueError(f"x must have shape (N, {', '.join(map(str, self.normalized_shape))}) "
                             f"for LayerNorm{self.normalized_shape}; got shape {x.shape}")
        return super().forward(x)

    def __repr__(self):
        if len(self.normalized_shape) == 1:
            return super().__repr__()
        return f"LayerNorm({self.normalized_shape}, eps={self.eps:g})"


def _normalized_shape(num_features) -> tuple:
    """An int C, or a tuple of positive ints (the normalized shape), as a tuple."""
    if isinstance(num_features, tuple):
        if not num_features:
            raise ValueError("the normalized shape must not be empty")
        return tuple(check_int(n, "each entry of the normalized shape") for n in num_features)
    return (check_int(num_features, "the number of channels"),)


class GroupNorm(_PerExampleNorm):
    """Group norm with ``num_groups`` groups of channels, for (N, C) or (N, C, H, W) input."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5):
        super().__init__(num_channels, num_groups, eps)


class InstanceNorm(_PerExampleNorm):
    """Instance norm for (N, C, H, W) input: one mean and variance per example and channel."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__(num_features, num_features, eps)

    def forward(self, x):
        x = as_float_array(x, "x")
        if x.ndim != 4:
            raise ValueError(f"InstanceNorm needs 4-D (N, C, H, W) input; got shape {x.shape}")
        return super().forward(x)
