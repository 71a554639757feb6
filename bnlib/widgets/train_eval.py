"""The train/eval gap: how far a BN layer's training-mode output is from its eval-mode output.

A :class:`bnlib.batchnorm.BatchNorm` layer is trained on ``steps`` batches of ``train_batch``
samples, which sets its running mean and variance. Then, for each batch size m,
fresh batches go through the layer in both modes: training mode normalizes with
the batch's own mean and variance, eval mode with the running estimates. The gap

.. math::  \\text{gap}(m) = \\sqrt{\\operatorname{mean}_{i,j}\\,(y^{\\text{train}}_{ij} - y^{\\text{eval}}_{ij})^2}

(the RMS difference, as in chapter 5) is large for small batches, whose statistics
are noisy, and shrinks like sqrt(3 / (2m)) to first order for Gaussian input and
exact running statistics; what is left at large m is the error of the running estimates.
"""
from __future__ import annotations

import numpy as np

from ..batchnorm import BatchNorm
from ._animation import Animation, Param
from ._player import Frame
from ._svg import Chart, fmt

__all__ = ["TrainEvalGap", "train_eval_gap", "BATCH_SIZES", "measure_gaps"]

BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128, 256)
D = 16             # features: each is an independent copy of the experiment, so the gap is
                   # averaged over D copies at the price of one forward call
EVAL_BATCHES = 4   # fresh batches per batch size


def measure_gaps(momentum, steps, train_batch, mean, scale, seed):
    """Gap per batch size, and (y_train, y_eval) of feature 0 of the last batch of each size.

    x ~ mean + scale * N(0, 1), shape (m, D). The running statistics are put back
    after each measurement, so every batch size sees the same trained layer.
    """
    rng = np.random.default_rng(seed)
    draw = lambda m: mean + scale * rng.standard_normal((m, D))   # noqa: E731
    layer = BatchNorm(D, momentum=momentum)
    for _ in range(steps):
        layer.forward(draw(train_batch))
    trained = layer.running_mean.copy(), layer.running_var.copy()
    gaps, pairs = [], []
    for m in BATCH_SIZES:
        g = []
        for _ in range(EVAL_BATCHES):
            xb = draw(m)
            y_eval = layer.eval().forward(xb)
            y_train = layer.train().forward(xb)
            layer.running_mean, layer.running_var = (a.copy() for a in trained)
            g.append(np.mean((y_train - y_eval) ** 2))
        gaps.append(float(np.sqrt(np.mean(g))))
        pairs.append((y_train[:, 0], y_eval[:, 0]))
    return np.array(gaps), pairs


class TrainEvalGap(Animation):
    """Gap between training-mode and eval-mode output of bnlib.BatchNorm as the batch size grows."""

    title = "Train mode vs eval mode: the gap shrinks as the batch grows"
    fps = 1.0
    params = (
        Param("momentum", "float", 0.05, 0.01, 1.0, 0.01),
        Param("steps", "int", 200, 1, 500, 1, label="training steps"),
        Param("train_batch", "int", 32, 2, 256, 1, label="training batch size"),
        Param("mean", "float", 3.0, -5.0, 5.0, 0.1, label="input mean"),
        Param("scale", "float", 2.0, 0.1, 5.0, 0.1, label="input scale"),
        Param("seed", "int", 0, 0, 10_000, 1),
    )

    def compute(self, momentum, steps, train_batch, mean, scale, seed):
        gap, pairs = measure_gaps(momentum, steps, train_batch, mean, scale, seed)
        return {"gap": gap, "pairs": pairs, "momentum": momentum, "steps": steps,
                "train_batch": train_batch}

    def n_frames(self, state) -> int:
        return len(BATCH_SIZES)

    def render(self, s, i: int) -> Frame:
        from ..viz import COLORS

        m, gap = BATCH_SIZES[i], s["gap"]
        lx = np.log2(BATCH_SIZES)
        left = Chart(330, 230, (0.5, lx[-1] + 0.5), (0, gap.max() * 1.15), title="gap vs batch size")
        left.line(lx, np.sqrt(1.5 / np.array(BATCH_SIZES)), COLORS["neutral"], 1.2, dash="5 4")
        left.text(lx[-1], np.sqrt(1.5 / BATCH_SIZES[-1]) + gap.max() * 0.12, "√(3/2m)", size=10,
                  anchor="end", color=COLORS["neutral"])
        left.line(lx, gap, COLORS["bn"], 1.5)
        left.points(lx, gap, COLORS["bn"], 3)
        left.points([lx[i]], [gap[i]], COLORS["plain"], 6)
        left.text(lx[i], gap[i] + gap.max() * 0.05, fmt(gap[i]), size=10, anchor="middle")
        left.axes(xlabel="batch size m (log scale)", ylabel="RMS of y_train − y_eval",
                  xticks=list(lx), xtick_labels=[str(b) for b in BATCH_SIZES])
        yt, ye = s["pairs"][i]
        lim = float(max(np.abs(yt).max(), np.abs(ye).max(), 1.0)) * 1.1
        right = Chart(280, 230, (-lim, lim), (-lim, lim), title=f"one batch of {m}: each point a sample")
        right.line([-lim, lim], [-lim, lim], "currentColor", 1, dash="4 3")
        right.points(ye, yt, COLORS["bn"], 2.5)
        right.axes(xlabel="eval-mode output", ylabel="train-mode output")
        svgs = (left.svg(f"Line plot: RMS gap between train-mode and eval-mode outputs for "
                         f"batch sizes {BATCH_SIZES[0]} to {BATCH_SIZES[-1]}, falling from "
                         f"{fmt(gap[0])} to {fmt(gap[-1])}, close to the dashed first-order prediction "
                         f"square root of 3 over 2m; batch size {m} highlighted"),
                right.svg(f"Scatter plot of train-mode against eval-mode outputs for one batch of {m}; "
                          "points on the diagonal would mean no gap"))
        cap = (f"Batch size m = {m}: RMS of y_train − y_eval = {fmt(gap[i])} (dashed: √(3/2m) = "
               f"{fmt(np.sqrt(1.5 / m))}). Training mode uses this "
               "batch's own mean and variance, eval mode the running averages from training "
               f"({s['steps']} steps with batches of {s['train_batch']}, momentum {fmt(s['momentum'])}). "
               "Small batches have noisy statistics, so the two modes disagree; the points fall on "
               "the diagonal as m grows.")
        return Frame(f'<div class="bn-row">{"".join(svgs)}</div>', cap,
                     {"batch_size": m, "gap": float(gap[i]), "gaps": gap})


def train_eval_gap(seed: int = 0, **kw) -> TrainEvalGap:
    """The train/eval output gap of :class:`bnlib.batchnorm.BatchNorm` for batch sizes 2 to 256.

    Keywords: ``momentum``, ``steps`` and ``train_batch`` (how the running statistics were
    trained), ``mean`` and ``scale`` of the input.
    """
    return TrainEvalGap(seed=seed, **kw)
