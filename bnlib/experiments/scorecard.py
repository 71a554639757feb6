r"""The scorecard: each claim of the paper measured over several seeds, on short budgets.

The budgets are much shorter than the chapters' (a few hundred steps per run,
accuracy on 1000 test images) so that all claims over three seeds fit in about
25 s on a 2-core machine. Numbers are therefore lower than in the chapters; what
matters is the comparison with and without BN under identical settings. Each
row states its measure, what the paper reported :cite:p:`ioffe2015batch`, and the
rule used to call it reproduced.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ._common import get_data, net_for
from .mechanics import batch_noise, scale_invariance
from .training import steps_to_accuracy, train

__all__ = ["ScoreRow", "ScorecardResult", "scorecard"]


@dataclass
class ScoreRow:
    """One claim: per-seed values with BN (``bn``) and without (``plain``, NaN where
    there is no comparison), the paper's report, the verdict and its rule."""

    claim: str
    measure: str
    paper: str
    bn: np.ndarray
    plain: np.ndarray
    reproduced: bool
    criterion: str

    @staticmethod
    def _fmt(v):
        v = v[np.isfinite(v)] if np.any(np.isfinite(v)) else v
        return "n/a" if np.all(np.isnan(v)) else f"{np.mean(v):.3g} ± {np.std(v):.2g}"

    def as_dict(self) -> dict:
        """A row for a table: mean ± standard deviation over seeds."""
        return {"claim": self.claim, "measure": self.measure, "paper": self.paper,
                "with BN": self._fmt(self.bn), "without BN": self._fmt(self.plain),
                "reproduced": "yes" if self.reproduced else "no", "rule": self.criterion}


@dataclass
class ScorecardResult:
    """``rows``: one :class:`ScoreRow` per claim; ``seeds``; ``seconds`` of compute."""

    rows: list
    seeds: tuple
    seconds: float

    def table(self) -> list:
        """The rows as dicts (for :func:`bnlib.notebook.html_table`)."""
        return [r.as_dict() for r in self.rows]


def _pair(d, seeds, steps, lr, eval_every=None, n_eval=1000, **net):
    """Train with and without BN for each seed; return the two lists of histories."""
    ev = eval_every or steps
    return [[train(net_for(d, bn=bn, seed=s, **net), d, steps=steps, lr=lr, eval_every=ev,
                   n_eval=n_eval, seed=s) for s in seeds] for bn in (True, False)]


def _final(hs):
    return np.array([h.final_acc for h in hs])


def scorecard(seeds=(0, 1, 2), *, budget: float = 1.0, data=None) -> ScorecardResult:
    """Measure every claim for each seed (13_scorecard). About 25 s for three seeds.

    ``budget`` multiplies every step count (the texts keep the default budgets'
    numbers, so use anything but 1 only for quick tests).
    """
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    if not (np.isfinite(budget) and budget > 0):
        raise ValueError(f"budget must be a positive number; got {budget!r}")
    n = lambda steps: max(10, int(round(steps * budget)))  # noqa: E731
    d, start, rows = get_data(data), time.perf_counter(), []

    b, p = _pair(d, seeds, steps=n(800), lr=0.5, eval_every=max(1, n(800) // 16))
    sb = np.array([steps_to_accuracy(h, 0.7) for h in b])
    sp = np.array([steps_to_accuracy(h, 0.7) for h in p])
    sp_cens = np.where(np.isnan(sp), float(n(800)), sp)      # never reached: at least the whole budget
    rows.append(ScoreRow(
        "faster training", "SGD steps to 70% test accuracy (budget 800; not reached counts as 800)",
        "MNIST: higher test accuracy sooner (Fig. 1a); ImageNet: BN-x5 reached Inception's 72.2% "
        "in 14 times fewer steps", sb, sp_cens,
        bool(np.all(sb < sp_cens) and np.mean(sp_cens) >= 1.5 * np.mean(sb)),
        "BN needs fewer steps for every seed and at least 1.5x fewer on average"))

    def versus(claim, measure, paper, b, p):
        ab, ap = _final(b), _final(p)
        rows.append(ScoreRow(claim, measure, paper, ab, ap, bool(np.all(ab - ap > 0.1)),
                             "BN's accuracy exceeds the plain network's by > 0.1 for every seed"))

    versus("higher learning rates", "test accuracy after 400 steps at learning rate 20",
           "BN-x5 and BN-x30 trained with 5x and 30x Inception's learning rate; BN-x30 reached 74.8%",
           *_pair(d, seeds, steps=n(400), lr=20.0))
    versus("less careful initialization", "test accuracy after 400 steps, weights N(0, 0.01^2)",
           "BN makes training less sensitive to the initial weight scale (no figure given)",
           *_pair(d, seeds, steps=n(400), lr=0.5, init_scale=0.01))
    versus("saturating nonlinearities", "test accuracy after 400 steps, 8 sigmoid layers",
           "BN-x5-Sigmoid reached 69.8% on ImageNet; Inception with sigmoid and no BN never "
           "exceeded 0.1%", *_pair(d, seeds, steps=n(400), lr=0.5, depth=8))

    small = (d[0][:500], d[1][:500], d[2], d[3])
    gaps = [[(lambda h: h.train_acc[-1] - h.test_acc[-1])(
        train(net_for(small, bn=bn, seed=s), small, steps=n(800), lr=0.5, eval_every=n(800), n_eval=1000,
              n_train_eval=500, seed=s)) for s in seeds] for bn in (True, False)]
    gb, gp = np.array(gaps[0]), np.array(gaps[1])
    rows.append(ScoreRow(
        "regularization", "train minus test accuracy, 500 training images, 800 steps",
        "BN regularizes; dropout could be removed from BN-Inception", gb, gp,
        bool(np.mean(gb) < np.mean(gp)), "BN's mean gap is smaller than the plain network's"))

    ratios = np.array([scale_invariance((0.5, 2.0), seed=s, data=d).ratio_bn for s in seeds]).ravel()
    rows.append(ScoreRow(
        "scale invariance", "a·||dL/d(aW)|| / ||dL/dW|| for a = 0.5 and 2 (1 = exact 1/a scaling)",
        "BN(aWu) = BN(Wu) and the gradient with respect to aW is 1/a times that for W (Sec. 3.3)",
        ratios, np.full_like(ratios, np.nan), bool(np.all(np.abs(ratios - 1) < 1e-3)),
        "every ratio within 1e-3 of 1"))

    slopes = np.array([batch_noise(seed=s, data=d).slope for s in seeds])
    rows.append(ScoreRow(
        "batch noise", "exponent k in spread(x_hat) ~ N^k over batch sizes 4..256",
        "a training example's output depends on the other examples in its mini-batch (Sec. 3.4)",
        slopes, np.full_like(slopes, np.nan), bool(np.all(np.abs(slopes + 0.5) < 0.15)),
        "every fitted exponent within 0.15 of the closed form's -1/2"))
    return ScorecardResult(rows, seeds, time.perf_counter() - start)
