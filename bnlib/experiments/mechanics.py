r"""Measurements of how BN behaves: batch noise, scale invariance, gradient flow, train/eval gap.

Conventions as in :mod:`.claims` (Fashion-MNIST, Figure-1 network, seeded).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import nn
from ..batchnorm import BatchNorm
from ._common import as_tuple, get_data, net_for
from ._threads import one_blas_thread
from .training import evaluate, train

__all__ = ["BatchNoiseResult", "batch_noise", "GradientFlowResult", "gradient_flow",
           "GradientProfileResult", "gradient_profile",
           "ScaleInvarianceResult", "scale_invariance", "TrainEvalGapResult", "train_eval_gap"]


@dataclass
class BatchNoiseResult:
    r"""Spread of one example's normalized value across random batches.

    ``std`` (B,) measured standard deviation of :math:`\hat x` for each of
    ``batch_sizes``; ``predicted`` (B,) the first-order closed form
    :math:`\sqrt{(1 + a^2(\kappa-1)/4)/N}` with ``a`` the example's standardized
    value and ``kurtosis`` :math:`\kappa` of the feature's distribution;
    ``slope``: exponent of std ~ N^slope fitted over the sizes >= 16, where the
    first-order closed form holds (it predicts -1/2); small batches spread more.
    """

    batch_sizes: np.ndarray
    std: np.ndarray
    predicted: np.ndarray
    slope: float
    a: float
    kurtosis: float
    n_batches: int


def batch_noise(batch_sizes=(4, 8, 16, 32, 64, 128, 256), *, n_batches: int = 1000, seed: int = 0,
                a: float | None = None, data=None) -> BatchNoiseResult:
    """Normalize one fixed example inside random batches of size N (11_regularization).

    The feature is one unit's pre-activation of a freshly initialized first layer
    (a random projection of the images, so a realistic, non-Gaussian distribution);
    the example is the first test image, or, with ``a``, a value ``a`` standard
    deviations from the feature's mean. No training; well under a second.
    """
    sizes = as_tuple(batch_sizes, "batch_sizes", int)
    if min(sizes) < 2:
        raise ValueError(f"batch sizes must be at least 2; got {sizes}")
    x_tr, _, x_te, _ = get_data(data)
    rng = np.random.default_rng([seed, 2])
    w = (rng.standard_normal(x_tr.shape[1]) / np.sqrt(x_tr.shape[1])).astype(x_tr.dtype)
    with one_blas_thread():
        pool = (x_tr @ w).astype(np.float64)
    m, s = pool.mean(), pool.std()
    x0 = float(x_te[0] @ w) if a is None else float(m + float(a) * s)
    a, kurt = (x0 - m) / s, float(np.mean(((pool - m) / s) ** 4))
    std = []
    for n in sizes:
        others = pool[rng.integers(0, len(pool), size=(n_batches, n - 1))]
        batch = np.concatenate([np.full((n_batches, 1), x0), others], axis=1)   # (R, N)
        mu, var = batch.mean(axis=1), batch.var(axis=1)
        std.append(np.std((x0 - mu) / np.sqrt(var + 1e-5)))
    n_arr, std = np.array(sizes), np.array(std)
    predicted = np.sqrt((1 + a * a * (kurt - 1) / 4) / n_arr)
    big = n_arr >= 16
    if big.sum() < 2:
        raise ValueError(f"need at least two batch sizes >= 16 to fit the exponent; got {sizes}")
    slope = float(np.polyfit(np.log(n_arr[big]), np.log(std[big]), 1)[0])
    return BatchNoiseResult(n_arr, std, predicted, slope, float(a), kurt, n_batches)


@dataclass
class GradientFlowResult:
    """Per-layer weight-gradient norms over training: ``norms_bn``, ``norms_plain`` (T, L+1),
    one column per Linear layer (first hidden ... output), averaged over the steps
    since the previous record; ``test_acc_*`` (T,)."""

    steps: np.ndarray
    norms_bn: np.ndarray
    norms_plain: np.ndarray
    test_acc_bn: np.ndarray
    test_acc_plain: np.ndarray
    depth: int
    lr: float


def gradient_flow(steps: int = 1000, *, depth: int = 6, lr: float = 0.5, seed: int = 0,
                  eval_every: int = 50, data=None) -> GradientFlowResult:
    """Gradient norms per layer with and without BN (12_gradient_flow).

    Default: 6 sigmoid layers, where without BN the first layer's gradient is
    thousands of times smaller than the last one's. ``depth=3`` is the Figure-1
    network. About 4 s of compute with the defaults."""
    d = get_data(data)
    h = {bn: train(net_for(d, depth=depth, bn=bn, seed=seed), d, steps=steps, lr=lr,
                   eval_every=eval_every, record_grads=True, seed=seed) for bn in (True, False)}
    return GradientFlowResult(h[True].steps, h[True].grad_norms, h[False].grad_norms,
                              h[True].test_acc, h[False].test_acc, depth, lr)


@dataclass
class GradientProfileResult:
    """One batch through a freshly initialized network, per Linear layer (L+1,):
    ``dW_norm`` = Frobenius norm of dL/dW, ``dz_norm`` = norm of the gradient at the
    layer's output z (before BN, if any), ``z_std`` = standard deviation of z over the
    batch (mean over units), ``x_norm`` = mean norm of one example's input to the layer."""

    dW_norm: np.ndarray
    dz_norm: np.ndarray
    z_std: np.ndarray
    x_norm: np.ndarray
    bn: bool
    depth: int
    init_scale: float | None


def gradient_profile(*, depth: int = 3, bn: bool = False, init_scale: float | None = None,
                     batch_size: int = 60, seed: int = 0, data=None) -> GradientProfileResult:
    """How big the gradient is at each layer of a fresh network on one training batch
    (09_initialization, 08_learning_rates, 12_gradient_flow). Milliseconds."""
    x_tr, y_tr, *_ = get_data(data)
    idx = np.random.default_rng([seed, 5]).choice(len(x_tr), batch_size, replace=False)
    x, y = x_tr[idx], y_tr[idx]
    model = net_for((x_tr, y_tr, x_tr, y_tr), depth=depth, bn=bn, init_scale=init_scale, seed=seed)
    lin = set(model.linear_idx)
    z_std, x_norm = [], []
    with one_blas_thread():
        h = x
        for i, layer in enumerate(model):
            if i in lin:
                x_norm.append(np.linalg.norm(h, axis=1).mean())
            h = layer.forward(h)
            if i in lin:
                z_std.append(h.std(axis=0).mean())
        dout = nn.softmax_cross_entropy(h, y)[1]
        dz = {}
        for i in reversed(range(len(model.layers))):
            if i in lin:
                dz[i] = np.linalg.norm(dout)
            dout = model[i].backward(dout)
            if dout is None:
                break
    dW = [np.linalg.norm(model[i].grads["W"]) for i in model.linear_idx]
    return GradientProfileResult(np.array(dW), np.array([dz[i] for i in model.linear_idx]),
                                 np.array(z_std, dtype=float), np.array(x_norm, dtype=float),
                                 bn, depth, init_scale)


@dataclass
class ScaleInvarianceResult:
    r"""Scaling the weights before BN by ``a``: :math:`\mathrm{BN}(aWx) = \mathrm{BN}(Wx)`.

    ``ratio_bn`` (A,) = :math:`a\,\|\partial L/\partial (aW)\| / \|\partial L/\partial W\|`
    (1 when the gradient scales as 1/a); ``output_change_bn`` (A,) the largest
    change of the network's logits; ``ratio_plain``, ``output_change_plain`` the
    same without BN, for contrast.
    """

    scales: np.ndarray
    ratio_bn: np.ndarray
    output_change_bn: np.ndarray
    ratio_plain: np.ndarray
    output_change_plain: np.ndarray


def _scaled_grad(model, layer, a, x, y):
    W, b = model[layer].params["W"], model[layer].params["b"]
    W0, b0 = W.copy(), b.copy()
    W *= a
    b *= a
    logits = model.forward(x)
    model.backward(nn.softmax_cross_entropy(logits, y)[1])
    g = np.linalg.norm(model[layer].grads["W"])
    W[...], b[...] = W0, b0
    return g, logits


def scale_invariance(scales=(0.1, 0.5, 2.0, 10.0), *, layer: int = 1, batch_size: int = 60,
                     seed: int = 0, data=None) -> ScaleInvarianceResult:
    """Measure the 1/a scaling of gradients with respect to the weights of hidden layer
    ``layer`` (1 = the second Linear) on one training batch, in float64
    (12_gradient_flow). Well under a second."""
    scales = as_tuple(scales, "scales")
    x_tr, y_tr, *_ = get_data(data)
    idx = np.random.default_rng([seed, 3]).choice(len(x_tr), batch_size, replace=False)
    x, y = x_tr[idx].astype(np.float64), y_tr[idx]
    out = {}
    with one_blas_thread():
        for bn in (True, False):
            model = net_for((x_tr, y_tr, x_tr, y_tr), bn=bn, seed=seed)
            for i in model.linear_idx:
                for k in ("W", "b"):
                    model[i].params[k] = model[i].params[k].astype(np.float64)
                    model[i].grads[k] = np.zeros_like(model[i].params[k])
            li = model.linear_idx[layer]
            g1, z1 = _scaled_grad(model, li, 1.0, x, y)
            rows = [(a * ga / g1, np.abs(za - z1).max())
                    for ga, za, a in ((*_scaled_grad(model, li, a, x, y), a) for a in scales)]
            out[bn] = np.array(rows)
    return ScaleInvarianceResult(np.array(scales), out[True][:, 0], out[True][:, 1],
                                 out[False][:, 0], out[False][:, 1])


@dataclass
class TrainEvalGapResult:
    """A trained BN network evaluated with batch statistics (training mode) on test
    batches of each size, versus its running statistics (eval mode).

    ``acc_train_mode`` (B,) and ``acc_eval_mode`` (float) test accuracy; ``gap`` (B,)
    = eval minus train mode; ``hidden_diff`` (B,) RMS difference of the last BN
    layer's output between the two modes; ``example_values`` (B, R): one unit's
    normalized value for one test image in R random batches of each size, and
    ``example_eval`` its eval-mode value.
    """

    batch_sizes: np.ndarray
    acc_train_mode: np.ndarray
    acc_eval_mode: float
    gap: np.ndarray
    hidden_diff: np.ndarray
    example_values: np.ndarray
    example_eval: float
    train_steps: int


def _bn_outputs(model, x):
    """Logits and the output of the last BN layer."""
    last_bn = max(i for i, layer in enumerate(model) if isinstance(layer, BatchNorm))
    for i, layer in enumerate(model):
        x = layer.forward(x)
        if i == last_bn:
            h = x
    return x, h


def train_eval_gap(batch_sizes=(2, 4, 8, 16, 32, 64, 128, 256), *, steps: int = 1000,
                   lr: float = 0.5, n_eval: int = 1024, repeats: int = 50, unit: int = 0,
                   seed: int = 0, data=None) -> TrainEvalGapResult:
    """Train-mode versus eval-mode BN as the batch shrinks (05_train_vs_inference and
    a widget). About 1.5 s of compute with the defaults (mostly training the network once)."""
    sizes = as_tuple(batch_sizes, "batch_sizes", int)
    if min(sizes) < 2:
        raise ValueError(f"batch sizes must be at least 2 (a batch of one has no variance); got {sizes}")
    d = get_data(data)
    model = net_for(d, bn=True, seed=seed)
    train(model, d, steps=steps, lr=lr, eval_every=steps, seed=seed)
    x, y = d[2][:n_eval], d[3][:n_eval]
    rng = np.random.default_rng([seed, 4])
    with one_blas_thread():
        acc_eval = evaluate(model, x, y)[0]
        model.eval()
        _, h_eval = _bn_outputs(model, x)
        model.train()
        snapshot = [(layer.running_mean.copy(), layer.running_var.copy()) for layer in model
                    if isinstance(layer, BatchNorm)]
        acc, diff, values = [], [], []
        for n in sizes:
            perm = rng.permutation(len(x))[: len(x) // n * n].reshape(-1, n)
            logits, h = zip(*(_bn_outputs(model, x[b]) for b in perm))
            pred = np.concatenate([z.argmax(axis=1) for z in logits])
            acc.append(np.mean(pred == y[perm.ravel()]))
            diff.append(np.sqrt(np.mean((np.concatenate(h) - h_eval[perm.ravel()]) ** 2)))
            others = [rng.choice(np.arange(1, len(x)), n - 1, replace=False) for _ in range(repeats)]
            values.append([_bn_outputs(model, x[np.r_[0, o]])[1][0, unit] for o in others])
        for layer, (m, v) in zip((l for l in model if isinstance(l, BatchNorm)), snapshot):
            layer.running_mean, layer.running_var = m, v     # measuring must not change the model
    acc = np.array(acc)
    return TrainEvalGapResult(np.array(sizes), acc, acc_eval, acc_eval - acc, np.array(diff),
                              np.array(values), float(h_eval[0, unit]), steps)
