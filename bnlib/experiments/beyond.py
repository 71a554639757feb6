r"""Santurkar et al. (2018): is it internal covariate shift? Noisy BN and loss smoothness.

Conventions as in :mod:`.claims` (Fashion-MNIST, Figure-1 network, plain SGD,
seeded; every run shares the seed, the learning rate and the data order)
:cite:p:`santurkar2018does`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .. import nn
from ._common import as_tuple, get_data, net_for
from .training import train

__all__ = ["NoisyBNResult", "noisy_bn", "SmoothnessResult", "smoothness", "along_gradient"]


@dataclass
class NoisyBNResult:
    """Test accuracy curves ``test_acc`` (V, T) and ``final_acc`` (V,) for ``variants`` (V,):
    "plain", "bn", "bn+noise" and "noise" (the same noise without BN). The noise
    (:class:`.ShiftNoise`) scales each unit's input by ``scale_spread**u`` and shifts it by
    ``mean_spread*u'`` (u, u' ~ U(-1, 1)), redrawn per unit at every step, right
    before the sigmoid (after BN where there is one)."""

    variants: tuple
    steps: np.ndarray
    test_acc: np.ndarray
    final_acc: np.ndarray
    mean_spread: float
    scale_spread: float
    lr: float


def noisy_bn(steps: int = 1500, *, mean_spread: float = 1.0, scale_spread: float = 2.0,
             lr: float = 0.5, seed: int = 0, eval_every: int = 100, n_eval: int = 2000,
             data=None) -> NoisyBNResult:
    """BN followed by non-stationary noise, against plain BN, the plain network and the
    same noise without BN (14_covariate_shift); test accuracy on the first ``n_eval``
    test images. About 5.5 s of compute with the defaults.

    The noise is redrawn independently at every step: a random, zero-mean jitter of
    each unit's distribution, not the slow, systematic drift of a layer's inputs that
    the paper's internal covariate shift describes."""
    d = get_data(data)
    variants = (("plain", False, None), ("bn", True, None),
                ("bn+noise", True, (mean_spread, scale_spread)),
                ("noise", False, (mean_spread, scale_spread)))
    acc = np.array([train(net_for(d, bn=bn, noise=noise, seed=seed), d, steps=steps, lr=lr,
                          eval_every=eval_every, n_eval=n_eval, seed=seed).test_acc
                    for _, bn, noise in variants])
    return NoisyBNResult(tuple(v[0] for v in variants), np.arange(0, steps + 1, eval_every), acc,
                         acc[:, -1], mean_spread, scale_spread, lr)


@dataclass
class SmoothnessResult:
    r"""Loss and gradient along the gradient direction, at checkpoints during training.

    At each checkpoint step (C,) with gradient :math:`g` on the current batch, for each
    step size :math:`\eta` in ``etas`` (E,): ``loss_*`` (C, E) is
    :math:`L(w - \eta g)` on that batch; ``grad_change_*`` (C, E) is
    :math:`\|\nabla L(w - \eta g) - g\| / \|g\|`. Summaries per checkpoint (C,):
    ``loss_range_*`` = max - min of the losses over the step sizes and
    ``lipschitz_*`` = :math:`\max_\eta \|\nabla L(w-\eta g) - g\| / (\eta \|g\|)`, a lower
    bound on the local L-smoothness constant along :math:`-g` (smaller is smoother).
    Both are measured in the raw weights, where BN's scale invariance makes the
    gradient depend on the weights' norm, so the two networks' numbers are not in
    the same units of "distance".
    """

    steps: np.ndarray
    etas: np.ndarray
    loss_bn: np.ndarray
    loss_plain: np.ndarray
    grad_change_bn: np.ndarray
    grad_change_plain: np.ndarray
    loss_range_bn: np.ndarray
    loss_range_plain: np.ndarray
    lipschitz_bn: np.ndarray
    lipschitz_plain: np.ndarray
    lr: float


def _flat_grads(model) -> np.ndarray:
    return np.concatenate([np.asarray(g, dtype=np.float64).ravel() for _, _, g in model.parameters()])


def along_gradient(model, x, y, etas):
    r"""Losses :math:`L(w - \eta g)` and relative gradient changes
    :math:`\|\nabla L(w - \eta g) - g\| / \|g\|` on batch ``(x, y)`` for each of ``etas``, where
    ``g`` is the gradient already in the model's layers (after a backward pass on that
    batch). Works on copies: the model is not changed. Returns two lists."""
    g = _flat_grads(model)
    grads = [np.array(gr, copy=True) for _, _, gr in model.parameters()]
    losses, changes = [], []
    for eta in etas:
        probe = copy.deepcopy(model)
        for (_, p, _), gr in zip(probe.parameters(), grads):
            p -= (eta * gr).astype(p.dtype)
        loss, dlogits = nn.softmax_cross_entropy(probe.forward(x), y)
        probe.backward(dlogits)
        losses.append(loss)
        changes.append(np.linalg.norm(_flat_grads(probe) - g) / np.linalg.norm(g))
    return losses, changes


def smoothness(steps: int = 1500, *, etas=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0), every: int = 100,
               lr: float = 0.5, seed: int = 0, data=None) -> SmoothnessResult:
    """How much the loss and the gradient change along the gradient direction, with and
    without BN, during training (14_covariate_shift). About 3 s of compute with the defaults."""
    etas = np.array(as_tuple(etas, "etas"))
    d = get_data(data)
    out = {}
    for bn in (True, False):
        rows = []
        hook = lambda step, model, x, y: rows.append((step, *along_gradient(model, x, y, etas)))  # noqa: E731
        train(net_for(d, bn=bn, seed=seed), d, steps=steps, lr=lr, eval_every=steps, seed=seed,
              hook=hook, hook_every=every)
        out[bn] = ([r[0] for r in rows], np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))
    steps_at = np.array(out[True][0])
    (_, lb, gb), (_, lp, gp) = out[True], out[False]
    return SmoothnessResult(steps_at, etas, lb, lp, gb, gp, np.ptp(lb, axis=1), np.ptp(lp, axis=1),
                            np.max(gb / etas, axis=1), np.max(gp / etas, axis=1), lr)
