r"""Checker for Exercise 17.1: merge per-part statistics into the whole's (the count-weighted merge).

The student writes ``merge(counts, means, variances) -> (mean, var)``: K parts (devices) with
``counts`` (K,) values each, per-channel ``means`` and biased ``variances`` (K, C); the result is the
mean and biased variance (C,) of all :math:`n = \sum_k n_k` values together:

.. math::
   \mu = \frac1n\sum_k n_k\,\mu_k,\qquad
   \sigma^2 = \frac1n\sum_k n_k\,\sigma_k^2 + \frac1n\sum_k n_k\,(\mu_k-\mu)^2 .

The second sum is the spread *between* the parts; for two parts it is the
:math:`\tfrac{n_a n_b}{n}(\mu_a-\mu_b)^2` of Chan, Golub and LeVeque (divided by n). The reference is
:func:`bnlib.numerics.chan_merge`; the test cases have uneven counts (one part empty) and parts whose
means lie far apart, so that every known mistake below gives a different answer.
"""
from __future__ import annotations

import numpy as np

from ..numerics import chan_merge
from ._judge import Case, Mistake, judge
from ._result import as_output, call_student, checker, unpack

__all__ = ["check_merge_statistics", "MERGE_MISTAKES", "merge_cases", "merge_variants"]

MERGE_MISTAKES = {
    "mean_unweighted": Mistake("the mean is the plain average of the parts' means",
                               "weight each part's mean by its count: mean = sum(n_k * mean_k) / n. "
                               "A device with 2 examples must count less than one with 12."),
    "no_between": Mistake("the spread between the parts is missing",
                          "the count-weighted average of the variances only measures the spread "
                          "inside each part; add sum(n_k * (mean_k - mean)**2) / n, for two parts "
                          "n_a * n_b / n * (mean_a - mean_b)**2 divided by n."),
    "var_unweighted": Mistake("the variance is the plain average of the parts' variances",
                              "weight by counts and add the between-part term "
                              "sum(n_k * (mean_k - mean)**2) / n."),
    "between_unweighted": Mistake("the between-part term is not weighted by the counts",
                                  "each part's (mean_k - mean)**2 counts n_k times: "
                                  "sum(n_k * (mean_k - mean)**2) / n."),
    "between_not_divided": Mistake("the between-part term is not divided by n",
                                   "both terms are averages over all n values: divide "
                                   "sum(n_k * (mean_k - mean)**2) by n."),
    "between_over_n_squared": Mistake("the between-part term is divided by n twice",
                                      "Chan's term n_a * n_b / n * delta**2 is a sum of squares; "
                                      "divide it by n once to get a variance, not by n**2."),
    "between_subtracted": Mistake("the between-part term is subtracted",
                                  "spread between the parts adds to the spread inside them."),
    "m2_returned": Mistake("the sum of squared deviations is returned, not the variance",
                           "divide the merged sum of squares by n."),
    "unbiased_output": Mistake("the merged variance is unbiased (divided by n - 1)",
                               "the parts' variances are biased (divided by n_k); return the biased "
                               "variance of the whole too: divide by n."),
    "inputs_as_unbiased": Mistake("the parts' variances are treated as unbiased",
                                  "each variances[k] is already divided by n_k, so its sum of "
                                  "squares is n_k * variances[k], not (n_k - 1) * variances[k]."),
    "std_returned": Mistake("the standard deviation is returned",
                            "return the variance, not its square root."),
}


def merge_cases(seed: int = 17):
    """Three seeded float64 cases ``(label, counts, means, variances)`` with C = 4 channels."""
    rng = np.random.default_rng(seed)
    out = []
    for label, counts, spread in (("two parts of 3 and 9 values", (3, 9), 1.0),
                                  ("four parts of 2, 0, 7 and 12 values (one empty)", (2, 0, 7, 12), 3.0),
                                  ("three parts whose means lie far apart", (5, 8, 4), 40.0)):
        counts = np.array(counts)
        means = rng.normal(0.0, spread, (len(counts), 4)) + 1.0
        variances = rng.uniform(0.2, 3.0, (len(counts), 4))
        means[counts == 0] = 0.0          # a device with no values sends zeros
        variances[counts == 0] = 0.0
        out.append((label, counts, means, variances))
    return out


def merge_variants(counts, means, variances) -> dict:
    """What each known mistake returns on one case: key -> {output name: array}."""
    w = counts[:, None].astype(np.float64)
    n = w.sum()
    mean = (w * means).sum(axis=0) / n
    within = (w * variances).sum(axis=0) / n
    dev2 = (means - mean) ** 2
    between_sum = (w * dev2).sum(axis=0)
    full = within + between_sum / n
    k = len(counts)
    return {
        "mean_unweighted": {"mean": means.mean(axis=0)},
        "no_between": {"var": within},
        "var_unweighted": {"var": variances.mean(axis=0)},
        "between_unweighted": {"var": within + dev2.sum(axis=0) / k},
        "between_not_divided": {"var": within + between_sum},
        "between_over_n_squared": {"var": within + between_sum / n ** 2},
        "between_subtracted": {"var": within - between_sum / n},
        "m2_returned": {"var": full * n},
        "unbiased_output": {"var": full * n / (n - 1)},
        "inputs_as_unbiased": {"var": (((w - 1).clip(0) * variances).sum(axis=0) + between_sum) / n},
        "std_returned": {"var": np.sqrt(full)},
    }


@checker("merging statistics across devices")
def check_merge_statistics(merge):
    """Check ``merge(counts, means, variances) -> (mean, var)`` on three uneven cases."""
    what, outputs, cases = "your merge", [], []
    for label, counts, means, variances in merge_cases():
        res = call_student(merge, (counts, means, variances), what, label, ("counts", "means", "variances"))
        mean, var = unpack(res, 2, what, ("mean", "var"))
        c = means.shape[1]
        outputs.append({"mean": as_output(mean, "mean", (c,), what),
                        "var": as_output(var, "var", (c,), what)})
        n, ref_mean, m2 = chan_merge(counts, means, variances * counts[:, None])
        with np.errstate(all="ignore"):
            variants = merge_variants(counts, means, variances)
        cases.append(Case(label, {"mean": ref_mean, "var": m2 / n}, variants))
    return judge(outputs, cases, what, MERGE_MISTAKES)
