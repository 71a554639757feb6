r"""Checkers for chapters 16 and 18: the RMSNorm backward and the AdaBN update.

RMSNorm over the last axis (:mod:`bnlib.rmsnorm`), with :math:`g = \gamma\,dout`
and means over the last axis:

.. math:: dx = \frac{1}{\mathrm{rms}}\big(g - \hat x\,\overline{g\hat x}\big),\qquad
          d\gamma = \textstyle\sum_{\text{all but last}} dout\,\hat x .

AdaBN :cite:p:`li2016revisiting`: training-mode forward passes over unlabelled
batches, the k-th with momentum 1/k, so that every BatchNorm's running mean and
(unbiased) variance become the plain averages of the per-batch statistics;
nothing else changes. The checkers compute the right answers and the known
mistakes with their own numpy code, independent of the layers they check.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import nn
from ..batchnorm import BatchNorm
from ..rmsnorm import RMSCache, rmsnorm_forward
from ._judge import Case, Mistake, judge
from ._result import Fail, as_output, call_student, checker, unpack

__all__ = ["check_rmsnorm_backward", "check_adabn", "RMS_MISTAKES", "ADABN_MISTAKES"]

# --- RMSNorm backward ---------------------------------------------------------------------------


def _rms_cases(seed: int = 16):
    """Three seeded float64 cases: (N, D), (N, T, D) with a mean about 3, an rms comparable to sqrt(eps)."""
    rng = np.random.default_rng(seed)
    for label, shape, loc, scale in (("(N, D) = (6, 5)", (6, 5), 0.5, 1.5),
                                     ("(N, T, D) = (2, 3, 5), mean about 3", (2, 3, 5), 3.0, 1.0),
                                     ("rms about sqrt(eps)", (4, 6), 0.0, 1e-3)):
        x = loc + scale * rng.standard_normal(shape)
        gamma = rng.uniform(0.5, 2.0, shape[-1])
        dout = rng.standard_normal(shape) + 0.5
        yield label, x, gamma, dout


def _rms_dx(x_hat, gamma, inv_rms, dout, *, axes=(-1,), centre=False, projection=1.0,
            gamma_inside=True, use_gamma=True, mean=True, scale=True):
    g = dout * gamma if (use_gamma and gamma_inside) else dout
    avg = (lambda a: a.mean(axis=axes, keepdims=True)) if mean else (lambda a: a.sum(axis=axes, keepdims=True))
    dx = g - (avg(g) if centre else 0.0) - projection * x_hat * avg(g * x_hat)
    dx = dx * inv_rms if scale else dx
    return dx * gamma if (use_gamma and not gamma_inside) else dx


_RMS_DX = {"mean": dict(centre=True), "no_projection": dict(projection=0.0),
           "sign": dict(projection=-1.0), "axis0": dict(axes=(0,)), "axis1": dict(axes=(1,)),
           "all_axes": dict(axes=None), "gamma_outside": dict(gamma_inside=False),
           "gamma_missing": dict(use_gamma=False), "sum": dict(mean=False), "no_scale": dict(scale=False)}

RMS_MISTAKES = {
    "mean": Mistake("subtracted the mean (that is layer norm's backward)",
                    "RMSNorm has no mean, so the path through mu and its term mean(g) drop out: "
                    "dx = inv_rms * (g - x_hat * mean(g * x_hat))."),
    "no_projection": Mistake("missing the projection term (the path through the rms)",
                             "x reaches the output also through rms(x): subtract "
                             "x_hat * mean(g * x_hat), with g = gamma * dout."),
    "sign": Mistake("a sign error on the projection term", "the term is subtracted: "
                                                           "d(1/rms)/d(rms) = -1/rms**2."),
    "axis0": Mistake("the means are taken over the wrong axis (axis 0, the batch)",
                     "RMSNorm normalizes each vector along the LAST axis: use axis=-1, keepdims=True."),
    "axis1": Mistake("the means are taken over axis 1, which is the last axis only for (N, D) input",
                     "for (N, T, D) input the features are on axis 2: use axis=-1, keepdims=True."),
    "all_axes": Mistake("the means are taken over the whole array (the wrong axis)",
                        "take one mean per vector, along the last axis: axis=-1, keepdims=True."),
    "gamma_outside": Mistake("gamma is applied after the means, not before",
                             "gamma varies along the axis you average over: form g = gamma * dout first."),
    "gamma_missing": Mistake("gamma is missing from dx", "y = gamma * x_hat, so dL/dx_hat = gamma * dout."),
    "sum": Mistake("sums instead of means (the 1/D is missing)",
                   "the mean square averages over the D features, so its derivative carries 1/D."),
    "no_scale": Mistake("the factor 1/rms (cache.inv_rms) is missing", "x_hat = x * inv_rms: multiply "
                                                                       "the bracket by inv_rms."),
    "dgamma_x": Mistake("dgamma uses x instead of x_hat", "gamma multiplies x_hat: "
                                                          "dgamma = sum(dout * x_hat) over all but the last axis."),
    "dgamma_dout": Mistake("dgamma is the sum of dout (that would be beta's gradient)",
                           "gamma multiplies x_hat: dgamma = sum(dout * x_hat)."),
}


def _rms_case(label, x, gamma, dout):
    _, cache = rmsnorm_forward(x, gamma)
    x_hat, _, inv_rms = cache
    flat = lambda a: a.reshape(-1, x.shape[-1]).sum(axis=0)  # noqa: E731
    want = {"dx": _rms_dx(x_hat, gamma, inv_rms, dout), "dgamma": flat(dout * x_hat)}
    variants = {k: {"dx": _rms_dx(x_hat, gamma, inv_rms, dout, **kw)} for k, kw in _RMS_DX.items()}
    variants["dgamma_x"] = {"dgamma": flat(dout * x)}
    variants["dgamma_dout"] = {"dgamma": flat(dout)}
    return Case(label, want, variants), cache


@checker("RMSNorm backward")
def check_rmsnorm_backward(backward):
    """Check ``backward(dout, cache) -> (dx, dgamma)``; ``cache`` is :func:`bnlib.rmsnorm.rmsnorm_forward`'s RMSCache."""
    what, outputs, cases = "your backward", [], []
    for label, x, gamma, dout in _rms_cases():
        case, cache = _rms_case(label, x, gamma, dout)
        given = RMSCache(*(np.array(a, copy=True) for a in cache))
        res = call_student(backward, (dout, given), what, label, ("dout", "cache"))
        if not all(np.array_equal(a, b) for a, b in zip(given, cache)):
            raise Fail(f"{what} changed the arrays in `cache` in place (test case: {label}); "
                       f"compute new arrays instead, the cache belongs to the forward pass.")
        dx, dgamma = unpack(res, 2, what, ("dx", "dgamma"))
        outputs.append({"dx": as_output(dx, "dx", x.shape, what),
                        "dgamma": as_output(dgamma, "dgamma", gamma.shape, what)})
        cases.append(case)
    return judge(outputs, cases, "(dx, dgamma) of " + what, RMS_MISTAKES)


# --- AdaBN --------------------------------------------------------------------------------------

def _adabn_net(seed: int):
    """A small trained-looking network: Linear-BN-ReLU-Linear-BN-ReLU-Linear, float64, eval mode."""
    rng = np.random.default_rng(seed)
    layers = [nn.Linear(6, 5, rng, dtype=np.float64), BatchNorm(5), nn.ReLU(),
              nn.Linear(5, 4, rng, dtype=np.float64), BatchNorm(4), nn.ReLU(),
              nn.Linear(4, 3, rng, dtype=np.float64)]
    for layer in layers:
        if isinstance(layer, BatchNorm):
            c = layer.num_features
            layer.gamma, layer.beta = rng.uniform(0.5, 2.0, c), rng.uniform(-1.0, 1.0, c)
            layer.running_mean, layer.running_var = rng.normal(0.0, 1.0, c), rng.uniform(0.5, 2.0, c)
    return nn.Sequential(layers).eval()


def _simulate(net, batches, rule=lambda k: 1.0 / k, reset=False, biased=False, pooled=False,
              frozen_chain=False):
    """Running statistics after an AdaBN-like procedure, in plain numpy: {layer index: (mean, var)}.

    The default arguments are the right procedure; each other setting is one known mistake.
    """
    stats = {i: (np.zeros(layer.num_features), np.ones(layer.num_features)) if reset else
             (layer.running_mean.copy(), layer.running_var.copy())
             for i, layer in enumerate(net.layers) if isinstance(layer, BatchNorm)}
    batches = [np.concatenate(batches)] if pooled else list(batches)
    # frozen_chain: one layer per round, the others normalizing with their running statistics
    rounds = [[i] for i in stats] if frozen_chain else [list(stats)]
    for adapt in rounds:
        for k, x in enumerate(batches, start=1):
            for i, layer in enumerate(net.layers):
                if not isinstance(layer, BatchNorm):
                    x = layer.forward(x)
                    continue
                if i in adapt:                     # training mode: normalize with the batch's statistics
                    mu, var, a, m = x.mean(axis=0), x.var(axis=0), rule(k), len(x)
                    mean, rv = stats[i]
                    stats[i] = ((1 - a) * mean + a * mu,
                                (1 - a) * rv + a * var * (1.0 if biased else m / (m - 1)))
                else:
                    mu, var = stats[i]
                x = layer.gamma * (x - mu) / np.sqrt(var + layer.eps) + layer.beta
    return stats


_ADABN = {"train_stats": dict(rule=lambda k: 0.0), "default_momentum": dict(rule=lambda k: 0.1),
          "reset_default": dict(rule=lambda k: 0.1, reset=True),
          "off_by_one": dict(rule=lambda k: 1.0 / (k + 1)), "last_only": dict(rule=lambda k: 1.0),
          "biased": dict(biased=True), "pooled": dict(pooled=True), "frozen_chain": dict(frozen_chain=True)}

ADABN_MISTAKES = {
    "train_stats": Mistake("used the training statistics (the running statistics did not change)",
                           "AdaBN replaces them: run training-mode forward passes (net.train()) over "
                           "the unlabelled batches, so each BatchNorm updates its running statistics."),
    "default_momentum": Mistake("wrong momentum: the layers' default (0.1) keeps most of the training "
                                "statistics", "give the k-th batch momentum 1/k (k = 1, 2, ...): the "
                                              "first batch then replaces the old values entirely."),
    "reset_default": Mistake("wrong momentum: after a reset to (0, 1), momentum 0.1 still leaves most "
                             "of the reset values in", "use momentum 1/k for the k-th batch; no reset is needed."),
    "off_by_one": Mistake("wrong count: momentum 1/(k + 1) keeps a share of the training statistics",
                          "the first batch (k = 1) must get momentum 1, the k-th 1/k."),
    "last_only": Mistake("wrong momentum: momentum 1 for every batch keeps only the last batch",
                         "use momentum 1/k for the k-th batch, so all batches count equally."),
    "biased": Mistake("the running variance averages the biased batch variances",
                      "let BatchNorm do the update (it multiplies by m / (m - 1)) rather than "
                      "writing running_var yourself."),
    "pooled": Mistake("the batches were joined into one big batch",
                      "pass the batches one at a time (momentum 1/k): this exercise averages the "
                      "statistics of the batches, as PyTorch's momentum=None does."),
    "frozen_chain": Mistake("the layers were adapted one at a time, each later layer seeing inputs "
                            "normalized with running statistics",
                            "adapt every BatchNorm in the same training-mode passes, as a forward "
                            "pass in net.train() mode does."),
}


def _params(net):
    return [(i, key, value) for i, layer in enumerate(net.layers) for key, value in layer.params.items()]


def _adabn_cases():
    for seed, (label, k, m, shift) in enumerate((("3 batches of 8", 3, 8, 2.0), ("5 batches of 4", 5, 4, -1.0),
                                                 ("one batch of 16", 1, 16, 0.5)), start=18):
        rng = np.random.default_rng(seed)
        yield label, _adabn_net(seed), [shift + 1.5 * rng.standard_normal((m, 6)) for _ in range(k)]


def _check_side_effects(net, before, momenta, batches, saved, what, label):
    for (i, key, old), (_, _, new) in zip(before, _params(net)):
        if not np.array_equal(old, new):
            name = "gamma/beta" if key in ("gamma", "beta") else "the weights"
            raise Fail(f"{what} updated {name} (layer {i} `{key}` changed; test case: {label}). "
                       f"AdaBN re-estimates only running_mean and running_var; gamma, beta and the "
                       f"weights are what training learned.")
    if any(not np.array_equal(a, b) for a, b in zip(batches, saved)):
        raise Fail(f"{what} changed the images in `batches` in place (test case: {label}).")
    if net.training:
        raise Fail(f"{what} left the network in training mode (test case: {label}); call "
                   f"`net.eval()` at the end, so predictions use the new running statistics.")
    for layer, m in zip([l for l in net.layers if isinstance(l, BatchNorm)], momenta):
        if layer.momentum != m:
            raise Fail(f"{what} did not restore the layers' momentum (it is {layer.momentum:g}, "
                       f"was {m:g}; test case: {label}); put back the value you found.")


@checker("AdaBN update")
def check_adabn(adapt):
    """Check ``adapt(net, batches)``: re-estimate every BatchNorm's running statistics in place."""
    what, outputs, cases = "your AdaBN", [], []
    for label, net, batches in _adabn_cases():
        mine = copy.deepcopy(net)
        before = [(i, k, v.copy()) for i, k, v in _params(mine)]
        momenta = [l.momentum for l in mine.layers if isinstance(l, BatchNorm)]
        saved = [b.copy() for b in batches]
        call_student(adapt, (mine, batches), what, label, ("net", "batches"))
        _check_side_effects(mine, before, momenta, batches, saved, what, label)
        got, want = {}, {}
        variants = {k: {} for k in _ADABN}
        sims = {k: _simulate(copy.deepcopy(net), saved, **kw) for k, kw in _ADABN.items()}
        for i, (mean, var) in _simulate(copy.deepcopy(net), saved).items():
            layer = mine.layers[i]
            for name, value, ref in (("running_mean", layer.running_mean, mean),
                                     ("running_var", layer.running_var, var)):
                key = f"layer {i} {name}"
                got[key], want[key] = as_output(value, key, ref.shape, what), ref
                for k, sim in sims.items():
                    variants[k][key] = sim[i][0 if name == "running_mean" else 1]
        outputs.append(got)
        cases.append(Case(label, want, variants))
    return judge(outputs, cases, "the running statistics after " + what, ADABN_MISTAKES)
