"""bnlib.experiments: the harness and the claims, on tiny budgets (no network, seconds)."""
import numpy as np
import pytest

import bnlib
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
