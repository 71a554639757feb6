"""The train/eval gap: how far a BN layer's training-mode output is from its eval-mode output.

For a batch of size m, training mode normalizes with the batch's own mean and
variance, eval mode with the running estimates. The gap

.. math::  \\text{gap}(m) = \\operatorname{mean}_i\\,|y^{\\text{train}}_i - y^{\\text{eval}}_i|

is large for small batches (their statistics are noisy) and shrinks roughly
like 1/sqrt(m). Computed with :class:`bnlib.BatchNorm`: warm up the running
statistics on ``steps`` training batches, then send fresh batches through both modes.
"""
from __future__ import annotations

import numpy as np

from ..batchnorm import BatchNorm
from ._animation import Animation, Param
from ._player import Frame
from ._svg import Chart, fmt

__all__ = ["TrainEvalGap", "train_eval_gap", "BATCH_SIZES"]

BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128, 256)
D = 4              # features per batch (the gap is averaged over them)
EVAL_BATCHES = 4   # fresh batches per batch size for the gap


def measure_gap(m, momentum, steps, mean, scale, seed):
    """(gap, y_train, y_eval) for batch size m: warm up a BatchNorm, then compare both modes.

    y_train and y_eval are the first feature of the last evaluation batch (for the scatter plot).
    """
    rng = np.random.default_rng([seed, m])
    layer = BatchNorm(D, momentum=momentum)
    draw = lambda: mean + scale * rng.standard_normal((m, D))   # noqa: E731
    for _ in range(steps):
        layer.forward(draw())
    gaps = []
    for _ in range(EVAL_BATCHES):
        xb = draw()
        y_eval = layer.eval().forward(xb)
        y_train = layer.train().forward(xb)        # also nudges the running statistics, as training would
        gaps.append(np.abs(y_train - y_eval).mean())
    return float(np.mean(gaps)), y_train[:, 0], y_eval[:, 0]


class TrainEvalGap(Animation):
    """Gap between training-mode and eval-mode output of bnlib.BatchNorm as the batch size grows."""

    title = "Train mode vs eval mode: the gap shrinks as the batch grows"
    fps = 1.0
    params = (
        Param("momentum", "float", 0.1, 0.01, 1.0, 0.01),
        Param("steps", "int", 40, 1, 100, 1, label="warm-up steps"),
        Param("mean", "float", 3.0, -5.0, 5.0, 0.1, label="input mean"),
        Param("scale", "float", 2.0, 0.1, 5.0, 0.1, label="input scale"),
        Param("seed", "int", 0, 0, 10_000, 1),
    )

    def compute(self, momentum, steps, mean, scale, seed):
        runs = [measure_gap(m, momentum, steps, mean, scale, seed) for m in BATCH_SIZES]
        return {"gap": np.array([r[0] for r in runs]), "pairs": [(r[1], r[2]) for r in runs],
                "momentum": momentum, "steps": steps}

    def n_frames(self, state) -> int:
        return len(BATCH_SIZES)

    def render(self, s, i: int) -> Frame:
        from ..viz import COLORS

        m, gap = BATCH_SIZES[i], s["gap"]
        lx = np.log2(BATCH_SIZES)
        left = Chart(330, 230, (0.5, lx[-1] + 0.5), (0, gap.max() * 1.15), title="gap vs batch size")
        left.line(lx, gap, COLORS["neutral"], 1.5)
        left.points(lx, gap, COLORS["neutral"], 3)
        left.points([lx[i]], [gap[i]], COLORS["plain"], 6)
        left.text(lx[i], gap[i] + gap.max() * 0.05, fmt(gap[i]), size=10, anchor="middle")
        left.axes(xlabel="batch size m (log scale)", ylabel="mean |y_train − y_eval|",
                  xticks=list(lx), xtick_labels=[str(b) for b in BATCH_SIZES])
        yt, ye = s["pairs"][i]
        lim = float(max(np.abs(yt).max(), np.abs(ye).max(), 1.0)) * 1.1
        right = Chart(250, 230, (-lim, lim), (-lim, lim), title=f"one batch of {m}: each point a sample")
        right.line([-lim, lim], [-lim, lim], "#999999", 1, dash="4 3")
        right.points(ye, yt, COLORS["bn"], 2.5)
        right.axes(xlabel="eval-mode output", ylabel="train-mode output")
        svgs = (left.svg(f"Line plot: mean absolute gap between train-mode and eval-mode outputs for "
                         f"batch sizes {BATCH_SIZES[0]} to {BATCH_SIZES[-1]}, falling from "
                         f"{fmt(gap[0])} to {fmt(gap[-1])}; batch size {m} highlighted"),
                right.svg(f"Scatter plot of train-mode against eval-mode outputs for one batch of {m}; "
                          "points on the diagonal would mean no gap"))
        cap = (f"Batch size m = {m}: mean |y_train − y_eval| = {fmt(gap[i])}. Training mode uses this "
               "batch's own mean and variance, eval mode the running averages "
               f"(momentum {fmt(s['momentum'])}, {s['steps']} warm-up steps). Small batches have noisy "
               "statistics, so the two modes disagree; the points fall on the diagonal as m grows.")
        return Frame(f'<div class="bn-row">{"".join(svgs)}</div>', cap,
                     {"batch_size": m, "gap": float(gap[i]), "gaps": gap})


def train_eval_gap(seed: int = 0, **kw) -> TrainEvalGap:
    """The train/eval output gap of :class:`bnlib.BatchNorm` for batch sizes 2 to 256.

    Keywords: ``momentum``, ``steps`` (warm-up batches), ``mean`` and ``scale`` of the input.
    """
    return TrainEvalGap(seed=seed, **kw)
