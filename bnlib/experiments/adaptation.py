r"""Test-time adaptation of batch norm, and frozen batch norm for small-batch fine-tuning.

A network trained on clean images meets shifted ones: :func:`corrupt` lowers the
contrast (an affine map of the pixels) or adds Gaussian noise, at three severities
(in the spirit of the corruptions of :cite:p:`hendrycks2019benchmarking`).

* :func:`adapt_batchnorm` is AdaBN :cite:p:`li2016revisiting`: re-estimate every
  batch norm's running mean and variance on unlabelled shifted images, keeping
  every learned parameter (gamma and beta included). The k-th batch gets weight
  1/k, so the result is the plain average over the batches of their statistics
  (PyTorch's ``momentum=None``).
* :func:`predict_with_test_statistics` normalizes each test batch with its own
  statistics mixed with the training ones, :math:`\bar\mu = \frac{N}{N+n}\mu_{train}
  + \frac{n}{N+n}\mu_{batch}` for a batch of n and a prior strength N (the same for
  the variance), as :cite:p:`schneider2020improving` propose for small test batches.
* :class:`FrozenBN` keeps a batch norm in eval mode (fixed running statistics)
  while its gamma and beta still train; :func:`freeze_batchnorm` wraps every one.
"""
from __future__ import annotations

import copy
import numbers

import numpy as np

from .._checks import check_int
from ..batchnorm import BatchNorm, batchnorm_inference
from ..layer import Layer
from ._common import get_data
from ._threads import one_blas_thread
from .models import mlp
from .training import train

__all__ = ["CORRUPTIONS", "corrupt", "pretrained_nets", "adapt_batchnorm",
           "predict_with_test_statistics", "FrozenBN", "freeze_batchnorm", "accuracy"]

CORRUPTIONS = {"contrast": (0.6, 0.4, 0.2), "noise": (0.2, 0.4, 0.6)}
"""kind -> the parameter at severities 1, 2, 3: the contrast factor a, or the noise std."""


def corrupt(x, kind: str, severity: int, seed: int = 0) -> np.ndarray:
    r"""A shifted copy of images ``x`` (N, 784) in [0, 1]; ``x`` is not changed.

    ``"contrast"``: :math:`a x + (1 - a)`, lower contrast and a brighter background,
    still in [0, 1] (no clipping, so an exact affine map). ``"noise"``: add
    :math:`\mathcal N(0, s^2)` per pixel (seeded), then clip to [0, 1].
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"kind must be one of {sorted(CORRUPTIONS)}; got {kind!r}")
    if severity not in (1, 2, 3):
        raise ValueError(f"severity must be 1, 2 or 3; got {severity!r}")
    x = np.asarray(x)
    p = CORRUPTIONS[kind][severity - 1]
    if kind == "contrast":
        return (p * x + (1 - p)).astype(x.dtype)
    noise = np.random.default_rng([seed, severity]).standard_normal(x.shape)
    return np.clip(x + p * noise, 0, 1).astype(x.dtype)


def pretrained_nets(seeds=(0, 1, 2), examples: int = 4000, steps: int = 200, lr: float = 0.1,
                    batch_size: int = 60, data=None) -> list:
    """One BN network (Figure-1 sizes, ReLU) per seed, trained on the first ``examples`` clean images."""
    x_tr, y_tr, x_te, y_te = get_data(data)
    nets = []
    for seed in seeds:
        net = mlp(bn=True, activation="relu", seed=seed)
        train(net, (x_tr[:examples], y_tr[:examples], x_te, y_te), steps=steps, lr=lr,
              batch_size=batch_size, eval_every=steps, n_eval=1, seed=seed)
        nets.append(net.eval())
    return nets


def accuracy(net, x, y) -> float:
    """Test accuracy of ``net`` in eval mode (its mode is restored)."""
    was = net.training
    with one_blas_thread(), np.errstate(all="ignore"):    # a diverged net scores at chance
        acc = float(np.mean(net.eval().forward(x).argmax(axis=1) == y))
    if was:
        net.train()
    return acc


def _batch_norms(net) -> list:
    return [layer for layer in net.layers if isinstance(layer, BatchNorm)]


def adapt_batchnorm(net, batches):
    """AdaBN in place: every BN's running statistics become the average over ``batches``.

    Training-mode forward passes over the (unlabelled) batches, the k-th with
    momentum 1/k; gamma, beta and the weights are untouched, each layer's momentum
    is restored, and the network is left in eval mode. Returns ``net``.
    """
    batches = list(batches)
    if not batches:
        raise ValueError("AdaBN needs at least one batch of images")
    layers = _batch_norms(net)
    if not layers:
        raise ValueError("the network has no BatchNorm layer, so there are no statistics to adapt")
    saved = [layer.momentum for layer in layers]
    net.train()
    try:
        with one_blas_thread():
            for k, xb in enumerate(batches, start=1):
                for layer in layers:
                    layer.momentum = 1.0 / k      # equal weight for every batch seen so far
                net.forward(xb)
    finally:
        for layer, m in zip(layers, saved):
            layer.momentum = m
        net.eval()
    return net


def _mixed_forward(net, x, prior: float) -> np.ndarray:
    n = len(x)
    w = 1.0 if np.isinf(prior) else prior / (prior + n)     # weight of the training statistics
    for layer in net.layers:
        if isinstance(layer, BatchNorm):
            mean = w * layer.running_mean + (1 - w) * x.mean(axis=0)
            var = w * layer.running_var + (1 - w) * x.var(axis=0)
            x = batchnorm_inference(x, layer.gamma, layer.beta, mean, var, layer.eps)
        else:
            x = layer.forward(x)
    return x


def predict_with_test_statistics(net, x, batch_size: int, prior: float = 0.0) -> np.ndarray:
    """Predicted classes, each test batch normalized with its statistics mixed with the training ones.

    ``prior`` N: 0 uses only the test batch (a batch of one then needs N > 0),
    ``np.inf`` only the running statistics (plain eval mode). The network is not changed.
    """
    if isinstance(prior, bool) or not isinstance(prior, numbers.Real) or not prior >= 0:
        raise ValueError(f"prior must be a number >= 0 (or np.inf); got {prior!r}")
    batch_size = check_int(batch_size, "batch_size")
    if batch_size < 2 and prior == 0:
        raise ValueError(f"batch_size must be >= 1, and >= 2 when prior is 0 (one image has no "
                         f"variance); got batch_size={batch_size}, prior={prior}")
    probe = copy.deepcopy(net).eval()
    n = len(x) // batch_size * batch_size
    with one_blas_thread():
        return np.concatenate([_mixed_forward(probe, x[k:k + batch_size], prior).argmax(axis=1)
                               for k in range(0, n, batch_size)])


class FrozenBN(Layer):
    """A BatchNorm held in eval mode: fixed running statistics, trainable gamma and beta.

    ``train()``/``eval()`` set this wrapper's ``training`` flag (so the network's
    mode bookkeeping still works) but never the inner layer's, which stays in eval
    mode; its backward is then the affine map's, and dgamma/dbeta reach the optimizer.
    """

    def __init__(self, bn: BatchNorm):
        super().__init__()
        if not isinstance(bn, BatchNorm):
            raise TypeError(f"FrozenBN wraps a BatchNorm; got {type(bn).__name__}")
        self.bn = bn.eval()
        self.params = bn.params

    @property
    def grads(self):
        return self.bn.grads

    @grads.setter
    def grads(self, value):        # Layer.__init__ sets it; the inner layer owns the gradients
        pass

    def forward(self, x):
        return self.bn.forward(x)

    def backward(self, dout):
        return self.bn.backward(dout)

    def __repr__(self):
        return f"FrozenBN({self.bn!r})"


def freeze_batchnorm(net):
    """A copy of ``net`` with every BatchNorm wrapped in :class:`FrozenBN`."""
    net = copy.deepcopy(net)
    net.layers = [FrozenBN(layer) if isinstance(layer, BatchNorm) else layer for layer in net.layers]
    return net
