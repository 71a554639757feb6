"""bnlib.nn: every backward against centred differences, the loss against closed forms."""
import numpy as np
import pytest

import bnlib
from bnlib.gradcheck import numerical_gradient, numerical_gradients, rel_error
from bnlib.nn import (SGD, Dropout, Linear, ReLU, Sequential, Sigmoid, Tanh,
                      softmax_cross_entropy)

TOL = 1e-7


def _linear64(rng, d_in=5, d_out=4):
    return Linear(d_in, d_out, rng, dtype=np.float64)


def test_linear_forward_is_affine_map():
    rng = np.random.default_rng(0)
    layer = _linear64(rng)
    x = rng.standard_normal((3, 5))
    W, b = layer.params["W"], layer.params["b"]
    b[:] = rng.standard_normal(4)
    expected = np.array([[sum(x[n, i] * W[i, j] for i in range(5)) + b[j] for j in range(4)]
                         for n in range(3)])
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)


def test_linear_backward_matches_centred_differences():
    rng = np.random.default_rng(1)
    layer = _linear64(rng)
    layer.params["b"][:] = rng.standard_normal(4)
    x = rng.standard_normal((6, 5))
    dout = rng.standard_normal((6, 4))
    W0, b0 = layer.params["W"].copy(), layer.params["b"].copy()

    def f(x_, W_, b_):
        layer.params["W"][...] = W_
        layer.params["b"][...] = b_
        return layer.forward(x_)

    ndx, ndW, ndb = numerical_gradients(f, [x, W0, b0], dout)
    layer.params["W"][...], layer.params["b"][...] = W0, b0
    layer.forward(x)
    dx = layer.backward(dout)
    assert rel_error(dx, ndx) < TOL
    assert rel_error(layer.grads["W"], ndW) < TOL
    assert rel_error(layer.grads["b"], ndb) < TOL


def test_linear_default_scale_and_float32():
    layer = Linear(400, 300, np.random.default_rng(2))
    W = layer.params["W"]
    assert W.dtype == np.float32 and W.shape == (400, 300)
    assert abs(W.std() - 1 / np.sqrt(400)) < 0.002     # N(0, 1/d_in), 120k draws
    assert np.all(layer.params["b"] == 0)


def test_linear_without_input_grad_returns_none_but_sets_grads():
    rng = np.random.default_rng(3)
    layer = Linear(5, 4, rng, dtype=np.float64, input_grad=False)
    x = rng.standard_normal((6, 5))
    layer.forward(x)
    dout = rng.standard_normal((6, 4))
    assert layer.backward(dout) is None
    np.testing.assert_allclose(layer.grads["W"], x.T @ dout, rtol=1e-12)


@pytest.mark.parametrize("layer_cls", [Sigmoid, Tanh, ReLU])
def test_activation_backward_matches_centred_differences(layer_cls):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((7, 3)) * 3
    x[np.abs(x) < 1e-3] = 0.5          # keep ReLU away from its kink
    dout = rng.standard_normal(x.shape)
    layer = layer_cls()
    numeric = numerical_gradient(layer.forward, x, dout)
    layer.forward(x)
    assert rel_error(layer.backward(dout), numeric) < TOL


def test_activation_values_against_textbook_formulas():
    x = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(ReLU().forward(x), np.where(x > 0, x, 0))
    with np.errstate(over="raise"):     # no overflow even far out in float32
        s = Sigmoid().forward(np.array([-200.0, 200.0], dtype=np.float32))
    assert s.dtype == np.float32 and s[0] == 0 and s[1] == 1


def test_dropout_train_and_eval():
    rng = np.random.default_rng(5)
    layer = Dropout(0.3, rng)
    x = rng.uniform(1, 2, size=(400, 250))
    out = layer.forward(x)
    zeroed = np.mean(out == 0)
    assert abs(zeroed - 0.3) < 0.01
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / 0.7, rtol=1e-12)   # inverted scaling
    dout = rng.standard_normal(x.shape)
    np.testing.assert_allclose(layer.backward(dout), dout * out / x, rtol=1e-12)
    layer.eval()
    assert np.array_equal(layer.forward(x), x)
    assert np.array_equal(layer.backward(dout), dout)


def test_sequential_backward_through_bn_matches_centred_differences():
    rng = np.random.default_rng(6)
    model = Sequential([_linear64(rng, 4, 5), bnlib.BatchNorm(5), Sigmoid(),
                        _linear64(rng, 5, 3), Tanh()])
    model[1].gamma = rng.uniform(0.5, 1.5, 5)
    model[1].beta = rng.standard_normal(5)
    x = rng.standard_normal((8, 4))
    dout = rng.standard_normal((8, 3))
    numeric = numerical_gradient(model.forward, x, dout)
    model.forward(x)
    assert rel_error(model.backward(dout), numeric) < TOL
    names = [name for name, _, _ in model.parameters()]
    assert names == ["0.W", "0.b", "1.gamma", "1.beta", "3.W", "3.b"]


def test_sequential_train_eval_reaches_every_layer():
    rng = np.random.default_rng(7)
    model = Sequential([Linear(3, 3, rng), bnlib.BatchNorm(3), Dropout(0.5, rng)])
    model.eval()
    assert not any(layer.training for layer in model)
    model.train()
    assert model.training


def test_softmax_cross_entropy_closed_forms():
    # equal logits: p = 1/K everywhere, loss = log K, dlogits = (1/K - onehot)/N
    n, k = 4, 5
    y = np.array([0, 3, 4, 1])
    loss, d = softmax_cross_entropy(np.full((n, k), 2.5), y)
    assert loss == pytest.approx(np.log(k), rel=1e-12)
    expected = np.full((n, k), 1 / k)
    expected[np.arange(n), y] -= 1
    np.testing.assert_allclose(d, expected / n, rtol=1e-12)
    # two classes: loss = mean log(1 + exp(z_other - z_true))
    z = np.array([[1.0, -2.0], [0.5, 3.0]])
    loss, _ = softmax_cross_entropy(z, np.array([0, 0]))
    assert loss == pytest.approx(np.mean(np.log1p(np.exp(z[:, 1] - z[:, 0]))), rel=1e-12)


def test_softmax_cross_entropy_gradient_and_stability():
    rng = np.random.default_rng(8)
    z = rng.standard_normal((6, 4)) * 3
    y = rng.integers(0, 4, 6)
    _, d = softmax_cross_entropy(z, y)
    numeric = numerical_gradient(lambda a: softmax_cross_entropy(a, y)[0], z, 1.0)
    assert rel_error(d, numeric) < TOL
    loss, d = softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    assert loss == pytest.approx(1000.0) and np.isfinite(d).all()


def test_sgd_step_updates_in_place():
    rng = np.random.default_rng(9)
    model = Sequential([_linear64(rng, 3, 2)])
    W = model[0].params["W"]
    before = W.copy()
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    model.forward(x)
    model.backward(dout)
    SGD(0.1).step(model)
    assert model[0].params["W"] is W            # the same array, updated in place
    np.testing.assert_allclose(W, before - 0.1 * (x.T @ dout), rtol=1e-12)


def test_sgd_descends_a_least_squares_loss():
    rng = np.random.default_rng(10)
    model = Sequential([_linear64(rng, 3, 1)])
    x = rng.standard_normal((32, 3))
    target = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    opt, losses = SGD(0.1), []
    for _ in range(200):
        r = model.forward(x) - target
        losses.append(float(np.mean(r ** 2)))
        model.backward(2 * r / len(x))
        opt.step(model)
    assert losses[-1] < 1e-6 < losses[0]


@pytest.mark.parametrize("make, match", [
    (lambda: Linear(0, 3, np.random.default_rng(0)), "d_in"),
    (lambda: Linear(3, 3, 0), "Generator"),
    (lambda: Dropout(1.0, np.random.default_rng(0)), "probability"),
    (lambda: SGD(-1.0), "lr"),
    (lambda: Linear(3, 2, np.random.default_rng(0)).forward(np.ones((2, 4))), "d_in=3"),
    (lambda: Sigmoid().backward(np.ones(3)), "before forward"),
    (lambda: softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])), r"\[0, 3\)"),
    (lambda: softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), "integer"),
    (lambda: Sequential([object()]), "not a layer"),
])
def test_bad_input_is_rejected(make, match):
    with pytest.raises((ValueError, TypeError, RuntimeError), match=match):
        make()
