r"""Many devices, finite precision (17_many_devices): variance error, ghost batches, precise BN.

- :func:`cancellation`: relative error of the three variance algorithms of :mod:`bnlib.numerics`
  as the mean grows against the standard deviation, in a chosen number format;
- :func:`ghost_noise`: how much noise ghost batch norm :cite:p:`hoffer2017train` puts back into a
  large batch's normalization, against the :math:`1/\sqrt N` law of :func:`.batch_noise`;
- :func:`recompute_statistics` and :func:`precise_bn`: recompute BN's population statistics after
  training, weights frozen, instead of trusting the running averages :cite:p:`wu2021rethinking`.

Conventions as in :mod:`.claims` (Fashion-MNIST, the Figure-1 network, plain SGD, seeded).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from ..batchnorm import BatchNorm
from ..distributed import ghost_batchnorm_forward
from ..numerics import METHODS, chan_merge, get_format, moments, variance
from ._common import as_tuple, get_data, net_for
from ._threads import one_blas_thread
from .mechanics import batch_noise
from .training import evaluate, train

__all__ = ["CancellationResult", "cancellation", "GhostNoiseResult", "ghost_noise",
           "recompute_statistics", "PreciseBNResult", "precise_bn"]


@dataclass
class CancellationResult:
    r"""Relative error of each variance algorithm against the exact variance of the stored values.

    ``rel_error``, ``worst`` (M, R): median and largest :math:`|\hat\sigma^2-\sigma^2|/\sigma^2` over
    ``columns`` independent samples, for each of ``methods`` (M,) and mean/std ``ratios`` (R,);
    ``negative`` (M, R): the fraction of samples whose computed variance is below zero. Data:
    ``n`` values :math:`\mathcal N(r, 1)` per sample, rounded to ``dtype``; every operation in ``dtype``.
    ``unit_roundoff``: half the format's spacing at 1, so ``unit_roundoff * ratios**2`` is the
    rule of thumb for the one-pass error (the rounding of :math:`\overline{x^2}\approx r^2`, divided by 1).
    """

    ratios: np.ndarray
    methods: tuple
    rel_error: np.ndarray
    worst: np.ndarray
    negative: np.ndarray
    dtype: str
    n: int
    unit_roundoff: float


def cancellation(ratios=tuple(np.logspace(0, 4, 9)), *, dtype="float32", n: int = 2048,
                 columns: int = 16, seed: int = 0) -> CancellationResult:
    """Variance error against |mean| / std for :data:`bnlib.numerics.METHODS` (17_many_devices).

    Well under a second in float32 with the defaults (Welford loops over the ``n`` values).
    """
    ratios = np.array(as_tuple(ratios, "ratios"))
    fmt = get_format(dtype)
    rng = np.random.default_rng([seed, 17])
    # one column per (ratio, sample): every algorithm runs once over all of them
    x = fmt.round(np.repeat(ratios, columns)[None, :] + rng.standard_normal((n, ratios.size * columns)))
    exact = x.astype(np.float64).var(axis=0)        # the stored values are exact in float64
    err, worst, neg = [], [], []
    for method in METHODS:
        v = variance(x, method=method, dtype=fmt).astype(np.float64).reshape(ratios.size, columns)
        e = np.abs(v - exact.reshape(ratios.size, columns)) / exact.reshape(ratios.size, columns)
        err.append(np.median(e, axis=1))
        worst.append(e.max(axis=1))
        neg.append(np.mean(v < 0, axis=1))
    return CancellationResult(ratios, METHODS, np.array(err), np.array(worst), np.array(neg), fmt.name,
                              n, fmt.spacing_at_one / 2)


@dataclass
class GhostNoiseResult:
    r"""Spread of one example's normalized value under ghost batch norm.

    The example sits in a batch of ``batch_size`` that is normalized in ghost batches of each of
    ``ghost_sizes`` (G,); ``std`` (G,) is the standard deviation of its :math:`\hat x` over random
    batches, ``small_batch_std`` (G,) the same for a real batch of that size (:func:`.batch_noise`, the
    same feature and example), ``predicted`` (G,) the closed form :math:`\sqrt{(1+a^2(\kappa-1)/4)/G}`;
    ``slope``: the fitted exponent of std ~ G^slope over ghost sizes >= 16 (the law says -1/2).
    """

    batch_size: int
    ghost_sizes: np.ndarray
    std: np.ndarray
    small_batch_std: np.ndarray
    predicted: np.ndarray
    slope: float
    a: float
    kurtosis: float
    n_batches: int


def _feature(seed, data):
    """The feature and example of :func:`.batch_noise`: one random unit of the first layer, test image 0."""
    x_tr, _, x_te, _ = get_data(data)
    rng = np.random.default_rng([seed, 2])
    w = (rng.standard_normal(x_tr.shape[1]) / np.sqrt(x_tr.shape[1])).astype(x_tr.dtype)
    with one_blas_thread():
        return (x_tr @ w).astype(np.float64), float(x_te[0] @ w)


def ghost_noise(batch_size: int = 512, ghost_sizes=(16, 32, 64, 128, 256, 512), *, n_batches: int = 1000,
                seed: int = 0, data=None) -> GhostNoiseResult:
    """Normalize one fixed example inside random batches of ``batch_size``, in ghost batches
    (17_many_devices). About a second with the defaults."""
    sizes = as_tuple(ghost_sizes, "ghost_sizes", int)
    if any(batch_size % g or g < 2 for g in sizes):
        raise ValueError(f"every ghost size must be at least 2 and divide batch_size={batch_size}; "
                         f"got {sizes}")
    pool, x0 = _feature(seed, data)
    rng = np.random.default_rng([seed, 5])
    # one column per random batch; the example sits at a random position in each, so which ghost
    # batch it falls in, and next to which companions, changes from batch to batch
    batch = pool[rng.integers(0, len(pool), size=(batch_size, n_batches))]
    where, cols = rng.integers(0, batch_size, n_batches), np.arange(n_batches)
    batch[where, cols] = x0
    ones, zeros = np.ones(n_batches), np.zeros(n_batches)
    std = np.array([ghost_batchnorm_forward(batch, ones, zeros, g)[0][where, cols].std() for g in sizes])
    # batch_noise fits its own exponent, so it needs two sizes >= 16: lend it some if missing
    extra = () if sum(g >= 16 for g in sizes) >= 2 else tuple(s for s in (16, 32) if s not in sizes)
    small = batch_noise(sizes + extra, n_batches=n_batches, seed=seed, data=data)
    g = np.array(sizes)
    big = g >= 16
    slope = float(np.polyfit(np.log(g[big]), np.log(std[big]), 1)[0]) if big.sum() >= 2 else float("nan")
    predicted = np.sqrt((1 + small.a ** 2 * (small.kurtosis - 1) / 4) / g)
    return GhostNoiseResult(batch_size, g, std, small.std[:len(sizes)], predicted, slope, small.a,
                            small.kurtosis, n_batches)


def recompute_statistics(model, x, batch_size: int = 60):
    r"""A copy of ``model`` whose BatchNorm layers hold their inputs' population statistics ("precise BN").

    The weights are frozen; ``x`` is run through the copy in batches of ``batch_size`` with every
    BatchNorm in training mode (each layer sees what it saw in training) and every other layer in eval
    mode. Each BN layer's per-batch ``(count, mean, m2)`` are merged with
    :func:`bnlib.numerics.chan_merge` into the statistics of all :math:`n` inputs; ``running_var`` gets
    :math:`M/(n-1)`. The copy is returned in eval mode; ``model`` is not changed.
    """
    if batch_size < 2 or len(x) < batch_size:
        raise ValueError(f"need batch_size >= 2 and at least one full batch; got batch_size={batch_size} "
                         f"and {len(x)} examples")
    net = copy.deepcopy(model)
    layers = list(net)
    bns = [i for i, layer in enumerate(layers) if isinstance(layer, BatchNorm)]
    if not bns:
        raise ValueError("model has no BatchNorm layer to recalibrate")
    parts = {i: [] for i in bns}
    for i, layer in enumerate(layers):
        layer.train() if i in parts else layer.eval()
    with one_blas_thread():
        for start in range(0, len(x) - batch_size + 1, batch_size):
            h = x[start:start + batch_size]
            for i, layer in enumerate(layers):
                if i in parts:
                    parts[i].append(moments(h.astype(np.float64)))
                h = layer.forward(h)
    for i in bns:
        n, mean, m2 = chan_merge(*(np.array([p[k] for p in parts[i]]) for k in range(3)))
        layers[i].running_mean, layers[i].running_var = mean, m2 / (n - 1)
    return net.eval()


@dataclass
class PreciseBNResult:
    """Running averages (EMA) against recomputed population statistics, during training, per seed.

    Arrays (S, T) over ``seeds`` (S,) and checkpoint ``steps`` (T,): ``test_acc_ema``,
    ``test_acc_precise`` (eval mode, the first ``n_eval`` test images); on the first ``n_eval``
    training images, ``train_acc_batch`` in training mode (batch statistics, batches of
    ``batch_size``, as training normalizes) and ``train_acc_ema``, ``train_acc_precise`` in eval
    mode. ``gap_*`` = training-mode minus eval-mode accuracy on those images: how far evaluation is
    from what training optimized. Precise statistics use the first ``n_recal`` training images.
    """

    seeds: tuple
    steps: np.ndarray
    test_acc_ema: np.ndarray
    test_acc_precise: np.ndarray
    train_acc_batch: np.ndarray
    train_acc_ema: np.ndarray
    train_acc_precise: np.ndarray
    n_train: int
    n_recal: int
    n_eval: int
    batch_size: int
    lr: float

    @property
    def gap_ema(self) -> np.ndarray:
        return self.train_acc_batch - self.train_acc_ema

    @property
    def gap_precise(self) -> np.ndarray:
        return self.train_acc_batch - self.train_acc_precise


def _batch_mode_acc(model, x, y, batch_size):
    """Accuracy in training mode, batch by batch, on a copy (training mode updates running stats)."""
    net = copy.deepcopy(model).train()
    hits = [net.forward(x[i:i + batch_size]).argmax(axis=1) == y[i:i + batch_size]
            for i in range(0, len(x) - batch_size + 1, batch_size)]
    return float(np.mean(np.concatenate(hits)))


def precise_bn(seeds=(0, 1, 2), *, steps: int = 600, every: int = 100, lr: float = 0.5,
               n_train: int = 3000, n_recal: int = 1500, n_eval: int = 1000, batch_size: int = 60,
               data=None) -> PreciseBNResult:
    """Train the Figure-1 network with BN (momentum 0.1) on ``n_train`` images; every ``every`` steps
    compare its running averages with recomputed statistics (17_many_devices). About 1.5 s per seed."""
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    x_tr, y_tr, x_te, y_te = get_data(data, n_train)
    d = (x_tr, y_tr, x_te, y_te)
    xs, ys, xt, yt = x_tr[:n_eval], y_tr[:n_eval], x_te[:n_eval], y_te[:n_eval]
    rows = {s: [] for s in seeds}
    for s in seeds:
        def hook(step, model, xb, yb, out=rows[s]):
            precise = recompute_statistics(model, x_tr[:n_recal], batch_size)
            with one_blas_thread():
                out.append((step, evaluate(model, xt, yt)[0], evaluate(precise, xt, yt)[0],
                            _batch_mode_acc(model, xs, ys, batch_size), evaluate(model, xs, ys)[0],
                            evaluate(precise, xs, ys)[0]))
        train(net_for(d, norm="batch", seed=s), d, steps=steps, lr=lr, batch_size=batch_size,
              eval_every=steps, n_eval=n_eval, seed=s, hook=hook, hook_every=every)
    table = np.array([rows[s] for s in seeds])             # (S, T, 6)
    return PreciseBNResult(seeds, table[0, :, 0].astype(int), *(table[:, :, k] for k in range(1, 6)),
                           n_train=len(x_tr), n_recal=n_recal, n_eval=n_eval, batch_size=batch_size, lr=lr)
