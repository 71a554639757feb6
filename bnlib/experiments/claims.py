r"""The paper's training claims, each one seeded function returning a plain result.

Every function trains the Figure-1 network (:func:`.mlp`: 3 x 100 sigmoid units,
softmax output, plain SGD, batches of 60, BN before each sigmoid, running
statistics in evaluation) on Fashion-MNIST, a drop-in stand-in for the paper's
MNIST :cite:p:`ioffe2015batch,xiao2017fashion`, unless its docstring says otherwise.
Accuracy is measured on the first 2000 test images. Initialization, unless a
function varies it: :math:`W \sim \mathcal N(0, 1/d_{in})`, biases 0; both
networks always share the seed, the learning rate and the data order.
``data`` may replace Fashion-MNIST with any ``(x_train, y_train, x_test, y_test)``.
Budgets are the defaults below. The times in the docstrings are CPU seconds on
the 2-core machine the book is built on (one BLAS thread, so on an idle machine
the wall time is about the same; on a busy one it grows with the load).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._common import CHANCE_MARGIN, as_tuple, get_data, net_for
from .training import first_reach, train

__all__ = ["DriftResult", "drift", "StepsTo", "Figure1Result", "figure1", "SweepResult",
           "lr_sweep", "init_sweep", "DeepResult", "deep_sigmoid", "RegularizationResult",
           "regularization", "PlacementResult", "bn_placement"]

DEFAULT_INIT = "N(0, 1/d_in)"


@dataclass
class DriftResult:
    """Drift of the sigmoid inputs: ``mean``, ``std``, ``saturated`` (T, L) per hidden layer.

    ``saturated`` is the fraction of inputs with ``|z| > 4``; statistics are over
    a fixed batch of ``probe`` test images, in eval mode. ``steps``, ``test_acc`` (T,).
    """

    steps: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    saturated: np.ndarray
    test_acc: np.ndarray
    bn: bool
    lr: float
    init: str = DEFAULT_INIT


def drift(steps: int = 3000, *, bn: bool = False, lr: float = 0.5, seed: int = 0,
          eval_every: int = 250, probe: int = 500, data=None) -> DriftResult:
    """How the input to each layer's sigmoid moves during training (01_problem).

    Default: the network without BN. About 2 s of compute per call.
    """
    d = get_data(data)
    h = train(net_for(d, bn=bn, seed=seed), d, steps=steps, lr=lr, eval_every=eval_every,
              probe=probe, seed=seed)
    return DriftResult(h.steps, h.act_mean, h.act_std, h.act_saturated, h.test_acc, bn, lr)


class StepsTo(NamedTuple):
    """Steps each run needed to reach a test accuracy (NaN: never, within the budget)."""

    bn: float
    plain: float

    @property
    def speedup(self) -> float:
        """``plain / bn``: how many times fewer steps BN needed (NaN if either never got there)."""
        return self.plain / self.bn


@dataclass
class Figure1Result:
    """Figure 1 of the paper: the same network trained with and without BN.

    ``steps`` (T,); ``test_acc_bn``, ``test_acc_plain``, ``loss_bn``, ``loss_plain`` (T,)
    (training loss averaged since the previous record); ``percentiles_bn``,
    ``percentiles_plain`` (T, 3): 15th/50th/85th percentiles of the input to sigmoid
    ``unit`` of the last hidden layer over ``samples_*`` (T, S), its values on a
    fixed batch of S test images (eval mode).

    Initialization N(0, 1/d_in): each unit's incoming weight vector starts with
    norm about 1, so BN's effective learning rate (which scales as 1/||w||^2)
    starts at the nominal one and the speed-up is not inflated by a small init
    (see :func:`init_sweep` for what a small init does).
    """

    steps: np.ndarray
    test_acc_bn: np.ndarray
    test_acc_plain: np.ndarray
    loss_bn: np.ndarray
    loss_plain: np.ndarray
    percentiles_bn: np.ndarray
    percentiles_plain: np.ndarray
    samples_bn: np.ndarray
    samples_plain: np.ndarray
    unit: int
    lr: float
    seed: int
    init: str = DEFAULT_INIT

    def steps_to_accuracy(self, target: float, *, interpolate: bool = False) -> StepsTo:
        """First recorded step at which each run's test accuracy reached ``target``
        (``interpolate``: read off the line between the records around the crossing,
        see ``first_reach`` in the training module)."""
        return StepsTo(first_reach(self.steps, self.test_acc_bn, target, interpolate=interpolate),
                       first_reach(self.steps, self.test_acc_plain, target, interpolate=interpolate))


def figure1(steps: int = 3000, seed: int = 0, *, lr: float = 0.5, eval_every: int = 100,
            n_samples: int = 500, unit: int = 0, data=None) -> Figure1Result:
    """Reproduce Figure 1 (a, b, c) on Fashion-MNIST (07_faster_training). About 5.5 s of
    compute for 3000 steps."""
    d = get_data(data)
    runs = {bn: train(net_for(d, bn=bn, seed=seed), d, steps=steps, lr=lr, eval_every=eval_every,
                      probe=n_samples, unit=unit, seed=seed) for bn in (True, False)}
    b, p = runs[True], runs[False]
    return Figure1Result(b.steps, b.test_acc, p.test_acc, b.train_loss, p.train_loss,
                         b.percentiles, p.percentiles, b.samples, p.samples, unit, lr, seed)


@dataclass
class SweepResult:
    """Final test accuracy with and without BN for each ``values[i]`` (learning rate or init scale).

    ``largest_bn`` / ``largest_plain``: the largest value whose run still trains
    (final accuracy >= ``threshold``), NaN if none; ``smallest_*`` likewise.
    With ``eval_every`` < ``steps``: ``record_steps`` (T,) and the test-accuracy
    curves ``curves_bn``, ``curves_plain`` (V, T); otherwise these are None.
    """

    name: str
    values: np.ndarray
    acc_bn: np.ndarray
    acc_plain: np.ndarray
    threshold: float
    steps: int
    largest_bn: float
    largest_plain: float
    smallest_bn: float
    smallest_plain: float
    lr: float | None = None
    init: str = DEFAULT_INIT
    record_steps: np.ndarray | None = None
    curves_bn: np.ndarray | None = None
    curves_plain: np.ndarray | None = None

    def steps_to(self, target: float, *, interpolate: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Steps each run needed to reach test accuracy ``target``, per value: ``(bn, plain)``,
        NaN where a run never got there (needs the curves: call with ``eval_every``)."""
        if self.curves_bn is None:
            raise ValueError("no accuracy curves recorded: run the sweep with eval_every < steps")
        reach = lambda curves: np.array([first_reach(self.record_steps, c, target,  # noqa: E731
                                                     interpolate=interpolate) for c in curves])
        return reach(self.curves_bn), reach(self.curves_plain)


def _sweep(name, values, d, steps, seed, threshold, make, eval_every=None):
    ev = steps if eval_every is None else eval_every
    curves = {bn: np.array([train(net_for(d, bn=bn, seed=seed, **make(v)[0]), d, steps=steps,
                                  eval_every=ev, seed=seed, **make(v)[1]).test_acc for v in values])
              for bn in (True, False)}
    acc = {bn: c[:, -1] for bn, c in curves.items()}
    v = np.asarray(values, dtype=float)
    ext = lambda a, f: float(f(v[a >= threshold])) if np.any(a >= threshold) else float("nan")  # noqa: E731
    extra = ({} if eval_every is None else
             dict(record_steps=np.arange(0, steps + 1, ev), curves_bn=curves[True], curves_plain=curves[False]))
    return SweepResult(name, v, acc[True], acc[False], threshold, steps,
                       ext(acc[True], np.max), ext(acc[False], np.max),
                       ext(acc[True], np.min), ext(acc[False], np.min), **extra)


def lr_sweep(rates=(0.1, 0.5, 2.0, 5.0, 10.0, 30.0), *, steps: int = 800, seed: int = 0,
             threshold: float = CHANCE_MARGIN, eval_every: int | None = None, data=None) -> SweepResult:
    """Final accuracy after ``steps`` SGD steps for each learning rate, with and without BN
    (08_learning_rates). ``eval_every`` also records the accuracy curves (for
    :meth:`SweepResult.steps_to`). About 8 s of compute with the defaults."""
    rates = as_tuple(rates, "rates")
    return _sweep("learning rate", rates, get_data(data), steps, seed, threshold,
                  lambda r: ({}, {"lr": r}), eval_every)


def init_sweep(scales=(0.001, 0.01, 0.05, 0.1, 0.3, 1.0), *, steps: int = 800, lr: float = 0.5,
               seed: int = 0, threshold: float = CHANCE_MARGIN, data=None) -> SweepResult:
    """Final accuracy for each initial weight scale s (every W ~ N(0, s^2)), with and
    without BN (09_initialization). About 8 s of compute with the defaults.

    With BN a small s also shrinks every gradient by 1/s relative to the weights'
    size (scale invariance), which acts like a larger learning rate."""
    scales = as_tuple(scales, "scales")
    res = _sweep("initial weight scale", scales, get_data(data), steps, seed, threshold,
                 lambda s: ({"init_scale": s}, {"lr": lr}))
    res.lr, res.init = lr, "N(0, s^2), s swept"
    return res


@dataclass
class DeepResult:
    """Deeper sigmoid nets: ``acc_bn``, ``acc_plain`` (D,) final accuracy per depth;
    ``curves_bn``, ``curves_plain`` (D, T) test accuracy at ``steps`` (T,)."""

    depths: np.ndarray
    acc_bn: np.ndarray
    acc_plain: np.ndarray
    steps: np.ndarray
    curves_bn: np.ndarray
    curves_plain: np.ndarray
    lr: float
    init: str = DEFAULT_INIT


def deep_sigmoid(depths=(6, 8, 10), *, steps: int = 800, lr: float = 0.5, seed: int = 0,
                 eval_every: int = 100, data=None) -> DeepResult:
    """Sigmoid nets of several depths (100 units per layer), plain SGD, N(0, 1/d_in)
    init, with and without BN (10_saturating). About 7.5 s of compute with the defaults."""
    depths = as_tuple(depths, "depths", int)
    d = get_data(data)
    curves = {bn: np.array([train(net_for(d, depth=k, bn=bn, seed=seed), d, steps=steps, lr=lr,
                                  eval_every=eval_every, seed=seed).test_acc for k in depths])
              for bn in (True, False)}
    t = np.arange(0, steps + 1, eval_every)
    return DeepResult(np.array(depths), curves[True][:, -1], curves[False][:, -1], t,
                      curves[True], curves[False], lr)


@dataclass
class RegularizationResult:
    """Train and test accuracy, and their ``gap``, for each of ``variants`` (V,) after
    ``steps``; ``record_steps`` (T,) and the curves ``train_curves``, ``test_curves``
    (V, T) of both accuracies at every record."""

    variants: tuple
    train_acc: np.ndarray
    test_acc: np.ndarray
    gap: np.ndarray
    n_train: int
    steps: int
    dropout: float
    lr: float
    record_steps: np.ndarray
    train_curves: np.ndarray
    test_curves: np.ndarray

    def test_at_train_acc(self, level: float) -> np.ndarray:
        """Test accuracy of each variant at the moment its training accuracy first
        reached ``level`` (V,), both curves read off the straight line between the two
        records around that crossing; NaN for a variant that never got there."""
        out = []
        for tr, te in zip(self.train_curves, self.test_curves):
            t = first_reach(self.record_steps, tr, level, interpolate=True)
            out.append(np.interp(t, self.record_steps, te) if np.isfinite(t) else np.nan)
        return np.array(out)


def regularization(*, n_train: int = 1000, steps: int = 1500, dropout: float = 0.2,
                   lr: float = 0.5, seed: int = 0, eval_every: int | None = None,
                   data=None) -> RegularizationResult:
    """Neither / dropout / BN / both, trained on only ``n_train`` examples so that the
    network can overfit (11_regularization). Train accuracy is on those examples, eval
    mode, recorded every ``eval_every`` steps (default: only at the end). About 5 s of
    compute with the defaults."""
    d = get_data(data, n_train=n_train)
    ev = steps if eval_every is None else eval_every
    variants = (("neither", False, 0.0), ("dropout", False, dropout), ("bn", True, 0.0),
                ("both", True, dropout))
    hs = [train(net_for(d, bn=bn, dropout=p, seed=seed), d, steps=steps, lr=lr, eval_every=ev,
                n_train_eval=n_train, seed=seed) for _, bn, p in variants]
    tr_c, te_c = np.array([h.train_acc for h in hs]), np.array([h.test_acc for h in hs])
    tr, te = tr_c[:, -1], te_c[:, -1]
    return RegularizationResult(tuple(v[0] for v in variants), tr, te, tr - te, len(d[0]), steps,
                                dropout, lr, hs[0].steps, tr_c, te_c)


@dataclass
class PlacementResult:
    """Final test accuracy ``acc`` (A, P) for ``activations`` (A,) x ``placements`` (P,)
    ("none", "before", "after" the nonlinearity), with the learning rate used per activation."""

    activations: tuple
    placements: tuple
    acc: np.ndarray
    lrs: dict
    steps: int


def bn_placement(*, steps: int = 1000, lrs=None, seed: int = 0, activations=("relu", "sigmoid"),
                 data=None) -> PlacementResult:
    """BN before vs after the nonlinearity, for each of ``activations`` (06_convnets).

    Default learning rates: 0.5 for sigmoid, 0.1 for ReLU (ReLU nets without BN
    diverge at 0.5). About 4.5 s of compute with the defaults."""
    lrs = dict({"relu": 0.1, "sigmoid": 0.5}, **(lrs or {}))
    acts, places = tuple(activations), ("none", "before", "after")
    bad = [a for a in acts if a not in lrs]
    if not acts or bad:
        raise ValueError(f"activations must be a non-empty subset of {sorted(lrs)}; got {activations!r}")
    d = get_data(data)
    acc = np.array([[train(net_for(d, activation=a, bn=p != "none",
                                   bn_position="before" if p == "none" else p, seed=seed),
                           d, steps=steps, lr=lrs[a], eval_every=steps, seed=seed).final_acc
                     for p in places] for a in acts])
    return PlacementResult(acts, places, acc, {a: lrs[a] for a in acts}, steps)
