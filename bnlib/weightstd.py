r"""Weight standardization :cite:p:`qiao2019micro`: normalize the weights, not the activations.

Each output unit's incoming weights (its fan-in) are given mean 0 and variance 1
before they are used, with nothing learned and nothing taken from the batch:

.. math:: \hat W_{:,j} = \frac{W_{:,j}-\mu_j}{\sqrt{\sigma_j^2+\epsilon}} ,

with :math:`\mu_j, \sigma_j^2` the mean and variance of unit :math:`j`'s weights.
That is the family's normalization (:func:`bnlib.family.normalize_forward`)
applied to ``W`` over its fan-in axes, so its backward is the family's formula.
Qiao et al. pair it with group norm to train with one or two images per device.

Shapes: bnlib's ``W`` of a linear layer is (d_in, d_out), so unit ``j`` is column
``j`` and the fan-in is axis 0; a convolution kernel (C_out, C_in, kh, kw), in
PyTorch's layout, has its fan-in on axes (1, 2, 3).
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_dout
from .family import AxesCache, normalize_backward, normalize_forward
from .nn import Linear

__all__ = ["weight_standardize_forward", "weight_standardize_backward", "WSLinear"]


def _fan_in_axes(W: np.ndarray) -> tuple:
    if W.ndim == 2:
        return (0,)
    if W.ndim == 4:
        return (1, 2, 3)
    raise ValueError(f"W must be a linear weight (d_in, d_out) or a convolution kernel "
                     f"(C_out, C_in, kh, kw); got shape {W.shape}")


def weight_standardize_forward(W, eps: float = 1e-5):
    """Standardize each output unit's weights: ``(W_hat, AxesCache)``, W_hat shaped like W."""
    W = as_float_array(W, "W")
    return normalize_forward(W, _fan_in_axes(W), eps)


def weight_standardize_backward(dW_hat, cache: AxesCache):
    """Gradient with respect to ``W`` from the gradient with respect to ``W_hat``."""
    return normalize_backward(dW_hat, cache)


class WSLinear(Linear):
    r"""A :class:`bnlib.nn.Linear` that multiplies by the standardized weights: :math:`z = x\hat W + b`.

    ``params["W"]`` holds the raw weights (what the optimizer updates); every
    forward standardizes them. Its outputs have no fixed scale (a unit's
    pre-activation variance grows with d_in), so follow it with a normalization
    layer such as :class:`bnlib.norms.GroupNorm`, as Qiao et al. do.
    """

    def __init__(self, d_in: int, d_out: int, rng: np.random.Generator, eps: float = 1e-5,
                 dtype=np.float32, input_grad: bool = True):
        super().__init__(d_in, d_out, rng, dtype=dtype, input_grad=input_grad)
        if d_in < 2:
            raise ValueError(f"weight standardization needs at least two inputs per unit; "
                             f"got d_in={d_in}")
        self.eps = eps
        weight_standardize_forward(self.params["W"], eps)     # validates eps now, not later

    def forward(self, x):
        x = as_float_array(x, "x")
        if x.ndim != 2 or x.shape[1] != self.d_in:
            raise ValueError(f"x must be a batch (N, {self.d_in}) for WSLinear(d_in={self.d_in}); "
                             f"got shape {x.shape}")
        W_hat, ws_cache = weight_standardize_forward(self.params["W"], self.eps)
        self._cache = (x, W_hat, ws_cache)
        return x @ W_hat + self.params["b"]

    def backward(self, dout):
        x, W_hat, ws_cache = self._saved()
        dout = check_dout(dout, (x.shape[0], self.d_out))
        self.grads["W"][...] = weight_standardize_backward(x.T @ dout, ws_cache)
        self.grads["b"][...] = dout.sum(axis=0)
        return dout @ W_hat.T if self.input_grad else None

    def __repr__(self):
        return f"WSLinear({self.d_in}, {self.d_out}, eps={self.eps:g})"
