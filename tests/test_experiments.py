"""bnlib.experiments: the harness and the claims, on tiny budgets (no network, seconds)."""
import dataclasses

import numpy as np
import pytest

from bnlib import experiments as E
from bnlib import nn
from bnlib.experiments import History, mlp, steps_to_accuracy, train
from bnlib.gradcheck import numerical_gradient, rel_error


def _toy_data(seed=0, n_train=600, n_test=200, d=20, k=4):
    """A small separable problem: class means far apart in d dimensions, float32."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((k, d)) * 2
    def draw(n):
        y = rng.integers(0, k, n)
        return (means[y] + rng.standard_normal((n, d))).astype(np.float32), y
    return (*draw(n_train), *draw(n_test))


def test_mlp_layout_and_shapes():
    model = mlp(depth=3, width=7, bn=True, d_in=5, n_classes=3, seed=1)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == ["Linear", "BatchNorm", "Sigmoid"] * 3 + ["Linear"]
    assert model.act_idx == [2, 5, 8] and model.linear_idx == [0, 3, 6, 9]
    out = model.forward(np.ones((4, 5), dtype=np.float32))
    assert out.shape == (4, 3) and out.dtype == np.float32
    after = mlp(depth=2, width=4, bn=True, bn_position="after", activation="relu", dropout=0.2,
                d_in=5, n_classes=3)
    assert [type(layer).__name__ for layer in after][:4] == ["Linear", "ReLU", "BatchNorm", "Dropout"]


def _float64(model):
    for i in model.linear_idx:
        layer = model[i]
        for k in ("W", "b"):
            layer.params[k] = layer.params[k].astype(np.float64)
            layer.grads[k] = np.zeros_like(layer.params[k])
    return model


@pytest.mark.parametrize("bn", [False, True])
def test_mlp_weight_gradient_matches_centred_differences(bn):
    model = _float64(mlp(depth=2, width=4, bn=bn, d_in=3, n_classes=2, seed=2))
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
    W = model[0].params["W"]
    W0 = W.copy()

    def loss_of(w):
        W[...] = w
        return nn.softmax_cross_entropy(model.forward(x), y)[0]

    numeric = numerical_gradient(loss_of, W0, 1.0)
    W[...] = W0
    _, dlogits = nn.softmax_cross_entropy(model.forward(x), y)
    assert model.backward(dlogits) is None            # the first layer skips dx
    assert rel_error(model[0].grads["W"], numeric) < 1e-7


def test_train_is_seeded_and_bn_loss_decreases():
    data = _toy_data()
    runs = [train(mlp(depth=2, width=16, bn=True, d_in=20, n_classes=4, seed=5), data,
                  steps=200, lr=0.5, eval_every=50, n_eval=200, probe=50, record_grads=True,
                  n_train_eval=100, seed=5) for _ in range(2)]
    h = runs[0]
    assert isinstance(h, History)
    np.testing.assert_array_equal(h.test_acc, runs[1].test_acc)
    np.testing.assert_array_equal(h.samples, runs[1].samples)
    assert h.steps.tolist() == [0, 50, 100, 150, 200]
    assert h.percentiles.shape == (5, 3) and h.samples.shape == (5, 50)
    assert h.act_mean.shape == (5, 2) and h.grad_norms.shape == (5, 3) and h.train_acc.shape == (5,)
    assert np.all(np.diff(h.percentiles, axis=1) >= 0)        # 15th <= 50th <= 85th
    assert h.train_loss[-1] < 0.5 * h.train_loss[1]
    assert h.final_acc > 0.9 and h.diverged_at is None
    assert steps_to_accuracy(h, 0.9) <= 200 and np.isnan(steps_to_accuracy(h, 1.01))


def test_divergence_is_caught_and_reported():
    data = _toy_data()
    h = train(mlp(depth=2, width=16, d_in=20, n_classes=4, activation="relu", init_scale=3.0,
                  seed=0), data, steps=100, lr=1e3, eval_every=10, n_eval=100)
    assert h.diverged_at is not None and h.steps.tolist() == list(range(0, 101, 10))
    assert h.test_acc[-1] == pytest.approx(0.25)      # chance level for 4 classes


# --- the claim functions, on a toy problem and tiny budgets ----------------------

TOY = _toy_data()


def _same(a, b):
    """Two results of the same call: every array field identical."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)


def _twice(fn, **kw):
    r1, r2 = fn(data=TOY, **kw), fn(data=TOY, **kw)
    _same(r1, r2)
    return r1


def test_figure1_fields_and_speed_measure():
    r = _twice(E.figure1, steps=120, eval_every=20, n_samples=40)
    t = len(r.steps)
    assert r.steps.tolist() == list(range(0, 121, 20))
    for name in ("test_acc_bn", "test_acc_plain", "loss_bn", "loss_plain"):
        assert getattr(r, name).shape == (t,)
    assert r.percentiles_bn.shape == r.percentiles_plain.shape == (t, 3)
    assert r.samples_bn.shape == r.samples_plain.shape == (t, 40)
    np.testing.assert_allclose(r.percentiles_bn[:, 1], np.median(r.samples_bn, axis=1), rtol=1e-5)
    assert r.loss_bn[-1] < r.loss_bn[1]
    s = r.steps_to_accuracy(0.6)
    assert isinstance(s, E.StepsTo) and s.bn <= 120
    assert np.isnan(r.steps_to_accuracy(1.01).bn)


def test_drift_shapes_and_ranges():
    r = _twice(E.drift, steps=60, eval_every=20, probe=50)
    assert r.mean.shape == r.std.shape == r.saturated.shape == (4, 3)
    assert np.all((0 <= r.saturated) & (r.saturated <= 1)) and np.all(r.std > 0)


@pytest.mark.parametrize("fn, values", [(E.lr_sweep, "rates"), (E.init_sweep, "scales")])
def test_sweeps(fn, values):
    grid = (0.01, 0.5, 1e3) if fn is E.lr_sweep else (1e-3, 0.1)
    r = _twice(fn, steps=40, **{values: grid})
    assert r.acc_bn.shape == r.acc_plain.shape == (len(grid),)
    for v in (r.largest_bn, r.largest_plain, r.smallest_bn, r.smallest_plain):
        assert np.isnan(v) or v in grid
    trained = r.values[r.acc_bn >= r.threshold]
    assert (np.isnan(r.largest_bn) and trained.size == 0) or r.largest_bn == trained.max()


def test_deep_sigmoid_shapes():
    r = _twice(E.deep_sigmoid, depths=(2, 4), steps=40, eval_every=20)
    assert r.acc_bn.shape == (2,) and r.curves_plain.shape == (2, 3)
    np.testing.assert_array_equal(r.acc_bn, r.curves_bn[:, -1])


def test_regularization_gap_is_train_minus_test():
    r = _twice(E.regularization, n_train=100, steps=60)
    assert r.variants == ("neither", "dropout", "bn", "both")
    np.testing.assert_allclose(r.gap, r.train_acc - r.test_acc)


def test_bn_placement_grid():
    r = _twice(E.bn_placement, steps=40)
    assert r.acc.shape == (2, 3) and r.placements == ("none", "before", "after")


def test_batch_noise_shrinks_like_one_over_sqrt_n():
    r = _twice(E.batch_noise, batch_sizes=(4, 16, 64, 256))
    assert np.all(np.diff(r.std) < 0)
    assert abs(r.slope + 0.5) < 0.1
    np.testing.assert_allclose(r.std[-2:], r.predicted[-2:], rtol=0.2)


def test_gradient_flow_shapes():
    r = _twice(E.gradient_flow, steps=40, depth=3, eval_every=20)
    assert r.norms_bn.shape == r.norms_plain.shape == (3, 4)
    assert np.all(np.isnan(r.norms_bn[0])) and np.all(r.norms_bn[1:] > 0)


def test_scale_invariance_with_and_without_bn():
    r = _twice(E.scale_invariance, scales=(0.5, 2.0, 10.0))
    np.testing.assert_allclose(r.ratio_bn, 1.0, atol=1e-3)
    assert np.all(r.output_change_bn < 1e-3)
    assert abs(r.ratio_plain[-1] - 1) > 0.5 and r.output_change_plain[-1] > 1e-2


def test_train_eval_gap_shrinks_with_batch_size():
    r = _twice(E.train_eval_gap, batch_sizes=(2, 8, 64), steps=100, n_eval=200, repeats=10)
    assert r.acc_train_mode.shape == r.gap.shape == r.hidden_diff.shape == (3,)
    assert r.example_values.shape == (3, 10)
    assert r.hidden_diff[0] > r.hidden_diff[-1]
    assert r.example_values[0].std() > r.example_values[-1].std()


def test_noisy_bn_shapes():
    r = _twice(E.noisy_bn, steps=40, eval_every=20)
    assert r.variants == ("plain", "bn", "bn+noise", "noise") and r.test_acc.shape == (4, 3)


def test_smoothness_shapes():
    r = _twice(E.smoothness, steps=60, every=20, etas=(0.1, 1.0))
    assert r.loss_bn.shape == r.grad_change_plain.shape == (3, 2)
    assert r.steps.tolist() == [20, 40, 60]
    np.testing.assert_allclose(r.loss_range_bn, r.loss_bn.max(1) - r.loss_bn.min(1))
    np.testing.assert_allclose(r.lipschitz_plain, (r.grad_change_plain / r.etas).max(1))


def test_scorecard_rows():
    r = E.scorecard(seeds=(0, 1), budget=0.02, data=TOY)
    assert [row.claim for row in r.rows] == [
        "faster training", "higher learning rates", "less careful initialization",
        "saturating nonlinearities", "regularization", "scale invariance", "batch noise"]
    for row in r.rows:
        assert row.bn.shape[0] >= 2 and set(row.as_dict()) >= {"claim", "with BN", "verdict"}


@pytest.mark.parametrize("call, match", [
    (lambda: E.lr_sweep(rates=(), data=TOY), "rates"),
    (lambda: E.batch_noise(batch_sizes=(1, 16, 32), data=TOY), "at least 2"),
    (lambda: E.train_eval_gap(batch_sizes=(1,), data=TOY), "batch of one"),
    (lambda: E.mlp(activation="softplus"), "activation"),
    (lambda: E.scorecard(seeds=(), data=TOY), "seed"),
    (lambda: E.train(E.mlp(), data=[1, 2]), "4-tuple"),
])
def test_bad_arguments(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_training_runs_on_one_blas_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl not installed")
    from bnlib.experiments._threads import one_blas_thread
    with one_blas_thread():
        inside = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert inside and all(n == 1 for n in inside)


# --- measures added for the teaching pass (issue 10) ------------------------------

def test_first_reach_reads_the_crossing_off_the_line_between_records():
    from bnlib.experiments.training import first_reach
    steps, acc = [0, 100, 200, 300], [0.1, 0.5, 0.9, 0.95]
    assert first_reach(steps, acc, 0.7) == 200                        # on the grid: rounded up
    assert first_reach(steps, acc, 0.7, interpolate=True) == pytest.approx(150.0)
    assert first_reach(steps, acc, 0.5, interpolate=True) == pytest.approx(100.0)
    assert first_reach(steps, acc, 0.05, interpolate=True) == 0       # reached at the first record
    assert np.isnan(first_reach(steps, acc, 0.99, interpolate=True))


def test_lr_sweep_curves_and_steps_to_target():
    r = _twice(E.lr_sweep, rates=(0.05, 0.5), steps=60, eval_every=20)
    assert r.record_steps.tolist() == [0, 20, 40, 60]
    assert r.curves_bn.shape == r.curves_plain.shape == (2, 4)
    np.testing.assert_array_equal(r.curves_bn[:, -1], r.acc_bn)
    bn, plain = r.steps_to(0.6, interpolate=False)
    for k in range(2):
        hit = np.nonzero(r.curves_bn[k] >= 0.6)[0]
        assert (np.isnan(bn[k]) and hit.size == 0) or bn[k] == r.record_steps[hit[0]]
    with pytest.raises(ValueError, match="eval_every"):
        E.lr_sweep(rates=(0.5,), steps=20, data=TOY).steps_to(0.5)


def test_regularization_curves_and_equal_fit_comparison():
    r = _twice(E.regularization, n_train=100, steps=60, eval_every=20)
    assert r.train_curves.shape == r.test_curves.shape == (4, 4)
    np.testing.assert_array_equal(r.train_curves[:, -1], r.train_acc)
    # the interpolation by hand, on made-up curves
    fake = dataclasses.replace(r, record_steps=np.array([0, 10, 20]),
                               train_curves=np.array([[0.2, 0.6, 1.0]] * 4),
                               test_curves=np.array([[0.1, 0.5, 0.7]] * 4))
    np.testing.assert_allclose(fake.test_at_train_acc(0.8), 0.6)      # halfway from step 10 to 20
    assert np.all(np.isnan(fake.test_at_train_acc(1.01)))


def test_bn_placement_takes_a_subset_of_activations():
    r = E.bn_placement(steps=20, activations=("relu",), data=TOY)
    assert r.activations == ("relu",) and r.acc.shape == (1, 3) and set(r.lrs) == {"relu"}
    with pytest.raises(ValueError, match="activations"):
        E.bn_placement(steps=20, activations=("softplus",), data=TOY)


def test_batch_noise_for_a_chosen_standardized_value():
    r = E.batch_noise(batch_sizes=(16, 64, 256), a=3.0, data=TOY)
    assert r.a == pytest.approx(3.0)
    # an outlying example is noisier than an ordinary one, as the closed form says; in
    # small batches the example itself pulls mu_B and sigma_B, which the first-order
    # form leaves out, so compare from N = 64 on
    ordinary = E.batch_noise(batch_sizes=(16, 64, 256), a=0.0, data=TOY)
    assert np.all(r.std[1:] > 1.5 * ordinary.std[1:])
    np.testing.assert_allclose(r.std[-1], r.predicted[-1], rtol=0.25)


def test_gradient_profile_shrinks_by_s_sqrt_d_over_4_per_sigmoid_layer():
    from bnlib.experiments.mechanics import gradient_profile
    s, width = 0.001, 100
    r = gradient_profile(depth=3, init_scale=s, data=TOY)
    assert r.dW_norm.shape == r.dz_norm.shape == r.z_std.shape == r.x_norm.shape == (4,)
    # hidden layers: the backward pass multiplies by W^T (about s*sqrt(width)) and by
    # sigma'(z) = 1/4 at z = 0 (tiny weights keep every z near 0): a closed form
    factor = r.dz_norm[:2] / r.dz_norm[1:3]
    np.testing.assert_allclose(factor, s * np.sqrt(width) / 4, rtol=0.3)
    # the output layer's dz is softmax minus one-hot, computed here independently
    x_tr, y_tr = TOY[0], TOY[1]
    idx = np.random.default_rng([0, 5]).choice(len(x_tr), 60, replace=False)
    model = mlp(depth=3, init_scale=s, d_in=x_tr.shape[1], n_classes=4, seed=0)
    logits = model.forward(x_tr[idx]).astype(np.float64)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(60), y_tr[idx]] -= 1
    assert r.dz_norm[-1] == pytest.approx(np.linalg.norm(p / 60), rel=1e-4)
    # with BN the gradient does not vanish towards the input
    rb = gradient_profile(depth=3, init_scale=s, bn=True, data=TOY)
    assert rb.dz_norm[0] > 100 * r.dz_norm[0]


def test_scorecard_verdict_rule():
    row = lambda bn, plain, **kw: E.ScoreRow("c", "m", "p", np.array(bn, float),  # noqa: E731
                                             np.array(plain, float), False, "rule", **kw)
    assert row([0.8, 0.81, 0.79], [0.1, 0.11, 0.1]).verdict == "yes"
    assert row([0.8, 0.5, 0.79], [0.6, 0.6, 0.6]).verdict == "weakly"    # better on average only
    assert row([0.8, 0.61, 0.62], [0.6, 0.6, 0.6]).verdict == "weakly"   # every seed, but within noise
    assert row([0.5, 0.5, 0.5], [0.6, 0.6, 0.6]).verdict == "no"
    assert row([100, 90, 80], [700, 600, 800], higher_is_better=False).verdict == "yes"
    assert row([0.2, 0.2, 0.2], [0.1, 0.1, 0.1], higher_is_better=False).verdict == "no"
    ident = E.ScoreRow("i", "m", "p", np.ones(2), np.full(2, np.nan), True, "tol", kind="identity")
    assert ident.verdict == "yes" and ident.as_dict()["verdict"] == "yes"


def test_scorecard_kinds_and_interpolated_speed():
    r = E.scorecard(seeds=(0, 1), budget=0.05, data=TOY)
    kinds = {row.claim: row.kind for row in r.rows}
    assert kinds["scale invariance"] == kinds["batch noise"] == "identity"
    assert sum(k == "empirical" for k in kinds.values()) == 5
    speed = r.rows[0]
    assert "interpolated" in speed.measure and not speed.higher_is_better
    for row in r.rows:
        assert row.reproduced == (row.verdict == "yes")
    assert len(r.table("identity")) == 2


def test_along_gradient_leaves_the_model_alone_and_starts_at_zero():
    from bnlib.experiments.beyond import along_gradient
    x, y = TOY[0][:60], TOY[1][:60]
    model = mlp(depth=2, width=16, bn=True, d_in=x.shape[1], n_classes=4, seed=1)
    model.backward(nn.softmax_cross_entropy(model.forward(x), y)[1])
    before = [p.copy() for _, p, _ in model.parameters()]
    losses, changes = along_gradient(model, x, y, [1e-6, 0.5])
    for p0, (_, p, _) in zip(before, model.parameters()):
        np.testing.assert_array_equal(p0, p)
    assert changes[0] < 1e-3 < changes[1]                 # a vanishing step barely moves the gradient
    assert losses[0] == pytest.approx(nn.softmax_cross_entropy(model.forward(x), y)[0], rel=1e-4)
