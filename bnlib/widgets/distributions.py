"""Distributions over training: one hidden unit's sigmoid input with and without BN (paper Fig. 1 b, c).

Takes the result of :func:`bnlib.experiments.figure1` (any object with its fields):
``steps`` (T,), ``test_acc_bn``/``test_acc_plain`` (T,), ``percentiles_bn``/``percentiles_plain``
(T, 3) holding the 15th, 50th and 85th percentiles, and ``samples_bn``/``samples_plain`` (T, S),
the unit's input over a fixed evaluation batch at each recorded step. Frame t shows
the histogram at step t and the percentile bands up to step t; the sigmoid's
saturated region (|input| > ``bnlib.viz.SATURATED_REGION``) is shaded.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._animation import Animation, Param
from ._player import Frame
from ._svg import Chart, fmt

__all__ = ["Distributions", "distributions", "synthetic_result", "FIELDS", "MAX_FRAMES"]

FIELDS = ("steps", "test_acc_bn", "test_acc_plain", "percentiles_bn", "percentiles_plain",
          "samples_bn", "samples_plain")
MAX_FRAMES = 60
"""At most this many recorded steps become frames (evenly spaced, last one kept)."""


def _check_result(result) -> dict:
    missing = [f for f in FIELDS if not hasattr(result, f)]
    if missing:
        raise TypeError(f"distributions() needs an object with the fields of bnlib.experiments.figure1's "
                        f"result; {type(result).__name__} lacks {missing}")
    r = {f: np.asarray(getattr(result, f), dtype=float) for f in FIELDS}
    T = r["steps"].shape[0] if r["steps"].ndim == 1 else -1
    want = {"steps": (T,), "test_acc_bn": (T,), "test_acc_plain": (T,), "percentiles_bn": (T, 3),
            "percentiles_plain": (T, 3)}
    for f, shape in want.items():
        if T < 1 or r[f].shape != shape:
            raise ValueError(f"result.{f} must have shape {shape} with T = len(steps) >= 1; got {r[f].shape}")
    for f in ("samples_bn", "samples_plain"):
        if r[f].ndim != 2 or r[f].shape[0] != T or r[f].shape[1] < 1:
            raise ValueError(f"result.{f} must have shape (T, S) with T = {T}; got {r[f].shape}")
    return r


class Distributions(Animation):
    """Histograms and 15/50/85th-percentile bands of a sigmoid input, with and without BN, step by step."""

    title = "A sigmoid input over training, without and with batch norm"
    fps = 4.0
    params = (
        Param("bins", "int", 30, 5, 100, 1, label="histogram bins"),
        Param("xlim", "float", 0.0, 0.0, 50.0, 0.5, label="x range ± (0 = auto)"),
    )

    def __init__(self, result, **values):
        self.result = _check_result(result)
        T = len(self.result["steps"])
        self.index = np.unique(np.linspace(0, T - 1, min(T, MAX_FRAMES)).round().astype(int))
        super().__init__(**values)

    def compute(self, bins, xlim):
        r = self.result
        from ..viz import SATURATED_REGION

        if xlim == 0:
            both = np.concatenate([r["samples_bn"].ravel(), r["samples_plain"].ravel()])
            xlim = max(SATURATED_REGION + 1.0, float(np.percentile(np.abs(both), 99.5)) * 1.05)
        edges = np.linspace(-xlim, xlim, bins + 1)
        hist = {k: np.array([np.histogram(np.clip(s, -xlim, xlim), edges)[0] / s.size for s in r[f"samples_{k}"]])
                for k in ("plain", "bn")}
        # a shared y scale, set by the typical tallest bar: a spike at initialization
        # (every input near 0) would otherwise flatten all later histograms
        top = max(float(np.percentile(h.max(axis=1), 90)) for h in hist.values()) * 1.15
        return {"edges": edges, "hist": hist, "top": top, "xlim": xlim}

    def n_frames(self, state) -> int:
        return len(self.index)

    def _column(self, s, k, t, name, color):
        from ..viz import COLORS, SATURATED_REGION

        r, lim, sat = self.result, s["xlim"], SATURATED_REGION
        p = r[f"percentiles_{k}"]
        h = Chart(320, 190, (-lim, lim), (0, s["top"]), title=f"{name}: step {int(r['steps'][t])}")
        h.vspan(-lim, -sat, COLORS["neutral"], 0.15)
        h.vspan(sat, lim, COLORS["neutral"], 0.15)
        h.bars(s["edges"], s["hist"][k][t], color)
        for q, dash in zip(p[t], ("4 3", None, "4 3")):
            h.vline(q, "currentColor", 1.2, dash=dash)
        h.axes(xlabel="sigmoid input", ylabel="fraction")
        steps = r["steps"]
        b = Chart(320, 170, (steps[0], max(steps[-1], steps[0] + 1)), (-lim, lim), title="15/50/85th percentiles")
        b.hspan(sat, lim, COLORS["neutral"], 0.15)
        b.hspan(-lim, -sat, COLORS["neutral"], 0.15)
        b.band(steps[:t + 1], np.clip(p[:t + 1, 0], -lim, lim), np.clip(p[:t + 1, 2], -lim, lim), color, 0.3)
        b.line(steps[:t + 1], np.clip(p[:t + 1, 1], -lim, lim), color, 1.8)
        b.vline(steps[t], "currentColor", 1, dash="2 2")
        b.axes(xlabel="training step", ylabel="input")
        frac = float(np.mean(np.abs(r[f"samples_{k}"][t]) > sat))
        alt = (f"{name} at step {int(steps[t])}: histogram of the sigmoid input with median {fmt(p[t, 1])} "
               f"and 15th to 85th percentiles {fmt(p[t, 0])} to {fmt(p[t, 2])}; {frac:.0%} of inputs "
               "in the shaded saturated region")
        band_alt = f"{name}: the 15th, 50th and 85th percentiles of the input from the first step to step {int(steps[t])}"
        return (f'<div>{h.svg(alt)}<br>{b.svg(band_alt)}</div>', frac)

    def render(self, s, i: int) -> Frame:
        from ..viz import COLORS, SATURATED_REGION

        t = int(self.index[i])
        r = self.result
        plain, f_plain = self._column(s, "plain", t, "without BN", COLORS["plain"])
        bn, f_bn = self._column(s, "bn", t, "with BN", COLORS["bn"])
        cap = (f"Step {int(r['steps'][t])}: test accuracy {r['test_acc_plain'][t]:.3f} without BN, "
               f"{r['test_acc_bn'][t]:.3f} with BN. Shaded: |input| > {SATURATED_REGION:g}, where the "
               f"sigmoid is saturated ({f_plain:.0%} of inputs without BN, {f_bn:.0%} with). Vertical "
               "lines: the 15th, 50th and 85th percentiles.")
        return Frame(f'<div class="bn-row">{plain}{bn}</div>', cap,
                     {"step": float(r["steps"][t]), "t": t, "hist_plain": s["hist"]["plain"][t],
                      "hist_bn": s["hist"]["bn"][t], "saturated_plain": f_plain, "saturated_bn": f_bn})


def distributions(result, **kw) -> Distributions:
    """Play or scrub through training: the sigmoid input's histogram and percentile bands, without and with BN.

    ``result``: what :func:`bnlib.experiments.figure1` returns (see ``FIELDS``).
    Keywords: ``bins``, ``xlim`` (0 picks a range covering the data).
    """
    return Distributions(result, **kw)


@dataclass
class _Synthetic:
    steps: np.ndarray
    test_acc_bn: np.ndarray
    test_acc_plain: np.ndarray
    percentiles_bn: np.ndarray
    percentiles_plain: np.ndarray
    samples_bn: np.ndarray
    samples_plain: np.ndarray


def synthetic_result(T: int = 40, S: int = 500, seed: int = 0):
    """A made-up stand-in with figure1's fields, for tests and demos (not an experiment).

    Without BN the input drifts from mean 0 to -3 and widens; with BN it stays near N(0, 1).
    """
    rng = np.random.default_rng(seed)
    steps = np.linspace(0, 50_000, T)
    u = steps / steps[-1] if T > 1 else np.zeros(T)
    plain = (-3 * u)[:, None] + (1 + 1.5 * u)[:, None] * rng.standard_normal((T, S))
    bn = 0.2 * np.sin(6 * u)[:, None] + rng.standard_normal((T, S))
    q = (15, 50, 85)
    return _Synthetic(steps, 0.9 - 0.7 * np.exp(-8 * u), 0.85 - 0.75 * np.exp(-3 * u),
                      np.percentile(bn, q, axis=1).T, np.percentile(plain, q, axis=1).T, bn, plain)
