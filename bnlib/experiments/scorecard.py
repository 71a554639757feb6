r"""The scorecard: each claim of the paper measured over several seeds, on short budgets.

The budgets are much shorter than the chapters' (a few hundred steps per run,
accuracy on 1000 test images) so that all claims over three seeds fit in about
25 s on a 2-core machine. Numbers are therefore lower than in the chapters; what
matters is the comparison with and without BN under identical settings.

Rows are of two kinds. **Empirical** rows compare the network with and without BN,
seed by seed, and all use one rule (:meth:`ScoreRow.verdict`). **Identity** rows check
a consequence of the algebra (scale invariance, the 1/sqrt(N) batch noise) against
its closed form within a stated tolerance. ``PAPER`` holds the numbers the paper
reports :cite:p:`ioffe2015batch`, so that tables and prose quote one source.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ._common import get_data, net_for
from .mechanics import batch_noise, scale_invariance
from .training import steps_to_accuracy, train

__all__ = ["PAPER", "ScoreRow", "ScorecardResult", "scorecard"]

PAPER = {
    "inception_top1": 72.2,          # % top-1, Inception without BN, best validation accuracy
    "inception_steps": 31.0e6,       # training steps Inception needed for it
    "bn_x5_steps": 2.1e6,            # steps BN-x5 needed for the same accuracy
    "bn_x5_speedup": 14,             # 31.0e6 / 2.1e6, as the paper rounds it
    "bn_x30_top1": 74.8,             # % top-1 reached by BN-x30
    "bn_x5_sigmoid_top1": 69.8,      # % top-1 of BN-x5-Sigmoid
    "sigmoid_no_bn_top1": 0.1,       # % top-1 the sigmoid Inception without BN never exceeded
    "ensemble_top5_error": 4.9,      # % top-5 validation error of the BN ensemble
    "mnist_test_acc": 98.0,          # % the Figure-1 network reaches on MNIST (Fig. 1a, read off)
}
"""Numbers reported by Ioffe and Szegedy (2015), Section 4, for tables and prose."""


@dataclass
class ScoreRow:
    """One claim: per-seed values with BN (``bn``) and without (``plain``, NaN where
    there is no comparison), the paper's report and the rule behind the verdict.

    ``kind`` is "empirical" (a comparison, ``higher_is_better`` says which way BN
    should win) or "identity" (``reproduced``: the closed form held within tolerance).
    """

    claim: str
    measure: str
    paper: str
    bn: np.ndarray
    plain: np.ndarray
    reproduced: bool
    criterion: str
    kind: str = "empirical"
    higher_is_better: bool = True

    @property
    def advantage(self) -> np.ndarray:
        """BN's advantage over the plain network for each seed; positive is the paper's direction."""
        sign = 1.0 if self.higher_is_better else -1.0
        return sign * (np.asarray(self.bn, float) - np.asarray(self.plain, float))

    @property
    def verdict(self) -> str:
        """'yes', 'weakly' or 'no'.

        Empirical rows, one rule for all: with d the per-seed advantage of BN, "yes"
        if d > 0 for every seed and mean(d) > 2 standard errors of d; "weakly" if only
        mean(d) > 0; "no" otherwise. Identity rows: "yes" or "no" by their tolerance.
        """
        if self.kind == "identity":
            return "yes" if self.reproduced else "no"
        d = self.advantage
        se = np.std(d, ddof=1) / np.sqrt(d.size) if d.size > 1 else 0.0
        if np.all(d > 0) and d.mean() > 2 * se:
            return "yes"
        return "weakly" if d.mean() > 0 else "no"

    @staticmethod
    def _fmt(v):
        v = v[np.isfinite(v)] if np.any(np.isfinite(v)) else v
        return "n/a" if np.all(np.isnan(v)) else f"{np.mean(v):.3g} ± {np.std(v):.2g}"

    def as_dict(self) -> dict:
        """A row for a table: mean ± standard deviation over seeds, and the verdict."""
        return {"claim": self.claim, "kind": self.kind, "measure": self.measure, "paper": self.paper,
                "with BN": self._fmt(self.bn), "without BN": self._fmt(self.plain),
                "verdict": self.verdict, "rule": self.criterion}


EMPIRICAL_RULE = ("BN better for every seed, and its mean advantage larger than twice the "
                  "standard error over the seeds (else 'weakly' if better on average)")


@dataclass
class ScorecardResult:
    """``rows``: one :class:`ScoreRow` per claim; ``seeds``; ``seconds`` of compute."""

    rows: list
    seeds: tuple
    seconds: float

    def table(self, kind: str | None = None) -> list:
        """The rows (of one ``kind``, or all) as dicts (for :func:`bnlib.notebook.html_table`)."""
        return [r.as_dict() for r in self.rows if kind is None or r.kind == kind]


def _pair(d, seeds, steps, lr, eval_every=None, n_eval=1000, **net):
    """Train with and without BN for each seed; return the two lists of histories."""
    ev = eval_every or steps
    return [[train(net_for(d, bn=bn, seed=s, **net), d, steps=steps, lr=lr, eval_every=ev,
                   n_eval=n_eval, seed=s) for s in seeds] for bn in (True, False)]


def _final(hs):
    return np.array([h.final_acc for h in hs])


def _speed_row(d, seeds, n):
    budget = n(800)
    b, p = _pair(d, seeds, steps=budget, lr=0.5, eval_every=max(1, budget // 16))
    reach = lambda hs: np.array([steps_to_accuracy(h, 0.7, interpolate=True) for h in hs])  # noqa: E731
    sb, sp = reach(b), reach(p)
    sp_cens = np.where(np.isnan(sp), float(budget), sp)     # never reached: at least the whole budget
    return ScoreRow(
        "faster training",
        f"SGD steps to 70% test accuracy, interpolated between records every {max(1, budget // 16)} "
        f"steps (budget {budget}; not reached counts as {budget})",
        f"MNIST: higher test accuracy sooner (Fig. 1a); ImageNet: BN-x5 reached Inception's "
        f"{PAPER['inception_top1']}% in {PAPER['bn_x5_speedup']} times fewer steps", sb, sp_cens,
        False, EMPIRICAL_RULE, higher_is_better=False)


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
    d, start = get_data(data), time.perf_counter()
    rows = [_speed_row(d, seeds, n)]

    def versus(claim, measure, paper, b, p):
        rows.append(ScoreRow(claim, measure, paper, _final(b), _final(p), False, EMPIRICAL_RULE))

    versus("higher learning rates", "test accuracy after 400 steps at learning rate 20",
           f"BN-x5 and BN-x30 trained with 5x and 30x Inception's learning rate; BN-x30 reached "
           f"{PAPER['bn_x30_top1']}%", *_pair(d, seeds, steps=n(400), lr=20.0))
    versus("less careful initialization", "test accuracy after 400 steps, weights N(0, 0.01^2)",
           "BN makes training less sensitive to the initial weight scale (no figure given)",
           *_pair(d, seeds, steps=n(400), lr=0.5, init_scale=0.01))
    versus("saturating nonlinearities", "test accuracy after 400 steps, 8 sigmoid layers",
           f"BN-x5-Sigmoid reached {PAPER['bn_x5_sigmoid_top1']}% on ImageNet; Inception with sigmoid "
           f"and no BN never exceeded {PAPER['sigmoid_no_bn_top1']}%",
           *_pair(d, seeds, steps=n(400), lr=0.5, depth=8))

    small = (d[0][:500], d[1][:500], d[2], d[3])
    gaps = [[(lambda h: h.train_acc[-1] - h.test_acc[-1])(
        train(net_for(small, bn=bn, seed=s), small, steps=n(800), lr=0.5, eval_every=n(800), n_eval=1000,
              n_train_eval=500, seed=s)) for s in seeds] for bn in (True, False)]
    rows.append(ScoreRow(
        "regularization", "train minus test accuracy, 500 training images, 800 steps",
        "BN regularizes; dropout could be removed from BN-Inception", np.array(gaps[0]),
        np.array(gaps[1]), False, EMPIRICAL_RULE, higher_is_better=False))
    for row in rows:
        row.reproduced = row.verdict == "yes"

    ratios = np.array([scale_invariance((0.5, 2.0), seed=s, data=d).ratio_bn for s in seeds]).ravel()
    rows.append(ScoreRow(
        "scale invariance", "a·||dL/d(aW)|| / ||dL/dW|| for a = 0.5 and 2 (1 = exact 1/a scaling)",
        "BN(aWu) = BN(Wu) and the gradient with respect to aW is 1/a times that for W (Sec. 3.3)",
        ratios, np.full_like(ratios, np.nan), bool(np.all(np.abs(ratios - 1) < 1e-3)),
        "every ratio within 1e-3 of 1", kind="identity"))

    slopes = np.array([batch_noise(seed=s, data=d).slope for s in seeds])
    rows.append(ScoreRow(
        "batch noise", "exponent k in spread(x_hat) ~ N^k over batch sizes 16..256",
        "a training example's output depends on the other examples in its mini-batch (Sec. 3.4)",
        slopes, np.full_like(slopes, np.nan), bool(np.all(np.abs(slopes + 0.5) < 0.15)),
        "every fitted exponent within 0.15 of the closed form's -1/2", kind="identity"))
    return ScorecardResult(rows, seeds, time.perf_counter() - start)
