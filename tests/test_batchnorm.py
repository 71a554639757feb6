"""The reference closed form and the BatchNorm layer: conventions, shapes, errors.

The fast path has its own file (tests/test_fastpath.py), tested against the reference.
"""
import numpy as np
import pytest

import bnlib
from bnlib import BatchNorm, batchnorm_backward, batchnorm_forward
from bnlib.gradcheck import check_gradients, rel_error


def test_running_statistics_follow_their_closed_form():
    rng = np.random.default_rng(0)
    layer = BatchNorm(3, momentum=0.1)
    batches = [rng.normal(2.0, 3.0, (8, 3)) for _ in range(5)]
    for b in batches:
        layer.forward(b)
    k = 0.1
    # closed form of r_t = (1-k) r_{t-1} + k s_t, unrolled from r_0
    mean = (1 - k) ** 5 * 0.0 + sum(k * (1 - k) ** (4 - t) * b.mean(0) for t, b in enumerate(batches))
    var = (1 - k) ** 5 * 1.0 + sum(k * (1 - k) ** (4 - t) * b.var(0, ddof=1) for t, b in enumerate(batches))
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, var, rtol=1e-12)


def test_new_layer_defaults():
    layer = BatchNorm(4)
    assert layer.training and layer.eps == 1e-5 and layer.momentum == 0.1
    np.testing.assert_array_equal(layer.running_mean, np.zeros(4))
    np.testing.assert_array_equal(layer.running_var, np.ones(4))
    np.testing.assert_array_equal(layer.gamma, np.ones(4))
    np.testing.assert_array_equal(layer.beta, np.zeros(4))


def test_train_normalizes_with_the_biased_variance():
    rng = np.random.default_rng(1)
    x = rng.normal(1.0, 2.0, (6, 2))
    y = BatchNorm(2, eps=1e-12).forward(x)
    np.testing.assert_allclose(y.std(0), 1.0, rtol=1e-9)      # biased std of the output is 1
    np.testing.assert_allclose(y.mean(0), 0.0, atol=1e-12)


def test_eval_uses_running_statistics_and_changes_nothing():
    rng = np.random.default_rng(2)
    layer = BatchNorm(3)
    layer.gamma, layer.beta = [1.0, 2.0, 3.0], [0.0, -1.0, 1.0]
    for _ in range(3):
        layer.forward(rng.standard_normal((10, 3)))
    rm, rv = layer.running_mean.copy(), layer.running_var.copy()
    x = rng.standard_normal((4, 3))
    y = layer.eval().forward(x)
    expected = layer.gamma * (x - rm) / np.sqrt(rv + layer.eps) + layer.beta
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    np.testing.assert_array_equal(layer.running_mean, rm)
    np.testing.assert_array_equal(layer.running_var, rv)
    # one example at a time gives the same answer in eval mode
    np.testing.assert_allclose(layer.forward(x[:1]), y[:1], rtol=1e-12)
    assert layer.train().training


def test_eval_backward_is_the_affine_map():
    rng = np.random.default_rng(3)
    layer = BatchNorm(3)
    layer.forward(rng.standard_normal((10, 3)))
    layer.eval()
    x = rng.standard_normal((5, 3))

    def fwd(x, gamma, beta):
        layer.gamma, layer.beta = gamma, beta
        return layer.forward(x), None

    def bwd(dout, _):
        dx = layer.backward(dout)
        return dx, layer.dgamma, layer.dbeta

    assert check_gradients(fwd, bwd, {"x": x, "gamma": np.ones(3) * 1.5, "beta": np.zeros(3)}).passed


def test_four_d_statistics_are_per_channel():
    rng = np.random.default_rng(4)
    x = rng.normal(3.0, 2.0, (4, 3, 5, 5))
    layer = BatchNorm(3, momentum=1.0)
    y = layer.forward(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(layer.running_mean, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    m = 4 * 5 * 5
    np.testing.assert_allclose(layer.running_var, x.var(axis=(0, 2, 3)) * m / (m - 1), rtol=1e-12)
    # the same as flattening to (N*H*W, C)
    flat = x.transpose(0, 2, 3, 1).reshape(-1, 3)
    y_flat, _ = batchnorm_forward(flat, np.ones(3), np.zeros(3))
    np.testing.assert_allclose(y.transpose(0, 2, 3, 1).reshape(-1, 3), y_flat, rtol=1e-10)


def test_four_d_gradients_match_centred_differences():
    rng = np.random.default_rng(5)
    inputs = {"x": rng.normal(1.0, 2.0, (3, 2, 3, 3)), "gamma": rng.standard_normal(2),
              "beta": rng.standard_normal(2)}
    r = check_gradients(batchnorm_forward, batchnorm_backward, inputs, rng=rng)
    assert r.passed, r


def test_layer_backward_matches_the_staged_graph():
    # an independent oracle: the node-by-node graph, not the closed form the layer runs
    rng = np.random.default_rng(6)
    x, dout = rng.standard_normal((7, 4)) * 3 + 1, rng.standard_normal((7, 4))
    layer = BatchNorm(4)
    layer.gamma, layer.beta = rng.standard_normal(4), rng.standard_normal(4)
    y = layer.forward(x)
    dx = layer.backward(dout)
    y_staged, cache = bnlib.graph.forward(x, layer.gamma, layer.beta, layer.eps)
    assert rel_error(y, y_staged) < 1e-12
    for a, b in zip((dx, layer.dgamma, layer.dbeta), bnlib.graph.backward(dout, cache)):
        assert rel_error(a, b) < 1e-10


def test_reference_backward_is_the_staged_graph_with_round_numbers():
    # x = [2, 4, 4, 4, 5, 5, 7, 9] has mean 5 and variance 4; with gamma 2, eps 0 and this dy,
    # the closed form gives dx = [0.5, -0.5, -0.5, -0.5, 0, 1, 0, 0] (worked by hand in chapter 3)
    x = np.array([2, 4, 4, 4, 5, 5, 7, 9], dtype=float)[:, None]
    dy = np.array([0, 0, 0, 0, 1, 2, 2, 3], dtype=float)[:, None]
    y, cache = batchnorm_forward(x, [2.0], [1.0], eps=0)
    dx, dgamma, dbeta = batchnorm_backward(dy, cache)
    np.testing.assert_array_equal(y[:, 0], [-2, 0, 0, 0, 1, 1, 3, 5])
    np.testing.assert_array_equal(dx[:, 0], [0.5, -0.5, -0.5, -0.5, 0, 1, 0, 0])
    assert dgamma.tolist() == [8.0] and dbeta.tolist() == [8.0]


def test_float32_in_float32_out():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 8)).astype(np.float32)
    y, cache = batchnorm_forward(x, np.ones(8), np.zeros(8))
    dx, dg, db = batchnorm_backward(np.ones_like(x), cache)
    assert y.dtype == dx.dtype == dg.dtype == db.dtype == np.float32
    layer = BatchNorm(8)
    assert layer.forward(x).dtype == np.float32
    assert layer.backward(np.ones_like(x)).dtype == np.float32
    x4 = rng.standard_normal((2, 8, 3, 3)).astype(np.float32)
    assert layer.forward(x4).dtype == np.float32


def test_integer_input_is_accepted_as_float64():
    y, _ = batchnorm_forward(np.arange(12).reshape(4, 3), np.ones(3), np.zeros(3))
    assert y.dtype == np.float64


def test_inputs_are_not_modified():
    rng = np.random.default_rng(8)
    x, g, b = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(3)
    dout = rng.standard_normal((5, 3))
    copies = [a.copy() for a in (x, g, b, dout)]
    _, cache = batchnorm_forward(x, g, b)
    batchnorm_backward(dout, cache)
    for a, c in zip((x, g, b, dout), copies):
        np.testing.assert_array_equal(a, c)


def test_folding_into_the_linear_layer_matches_eval_mode():
    rng = np.random.default_rng(9)
    W, bias = rng.standard_normal((5, 3)), rng.standard_normal(3)
    layer = BatchNorm(3)
    layer.gamma, layer.beta = rng.standard_normal(3), rng.standard_normal(3)
    for _ in range(4):
        layer.forward(rng.standard_normal((16, 5)) @ W + bias)
    layer.eval()
    x = rng.standard_normal((6, 5))
    W2, b2 = bnlib.fold_into_linear(W, bias, layer.gamma, layer.beta,
                                    layer.running_mean, layer.running_var, layer.eps)
    np.testing.assert_allclose(x @ W2 + b2, layer.forward(x @ W + bias), rtol=1e-10, atol=1e-12)
    y = bnlib.batchnorm_inference(x @ W + bias, layer.gamma, layer.beta, layer.running_mean,
                                  layer.running_var, layer.eps)
    np.testing.assert_allclose(y, layer.forward(x @ W + bias), rtol=1e-12)


# --- bad input: a clear error, and nothing changed ---------------------------

def trained_layer():
    layer = BatchNorm(3)
    layer.forward(np.random.default_rng(10).standard_normal((8, 3)))
    return layer


BAD_FORWARD = [
    (np.ones(3), ValueError, r"2-D \(N, D\) or 4-D"),
    (np.ones((2, 3, 4)), ValueError, r"got 3-D"),
    (np.ones((4, 5)), ValueError, r"5 features .* num_features=3"),
    (np.ones((1, 3)), ValueError, "more than one value per channel"),
    (np.ones((1, 3, 1, 1)), ValueError, "more than one value per channel"),
    (np.array([[1.0, 2.0, np.nan], [1.0, 2.0, 3.0]]), ValueError, "NaN or inf"),
    (np.array([[1.0, 2.0, np.inf], [1.0, 2.0, 3.0]]), ValueError, "NaN or inf"),
    (np.array([["a", "b", "c"], ["d", "e", "f"]]), TypeError, "real numbers"),
    (np.ones((2, 3), dtype=bool), TypeError, "real numbers"),
    (np.ones((2, 3), dtype=complex), TypeError, "real numbers"),
]


@pytest.mark.parametrize("x, err, words", BAD_FORWARD)
def test_layer_rejects_bad_batches_and_keeps_its_state(x, err, words):
    layer = trained_layer()
    state = (layer.running_mean.copy(), layer.running_var.copy(), layer._cache)
    with pytest.raises(err, match=words):
        layer.forward(x)
    np.testing.assert_array_equal(layer.running_mean, state[0])
    np.testing.assert_array_equal(layer.running_var, state[1])
    assert layer._cache is state[2]


@pytest.mark.parametrize("kwargs, err, words", [
    ({"num_features": 0}, ValueError, "at least 1"),
    ({"num_features": 2.5}, TypeError, "must be an int"),
    ({"num_features": 3, "eps": 0.0}, ValueError, "eps must be a finite number > 0"),
    ({"num_features": 3, "eps": -1e-5}, ValueError, "> 0"),
    ({"num_features": 3, "eps": "small"}, TypeError, "eps must be"),
    ({"num_features": 3, "momentum": 1.5}, ValueError, r"momentum must be in \[0, 1\]"),
    ({"num_features": 3, "momentum": -0.1}, ValueError, r"\[0, 1\]"),
    ({"num_features": 3, "momentum": None}, TypeError, "momentum"),
])
def test_constructor_rejects_bad_settings(kwargs, err, words):
    with pytest.raises(err, match=words):
        BatchNorm(**kwargs)


@pytest.mark.parametrize("value", [np.ones(4), np.ones((3, 1)), 1.0])
@pytest.mark.parametrize("name", ["gamma", "beta"])
def test_parameters_of_the_wrong_shape_are_rejected(name, value):
    layer = trained_layer()
    before = getattr(layer, name).copy()
    with pytest.raises(ValueError, match=rf"{name} must have shape \(3,\)"):
        setattr(layer, name, value)
    np.testing.assert_array_equal(getattr(layer, name), before)


def test_functional_forward_rejects_bad_parameters():
    x = np.ones((4, 3)) * np.arange(4)[:, None]
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\)"):
        batchnorm_forward(x, np.ones(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"beta must have shape \(3,\)"):
        batchnorm_forward(x, np.ones(3), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="eps"):
        batchnorm_forward(x, np.ones(3), np.zeros(3), eps=-1e-5)
    with pytest.raises(ValueError, match="constant"):          # eps = 0 needs every feature to vary
        batchnorm_forward(np.ones((4, 3)), np.ones(3), np.zeros(3), eps=0)
    with pytest.raises(ValueError, match="eps"):               # the layer keeps eps > 0
        BatchNorm(3, eps=0)


def test_backward_before_forward_and_with_a_bad_dout():
    layer = BatchNorm(3)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((4, 3)))
    layer.forward(np.random.default_rng(11).standard_normal((4, 3)))
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output \(4, 3\)"):
        layer.backward(np.ones((3, 4)))
    with pytest.raises(TypeError, match="BNCache"):
        batchnorm_backward(np.ones((4, 3)), {"x_hat": 1})
