r"""The few layers, the loss and the optimizer the experiments need.

Each layer is a small object in the CS231n style: ``forward(x) -> out`` keeps
what ``backward(dout) -> dx`` needs, ``params`` and ``grads`` are dicts of
numpy arrays with the same keys (the optimizer updates ``params`` in place),
and ``train()`` / ``eval()`` set the mode (only Dropout and BatchNorm care).
Batch norm is :class:`bnlib.batchnorm.BatchNorm`, which follows the same contract.

Shapes: a batch is (N, D). :class:`Linear` computes :math:`z = xW + b` with
``W`` of shape (D_in, D_out), so a row of ``x`` is one example.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import as_float_array, check_dout, check_int
from .layer import Layer

__all__ = ["Linear", "Sigmoid", "ReLU", "Tanh", "Dropout", "Sequential",
           "softmax_cross_entropy", "SGD"]


def _check_2d(x) -> np.ndarray:
    x = as_float_array(x, "x")
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D batch (N, D); got shape {x.shape}")
    return x


class Linear(Layer):
    r"""Fully connected layer :math:`z = xW + b`.

    ``W`` (d_in, d_out) is drawn from :math:`\mathcal N(0, \text{scale}^2)`
    with ``scale`` defaulting to :math:`1/\sqrt{d_{in}}`; ``b`` starts at 0.
    Backward: :math:`dW = x^\top dz,\ db = \sum_n dz_n,\ dx = dz\,W^\top`.
    With ``input_grad=False`` (a first layer, whose input is data) backward
    skips the product for ``dx`` and returns None, saving a third of its work.
    """

    def __init__(self, d_in: int, d_out: int, rng: np.random.Generator, scale: float | None = None,
                 dtype=np.float32, input_grad: bool = True):
        super().__init__()
        self.input_grad = bool(input_grad)
        d_in, d_out = check_int(d_in, "d_in"), check_int(d_out, "d_out")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)); "
                            f"got {type(rng).__name__}")
        scale = 1.0 / np.sqrt(d_in) if scale is None else float(scale)
        if not (np.isfinite(scale) and scale >= 0):
            raise ValueError(f"scale must be a finite number >= 0; got {scale}")
        self.d_in, self.d_out, self.scale = int(d_in), int(d_out), scale
        self.params = {"W": (rng.standard_normal((d_in, d_out)) * scale).astype(dtype),
                       "b": np.zeros(d_out, dtype=dtype)}
        self.grads = {"W": np.zeros_like(self.params["W"]), "b": np.zeros_like(self.params["b"])}

    def forward(self, x):
        x = _check_2d(x)
        if x.shape[1] != self.d_in:
            raise ValueError(f"x has {x.shape[1]} features but Linear expects d_in={self.d_in}")
        self._cache = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        x = self._saved()
        dout = check_dout(dout, (x.shape[0], self.d_out))
        np.matmul(x.T, dout, out=self.grads["W"], casting="same_kind")
        self.grads["b"][...] = dout.sum(axis=0)
        return dout @ self.params["W"].T if self.input_grad else None

    def __repr__(self):
        return f"Linear({self.d_in}, {self.d_out}, scale={self.scale:.3g})"


class Sigmoid(Layer):
    r""":math:`\sigma(z) = 1/(1+e^{-z})`; backward :math:`dz = dout\cdot\sigma(1-\sigma)`.

    Computed from :math:`e = e^{-|z|}` as :math:`1/(1+e)` for :math:`z \ge 0` and
    :math:`e/(1+e)` otherwise, so nothing overflows and the tails keep their precision.
    """

    def forward(self, x):
        x = as_float_array(x, "x")
        e = np.exp(-np.abs(x))
        out = 1 / (1 + e)
        out = np.where(x >= 0, out, e * out)
        self._cache = out
        return out

    def backward(self, dout):
        s = self._saved()
        return check_dout(dout, s.shape) * s * (1 - s)


class Tanh(Layer):
    r""":math:`\tanh(z)`; backward :math:`dz = dout\,(1-\tanh^2 z)`."""

    def forward(self, x):
        out = np.tanh(as_float_array(x, "x"))
        self._cache = out
        return out

    def backward(self, dout):
        t = self._saved()
        return check_dout(dout, t.shape) * (1 - t * t)


class ReLU(Layer):
    r""":math:`\max(z, 0)`; backward passes ``dout`` where :math:`z > 0`."""

    def forward(self, x):
        x = as_float_array(x, "x")
        self._cache = x > 0
        return np.maximum(x, 0)

    def backward(self, dout):
        mask = self._saved()
        return check_dout(dout, mask.shape) * mask


class Dropout(Layer):
    r"""Inverted dropout: in training, zero each value with probability ``p``
    and scale the survivors by :math:`1/(1-p)`, so the expected output equals
    the input; in eval mode, the identity.
    """

    def __init__(self, p: float, rng: np.random.Generator):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
            raise ValueError(f"p must be a probability in [0, 1); got {p!r}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator; got {type(rng).__name__}")
        self.p, self.rng = float(p), rng

    def forward(self, x):
        x = as_float_array(x, "x")
        if not self.training or self.p == 0:
            self._cache = 1.0          # backward passes dout through unchanged
            return x
        mask = (self.rng.random(x.shape, dtype=np.float32) >= self.p).astype(x.dtype)
        mask *= 1.0 / (1.0 - self.p)
        self._cache = mask
        return x * mask

    def backward(self, dout):
        mask = self._saved()
        dout = as_float_array(dout, "dout")
        if not np.isscalar(mask) and dout.shape != mask.shape:
            raise ValueError(f"dout must have the shape of the forward output {mask.shape}; "
                             f"got {dout.shape}")
        return dout * mask

    def __repr__(self):
        return f"Dropout(p={self.p:g})"


class Sequential:
    """Layers applied in order; backward runs them in reverse.

    Any object with ``forward``, ``backward``, ``params``, ``grads``,
    ``train`` and ``eval`` can be a layer (including :class:`bnlib.batchnorm.BatchNorm`).
    """

    def __init__(self, layers):
        self.layers = list(layers)
        for layer in self.layers:
            missing = [a for a in ("forward", "backward", "params", "grads", "train", "eval")
                       if not hasattr(layer, a)]
            if missing:
                raise TypeError(f"{layer!r} is not a layer: it lacks {', '.join(missing)}")

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def backward(self, dout):
        """Backward through every layer; stops early (returning None) when a layer
        returns None, i.e. a first Linear with ``input_grad=False``."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
            if dout is None:
                return None
        return dout

    def train(self):
        for layer in self.layers:
            layer.train()
        return self

    def eval(self):
        for layer in self.layers:
            layer.eval()
        return self

    @property
    def training(self) -> bool:
        return all(getattr(layer, "training", True) for layer in self.layers)

    def parameters(self):
        """Yield ``(name, param, grad)`` for every parameter, e.g. ``("0.W", W, dW)``."""
        for i, layer in enumerate(self.layers):
            grads = layer.grads
            for key, p in layer.params.items():
                yield f"{i}.{key}", p, grads[key]

    def __iter__(self):
        return iter(self.layers)

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"


def softmax_cross_entropy(logits, y):
    r"""Mean softmax cross-entropy and its gradient: ``(loss, dlogits)``.

    :math:`p = \mathrm{softmax}(z)`, :math:`L = -\frac1N\sum_n \log p_{n,y_n}`,
    :math:`\partial L/\partial z = (p - \mathrm{onehot}(y))/N`.
    ``logits`` (N, K) float, ``y`` (N,) integer labels in [0, K).
    """
    z = _check_2d(logits)
    y = np.asarray(y)
    if y.dtype.kind not in "iu" or y.shape != (z.shape[0],):
        raise ValueError(f"y must be ({z.shape[0]},) integer labels; got shape {y.shape}, "
                         f"dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= z.shape[1]):
        raise ValueError(f"labels must lie in [0, {z.shape[1]}); got range [{y.min()}, {y.max()}]")
    shifted = z - z.max(axis=1, keepdims=True)       # exp cannot overflow
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p = shifted - log_norm
    n = z.shape[0]
    rows = np.arange(n)
    loss = -float(log_p[rows, y].mean())
    dlogits = np.exp(log_p)
    dlogits[rows, y] -= 1
    dlogits /= n
    return loss, dlogits


class SGD:
    r"""Plain stochastic gradient descent: :math:`\theta \leftarrow \theta - \eta\,\nabla_\theta L`.

    ``step(model)`` updates every parameter array of ``model.parameters()`` in place.
    """

    def __init__(self, lr: float):
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a finite number > 0; got {lr!r}")
        self.lr = float(lr)

    def step(self, model) -> None:
        for name, p, g in model.parameters():
            if g is None:
                raise RuntimeError(f"parameter {name} has no gradient: run backward first")
            p -= self.lr * g

    def __repr__(self):
        return f"SGD(lr={self.lr:g})"
