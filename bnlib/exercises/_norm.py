r"""References and known-mistake variants for batch norm, spatial batch norm and layer norm.

One normalization covers the three: statistics over ``layout.axes`` (batch
norm (N, D): axis 0; spatial (N, C, H, W): axes 0, 2, 3; layer norm (N, D):
axis 1), ``gamma`` and ``beta`` indexed by axis 1, with :math:`m` values per
statistic:

.. math::
   \hat x = \frac{x-\mu}{\sqrt{\sigma^2+\epsilon}},\quad y = \gamma\hat x+\beta,\quad
   dx = \frac{1}{\sqrt{\sigma^2+\epsilon}}\Big(g - \overline{g} - \hat x\,\overline{g\hat x}\Big),
   \ g = \gamma\,dout,

bars meaning means over the statistic axes; ``dgamma``/``dbeta`` sum
``dout * x_hat`` / ``dout`` over every axis but 1. Each variant below is what
one known mistake computes on the same inputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._judge import Case, Mistake

__all__ = ["Layout", "BN", "SPATIAL", "LN", "make_cases", "forward_case", "backward_case",
           "forward_mistakes", "backward_mistakes"]


@dataclass(frozen=True)
class Layout:
    """Where the statistics are taken and how to say it in words."""

    name: str
    axes: tuple              # statistic axes
    where: str               # the right axes, in words
    wrong: tuple             # ((axes, words), ...) plausible wrong choices
    shape: tuple             # test input shape


BN = Layout("batch norm", (0,), "per feature, over the batch (axis 0 of (N, D))",
            (((1,), "per example (axis 1), which is layer norm"), ((0, 1), "over the whole array")),
            (8, 5))
SPATIAL = Layout("spatial batch norm", (0, 2, 3),
                 "per channel, over the batch and both spatial axes (axes 0, 2, 3 of (N, C, H, W))",
                 (((0,), "over the batch only (axis 0), one statistic per channel and pixel"),
                  ((2, 3), "per image and channel (axes 2, 3), which is instance norm"),
                  ((1, 2, 3), "per image (axes 1, 2, 3), which is layer norm"),
                  ((0, 1, 2, 3), "over the whole array")),
                 (3, 4, 2, 5))
LN = Layout("layer norm", (1,), "per example, over its features (axis 1 of (N, D))",
            (((0,), "per feature over the batch (axis 0), which is batch norm"),
             ((0, 1), "over the whole array")), (8, 5))


def _p(v, ndim):
    """Reshape a (C,) parameter to broadcast along axis 1."""
    return np.reshape(v, (1, -1) + (1,) * (ndim - 2))


def _sum_axes(ndim):
    return (0,) + tuple(range(2, ndim))


def make_cases(layout: Layout, seed: int = 0):
    """Three seeded float64 cases: standard, a large mean, and a variance comparable to eps."""
    rng = np.random.default_rng(seed)
    shape, c = layout.shape, layout.shape[1]
    cases = []
    for label, loc, scale in (("standard", 0.5, 1.5), ("shifted: mean about 40", 40.0, 2.0),
                              ("small variance: about eps", 0.3, 3e-3)):
        x = loc + scale * rng.standard_normal(shape)
        gamma = rng.uniform(0.5, 2.0, c)
        beta = rng.uniform(-1.0, 1.0, c)
        dout = rng.standard_normal(shape) + 0.5
        cases.append((label, x, gamma, beta, 1e-5, dout))
    return cases


def _forward(x, gamma, beta, eps, axes, *, centre=True, var_of_x=False, divide=True,
             mean_n=True, var_denom="m", std="inside", use_gamma=True, use_beta=True,
             swap=False, centre_sign=1.0, beta_sign=1.0):
    m = int(np.prod([x.shape[a] for a in axes]))
    mu = x.sum(axis=axes, keepdims=True) / (m if mean_n else 1)
    xmu = x - mu
    base = x if var_of_x else xmu
    var = (base ** 2).sum(axis=axes, keepdims=True) / {"m": m, "m-1": m - 1, "1": 1}[var_denom]
    s = {"inside": np.sqrt(var + eps), "outside": np.sqrt(var) + eps,
         "missing": np.sqrt(var), "no sqrt": var + eps}[std]
    x_hat = centre_sign * (xmu if centre else x) / (s if divide else 1.0)
    g, b = _p(gamma, x.ndim), _p(beta, x.ndim)
    if swap:
        g, b = b, g
    return (g if use_gamma else 1.0) * x_hat + (beta_sign * b if use_beta else 0.0)


_FORWARD = {  # mistake key -> keyword arguments of _forward
    "mean_path": dict(centre=False), "var_of_x": dict(var_of_x=True), "var_path": dict(divide=False),
    "gamma_missing": dict(use_gamma=False), "beta_missing": dict(use_beta=False),
    "params_swapped": dict(swap=True), "sign_centre": dict(centre_sign=-1.0),
    "sign_beta": dict(beta_sign=-1.0), "eps_outside": dict(std="outside"),
    "eps_missing": dict(std="missing"), "no_sqrt": dict(std="no sqrt"),
    "mean_no_1_over_n": dict(mean_n=False), "var_no_1_over_n": dict(var_denom="1"),
    "unbiased": dict(var_denom="m-1"),
}


def forward_mistakes(layout: Layout) -> dict:
    """Known forward mistakes for ``layout``: key -> Mistake."""
    n = "D" if layout is LN else "m"
    out = {
        "mean_path": Mistake("the mean path is missing (x is not centred)",
                             "subtract the mean first: x_hat = (x - mu) / sqrt(var + eps)."),
        "var_of_x": Mistake("the variance is taken of x instead of x - mu",
                            "var is the mean of (x - mu)**2; it matters as soon as the mean is far from 0."),
        "var_path": Mistake("the variance path is missing (x - mu is not divided by the std)",
                            "divide x - mu by sqrt(var + eps)."),
        "gamma_missing": Mistake("gamma is missing", "the output is gamma * x_hat + beta."),
        "beta_missing": Mistake("beta is missing", "the output is gamma * x_hat + beta."),
        "params_swapped": Mistake("gamma and beta are swapped",
                                  "gamma scales (multiplies), beta shifts (adds)."),
        "sign_centre": Mistake("a sign error in x - mu", "centre with x - mu, not mu - x."),
        "sign_beta": Mistake("a sign error on beta", "add beta, do not subtract it."),
        "eps_outside": Mistake("eps is outside the square root",
                               "use sqrt(var + eps), not sqrt(var) + eps; the small-variance test "
                               "case shows the difference."),
        "eps_missing": Mistake("eps is missing", "divide by sqrt(var + eps): eps keeps the "
                                                 "division safe when the variance is tiny."),
        "no_sqrt": Mistake("the square root is missing", "divide by the standard deviation "
                                                         "sqrt(var + eps), not by var + eps."),
        "mean_no_1_over_n": Mistake("the 1/N factor is missing from the mean",
                                    f"the mean divides the sum by {n}."),
        "var_no_1_over_n": Mistake("the 1/N factor is missing from the variance",
                                   f"the variance divides the sum of squares by {n}."),
        "unbiased": Mistake("unbiased variance (N - 1) used in training",
                            f"normalize with the biased variance: divide by {n}, not {n} - 1 "
                            "(N - 1 belongs only to a running estimate)."),
    }
    for axes, words in layout.wrong:
        out[f"axis{axes}"] = Mistake("a sum over the wrong axis", f"you took the statistics "
                                     f"{words}; {layout.name} takes them {layout.where}.")
    if layout is SPATIAL:
        out["reshape"] = Mistake("a reshape that mixes channels",
                                 "x.reshape(-1, C) on (N, C, H, W) does not group values by "
                                 "channel: move C last first, x.transpose(0, 2, 3, 1).reshape(-1, C).")
    return out


def forward_case(layout: Layout, label, x, gamma, beta, eps) -> Case:
    """The right ``out`` and every forward mistake's ``out`` for one input."""
    with np.errstate(all="ignore"):
        want = _forward(x, gamma, beta, eps, layout.axes)
        variants = {k: {"out": _forward(x, gamma, beta, eps, layout.axes, **kw)}
                    for k, kw in _FORWARD.items()}
        for axes, _ in layout.wrong:
            variants[f"axis{axes}"] = {"out": _forward(x, gamma, beta, eps, axes)}
        if layout is SPATIAL:
            n, c, h, w = x.shape
            flat = _forward(x.reshape(-1, c), gamma, beta, eps, (0,))
            variants["reshape"] = {"out": flat.reshape(x.shape)}
    return Case(label, {"out": want}, variants)


def _dx(x, gamma, eps, dout, axes, stat_axes=None, *, mean_c=1.0, var_c=1.0, use_gamma=True,
        std="inside", sign=1.0):
    stat_axes = axes if stat_axes is None else stat_axes
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    inv = 1.0 / {"inside": np.sqrt(var + eps), "outside": np.sqrt(var) + eps,
                 "missing": np.sqrt(var)}[std]
    g = dout * _p(gamma, x.ndim) if use_gamma else dout
    mean = lambda a: a.mean(axis=stat_axes, keepdims=True)  # noqa: E731
    return sign * inv * (g - mean_c * mean(g) - var_c * x_hat * mean(g * x_hat)), x_hat


def backward_mistakes(layout: Layout) -> dict:
    """Known backward mistakes for ``layout``: key -> Mistake."""
    n = "D" if layout is LN else "N"
    path = ("x reaches the output three ways: directly, through mu, and through var. ")
    out = {
        "mean_path": Mistake("the mean path is missing",
                             path + "Add the gradient through mu: it subtracts the mean of the "
                                    "upstream gradient."),
        "var_path": Mistake("the variance path is missing",
                            path + "Add the gradient through var and the square root: the term "
                                   "x_hat * mean(dx_hat * x_hat)."),
        "both_paths": Mistake("the mean and variance paths are both missing",
                              path + "You treated mu and var as constants (that is eval mode)."),
        "gamma_dx": Mistake("gamma is missing from dx",
                            "y = gamma * x_hat, so the gradient reaching x_hat is dout * gamma."),
        "sign_dx": Mistake("a sign error (dx has the opposite sign)",
                           "check each local derivative's sign, e.g. d(x - mu)/d mu = -1."),
        "sign_mean": Mistake("a sign error in the mean path",
                             "the mean term is subtracted: d(x - mu)/d mu = -1."),
        "sign_var": Mistake("a sign error in the variance path",
                            "d(1/s)/ds = -1/s**2: the variance term is subtracted."),
        "eps_outside": Mistake("eps is outside the square root",
                               "the std is sqrt(var + eps), not sqrt(var) + eps."),
        "eps_missing": Mistake("eps is missing", "the std is sqrt(var + eps), eps included."),
        "mean_no_1_over_n": Mistake(f"the 1/{n} factor is missing in the mean path",
                                    f"d mu / d x_i = 1/{n}: divide what flows back through mu by {n}."),
        "var_no_1_over_n": Mistake(f"the 1/{n} factor is missing in the variance path",
                                   f"d var / d (x - mu)_i**2 = 1/{n}."),
        "both_no_1_over_n": Mistake(f"the 1/{n} factor is missing in the mean and variance paths",
                                    f"both mu and var are means: each local derivative has 1/{n}."),
        "unbiased": Mistake(f"unbiased variance ({n} - 1) used in training",
                            f"the batch variance divides by {n}, so its derivative has 1/{n}, not "
                            f"1/({n} - 1)."),
        "swapped": Mistake("dgamma and dbeta are swapped",
                           "dbeta = sum(dout), dgamma = sum(dout * x_hat)."),
        "sign_dgamma": Mistake("a sign error in dgamma", "dgamma = +sum(dout * x_hat)."),
        "sign_dbeta": Mistake("a sign error in dbeta", "dbeta = +sum(dout)."),
        "dgamma_x": Mistake("dgamma uses x instead of x_hat", "gamma multiplies x_hat: "
                                                              "dgamma = sum(dout * x_hat)."),
    }
    for axes, words in layout.wrong:
        out[f"axis{axes}"] = Mistake("a sum over the wrong axis", f"your means in dx are taken "
                                     f"{words}; {layout.name} takes them {layout.where}.")
    return out


_BACKWARD = {"mean_path": dict(mean_c=0.0), "var_path": dict(var_c=0.0),
             "both_paths": dict(mean_c=0.0, var_c=0.0), "gamma_dx": dict(use_gamma=False),
             "sign_dx": dict(sign=-1.0), "sign_mean": dict(mean_c=-1.0), "sign_var": dict(var_c=-1.0),
             "eps_outside": dict(std="outside"), "eps_missing": dict(std="missing")}


def backward_case(layout: Layout, label, x, gamma, beta, eps, dout) -> Case:
    """The right ``(dx, dgamma, dbeta)`` and every backward mistake's outputs for one input."""
    ax = layout.axes
    m = int(np.prod([x.shape[a] for a in ax]))
    sums = _sum_axes(x.ndim)
    with np.errstate(all="ignore"):
        dx, x_hat = _dx(x, gamma, eps, dout, ax)
        dgamma, dbeta = (dout * x_hat).sum(axis=sums), dout.sum(axis=sums)
        v = {k: {"dx": _dx(x, gamma, eps, dout, ax, **kw)[0]} for k, kw in _BACKWARD.items()}
        for key, kw in (("mean_no_1_over_n", dict(mean_c=m)), ("var_no_1_over_n", dict(var_c=m)),
                        ("both_no_1_over_n", dict(mean_c=m, var_c=m)),
                        ("unbiased", dict(var_c=m / (m - 1)))):
            v[key] = {"dx": _dx(x, gamma, eps, dout, ax, **kw)[0]}
        for axes, _ in layout.wrong:
            v[f"axis{axes}"] = {"dx": _dx(x, gamma, eps, dout, ax, stat_axes=axes)[0]}
        v["swapped"] = {"dgamma": dbeta, "dbeta": dgamma}
        v["sign_dgamma"], v["sign_dbeta"] = {"dgamma": -dgamma}, {"dbeta": -dbeta}
        v["dgamma_x"] = {"dgamma": (dout * x).sum(axis=sums)}
    return Case(label, {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}, v)
