"""Chapter 17's experiments (bnlib.experiments.devices) and the checker of Exercise 17.1.

Oracles: the closed-form noise law and batch_noise's measurement for ghost batches; numpy's float64
statistics for recomputed BN statistics; and, for the checker, mistakes written out as a student
would write them (not computed by the checker's own variants).
"""
import numpy as np
import pytest

import bnlib
from bnlib.data import load_fashion_mnist
from bnlib.exercises import TOL, check_merge_statistics
from bnlib.exercises.devices import MERGE_MISTAKES, merge_cases, merge_variants
from bnlib.experiments import (batch_noise, cancellation, ghost_noise, precise_bn,
                               recompute_statistics)
from bnlib.experiments.models import mlp
from bnlib.gradcheck import rel_error


def _toy_data(seed=0, n=600, d=20, classes=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.0, (classes, d))
    y = rng.integers(0, classes, n)
    x = (centres[y] + rng.normal(0, 1.0, (n, d))).astype(np.float32)
    return x[:400], y[:400], x[400:], y[400:]


# --- cancellation ----------------------------------------------------------------------------

def test_cancellation_follows_the_one_pass_rule_of_thumb_in_float32():
    r = cancellation(ratios=(1, 10, 100, 1000, 10000), n=1024, columns=8)
    one, two, wel = r.rel_error
    assert r.methods == ("one_pass", "two_pass", "welford") and r.unit_roundoff == 2.0 ** -24
    # where it is neither round-off-free nor total garbage, one-pass error grows like ratio**2
    mid = (one > 1e-6) & (one < 0.5)
    slope = np.polyfit(np.log(r.ratios[mid]), np.log(one[mid]), 1)[0]
    assert mid.sum() >= 2 and 1.5 < slope < 2.5
    assert one[-1] > 0.5 and r.negative[0, -1] > 0
    assert np.all(two < 1e-6) and np.all(wel < 1e-2) and not r.negative[1:].any()


def test_cancellation_in_emulated_bfloat16_goes_wrong_much_sooner():
    b = cancellation(ratios=(1, 30), dtype="bfloat16", n=512, columns=8)
    f = cancellation(ratios=(1, 30), dtype="float32", n=512, columns=8)
    assert b.dtype == "bfloat16" and b.unit_roundoff == 2.0 ** -8
    assert b.rel_error[0, 1] > 100 * f.rel_error[0, 1]
    with pytest.raises(ValueError, match="dtype must be one of"):
        cancellation(dtype="int8")


# --- ghost batches ---------------------------------------------------------------------------

def test_ghost_batches_restore_the_noise_of_small_batches():
    data = load_fashion_mnist(n_train=5000, n_test=10)
    g = ghost_noise(batch_size=256, ghost_sizes=(16, 64, 256), n_batches=800, data=data)
    ref = batch_noise((16, 64, 256), n_batches=800, data=data)
    # the same feature and example as chapter 11's measurement
    assert g.a == ref.a and g.kurtosis == ref.kurtosis
    np.testing.assert_allclose(g.small_batch_std, ref.std)
    # ghost batches of G spread like real batches of G (Monte Carlo error about 2.5 % per value)
    np.testing.assert_allclose(g.std, g.small_batch_std, rtol=0.1)
    np.testing.assert_allclose(g.std, g.predicted, rtol=0.15)
    assert abs(g.slope + 0.5) < 0.1
    with pytest.raises(ValueError, match="divide batch_size"):
        ghost_noise(batch_size=100, ghost_sizes=(16,), data=data)


# --- precise BN -------------------------------------------------------------------------------

def test_recompute_statistics_gives_each_layer_its_inputs_population_statistics():
    x_tr, y_tr, _, _ = _toy_data()
    model = mlp(depth=2, width=8, norm="batch", d_in=20, n_classes=3, seed=1)
    for _ in range(3):                       # move the running averages away from their start
        model.forward(x_tr[:50])
    before = [(l.running_mean.copy(), l.running_var.copy()) for l in model if isinstance(l, bnlib.BatchNorm)]
    precise = recompute_statistics(model, x_tr, batch_size=40)
    # independent oracle: collect the first BN layer's inputs batch by batch, then numpy's statistics
    first_bn = next(i for i, l in enumerate(model) if isinstance(l, bnlib.BatchNorm))
    z = np.concatenate([model[0].forward(x_tr[i:i + 40]) for i in range(0, 400, 40)]).astype(np.float64)
    bn = precise[first_bn]
    np.testing.assert_allclose(bn.running_mean, z.mean(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.running_var, z.var(axis=0, ddof=1), rtol=1e-10)
    assert not precise.training
    after = [(l.running_mean, l.running_var) for l in model if isinstance(l, bnlib.BatchNorm)]
    for (m0, v0), (m1, v1) in zip(before, after):
        np.testing.assert_array_equal(m0, m1)
        np.testing.assert_array_equal(v0, v1)
    with pytest.raises(ValueError, match="full batch"):
        recompute_statistics(model, x_tr[:10], batch_size=40)
    with pytest.raises(ValueError, match="no BatchNorm"):
        recompute_statistics(mlp(depth=1, width=4, d_in=20, n_classes=3), x_tr)


def test_precise_bn_records_every_checkpoint_for_every_seed():
    r = precise_bn(seeds=(0, 1), steps=40, every=20, n_train=400, n_recal=200, n_eval=100,
                   batch_size=20, data=_toy_data())
    assert r.seeds == (0, 1) and r.steps.tolist() == [20, 40]
    for a in (r.test_acc_ema, r.test_acc_precise, r.train_acc_batch, r.train_acc_ema, r.train_acc_precise):
        assert a.shape == (2, 2) and np.all((0 <= a) & (a <= 1))
    np.testing.assert_allclose(r.gap_ema, r.train_acc_batch - r.train_acc_ema)
    with pytest.raises(ValueError, match="at least one seed"):
        precise_bn(seeds=(), data=_toy_data())


# --- the checker of Exercise 17.1 ------------------------------------------------------------

def chan_fold(counts, means, variances):
    """Right: fold the parts in one by one with Chan's update."""
    n, mean, m2 = 0, np.zeros(means.shape[1]), np.zeros(means.shape[1])
    for nk, mk, vk in zip(counts, means, variances):
        if nk == 0:
            continue
        total = n + nk
        delta = mk - mean
        mean = mean + delta * nk / total
        m2 = m2 + nk * vk + delta ** 2 * n * nk / total
        n = total
    return mean, m2 / n


def direct(counts, means, variances):
    """Right: the two sums of the law of total variance."""
    w = counts[:, None] / counts.sum()
    mean = (w * means).sum(axis=0)
    return mean, (w * variances).sum(axis=0) + (w * (means - mean) ** 2).sum(axis=0)


def _with(mean_fn=None, var_fn=None):
    def merge(counts, means, variances):
        mean, var = direct(counts, means, variances)
        w = counts[:, None] / counts.sum()
        ctx = dict(c=counts, m=means, v=variances, w=w, mean=mean, n=counts.sum(),
                   within=(w * variances).sum(axis=0), dev2=(means - mean) ** 2)
        return (mean_fn(ctx) if mean_fn else mean), (var_fn(ctx) if var_fn else var)
    return merge


STUDENT_MISTAKES = [
    (lambda c, m, v: (m.mean(axis=0), direct(c, m, v)[1]), "plain average of the parts' means"),
    (lambda c, m, v: (m.mean(axis=0), v.mean(axis=0)), "plain average of the parts' variances"),
    (_with(var_fn=lambda k: k["within"]), "spread between the parts is missing"),
    (_with(var_fn=lambda k: k["v"].mean(axis=0)), "plain average of the parts' variances"),
    (_with(var_fn=lambda k: k["within"] + k["dev2"].mean(axis=0)), "not weighted by the counts"),
    (_with(var_fn=lambda k: k["within"] + (k["c"][:, None] * k["dev2"]).sum(axis=0)), "not divided by n"),
    (_with(var_fn=lambda k: k["within"] - (k["w"] * k["dev2"]).sum(axis=0)), "term is subtracted"),
    (_with(var_fn=lambda k: direct(k["c"], k["m"], k["v"])[1] * k["n"]),
     "sum of squared deviations is returned"),
    (_with(var_fn=lambda k: direct(k["c"], k["m"], k["v"])[1] * k["n"] / (k["n"] - 1)), "unbiased"),
    (_with(var_fn=lambda k: np.sqrt(direct(k["c"], k["m"], k["v"])[1])), "standard deviation"),
]


def between_over_n_squared(counts, means, variances):
    n, mean, m2 = 0, np.zeros(means.shape[1]), np.zeros(means.shape[1])
    for nk, mk, vk in zip(counts, means, variances):
        if nk == 0:
            continue
        total = n + nk
        delta = mk - mean
        mean = mean + delta * nk / total
        m2 = m2 + nk * vk + delta ** 2 * n * nk / total / counts.sum()
        n = total
    return mean, m2 / n


def inputs_as_unbiased(counts, means, variances):
    mean, _ = direct(counts, means, variances)
    m2 = (np.maximum(counts - 1, 0)[:, None] * variances).sum(axis=0)
    m2 = m2 + (counts[:, None] * (means - mean) ** 2).sum(axis=0)
    return mean, m2 / counts.sum()


STUDENT_MISTAKES += [(between_over_n_squared, "divided by n twice"),
                     (inputs_as_unbiased, "treated as unbiased")]


@pytest.mark.parametrize("fn", [chan_fold, direct], ids=["Chan's fold", "direct sums"])
def test_right_merges_pass(fn):
    res = check_merge_statistics(fn)
    assert res.passed, res.message
    assert "3 test cases" in res.message


@pytest.mark.parametrize("fn,words", STUDENT_MISTAKES, ids=[w for _, w in STUDENT_MISTAKES])
def test_each_mistake_is_named(fn, words):
    res = check_merge_statistics(fn)
    assert not res.passed and words in res.message, res.message


def test_every_known_mistake_is_checked_and_distinct():
    cases = [c[1:] for c in merge_cases()]
    variants = [merge_variants(*c) for c in cases]
    right = [dict(zip(("mean", "var"), direct(*c))) for c in cases]
    assert all(set(v) == set(MERGE_MISTAKES) for v in variants)
    for a in MERGE_MISTAKES:
        # every mistake is wrong on some case ...
        assert any(rel_error(out, r[name]) > TOL for v, r in zip(variants, right)
                   for name, out in v[a].items()), a
        # ... and differs from every other mistake: in which outputs it changes, or in a value
        for b in set(MERGE_MISTAKES) - {a}:
            same_outputs = set(variants[0][a]) == set(variants[0][b])
            assert not same_outputs or any(rel_error(v[a][k], v[b][k]) > TOL for v in variants
                                           for k in v[a]), (a, b)


@pytest.mark.parametrize("fn,words", [
    (lambda c, m, v: (_ for _ in ()).throw(NotImplementedError("Exercise 17.1")), "not implemented yet"),
    (lambda c, m, v: None, "returned None"),
    (lambda c, m, v: (*direct(c, m, v), c.sum()), "returned 3 values"),
    (lambda c, m, v: tuple(a.astype(np.float16) for a in direct(c, m, v)), "too coarse"),
    (lambda c, m, v: (direct(c, m, v)[0][None], direct(c, m, v)[1]), "shape"),
    (lambda c, m, v: (m.__setitem__(0, 0.0), direct(c, m, v))[1], "changed its input `means`"),
    (lambda c, m, v: 1 / 0, "ZeroDivisionError"),
])
def test_misbehaving_merges_are_reported_without_raising(fn, words):
    res = check_merge_statistics(fn)
    assert not res.passed and words in res.message, res.message


def test_a_correct_float32_merge_passes_at_a_float32_tolerance():
    res = check_merge_statistics(lambda c, m, v: tuple(a.astype(np.float32) for a in direct(c, m, v)))
    assert res.passed and "float32" in res.message, res.message
