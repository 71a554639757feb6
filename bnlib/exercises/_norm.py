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
one known mistake computes on the same inputs; :mod:`._hints` names them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._judge import Case

__all__ = ["Layout", "BN", "SPATIAL", "LN", "make_cases", "sizes", "forward_case", "backward_case"]


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


def sizes(layout: Layout, x) -> dict:
    """How many values one statistic averages, under the name the book uses."""
    m = int(np.prod([x.shape[a] for a in layout.axes]))
    return {{LN.name: "D", SPATIAL.name: "N·H·W"}.get(layout.name, "N"): m}


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
    return Case(label, {"out": want}, variants, sizes(layout, x))


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


def _staged_dx(x, gamma, eps, dout, *, add_xmu=True, add_x=True, sum_mu=True, sum_inv=True):
    """Batch norm's dx node by node (2-D, axis 0), with the staged-backward bugs as switches.

    ``add_xmu`` / ``add_x`` False: at that branch point the later contribution
    replaces the earlier one; ``sum_mu`` / ``sum_inv`` False: the column sum of
    a broadcast value's gradient is left out.
    """
    n = x.shape[0]
    xmu = x - x.mean(axis=0)
    std = np.sqrt((xmu ** 2).mean(axis=0) + eps)
    dx_hat = dout * gamma
    dxmu = dx_hat / std                                  # from x_hat
    dinv = dx_hat * xmu
    dinv = dinv.sum(axis=0) if sum_inv else dinv
    dsq = (-dinv / std ** 2) / (2 * std) / n             # inv_std, std, var
    from_sq = 2 * xmu * dsq
    dxmu = dxmu + from_sq if add_xmu else from_sq
    dmu = -dxmu.sum(axis=0) if sum_mu else -dxmu
    from_mu = np.broadcast_to(dmu / n, x.shape)
    return dxmu + from_mu if add_x else from_mu.copy()


_STAGED = {"overwrite_xmu": dict(add_xmu=False), "overwrite_x": dict(add_x=False),
           "overwrite_both": dict(add_xmu=False, add_x=False), "no_sum_mu": dict(sum_mu=False),
           "no_sum_inv_std": dict(sum_inv=False)}


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
        if layout is BN:
            v |= {k: {"dx": _staged_dx(x, gamma, eps, dout, **kw)} for k, kw in _STAGED.items()}
    return Case(label, {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}, v, sizes(layout, x))
