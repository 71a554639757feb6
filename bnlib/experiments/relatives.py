"""Small batches: batch norm against its per-example relatives.

Batch norm estimates a mean and a variance from the mini-batch, so with very
few examples its statistics are noisy in training and far from the running
averages used at test time. Layer norm and group norm take their statistics
from one example, so the batch size does not enter the normalization at
all :cite:p:`wu2018group`.

:func:`small_batch` trains the same fully connected net (three hidden layers of
100 ReLU units, a normalization layer before each ReLU) with each normalization
at several batch sizes, on the same number of training examples (one pass over
``examples`` images, so a small batch takes more, smaller steps), and reports
test accuracy in eval mode.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import load_fashion_mnist
from ..nn import SGD, softmax_cross_entropy
from .models import mlp

__all__ = ["NORMS", "SmallBatchResult", "small_batch"]

NORMS = {"none": "no normalization", "batch": "BatchNorm", "layer": "LayerNorm",
         "group": "GroupNorm (10 groups)"}
"""The normalizations :func:`small_batch` knows, with the labels plots use."""


@dataclass(frozen=True)
class SmallBatchResult:
    """Test accuracy (eval mode) for each normalization, batch size and seed.

    ``test_acc`` has shape (len(norms), len(batch_sizes), len(seeds)).
    """

    norms: tuple
    batch_sizes: np.ndarray
    seeds: tuple
    test_acc: np.ndarray
    examples: int
    lr: float

    def acc(self, norm: str) -> np.ndarray:
        """Mean test accuracy over seeds for one normalization, one value per batch size."""
        return self.test_acc[self.norms.index(norm)].mean(axis=1)


def _train_once(norm, batch_size, seed, data, examples, lr, n_test) -> float:
    rng = np.random.default_rng(seed)
    net = mlp(norm=norm, activation="relu", rng=rng)
    opt = SGD(lr)
    order = rng.permutation(len(data.x_train))[:examples]
    for start in range(0, examples - batch_size + 1, batch_size):
        idx = order[start:start + batch_size]
        _, dlogits = softmax_cross_entropy(net.forward(data.x_train[idx]), data.y_train[idx])
        net.backward(dlogits)
        opt.step(net)
    net.eval()
    x, y = data.x_test[:n_test], data.y_test[:n_test]
    return float((net.forward(x).argmax(axis=1) == y).mean())


def small_batch(batch_sizes=(2, 4, 8, 32), norms=("none", "batch", "layer", "group"),
                seeds=(0,), examples: int = 4000, lr: float = 0.1, n_test: int | None = None,
                data=None) -> SmallBatchResult:
    """Train one net per (normalization, batch size, seed) and measure test accuracy.

    Every run sees the same ``examples`` training images once, with plain SGD at
    rate ``lr``; the same seed gives the same initial weights and example order
    for every normalization. Test accuracy is on the first ``n_test`` test images
    (None: all). ``data`` defaults to :func:`bnlib.data.load_fashion_mnist`.
    About 1.5 s per normalization and seed with the defaults on one busy core.
    """
    bad = [n for n in norms if n not in NORMS]
    if bad or not norms:
        raise ValueError(f"norms must be a non-empty subset of {sorted(NORMS)}; got {norms!r}")
    sizes = np.asarray(batch_sizes)
    if sizes.ndim != 1 or sizes.size == 0 or sizes.dtype.kind not in "iu" or sizes.min() < 2:
        raise ValueError(f"batch_sizes must be ints >= 2 (batch norm needs two examples to "
                         f"estimate a variance); got {batch_sizes!r}")
    data = load_fashion_mnist() if data is None else data
    if not 1 <= sizes.max() <= examples <= len(data.x_train):
        raise ValueError(f"examples must lie between the largest batch size {sizes.max()} and "
                         f"the {len(data.x_train)} training images; got {examples}")
    if n_test is not None and not (isinstance(n_test, (int, np.integer)) and 1 <= n_test):
        raise ValueError(f"n_test must be a positive int or None; got {n_test!r}")
    acc = np.array([[[_train_once(n, int(b), s, data, examples, lr, n_test) for s in seeds]
                     for b in sizes] for n in norms])
    return SmallBatchResult(tuple(norms), sizes, tuple(seeds), acc, int(examples), float(lr))
