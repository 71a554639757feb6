r"""Checkers for evaluation mode: the running-statistics update, inference, and folding.

Running statistics follow PyTorch's convention (the one :class:`bnlib.batchnorm.BatchNorm` uses):
``momentum`` weights the new batch statistic, and the running variance takes the
unbiased batch variance, the biased one times :math:`m/(m-1)`:

.. math::
   \mu_{run} \leftarrow (1-k)\,\mu_{run} + k\,\mu_B,\qquad
   \sigma^2_{run} \leftarrow (1-k)\,\sigma^2_{run} + k\,\tfrac{m}{m-1}\sigma^2_B .
"""
from __future__ import annotations

import numpy as np

from ..batchnorm import batchnorm_inference, fold_into_linear
from ._judge import Case, Mistake, judge
from ._result import as_output, as_outputs, call_student, checker, unpack

__all__ = ["check_running_update", "check_batchnorm_inference", "check_fold"]

_D = 5


def _running(rm, rv, bm, bv, m, k, *, weight_new=True, correction="unbiased"):
    a = k if weight_new else 1.0 - k
    factor = {"unbiased": m / (m - 1), "biased": 1.0, "inverted": (m - 1) / m}[correction]
    return (1 - a) * rm + a * bm, (1 - a) * rv + a * bv * factor


_RUNNING = {
    "convention": (Mistake("momentum weights the old value (the Keras / CS231n convention)",
                           "here, as in PyTorch, momentum weights the NEW batch statistic: "
                           "new = (1 - momentum) * old + momentum * batch."),
                   dict(weight_new=False)),
    "biased": (Mistake("the running variance takes the biased batch variance",
                       "the running variance estimates the population variance: multiply the "
                       "batch variance by m / (m - 1) (Bessel's correction) before averaging."),
               dict(correction="biased")),
    "inverted": (Mistake("Bessel's correction is upside down", "multiply by m / (m - 1), "
                                                               "not (m - 1) / m."),
                 dict(correction="inverted")),
    "convention_biased": (Mistake("momentum weights the old value, and the running variance "
                                  "takes the biased batch variance",
                                  "new = (1 - momentum) * old + momentum * batch, with the batch "
                                  "variance times m / (m - 1)."),
                          dict(weight_new=False, correction="biased")),
}


@checker("running-statistics update")
def check_running_update(update):
    """Check ``update(running_mean, running_var, batch_mean, batch_var, m, momentum)``."""
    rng = np.random.default_rng(3)
    what, outputs, cases = "your update", [], []
    for m, k in ((8, 0.1), (4, 0.3), (32, 0.05)):
        rm, rv = rng.standard_normal(_D), rng.uniform(0.5, 2.0, _D)
        bm, bv = rng.standard_normal(_D) + 1.0, rng.uniform(0.1, 3.0, _D)
        label = f"m = {m}, momentum = {k}"
        res = call_student(update, (rm, rv, bm, bv, m, k), what, label,
                           ("running_mean", "running_var", "batch_mean", "batch_var"))
        new = unpack(res, 2, what, ("new_mean", "new_var"))
        outputs.append(as_outputs(new, ("new_mean", "new_var"), ((_D,), (_D,)), what))
        want = dict(zip(("new_mean", "new_var"), _running(rm, rv, bm, bv, m, k)))
        variants = {key: dict(zip(("new_mean", "new_var"), _running(rm, rv, bm, bv, m, k, **kw)))
                    for key, (_, kw) in _RUNNING.items()}
        variants["swapped"] = {"new_mean": want["new_var"], "new_var": want["new_mean"]}
        cases.append(Case(label, want, variants))
    mistakes = {k: m for k, (m, _) in _RUNNING.items()}
    mistakes["swapped"] = Mistake("the mean and the variance are swapped",
                                  "return (new_mean, new_var) in that order.")
    return judge(outputs, cases, what, mistakes)


def _eval_cases(seed):
    rng = np.random.default_rng(seed)
    for label, n, var_scale in (("a batch of 6", 6, 1.0), ("running variance about eps", 6, 1e-5),
                                ("a batch of one", 1, 1.0)):
        x = 2.0 + 3.0 * rng.standard_normal((n, _D))
        gamma, beta = rng.uniform(0.5, 2.0, _D), rng.uniform(-1.0, 1.0, _D)
        rm, rv = 3.0 * rng.standard_normal(_D), var_scale * rng.uniform(0.5, 2.0, _D)
        yield label, x, gamma, beta, rm, rv, 1e-5


def _affine(x, gamma, beta, mean, var, eps, std="inside", swap=False, sign=1.0):
    s = {"inside": np.sqrt(var + eps), "outside": np.sqrt(var) + eps, "missing": np.sqrt(var),
         "no sqrt": var + eps}[std]
    g, b = (beta, gamma) if swap else (gamma, beta)
    return g * sign * (x - mean) / s + b


_EPS = {"eps_outside": (Mistake("eps is outside the square root", "use sqrt(running_var + eps)."),
                        dict(std="outside")),
        "eps_missing": (Mistake("eps is missing", "use sqrt(running_var + eps)."), dict(std="missing")),
        "no_sqrt": (Mistake("the square root is missing", "divide by sqrt(running_var + eps)."),
                    dict(std="no sqrt"))}
_INFER = _EPS | {
    "params_swapped": (Mistake("gamma and beta are swapped", "gamma scales, beta shifts."),
                       dict(swap=True)),
    "sign": (Mistake("a sign error in x - mean", "centre with x - running_mean."), dict(sign=-1.0)),
}


@checker("batch-norm inference")
def check_batchnorm_inference(fn):
    """Check ``fn(x, gamma, beta, running_mean, running_var, eps) -> out`` in eval mode."""
    what, outputs, cases = "your inference", [], []
    for label, x, gamma, beta, rm, rv, eps in _eval_cases(4):
        got = call_student(fn, (x, gamma, beta, rm, rv, eps), what, label,
                           ("x", "gamma", "beta", "running_mean", "running_var", "eps"))
        outputs.append({"out": as_output(got, "out", x.shape, what)})
        with np.errstate(all="ignore"):
            v = {k: {"out": _affine(x, gamma, beta, rm, rv, eps, **kw)} for k, (_, kw) in _INFER.items()}
            v["batch_stats"] = {"out": _affine(x, gamma, beta, x.mean(0), x.var(0), eps)}
            v["gamma_missing"] = {"out": _affine(x, 1.0, beta, rm, rv, eps)}
            v["beta_missing"] = {"out": _affine(x, gamma, 0.0, rm, rv, eps)}
        cases.append(Case(label, {"out": batchnorm_inference(x, gamma, beta, rm, rv, eps)}, v))
    mistakes = {k: m for k, (m, _) in _INFER.items()}
    mistakes |= {"batch_stats": Mistake("normalized with the batch's own statistics",
                                        "in eval mode use running_mean and running_var: the output "
                                        "for one example must not depend on the rest of the batch."),
                 "gamma_missing": Mistake("gamma is missing", "out = gamma * x_hat + beta."),
                 "beta_missing": Mistake("beta is missing", "out = gamma * x_hat + beta.")}
    return judge(outputs, cases, what, mistakes)


def _fold(W, b, gamma, beta, rm, rv, eps, std="inside", scale_W=True, centre=True, scale_b=True,
          use_beta=True, sign=1.0):
    s = gamma / {"inside": np.sqrt(rv + eps), "outside": np.sqrt(rv) + eps,
                 "missing": np.sqrt(rv), "no sqrt": rv + eps}[std]
    mean = sign * rm if centre else 0.0
    b_f = (b - mean) * s if scale_b else b - mean * s
    return (W * s if scale_W else W.copy()), b_f + (beta if use_beta else 0.0)


_FOLD = _EPS | {
    "W_unscaled": (Mistake("W is not scaled", "every column j of W is multiplied by "
                           "s_j = gamma_j / sqrt(running_var_j + eps)."), dict(scale_W=False)),
    "no_mean": (Mistake("the running mean is missing from b", "b' = (b - running_mean) * s + beta."),
                dict(centre=False)),
    "b_unscaled": (Mistake("b is not scaled", "b' = (b - running_mean) * s + beta: b goes through "
                                              "the normalization too."), dict(scale_b=False)),
    "beta_missing": (Mistake("beta is missing from b", "b' = (b - running_mean) * s + beta."),
                     dict(use_beta=False)),
    "sign": (Mistake("a sign error on the running mean", "subtract the running mean."), dict(sign=-1.0)),
}


@checker("folding BN into a linear layer")
def check_fold(fold):
    """Check ``fold(W, b, gamma, beta, running_mean, running_var, eps) -> (W_folded, b_folded)``."""
    rng = np.random.default_rng(5)
    what, outputs, cases = "your fold", [], []
    for label, loc, var_scale in (("standard", 0.0, 1.0), ("running mean about 10", 10.0, 1.0),
                                  ("running variance about eps", 0.0, 1e-5)):
        W, b = rng.standard_normal((6, 4)), rng.standard_normal(4)
        gamma, beta = rng.uniform(0.5, 2.0, 4), rng.uniform(-1.0, 1.0, 4)
        rm, rv = loc + rng.standard_normal(4), var_scale * rng.uniform(0.5, 2.0, 4)
        res = call_student(fold, (W, b, gamma, beta, rm, rv, 1e-5), what, label,
                           ("W", "b", "gamma", "beta", "running_mean", "running_var", "eps"))
        got = unpack(res, 2, what, ("W_folded", "b_folded"))
        outputs.append(as_outputs(got, ("W_folded", "b_folded"), (W.shape, b.shape), what))
        with np.errstate(all="ignore"):
            v = {k: dict(zip(("W_folded", "b_folded"), _fold(W, b, gamma, beta, rm, rv, 1e-5, **kw)))
                 for k, (_, kw) in _FOLD.items()}
        want = dict(zip(("W_folded", "b_folded"), fold_into_linear(W, b, gamma, beta, rm, rv, 1e-5)))
        cases.append(Case(label, want, v))
    return judge(outputs, cases, what, {k: m for k, (m, _) in _FOLD.items()})
