r"""Batch norm after training: batch renorm at small batches, and the traps of folding.

:func:`renorm_comparison` trains the Figure-1 network (three hidden layers of 100
ReLU units, a normalization before each ReLU) with batch norm, batch renorm
:cite:p:`ioffe2017batch` and group norm at several batch sizes, each run on the
same ``examples`` training images seen once, and measures test accuracy both ways
batch norm can predict: in eval mode (running statistics) and in training mode
(each test batch, of the training batch size, normalized with its own statistics).
The difference between the two is the train/eval gap that renorm is meant to remove.

:func:`fold_network` folds every eval-mode batch norm into the linear layer before
it (:func:`bnlib.batchnorm.fold_into_linear`, computed in a chosen dtype), and
:func:`fold_traps` measures when the folded network stops being the same network.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .. import nn
from .._checks import check_int
from ..batchnorm import BatchNorm, fold_into_linear
from ._common import as_tuple, get_data
from ._threads import one_blas_thread
from .models import mlp
from .training import train

__all__ = ["COMPARED", "batch_statistics_predict", "RenormResult",
           "renorm_comparison", "fold_network", "FoldResult", "fold_traps"]

COMPARED = ("batch", "renorm", "group")
"""The normalizations :func:`renorm_comparison` knows (names of :data:`bnlib.experiments.NORM_LAYERS`)."""


def batch_statistics_predict(net, x, batch_size: int) -> np.ndarray:
    """Predicted classes with each batch of ``batch_size`` normalized by its own statistics.

    Training-mode forward on a copy whose running statistics are frozen (momentum 0),
    so ``net`` is not changed. Only the first ``len(x) // batch_size`` full batches are used.
    """
    if check_int(batch_size, "batch_size") < 2:
        raise ValueError(f"batch statistics need batches of at least 2; got {batch_size}")
    probe = copy.deepcopy(net).train()
    for layer in probe.layers:
        if isinstance(layer, BatchNorm):
            layer.momentum = 0.0
    n = len(x) // batch_size * batch_size
    with one_blas_thread():
        return np.concatenate([probe.forward(x[k:k + batch_size]).argmax(axis=1)
                               for k in range(0, n, batch_size)])


def _predict(net, x) -> np.ndarray:
    was = net.training
    with one_blas_thread():
        out = net.eval().forward(x).argmax(axis=1)
    if was:
        net.train()
    return out


@dataclass(frozen=True)
class RenormResult:
    """Accuracies for each normalization, batch size and seed; arrays (len(norms), len(batch_sizes), len(seeds)).

    ``eval_acc``: eval mode (running statistics; group norm has none, its two modes agree);
    ``batch_acc``: test batches of the training batch size normalized with their own statistics;
    ``disagree``: share of test images whose predicted class differs between the two modes.
    """

    norms: tuple
    batch_sizes: np.ndarray
    seeds: tuple
    eval_acc: np.ndarray
    batch_acc: np.ndarray
    disagree: np.ndarray
    examples: int
    lr: float
    seconds: float        # time spent training, all runs

    def mean(self, field: str, norm: str) -> np.ndarray:
        """Mean over seeds of ``field`` ("eval_acc", "batch_acc", "disagree") for ``norm``, per batch size."""
        return getattr(self, field)[self.norms.index(norm)].mean(axis=1)


def renorm_comparison(batch_sizes=(2, 4, 8, 32), norms=("batch", "renorm", "group"), seeds=(0, 1, 2),
                      examples: int = 2000, lr: float = 0.1, n_test: int = 2000,
                      data=None) -> RenormResult:
    """Train one network per (normalization, batch size, seed); see the module docstring.

    Plain SGD at rate ``lr``, one pass over the first ``examples`` training images
    (so smaller batches take more steps), full renorm limits (r_max 3, d_max 5)
    from the first step. Seed s gives every normalization the same initial weights
    and example order. Test on the first ``n_test`` test images.
    """
    sizes = as_tuple(batch_sizes, "batch_sizes", int)
    bad = [n for n in norms if n not in COMPARED]
    if bad or not norms:
        raise ValueError(f"norms must be a non-empty subset of {list(COMPARED)}; got {norms!r}")
    x_tr, y_tr, x_te, y_te = get_data(data)
    if min(sizes) < 2 or not max(sizes) <= examples <= len(x_tr) or n_test < max(sizes):
        raise ValueError(f"need batch sizes >= 2, examples between the largest batch size and "
                         f"{len(x_tr)}, and n_test >= the largest batch size; got {sizes}, "
                         f"{examples}, {n_test}")
    subset = (x_tr[:examples], y_tr[:examples], x_te[:n_test], y_te[:n_test])
    x, y = x_te[:n_test], y_te[:n_test]
    shape = (len(norms), len(sizes), len(seeds))
    eval_acc, batch_acc, disagree = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    seconds = 0.0
    for i, norm in enumerate(norms):
        for j, b in enumerate(sizes):
            for k, seed in enumerate(seeds):
                net = mlp(norm=norm, activation="relu", seed=seed)
                steps = examples // b
                seconds += train(net, subset, steps=steps, lr=lr, batch_size=b,
                                 eval_every=steps, n_eval=1, seed=seed).seconds
                by_eval, by_batch = _predict(net, x), batch_statistics_predict(net, x, b)
                n = len(by_batch)
                eval_acc[i, j, k] = np.mean(by_eval == y)
                batch_acc[i, j, k] = np.mean(by_batch == y[:n])
                disagree[i, j, k] = np.mean(by_batch != by_eval[:n])
    return RenormResult(tuple(norms), np.array(sizes), tuple(seeds), eval_acc, batch_acc, disagree,
                        int(examples), float(lr), seconds)


def fold_network(net, dtype=np.float64) -> nn.Sequential:
    """A copy of ``net`` with every BatchNorm folded into the Linear before it, computed in ``dtype``.

    The folded weights are returned in float64 whatever ``dtype`` was, so a forward
    pass measures only the error of the fold's own arithmetic. The fold uses the
    running statistics: it is the network in eval mode.
    """
    out, folded = [], set()
    for i, layer in enumerate(net.layers):
        if not isinstance(layer, BatchNorm):
            out.append(copy.deepcopy(layer))
            continue
        prev = out[-1] if out else None
        if not isinstance(prev, nn.Linear) or id(prev) in folded:
            raise ValueError(f"layer {i} is a BatchNorm that does not directly follow a Linear "
                             f"layer, so it cannot be folded")
        args = [prev.params["W"], prev.params["b"], layer.gamma, layer.beta,
                layer.running_mean, layer.running_var]
        W, b = fold_into_linear(*[np.asarray(a, dtype=dtype) for a in args], eps=layer.eps)
        prev.params = {"W": W.astype(np.float64), "b": b.astype(np.float64)}
        prev.grads = {"W": np.zeros_like(prev.params["W"]), "b": np.zeros_like(prev.params["b"])}
        folded.add(id(prev))
    return nn.Sequential(out)


@dataclass(frozen=True)
class FoldResult:
    """How far the folded network is from the batch-norm network: the largest absolute logit difference.

    ``eval_error``: against the BN network in eval mode; ``train_error``: against the
    BN network in training mode, one value per batch size of ``batch_sizes``;
    ``dtype_error``: {dtype name: error of a fold computed in that dtype against the
    float64 fold}; ``stored_error``: the float64 fold rounded to float16 for storage;
    ``dtype_disagree``: {dtype name: share of images whose predicted class changes}.
    """

    eval_error: float
    batch_sizes: tuple
    train_error: tuple
    dtype_error: dict
    stored_error: float
    dtype_disagree: dict


def fold_traps(net, x, batch_sizes=(8, 64)) -> FoldResult:
    """Measure the two folding traps on a trained BN network ``net`` and images ``x`` (float64 forward)."""
    x = np.asarray(x, dtype=np.float64)
    with one_blas_thread():
        ref = copy.deepcopy(net).eval().forward(x)
        folded = fold_network(net).forward(x)
        train_err = []
        for b in as_tuple(batch_sizes, "batch_sizes", int):
            probe = copy.deepcopy(net).train()
            n = len(x) // b * b
            z = np.concatenate([probe.forward(x[k:k + b]) for k in range(0, n, b)])
            train_err.append(float(np.abs(z - folded[:n]).max()))
        errors, disagree = {}, {}
        for dt in (np.float16, np.float32):
            z = fold_network(net, dt).forward(x)
            errors[np.dtype(dt).name] = float(np.abs(z - folded).max())
            disagree[np.dtype(dt).name] = float(np.mean(z.argmax(1) != folded.argmax(1)))
        stored = fold_network(net)
        for layer in stored.layers:
            if isinstance(layer, nn.Linear):
                layer.params = {k: v.astype(np.float16).astype(np.float64) for k, v in layer.params.items()}
        stored_err = float(np.abs(stored.forward(x) - folded).max())
    return FoldResult(float(np.abs(folded - ref).max()), tuple(batch_sizes), tuple(train_err),
                      errors, stored_err, disagree)
