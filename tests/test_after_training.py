"""Experiments of chapters 16 and 18 (padded sequences, renorm, AdaBN, frozen BN, folding) and their checkers.

The experiments run here on a small synthetic data set (784 "pixels", 10 classes),
so the tests check what must hold for any data: identities (AdaBN's averages, the
two limits of the mixed statistics, the fold in eval mode), independence of other
examples, determinism, and clear errors. The Fashion-MNIST numbers are the chapters'.
"""
import copy

import numpy as np
import pytest

from bnlib import BatchNorm
from bnlib import exercises as E
from bnlib.experiments import adaptation as A
from bnlib.experiments import mlp
from bnlib.experiments import after_training as T
from bnlib.experiments import normalizers as N
from bnlib.experiments import shifted as S
from bnlib.exercises import zoo
from bnlib.gradcheck import rel_error
from bnlib.nn import Linear, ReLU, Sequential
from bnlib.renorm import BatchRenorm


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 1, (10, 784)).astype(np.float32)
    y = rng.integers(0, 10, 1600)
    x = np.clip(centres[y] + 0.3 * rng.standard_normal((1600, 784)), 0, 1).astype(np.float32)
    return x[:1000], y[:1000], x[1000:], y[1000:]


@pytest.fixture(scope="module")
def nets(data):
    return A.pretrained_nets(seeds=(0, 1), examples=600, steps=40, data=data)


# --- padded sequences ------------------------------------------------------------------------

def test_token_batch_pads_with_zeros_and_keeps_each_sentence_its_own_stream():
    x, mask = N.token_batch((5, 2, 3), d_model=4)
    assert x.shape == (3, 5, 4) and mask.sum(axis=1).tolist() == [5, 2, 3]
    assert np.all(x[~mask] == 0) and np.all(x[mask] != 0)
    longer, _ = N.token_batch((5, 2, 3), d_model=4, pad_to=9)
    np.testing.assert_array_equal(longer[:, :5], x)


def test_per_token_norms_ignore_padding_and_companions_batch_norm_does_not():
    sweep = N.padding_sweep(lengths=(6, 3, 2), pad_to=(6, 12, 24), d_model=8)
    assert np.all(np.diff(sweep.pad_share) > 0)
    for n in ("masked", "layer", "rms"):
        assert sweep.change[n].max() < 1e-12, n       # rounding at most
    assert np.all(np.diff(sweep.change["batch"]) > 0)
    change = N.companion_change(lengths=(6, 3, 2), d_model=8, draws=3)
    assert change["layer"] < 1e-12 and change["rms"] < 1e-12
    assert change["batch"] > 0.1 and change["masked"] > 0.1


def test_normalize_tokens_matches_its_definition():
    x, mask = N.token_batch((4, 2), d_model=5)
    masked = N.normalize_tokens(x, mask, "masked")
    real = x[mask]
    np.testing.assert_allclose(masked[mask], (real - real.mean(0)) / np.sqrt(real.var(0) + 1e-5))
    assert np.all(masked[~mask] == 0)
    flat = x.reshape(-1, 5)
    np.testing.assert_allclose(N.normalize_tokens(x, mask, "batch").reshape(-1, 5),
                               (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5))


def test_decoding_one_token():
    r = N.decode_one(lengths=(6, 3, 2), d_model=8, train_batches=5)
    assert "more than one value" in r.bn_error
    assert r.ln_alone_vs_batch < 1e-12 and r.rms_alone_vs_batch < 1e-12
    assert r.bn_eval_vs_train > 0.01 and r.running_mean_shift > 0.1


@pytest.mark.parametrize("call,words", [
    (lambda: N.token_batch(()), "non-empty"), (lambda: N.token_batch((3, 2), pad_to=2), "shorter"),
    (lambda: N.normalize_tokens(np.ones((2, 3)), np.ones(2, bool), "layer"), r"\(B, T, D\)"),
    (lambda: N.normalize_tokens(np.ones((1, 2, 3)), np.ones((1, 2), bool), "group"), "norm must be"),
    (lambda: N.ws_comparison(variants=("nope",)), "variants"),
])
def test_normalizers_bad_input(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_ws_comparison_runs_and_is_deterministic(data):
    a = N.ws_comparison(batch_sizes=(8,), seeds=(0,), examples=200, n_test=100, data=data)
    b = N.ws_comparison(batch_sizes=(8,), seeds=(0,), examples=200, n_test=100, data=data)
    assert a.acc.shape == (3, 1, 1) and np.array_equal(a.acc, b.acc)
    ws = mlp(norm="group", activation="relu", standardize=True)
    assert any(type(l).__name__ == "WSLinear" for l in ws.layers)


# --- renorm comparison -----------------------------------------------------------------------

def test_renorm_comparison_shapes_and_the_batch_free_norm_has_no_gap(data):
    r = T.renorm_comparison(batch_sizes=(2, 8), seeds=(0,), examples=96, n_test=64, data=data)
    assert r.eval_acc.shape == (3, 2, 1)
    g = r.norms.index("group")
    # equal up to a tie within float32 rounding (the matrix products see different batch sizes)
    assert np.abs(r.eval_acc[g] - r.batch_acc[g]).max() <= 1 / 64
    assert r.disagree[g].max() <= 1 / 64
    assert np.all((0 <= r.eval_acc) & (r.eval_acc <= 1))
    with pytest.raises(ValueError, match="norms"):
        T.renorm_comparison(norms=("layer",), data=data)
    with pytest.raises(ValueError, match="batch sizes"):
        T.renorm_comparison(batch_sizes=(1,), data=data)


def test_the_normalizations_compared_get_the_same_initial_weights():
    nets = {n: mlp(norm=n, activation="relu", seed=3) for n in ("batch", "renorm", "group")}
    nets["ws"] = mlp(norm="group", activation="relu", seed=3, standardize=True)
    assert [type(l).__name__ for l in nets["renorm"].layers].count("BatchRenorm") == 3
    for other in ("renorm", "group", "ws"):
        for a, b in zip(nets["batch"].layers, nets[other].layers):
            if isinstance(a, Linear):
                np.testing.assert_array_equal(a.params["W"], b.params["W"])
    with pytest.raises(ValueError, match="norm must be"):
        mlp(norm="weight")
    with pytest.raises(ValueError, match="init_scale"):
        mlp(standardize=True, init_scale=0.1)


def test_batch_statistics_predict_leaves_the_network_alone(nets, data):
    net = copy.deepcopy(nets[0])
    before = [l.running_mean.copy() for l in net.layers if isinstance(l, BatchNorm)]
    pred = T.batch_statistics_predict(net, data[2][:50], 8)
    assert pred.shape == (48,) and not net.training
    for layer, m in zip([l for l in net.layers if isinstance(l, BatchNorm)], before):
        np.testing.assert_array_equal(layer.running_mean, m)
    with pytest.raises(ValueError, match="at least 2"):
        T.batch_statistics_predict(net, data[2], 1)


# --- folding ---------------------------------------------------------------------------------

def test_fold_is_the_eval_network_and_not_the_training_one(nets, data):
    x = data[2][:200]
    r = T.fold_traps(nets[0], x, batch_sizes=(8,))
    assert r.eval_error < 1e-10
    assert r.train_error[0] > 100 * r.eval_error
    assert r.dtype_error["float32"] < r.dtype_error["float16"]
    folded = T.fold_network(nets[0])
    assert not any(isinstance(l, BatchNorm) for l in folded.layers)
    bad = Sequential([BatchNorm(3), Linear(3, 2, np.random.default_rng(0))])
    with pytest.raises(ValueError, match="does not directly follow a Linear"):
        T.fold_network(bad)


# --- AdaBN and test statistics ---------------------------------------------------------------

def test_corrupt_is_seeded_in_range_and_leaves_the_input_alone(data):
    x = data[2][:20]
    saved = x.copy()
    c = A.corrupt(x, "contrast", 2)
    np.testing.assert_allclose(c, 0.4 * x + 0.6, rtol=1e-6)
    n1, n2 = A.corrupt(x, "noise", 3, seed=1), A.corrupt(x, "noise", 3, seed=1)
    np.testing.assert_array_equal(n1, n2)
    assert n1.min() >= 0 and n1.max() <= 1 and n1.dtype == x.dtype
    np.testing.assert_array_equal(x, saved)
    with pytest.raises(ValueError, match="kind"):
        A.corrupt(x, "blur", 1)
    with pytest.raises(ValueError, match="severity"):
        A.corrupt(x, "noise", 4)


def test_adabn_gives_the_average_of_the_batch_statistics():
    # one BN right after the input: its running statistics must be the plain averages
    rng = np.random.default_rng(1)
    bn = BatchNorm(3)
    bn.gamma, bn.beta = rng.uniform(0.5, 2, 3), rng.normal(size=3)
    bn.running_mean, bn.running_var = rng.normal(size=3), rng.uniform(1, 2, 3)
    net = Sequential([bn, ReLU()]).eval()
    gamma = bn.gamma.copy()
    batches = [rng.normal(3.0, 2.0, (6, 3)) for _ in range(4)]
    A.adapt_batchnorm(net, batches)
    np.testing.assert_allclose(bn.running_mean, np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, np.mean([b.var(0, ddof=1) for b in batches], axis=0),
                               rtol=1e-12)
    np.testing.assert_array_equal(bn.gamma, gamma)
    assert bn.momentum == 0.1 and not net.training
    with pytest.raises(ValueError, match="at least one batch"):
        A.adapt_batchnorm(net, [])
    with pytest.raises(ValueError, match="no BatchNorm"):
        A.adapt_batchnorm(Sequential([ReLU()]), batches)


def test_adabn_undoes_an_affine_shift_of_the_input_exactly():
    # a positive affine map of the first layer's input is an affine map of each unit: the
    # re-estimated statistics normalize it away (exactly as eps -> 0)
    rng = np.random.default_rng(2)
    net = Sequential([Linear(5, 4, rng, dtype=np.float64), BatchNorm(4, eps=1e-12), ReLU(),
                      Linear(4, 3, rng, dtype=np.float64)])
    x = rng.uniform(0, 1, (64, 5))
    a = A.adapt_batchnorm(copy.deepcopy(net), [x])
    b = A.adapt_batchnorm(copy.deepcopy(net), [0.3 * x + 0.7])
    assert rel_error(a.forward(x), b.forward(0.3 * x + 0.7)) < 1e-8


def test_mixed_statistics_limits(nets, data):
    net, x = nets[0], data[2][:64]
    before = copy.deepcopy(net)
    np.testing.assert_array_equal(A.predict_with_test_statistics(net, x, 16, np.inf),
                                  net.eval().forward(x).argmax(1))
    np.testing.assert_array_equal(A.predict_with_test_statistics(net, x, 16, 0.0),
                                  T.batch_statistics_predict(net, x, 16))
    assert len(A.predict_with_test_statistics(net, x[:10], 1, 4.0)) == 10
    for a, b in zip(net.layers, before.layers):          # the network itself is not changed
        for k in a.params:
            np.testing.assert_array_equal(a.params[k], b.params[k])
        if isinstance(a, BatchNorm):
            np.testing.assert_array_equal(a.running_var, b.running_var)
    with pytest.raises(ValueError, match="one image has no"):
        A.predict_with_test_statistics(net, x, 1, 0.0)
    with pytest.raises(ValueError, match="prior"):
        A.predict_with_test_statistics(net, x, 4, -1.0)
    with pytest.raises(ValueError, match="prior"):
        A.predict_with_test_statistics(net, x, 4, "16")
    with pytest.raises(TypeError, match="batch_size"):
        A.predict_with_test_statistics(net, x, 4.0, 1.0)


def test_frozen_bn_trains_gamma_and_beta_but_keeps_its_statistics(nets, data):
    net = A.freeze_batchnorm(nets[0])
    frozen = [l for l in net.layers if isinstance(l, A.FrozenBN)]
    assert len(frozen) == 3
    stats = [l.bn.running_mean.copy() for l in frozen]
    gammas = [l.bn.gamma.copy() for l in frozen]
    T.train(net, data, steps=5, lr=0.05, batch_size=2, eval_every=5, n_eval=10)
    for layer, m, g in zip(frozen, stats, gammas):
        np.testing.assert_array_equal(layer.bn.running_mean, m)
        assert not layer.bn.training and np.abs(layer.bn.gamma - g).max() > 0
    x = data[2][:8]
    np.testing.assert_allclose(net.forward(x), A.freeze_batchnorm(net).forward(x))
    with pytest.raises(TypeError, match="wraps a BatchNorm"):
        A.FrozenBN(ReLU())


def test_studies_run_on_small_data(nets, data):
    s = S.corruption_study(nets, n_test=100, n_adapt=128, batch_size=32, data=data)
    assert s.source.shape == (2, 3, 2) and s.clean.shape == (2,)
    b = S.adaptation_budget(nets, n_batches=(1, 2), batch_size=32, n_test=100, n_adapt=128, data=data)
    assert b.acc.shape == (2, 2)
    m = S.small_test_batches(nets, batch_sizes=(4, 16), n_test=64, data=data)
    assert m.acc.shape == (2, 2, 2)
    f = S.frozen_finetune(nets, batch_sizes=(8,), lrs=(0.01,), examples=64, first=600, n_test=100,
                          data=data)
    assert f.acc["train"].shape == (1, 1, 2) and set(f.acc) == {"train", "frozen"}
    with pytest.raises(ValueError, match="n_adapt"):
        S.adaptation_budget(nets, n_batches=(10,), batch_size=32, n_adapt=128, data=data)
    with pytest.raises(ValueError, match="kinds"):
        S.corruption_study(nets, kinds=("blur",), data=data)


# --- the checkers ----------------------------------------------------------------------------

def expect(result, *words, passed=False):
    assert isinstance(result, E.CheckResult)
    assert result.passed is passed, result.message
    for w in words:
        assert w.lower() in result.message.lower(), f"{w!r} not in: {result.message}"


def rms_student(**kw):
    """A student's RMSNorm backward written out here, with one switchable mistake."""
    def backward(dout, cache):
        x_hat, gamma, inv_rms = cache
        axis = kw.get("axis", -1)
        g = dout * gamma
        proj = x_hat * (g * x_hat).mean(axis=axis, keepdims=True)
        centre = g.mean(axis=axis, keepdims=True) if kw.get("centre") else 0.0
        dx = inv_rms * (g - centre - (0 if kw.get("no_proj") else proj))
        x = x_hat / inv_rms
        dgamma = (dout * (x if kw.get("dgamma_x") else x_hat)).reshape(-1, x_hat.shape[-1]).sum(axis=0)
        return dx, dgamma
    return backward


@pytest.mark.parametrize("kw,words", [
    (dict(), ()), (dict(centre=True), ("subtracted the mean",)),
    (dict(no_proj=True), ("missing the projection term",)), (dict(axis=0), ("wrong axis",)),
    (dict(axis=1), ("axis 1",)), (dict(dgamma_x=True), ("dgamma uses x",)),
])
def test_rmsnorm_checker_names_the_mistake(kw, words):
    expect(E.check_rmsnorm_backward(rms_student(**kw)), *words, passed=not kw)


def test_rmsnorm_checker_reports_shapes_stubs_and_tampering():
    def stub(dout, cache):
        raise NotImplementedError
    assert E.check_rmsnorm_backward(stub).status == "todo"

    def per_example(dout, cache):
        dx, _ = rms_student()(dout, cache)
        return dx, (dout * cache.x_hat).sum(axis=-1)
    expect(E.check_rmsnorm_backward(per_example), "shape")

    def tamper(dout, cache):
        out = rms_student()(dout, cache)
        cache.x_hat[...] = 0
        return out
    expect(E.check_rmsnorm_backward(tamper), "in place")


def adabn_student(**kw):
    def adapt(net, batches):
        layers = [l for l in net.layers if isinstance(l, BatchNorm)]
        saved = [l.momentum for l in layers]
        if kw.get("fresh"):
            for i, l in enumerate(net.layers):
                if isinstance(l, BatchNorm):
                    net.layers[i] = BatchNorm(l.num_features)
            layers = [l for l in net.layers if isinstance(l, BatchNorm)]
        if not kw.get("eval_mode"):
            net.train()
        for k, x in enumerate(batches, start=1):
            for l in layers:
                l.momentum = kw["momentum"](k) if "momentum" in kw else 1.0 / k
            net.forward(x)
        if not kw.get("keep_momentum"):
            for l, m in zip(layers, saved):
                l.momentum = m
        if not kw.get("stay_training"):
            net.eval()
    return adapt


@pytest.mark.parametrize("kw,words", [
    (dict(), ()), (dict(eval_mode=True), ("used the training statistics",)),
    (dict(momentum=lambda k: 0.1), ("wrong momentum",)), (dict(momentum=lambda k: 1 / (k + 1)), ("wrong count",)),
    (dict(momentum=lambda k: 1.0), ("only the last batch",)), (dict(fresh=True), ("updated gamma/beta",)),
    (dict(stay_training=True), ("training mode",)), (dict(keep_momentum=True), ("momentum",)),
])
def test_adabn_checker_names_the_mistake(kw, words):
    expect(E.check_adabn(adabn_student(**kw)), *words, passed=not kw)


def test_adabn_checker_catches_pooling_and_stubs():
    pooled = lambda net, batches: adabn_student()(net, [np.concatenate(batches)])  # noqa: E731
    expect(E.check_adabn(pooled), "joined into one big batch")

    def stub(net, batches):
        raise NotImplementedError
    assert E.check_adabn(stub).status == "todo"


def test_checkers_never_raise():
    weird = [None, 3, lambda *a: "text", lambda *a: (None, None), lambda *a: 1 / 0]
    for check in (E.check_rmsnorm_backward, E.check_adabn):
        for fn in weird:
            r = check(fn)
            assert isinstance(r, E.CheckResult) and not r.passed and r.message


def test_every_mistake_is_detectable_and_distinct():
    """Each variant differs from the right answer and from every other variant by >> TOL."""
    rms = [zoo._rms_case(*c)[0] for c in zoo._rms_cases()]
    ada = []
    for label, net, batches in zoo._adabn_cases():
        want = zoo._simulate(copy.deepcopy(net), batches)
        sims = {k: zoo._simulate(copy.deepcopy(net), batches, **kw) for k, kw in zoo._ADABN.items()}
        flat = lambda st: {f"{i} {j}": st[i][j] for i in st for j in (0, 1)}  # noqa: E731
        ada.append(zoo.Case(label, flat(want), {k: flat(v) for k, v in sims.items()}))
    for cases, mistakes in ((rms, zoo.RMS_MISTAKES), (ada, zoo.ADABN_MISTAKES)):
        keys = list(cases[0].variants)
        assert set(keys) == set(mistakes)

        def gap(a, b, name):
            return max(rel_error(c.variants[a][name] if a else c.want[name], c.variants[b][name])
                       for c in cases)
        for i, a in enumerate(keys):
            names = list(cases[0].variants[a])
            assert max(gap(None, a, n) for n in names) > 100 * E.TOL, a
            for b in keys[i + 1:]:
                shared = [n for n in names if n in cases[0].variants[b]]
                if shared:
                    assert max(gap(a, b, n) for n in shared) > 100 * E.TOL, (a, b)
