"""The BN transform playground: one batch before BN, after normalization, after scale and shift.

For a batch of N numbers x (one feature):

.. math::  \\hat x_i = \\frac{x_i-\\mu}{\\sqrt{\\sigma^2+\\epsilon}}, \\qquad y_i = \\gamma\\hat x_i + \\beta

The frames are a short tour of (gamma, beta) settings that ends with
gamma = sqrt(sigma^2 + eps) and beta = mu, where y equals x again: BN can
represent the identity, which is why gamma and beta are there.
"""
from __future__ import annotations

import numpy as np

from ..batchnorm import batchnorm_forward
from ._animation import Animation, Param
from ._player import Frame
from ._svg import Chart, fmt

__all__ = ["TransformPlayground", "transform_playground"]

_TOUR = ((1.0, 0.0, "With γ = 1 and β = 0 the output is just x̂: mean 0, standard deviation 1 "
          "(a little under 1 when ε is large)."),
         (2.0, 0.0, "γ = 2 stretches x̂: the output's standard deviation is 2."),
         (2.0, 1.5, "β = 1.5 then shifts it: the output's mean is 1.5."),
         (0.5, -2.0, "γ = 0.5, β = −2: the layer picks the scale and the centre it wants."),
         (None, None, "γ = √(σ² + ε) and β = μ undo the normalization: the output is the input again."))


def _batch(N, mean, scale, seed):
    rng = np.random.default_rng(seed)
    return (mean + scale * rng.standard_normal(N)).reshape(N, 1)


class TransformPlayground(Animation):
    """Histograms of x, x̂ and y = γx̂ + β for one batch, with live γ, β, ε, N and the input's mean and scale."""

    title = "The batch-norm transform, one batch"
    fps = 0.5
    params = (
        Param("gamma", "float", 1.0, -3.0, 12.0, 0.05, label="γ"),
        Param("beta", "float", 0.0, -8.0, 8.0, 0.05, label="β"),
        Param("eps", "log", 1e-5, 1e-5, 10.0, 0.25, label="ε"),
        Param("N", "int", 64, 2, 1024, 1, label="batch size N"),
        Param("mean", "float", 2.5, -4.0, 4.0, 0.1, label="input mean"),
        Param("scale", "float", 1.8, 0.1, 4.0, 0.1, label="input scale"),
        Param("seed", "int", 0, 0, 10_000, 1),
    )

    def compute(self, gamma, beta, eps, N, mean, scale, seed):
        """x, the batch statistics, x̂ and y (through bnlib.batchnorm_forward)."""
        x = _batch(N, mean, scale, seed)
        y, cache = batchnorm_forward(x, np.array([gamma]), np.array([beta]), eps)
        mu, var = float(x.mean()), float(x.var())
        return {"x": x[:, 0], "x_hat": cache.x_hat[:, 0], "y": y[:, 0], "mu": mu,
                "sigma": float(np.sqrt(var + eps)), "gamma": gamma, "beta": beta, "eps": eps}

    def n_frames(self, state) -> int:
        return len(_TOUR)

    def overrides(self, i: int) -> dict:
        g, b, _ = _TOUR[i]
        if g is None:    # the identity: needs this batch's own statistics
            v = self.values
            x = _batch(v["N"], v["mean"], v["scale"], v["seed"])
            g, b = float(np.sqrt(x.var() + v["eps"])), float(x.mean())
        return {"gamma": g, "beta": b}

    def render(self, s, i: int) -> Frame:
        from ..viz import COLORS, PALETTE

        arrays = [("before BN: x", s["x"], COLORS["neutral"]),
                  ("normalized: x̂", s["x_hat"], COLORS["bn"]),
                  (f"y = {fmt(s['gamma'])}·x̂ + {fmt(s['beta'])}", s["y"], PALETTE[1])]
        lim = max(4.0, float(np.ceil(max(np.abs(a).max() for _, a, _ in arrays[::2]) + 0.5)))
        edges = np.linspace(-lim, lim, 33)
        counts = [np.histogram(a, edges)[0] / a.size for _, a, _ in arrays]
        top = max(c.max() for c in counts) * 1.15
        svgs = []
        for (name, a, color), c in zip(arrays, counts):
            ch = Chart(210, 180, (-lim, lim), (0, top), title=name)
            m, sd = float(a.mean()), float(a.std())
            ch.vspan(m - sd, m + sd, color, 0.12)
            ch.bars(edges, c, color)
            ch.vline(m, "currentColor", 1.2, dash="4 3")
            ch.text(-lim + 0.05 * lim, top * 0.93, f"mean {fmt(m)}, std {fmt(sd)}", size=10)
            ch.axes(xlabel="value", ylabel="fraction of batch" if not svgs else "")
            svgs.append(ch.svg(f"Histogram of {name} for a batch of {a.size}: mean {fmt(m)}, "
                               f"standard deviation {fmt(sd)}"))
        gap = float(np.abs(s["y"] - s["x"]).max())
        text = _TOUR[i][2] if self._on_tour(s, i) else "Your own γ and β."
        cap = (f"{text} Batch: N = {s['x'].size}, μ = {fmt(s['mu'])}, √(σ² + ε) = {fmt(s['sigma'])}; "
               f"γ = {fmt(s['gamma'])}, β = {fmt(s['beta'])}, ε = {s['eps']:.0e}; "
               f"max |y − x| = {gap:.2g}.")
        return Frame(f'<div class="bn-row">{"".join(svgs)}</div>', cap,
                     {"x": s["x"], "x_hat": s["x_hat"], "y": s["y"], "mu": s["mu"], "sigma": s["sigma"],
                      "gamma": s["gamma"], "beta": s["beta"], "max_abs_y_minus_x": gap})

    def _on_tour(self, s, i):
        o = self.overrides(i)
        return np.isclose(o["gamma"], s["gamma"]) and np.isclose(o["beta"], s["beta"])


def transform_playground(seed: int = 0, **kw) -> TransformPlayground:
    """One batch before BN, normalized, and scaled and shifted; a tour ending in the identity.

    Keywords: ``gamma``, ``beta``, ``eps``, ``N`` (batch size), ``mean`` and
    ``scale`` of the input (x = mean + scale·z with z standard normal).
    """
    return TransformPlayground(seed=seed, **kw)
