"""The layer protocol every layer in bnlib follows (bookkeeping only, no math).

``forward(x) -> out`` keeps what ``backward(dout) -> dx`` needs; ``params`` and
``grads`` are dicts of arrays with the same keys (an optimizer updates
``params`` in place); ``train()`` / ``eval()`` set ``training``.
"""
from __future__ import annotations

import numpy as np

from ._checks import check_param

__all__ = ["Layer", "AffineNorm"]


class Layer:
    """Bookkeeping shared by every layer: params/grads dicts, the mode flag, the saved cache."""

    def __init__(self):
        self.params: dict = {}
        self.grads: dict = {}
        self.training = True
        self._cache = None

    def train(self):
        """Training mode (returns the layer, so calls can be chained)."""
        self.training = True
        return self

    def eval(self):
        """Eval mode (returns the layer)."""
        self.training = False
        return self

    def _saved(self):
        """What the last forward kept; a RuntimeError if there was none."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward: "
                               f"run forward(x) first")
        return self._cache

    def __call__(self, x):
        return self.forward(x)

    def __repr__(self):
        return f"{type(self).__name__}()"


class AffineNorm(Layer):
    """A normalization layer with a scale ``gamma`` and shift ``beta`` per channel.

    Both live in ``params`` (so an optimizer updates them in place); setting
    either checks its shape and stores a float64 copy. ``dgamma`` and ``dbeta``
    read ``grads``, which ``backward`` fills.
    """

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features
        self.params = {"gamma": np.ones(num_features), "beta": np.zeros(num_features)}
        self.grads = {"gamma": None, "beta": None}

    def _set(self, name, value):
        self.params[name] = check_param(value, name, self.num_features).astype(np.float64)

    gamma = property(lambda self: self.params["gamma"], lambda self, v: self._set("gamma", v),
                     doc="The scale per channel, PyTorch's ``weight``; setting it checks the shape.")
    beta = property(lambda self: self.params["beta"], lambda self, v: self._set("beta", v),
                    doc="The shift per channel, PyTorch's ``bias``; setting it checks the shape.")
    dgamma = property(lambda self: self.grads["gamma"],
                      doc="Gradient of the loss with respect to gamma from the last backward.")
    dbeta = property(lambda self: self.grads["beta"],
                     doc="Gradient of the loss with respect to beta from the last backward.")

    def _store_grads(self, dgamma, dbeta):
        self.grads = {"gamma": dgamma.astype(np.float64), "beta": dbeta.astype(np.float64)}
