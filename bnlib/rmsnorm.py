r"""RMSNorm :cite:p:`zhang2019root`: layer norm without the mean and without beta.

Each vector along the last axis of ``x`` (a token's D features, or an example's)
is divided by its root mean square and scaled per feature:

.. math:: \mathrm{rms} = \sqrt{\tfrac1D\textstyle\sum_j x_j^2+\epsilon},\qquad
          \hat x = x/\mathrm{rms},\qquad y = \gamma\,\hat x .

It is layer norm with the centring removed (:func:`bnlib.family.normalize_forward`
with ``centre=False``), so the backward is the family's formula without the
mean path. With :math:`g = \gamma\,\partial L/\partial y` and means over the last axis:

.. math:: \frac{\partial L}{\partial x} = \frac{1}{\mathrm{rms}}
          \Big(g - \hat x\,\overline{g\,\hat x}\Big),\qquad
          \frac{\partial L}{\partial \gamma} = \sum_{\text{all but last}} \frac{\partial L}{\partial y}\,\hat x .

Shapes: ``x`` (..., D), any number of leading axes (also a single vector (D,));
``gamma`` (D,). PyTorch's ``torch.nn.functional.rms_norm(x, (D,), gamma, eps)``
computes the same ``y``; there ``eps`` defaults to the dtype's machine epsilon,
here to 1e-6.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_dout, check_eps, check_int, check_param
from .layer import Layer

__all__ = ["RMSCache", "rmsnorm_forward", "rmsnorm_backward", "RMSNorm"]


class RMSCache(NamedTuple):
    """What the backward needs: x_hat (shape of x), gamma (D,), 1/rms (..., 1)."""

    x_hat: np.ndarray
    gamma: np.ndarray
    inv_rms: np.ndarray


def _check_x(x) -> np.ndarray:
    x = as_float_array(x, "x")
    if x.ndim < 1 or x.size == 0:
        raise ValueError(f"rmsnorm_forward: x must have at least one axis and hold values "
                         f"(shape (..., D)); got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("rmsnorm_forward: x contains NaN or inf; the input must be finite")
    return x


def rmsnorm_forward(x, gamma, eps: float = 1e-6):
    """RMSNorm over the last axis: ``(y, RMSCache)``; float32 input gives float32 output."""
    x = _check_x(x)
    gamma = check_param(gamma, "gamma", x.shape[-1]).astype(x.dtype, copy=False)
    eps = check_eps(eps)
    with np.errstate(over="ignore"):          # an overflow is reported below, with its cause
        mean_square = (x * x).mean(axis=-1, keepdims=True)
    if not np.isfinite(mean_square).all():
        raise ValueError("rmsnorm_forward: the mean square of x overflows its dtype "
                         f"({x.dtype}); scale the input down or use float64")
    inv_rms = 1.0 / np.sqrt(mean_square + eps)
    x_hat = x * inv_rms
    return gamma * x_hat, RMSCache(x_hat, gamma, inv_rms)


def rmsnorm_backward(dout, cache: RMSCache):
    """Backward of :func:`rmsnorm_forward`: ``(dx, dgamma)``."""
    if not isinstance(cache, RMSCache):
        raise TypeError(f"cache must be the RMSCache returned by rmsnorm_forward; got "
                        f"{type(cache).__name__}")
    x_hat, gamma, inv_rms = cache
    dout = check_dout(dout, x_hat.shape).astype(x_hat.dtype, copy=False)
    dgamma = (dout * x_hat).reshape(-1, x_hat.shape[-1]).sum(axis=0)
    g = dout * gamma                                   # dL/dx_hat; gamma varies along the axis
    projection = x_hat * (g * x_hat).mean(axis=-1, keepdims=True)
    return inv_rms * (g - projection), dgamma


class RMSNorm(Layer):
    """An RMSNorm layer over the last axis of (..., D) input: ``params = {"gamma": (D,)}``, no beta.

    Like the other per-example norms it keeps no running statistics, so
    ``train()`` and ``eval()`` change nothing it computes.
    """

    def __init__(self, num_features: int, eps: float = 1e-6):
        super().__init__()
        self.num_features = check_int(num_features, "num_features")
        self.eps = check_eps(eps)
        self.params = {"gamma": np.ones(self.num_features)}
        self.grads = {"gamma": None}

    gamma = property(lambda self: self.params["gamma"],
                     lambda self, v: self.params.__setitem__(
                         "gamma", check_param(v, "gamma", self.num_features).astype(np.float64)),
                     doc="The scale per feature, PyTorch's ``weight``; setting it checks the shape.")
    dgamma = property(lambda self: self.grads["gamma"],
                      doc="Gradient of the loss with respect to gamma from the last backward.")

    def forward(self, x):
        """Normalize ``x`` (..., D) and remember what backward needs."""
        x = as_float_array(x, "x")
        if x.ndim < 1 or x.shape[-1] != self.num_features:
            raise ValueError(f"x must have {self.num_features} features on its last axis; "
                             f"got shape {x.shape}")
        out, self._cache = rmsnorm_forward(x, self.gamma, self.eps)
        return out

    def backward(self, dout):
        """Return dx and store ``dgamma`` (also in ``grads``)."""
        dx, dgamma = rmsnorm_backward(dout, self._saved())
        self.grads = {"gamma": dgamma.astype(np.float64)}
        return dx

    def __repr__(self):
        return f"RMSNorm({self.num_features}, eps={self.eps:g})"
