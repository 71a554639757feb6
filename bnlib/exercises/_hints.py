"""Names and hints for the known mistakes of batch norm, spatial batch norm and layer norm.

The keys match the variants computed in :mod:`bnlib.exercises._norm`; a test
checks that both sides list the same mistakes.
"""
from __future__ import annotations

from ._judge import Mistake
from ._norm import BN, LN, SPATIAL, Layout

__all__ = ["forward_mistakes", "backward_mistakes"]


def _count(layout: Layout) -> str:
    """How many values one statistic averages, in the reader's symbols."""
    return {LN.name: "D", SPATIAL.name: "N·H·W"}.get(layout.name, "N")


def forward_mistakes(layout: Layout) -> dict:
    """Known forward mistakes for ``layout``: key -> Mistake."""
    n = _count(layout)
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



def backward_mistakes(layout: Layout) -> dict:
    """Known backward mistakes for ``layout``: key -> Mistake."""
    n = _count(layout)
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
    if layout is BN:
        out |= _staged_mistakes()
    return out


def _staged_mistakes() -> dict:
    """Mistakes of a node-by-node backward: a branch point overwritten, a column sum left out."""
    add = ("a value that feeds two nodes gets the SUM of the two gradients: "
           "`dxmu = dxmu + ...` (or `+=`), not `dxmu = ...`.")
    return {
        "overwrite_xmu": Mistake("at the branch point x − μ the later gradient replaces the earlier "
                                 "one (= instead of +=)", "x − μ feeds both x̂ and the square; " + add),
        "overwrite_x": Mistake("at the branch point x the gradient through μ replaces the direct one "
                               "(= instead of +=)", "x feeds both x − μ and μ; " + add),
        "overwrite_both": Mistake("both branch points overwrite instead of adding, so dx is lost",
                                  "x and x − μ each feed two nodes; " + add),
        "no_sum_mu": Mistake("the column sum is missing in dμ",
                             "μ (one value per feature) was broadcast over the batch in x − μ, so "
                             "dμ = -Σ_i d(x − μ)_i: sum over axis 0."),
        "no_sum_inv_std": Mistake("the column sum is missing in d(1/std)",
                                  "1/std (one value per feature) was broadcast over the batch in x̂, "
                                  "so its gradient is Σ_i dx̂_i (x − μ)_i: sum over axis 0."),
    }
