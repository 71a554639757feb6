r"""The paper's Figure-1 network and a noise layer for the "noisy BN" experiment.

:func:`mlp` builds the network of the MNIST experiment of :cite:p:`ioffe2015batch`:
``depth`` fully connected hidden layers of ``width`` sigmoid units and a linear
output scored by softmax cross-entropy, optionally with batch norm (or layer or
group norm, for the relatives chapter) before each nonlinearity. It is the one
network builder of the experiments. Shapes: input (N, 784), logits (N, 10).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import nn
from .._checks import check_int
from ..batchnorm import BatchNorm
from ..layer import Layer
from ..norms import GroupNorm, LayerNorm
from ..renorm import BatchRenorm
from ..weightstd import WSLinear

__all__ = ["MLP", "mlp", "ShiftNoise", "ACTIVATIONS", "NORM_LAYERS", "SATURATION"]

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}
SATURATION = 4.0
"""A sigmoid input with ``|z| > 4`` is called saturated: there sigma'(z) < 0.018 (vs 0.25 at 0)."""


class ShiftNoise(Layer):
    r"""Non-stationary noise: a per-unit scale and shift redrawn at every training step.

    :math:`y = s \odot x + m` with, at each training forward,
    :math:`m_j \sim U(-\text{mean\_spread}, \text{mean\_spread})` and
    :math:`s_j = \text{scale\_spread}^{u_j}`, :math:`u_j \sim U(-1, 1)`: the input
    distribution of the next layer moves at every step (the "noisy BN" of
    :cite:p:`santurkar2018does`). Identity in eval mode. Backward: :math:`dx = s\odot dy`.
    """

    def __init__(self, width: int, mean_spread: float, scale_spread: float, rng):
        super().__init__()
        for name, v in (("mean_spread", mean_spread), ("scale_spread", scale_spread)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
                raise ValueError(f"{name} must be a finite number; got {v!r}")
        if mean_spread < 0 or scale_spread < 1:
            raise ValueError(f"need mean_spread >= 0 and scale_spread >= 1; got "
                             f"{mean_spread}, {scale_spread}")
        self.width, self.rng = width, rng
        self.mean_spread, self.scale_spread = float(mean_spread), float(scale_spread)

    def forward(self, x):
        if not self.training:
            self._cache = np.ones(self.width, dtype=x.dtype)
            return x
        u = self.rng.uniform(-1, 1, size=(2, self.width)).astype(x.dtype)
        s = np.float32(self.scale_spread) ** u[0]
        m = np.float32(self.mean_spread) * u[1]
        self._cache = s
        return x * s + m

    def backward(self, dout):
        return dout * self._saved()

    def __repr__(self):
        return f"ShiftNoise(mean_spread={self.mean_spread:g}, scale_spread={self.scale_spread:g})"


class MLP(nn.Sequential):
    """A Sequential that knows where its nonlinearities are (``act_idx``: their layer indices)."""

    def __init__(self, layers, act_idx, linear_idx):
        super().__init__(layers)
        self.act_idx = list(act_idx)
        self.linear_idx = list(linear_idx)

    def forward_probed(self, x):
        """Forward, also returning the input of every hidden nonlinearity (list of (N, width))."""
        probes, wanted = [], set(self.act_idx)
        for i, layer in enumerate(self.layers):
            if i in wanted:
                probes.append(x)
            x = layer.forward(x)
        return x, probes


NORM_LAYERS = {"batch": ("BatchNorm", lambda width, groups: BatchNorm(width)),
               "renorm": ("batch renorm", lambda width, groups: BatchRenorm(width)),
               "layer": ("LayerNorm", lambda width, groups: LayerNorm(width)),
               "group": ("GroupNorm", lambda width, groups: GroupNorm(groups, width))}
"""The normalizations :func:`mlp` can insert: name -> (label for plots, factory(width, groups))."""


def mlp(depth: int = 3, width: int = 100, *, norm: str | None = None, bn: bool = False,
        activation: str = "sigmoid", init_scale: float | None = None, dropout: float = 0.0,
        bn_position: str = "before", groups: int = 10, standardize: bool = False,
        noise: tuple[float, float] | None = None, seed: int = 0, rng=None, d_in: int = 784,
        n_classes: int = 10) -> MLP:
    r"""The Figure-1 network: ``depth`` x [Linear -> (norm) -> activation -> (Dropout)] -> Linear.

    ``norm`` is "batch", "renorm" (batch renormalization), "layer", "group" (``groups``
    groups of units) or None / "none"; ``bn=True`` is short for ``norm="batch"``.
    ``standardize=True`` makes every hidden Linear a :class:`bnlib.weightstd.WSLinear`
    (weight standardization; the same initial weights, drawn in the same order). Weights are :math:`\mathcal N(0, s^2)`
    with ``s = init_scale`` (default :math:`1/\sqrt{d_{in}}` of each layer), biases 0.
    ``bn_position="after"`` puts the norm after the nonlinearity instead.
    ``noise=(mean_spread, scale_spread)`` inserts :class:`ShiftNoise` right before each
    nonlinearity (after the norm if any): a per-unit shift and scale redrawn at every
    training step.
    """
    norm = _norm_name(norm, bn)
    if standardize and init_scale is not None:
        raise ValueError("standardize=True rescales the weights itself; leave init_scale at None")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}")
    if bn_position not in ("before", "after"):
        raise ValueError(f"bn_position must be 'before' or 'after'; got {bn_position!r}")
    depth, width = check_int(depth, "depth"), check_int(width, "width")
    rng = np.random.default_rng([seed, 0]) if rng is None else rng
    layers, act_idx, linear_idx, d = [], [], [], d_in
    for i in range(depth):
        linear_idx.append(len(layers))
        layers.append(WSLinear(d, width, rng, input_grad=i > 0) if standardize
                      else nn.Linear(d, width, rng, scale=init_scale, input_grad=i > 0))
        if norm and bn_position == "before":
            layers.append(NORM_LAYERS[norm][1](width, groups))
        if noise is not None:
            layers.append(ShiftNoise(width, *noise, rng=rng))
        act_idx.append(len(layers))
        layers.append(ACTIVATIONS[activation]())
        if norm and bn_position == "after":
            layers.append(NORM_LAYERS[norm][1](width, groups))
        if dropout:
            layers.append(nn.Dropout(dropout, rng))
        d = width
    linear_idx.append(len(layers))
    layers.append(nn.Linear(d, n_classes, rng, scale=init_scale))
    return MLP(layers, act_idx, linear_idx)


def _norm_name(norm, bn: bool) -> str | None:
    """The one normalization ``mlp`` was asked for, or None; a clear error if it is unknown."""
    norm = None if norm in (None, "none") else norm
    if norm is not None and norm not in NORM_LAYERS:
        raise ValueError(f"norm must be one of {sorted(NORM_LAYERS)} or None; got {norm!r}")
    if bn and norm not in (None, "batch"):
        raise ValueError(f"bn=True asks for batch norm but norm={norm!r}; give one of them")
    return "batch" if bn else norm
