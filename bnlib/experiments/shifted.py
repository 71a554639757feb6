"""Measurements on shifted test data: how much AdaBN recovers, with how many batches, at what batch size.

Every function takes the trained networks of
:func:`bnlib.experiments.pretrained_nets` (one per seed), corrupts test
images with :func:`bnlib.experiments.corrupt` and returns a plain
result whose arrays end with one entry per network (seed). Accuracy is measured on
the first ``n_test`` test images; unlabelled adaptation images come from the other
end of the test set (the last ``n_adapt``), so no image is adapted on and scored.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from ._common import as_tuple, get_data
from .adaptation import (CORRUPTIONS, accuracy, adapt_batchnorm, corrupt, freeze_batchnorm,
                         predict_with_test_statistics)
from .training import train

__all__ = ["ShiftResult", "corruption_study", "BudgetResult", "adaptation_budget",
           "SmallBatchTTAResult", "small_test_batches", "FinetuneResult", "frozen_finetune"]


def _split(data, n_test, n_adapt):
    _, _, x_te, y_te = get_data(data)
    if n_test + n_adapt > len(x_te):
        raise ValueError(f"n_test + n_adapt must not exceed the {len(x_te)} test images; got "
                         f"{n_test} + {n_adapt}")
    return x_te[:n_test], y_te[:n_test], x_te[len(x_te) - n_adapt:]


def _batches(x, size):
    return [x[k:k + size] for k in range(0, len(x) - size + 1, size)]


def _adapted(net, x, batch_size):
    return adapt_batchnorm(copy.deepcopy(net), _batches(x, batch_size))


@dataclass(frozen=True)
class ShiftResult:
    """Accuracy under each corruption: ``source`` (running statistics from training) and
    ``adapted`` (after AdaBN), arrays (len(kinds), 3 severities, seeds); ``clean`` and
    ``clean_adapted`` (seeds,): clean test images, before and after AdaBN on clean images."""

    kinds: tuple
    clean: np.ndarray
    clean_adapted: np.ndarray
    source: np.ndarray
    adapted: np.ndarray


def corruption_study(nets, kinds=("contrast", "noise"), n_test=2000, n_adapt=2000, batch_size=64,
                     data=None) -> ShiftResult:
    """Accuracy of each net on clean and corrupted images, before and after AdaBN."""
    bad = [k for k in kinds if k not in CORRUPTIONS]
    if bad or not kinds:
        raise ValueError(f"kinds must be a non-empty subset of {sorted(CORRUPTIONS)}; got {kinds!r}")
    x, y, pool = _split(data, n_test, n_adapt)
    shape = (len(kinds), 3, len(nets))
    source, adapted = np.zeros(shape), np.zeros(shape)
    for s, net in enumerate(nets):
        for i, kind in enumerate(kinds):
            for j in range(3):
                xc, pc = corrupt(x, kind, j + 1, seed=s), corrupt(pool, kind, j + 1, seed=100 + s)
                source[i, j, s] = accuracy(net, xc, y)
                adapted[i, j, s] = accuracy(_adapted(net, pc, batch_size), xc, y)
    clean = np.array([accuracy(net, x, y) for net in nets])
    clean_adapted = np.array([accuracy(_adapted(net, pool, batch_size), x, y) for net in nets])
    return ShiftResult(tuple(kinds), clean, clean_adapted, source, adapted)


@dataclass(frozen=True)
class BudgetResult:
    """Accuracy after AdaBN on the first ``n_batches[i]`` batches of ``batch_size``:
    ``acc`` (len(n_batches), seeds); ``source`` (seeds,) before adaptation."""

    kind: str
    severity: int
    batch_size: int
    n_batches: np.ndarray
    acc: np.ndarray
    source: np.ndarray


def adaptation_budget(nets, kind="noise", severity=2, n_batches=(1, 2, 4, 8, 16, 31), batch_size=64,
                      n_test=2000, n_adapt=2000, data=None) -> BudgetResult:
    """How many unlabelled batches AdaBN needs: accuracy against the number of batches used."""
    counts = as_tuple(n_batches, "n_batches", int)
    if max(counts) * batch_size > n_adapt:
        raise ValueError(f"{max(counts)} batches of {batch_size} need more than n_adapt={n_adapt} images")
    x, y, pool = _split(data, n_test, n_adapt)
    acc = np.zeros((len(counts), len(nets)))
    source = np.zeros(len(nets))
    for s, net in enumerate(nets):
        xc, pc = corrupt(x, kind, severity, seed=s), corrupt(pool, kind, severity, seed=100 + s)
        source[s] = accuracy(net, xc, y)
        for i, k in enumerate(counts):
            acc[i, s] = accuracy(_adapted(net, pc[:k * batch_size], batch_size), xc, y)
    return BudgetResult(kind, severity, batch_size, np.array(counts), acc, source)


@dataclass(frozen=True)
class SmallBatchTTAResult:
    """Accuracy when every test batch is normalized with its own statistics mixed with the
    training ones at prior strength ``priors[i]``: ``acc`` (len(priors), len(batch_sizes), seeds)."""

    kind: str
    severity: int
    batch_sizes: np.ndarray
    priors: tuple
    acc: np.ndarray


def small_test_batches(nets, kind="noise", severity=2, batch_sizes=(2, 8, 32, 128), priors=(0.0, 16.0),
                       n_test=1024, data=None) -> SmallBatchTTAResult:
    """The cost of adapting to each test batch when batches are small, and the prior that softens it."""
    sizes = as_tuple(batch_sizes, "batch_sizes", int)
    x, y, _ = _split(data, n_test, 0)
    acc = np.zeros((len(priors), len(sizes), len(nets)))
    for s, net in enumerate(nets):
        xc = corrupt(x, kind, severity, seed=s)
        for i, prior in enumerate(priors):
            for j, b in enumerate(sizes):
                pred = predict_with_test_statistics(net, xc, b, prior)
                acc[i, j, s] = np.mean(pred == y[:len(pred)])
    return SmallBatchTTAResult(kind, severity, np.array(sizes), tuple(float(p) for p in priors), acc)


@dataclass(frozen=True)
class FinetuneResult:
    """Accuracy on corrupted test images after fine-tuning on ``examples`` labelled corrupted
    training images: ``acc[mode]`` (len(lrs), len(batch_sizes), seeds) for mode "train"
    (BN in training mode) and "frozen" (eval-mode statistics, gamma and beta trained);
    ``source`` and ``adapted`` (seeds,): no fine-tuning, before and after AdaBN."""

    kind: str
    severity: int
    batch_sizes: np.ndarray
    lrs: tuple
    acc: dict
    source: np.ndarray
    adapted: np.ndarray


def frozen_finetune(nets, kind="noise", severity=2, batch_sizes=(2, 8, 32), lrs=(0.003, 0.01),
                    examples=1000, first=4000, n_test=2000, data=None) -> FinetuneResult:
    """Fine-tune each net once over ``examples`` corrupted training images (from index ``first``,
    after the pretraining images) with plain SGD, BN either training normally or frozen."""
    sizes = as_tuple(batch_sizes, "batch_sizes", int)
    rates = as_tuple(lrs, "lrs")
    x_tr, y_tr, x_te, y_te = get_data(data)
    xt, yt = x_te[:n_test], y_te[:n_test]
    acc = {m: np.zeros((len(rates), len(sizes), len(nets))) for m in ("train", "frozen")}
    source, adapted = np.zeros(len(nets)), np.zeros(len(nets))
    for s, net in enumerate(nets):
        xf = corrupt(x_tr[first:first + examples], kind, severity, seed=200 + s)
        yf, xc = y_tr[first:first + examples], corrupt(xt, kind, severity, seed=s)
        source[s] = accuracy(net, xc, yt)
        adapted[s] = accuracy(_adapted(net, xf, 64), xc, yt)
        for i, lr in enumerate(rates):
            for j, b in enumerate(sizes):
                for mode in acc:
                    tuned = copy.deepcopy(net) if mode == "train" else freeze_batchnorm(net)
                    train(tuned, (xf, yf, xc, yt), steps=examples // b, lr=lr, batch_size=b,
                          eval_every=examples // b, n_eval=1, seed=s)
                    acc[mode][i, j, s] = accuracy(tuned, xc, yt)
    return FinetuneResult(kind, severity, np.array(sizes), rates, acc, source, adapted)
