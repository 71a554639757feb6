"""Batch renormalization against independent oracles.

Oracles: batch norm itself (r_max = 1, d_max = 0 is batch norm), the closed form of
the unclipped forward (it equals the eval-mode output), centred differences of a
forward written out here with r and d frozen, centred differences of the full
forward where every r and d is clipped (so they really are locally constant), and
the running-average recursion written out by hand.
"""
import numpy as np
import pytest

from bnlib import BatchNorm, batchnorm_backward, batchnorm_forward
from bnlib.gradcheck import check_gradients, numerical_gradients, rel_error
from bnlib.nn import Linear, ReLU, Sequential
from bnlib.renorm import (BatchRenorm, RenormCache, batchrenorm_backward, batchrenorm_forward,
                          renorm_correction)

EPS = 1e-5


def case(shape=(6, 4), seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rng.normal(2.0, 3.0, shape)
    return (x, rng.normal(1.0, 0.3, c), rng.normal(size=c), rng.normal(2.0, 1.0, c),
            rng.uniform(4.0, 16.0, c))


def frozen_forward(x, gamma, beta, r, d, eps=EPS):
    """The training forward with r and d given as constants (the paper's stop-gradient)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    u = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return gamma.reshape(shape) * (r.reshape(shape) * u + d.reshape(shape)) + beta.reshape(shape)


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3)])
def test_with_r_max_1_and_d_max_0_it_is_batch_norm(shape):
    x, gamma, beta, rm, rv = case(shape)
    y, cache = batchrenorm_forward(x, gamma, beta, rm, rv, r_max=1.0, d_max=0.0)
    y_bn, cache_bn = batchnorm_forward(x, gamma, beta)
    np.testing.assert_allclose(y, y_bn, atol=1e-12)
    dout = np.random.default_rng(1).normal(size=shape)
    for a, b in zip(batchrenorm_backward(dout, cache), batchnorm_backward(dout, cache_bn)):
        np.testing.assert_allclose(a, b, atol=1e-11)


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3)])
def test_unclipped_training_output_is_the_eval_output(shape):
    x, gamma, beta, rm, rv = case(shape)
    y, cache = batchrenorm_forward(x, gamma, beta, rm, rv, r_max=100.0, d_max=100.0)
    s = (1, -1) + (1,) * (len(shape) - 2)
    want = gamma.reshape(s) * (x - rm.reshape(s)) / np.sqrt(rv.reshape(s) + EPS) + beta.reshape(s)
    np.testing.assert_allclose(y, want, atol=1e-12)
    assert isinstance(cache, RenormCache)


def test_correction_factors_closed_form_and_clipping():
    mu_B, var_B = np.array([0.0, 10.0, -10.0, 1.0]), np.array([1.0, 1.0, 1.0, 100.0])
    mean, var = np.zeros(4), np.array([1.0, 1.0, 1.0, 1.0])
    r, d = renorm_correction(mu_B, var_B, mean, var, r_max=3.0, d_max=5.0, eps=0.0 + 1e-12)
    np.testing.assert_allclose(r, [1.0, 1.0, 1.0, 3.0], rtol=1e-9)      # sqrt(100) = 10 clipped to 3
    np.testing.assert_allclose(d, [0.0, 5.0, -5.0, 1.0], rtol=1e-9)     # +-10 clipped to +-5
    r, _ = renorm_correction(np.zeros(1), np.array([0.01]), np.zeros(1), np.ones(1), r_max=2.0)
    np.testing.assert_allclose(r, [0.5])                                   # 0.1 clipped to 1/2


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 2, 3)])
def test_backward_is_the_gradient_with_r_and_d_frozen(shape):
    x, gamma, beta, rm, rv = case(shape, seed=2)
    _, cache = batchrenorm_forward(x, gamma, beta, rm, rv, r_max=100.0, d_max=100.0)
    r, d = cache.r, cache.d
    assert not np.allclose(r, 1.0) and not np.allclose(d, 0.0)
    result = check_gradients(lambda a, g, b: (frozen_forward(a, g, b, r, d), None),
                             lambda dout, _: batchrenorm_backward(dout, cache),
                             {"x": x, "gamma": gamma, "beta": beta})
    assert result.passed, result


def test_backward_is_the_true_gradient_where_every_factor_is_clipped():
    # r and d saturated in every channel: the full forward's own derivative is the paper's backward
    x, gamma, beta, _, _ = case((6, 3), seed=3)
    rm, rv = np.full(3, 40.0), np.full(3, 0.05)          # far from the batch: d = -5, r = 3
    f = lambda a, g, b: batchrenorm_forward(a, g, b, rm, rv, 3.0, 5.0)  # noqa: E731
    _, cache = f(x, gamma, beta)
    assert np.all(cache.r == 3.0) and np.all(cache.d == -5.0)
    result = check_gradients(f, batchrenorm_backward, {"x": x, "gamma": gamma, "beta": beta})
    assert result.passed, result


def test_backward_is_not_the_true_gradient_when_unclipped():
    # with r and d free, the full forward is an affine map of x (the eval output); the paper's
    # backward deliberately differs: it keeps batch norm's projections (dx sums to zero per channel)
    x, gamma, beta, rm, rv = case((6, 3), seed=4)
    f = lambda a: batchrenorm_forward(a, gamma, beta, rm, rv, 100.0, 100.0)[0]  # noqa: E731
    dout = np.random.default_rng(5).normal(size=x.shape)
    true = numerical_gradients(f, [x], dout)[0]
    np.testing.assert_allclose(true, dout * gamma / np.sqrt(rv + EPS), rtol=1e-6)
    dx = batchrenorm_backward(dout, batchrenorm_forward(x, gamma, beta, rm, rv, 100.0, 100.0)[1])[0]
    np.testing.assert_allclose(dx.sum(axis=0), 0, atol=1e-10)
    assert rel_error(dx, true) > 0.1


def test_layer_running_statistics_follow_the_recursion():
    layer = BatchRenorm(3, momentum=0.2)
    rng = np.random.default_rng(6)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(4):
        x = rng.normal(1.0, 2.0, size=(5, 3))
        layer.forward(x)
        mean = 0.8 * mean + 0.2 * x.mean(axis=0)
        var = 0.8 * var + 0.2 * x.var(axis=0, ddof=1)
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, var, rtol=1e-12)


def test_layer_training_step_uses_the_statistics_before_the_update():
    layer = BatchRenorm(4)
    x, gamma, beta, rm, rv = case((6, 4))
    layer.gamma, layer.beta, layer.running_mean, layer.running_var = gamma, beta, rm.copy(), rv.copy()
    out = layer.forward(x)
    np.testing.assert_allclose(out, batchrenorm_forward(x, gamma, beta, rm, rv)[0], atol=1e-12)
    dout = np.random.default_rng(7).normal(size=x.shape)
    dx = layer.backward(dout)
    want = batchrenorm_backward(dout, batchrenorm_forward(x, gamma, beta, rm, rv)[1])
    for got, ref in zip((dx, layer.dgamma, layer.dbeta), want):
        np.testing.assert_allclose(got, ref, atol=1e-12)


def test_eval_mode_is_batch_norms_eval_mode():
    x, gamma, beta, rm, rv = case((6, 4))
    a, b = BatchRenorm(4), BatchNorm(4)
    for layer in (a, b):
        layer.gamma, layer.beta, layer.running_mean, layer.running_var = gamma, beta, rm, rv
        layer.eval()
    np.testing.assert_allclose(a.forward(x), b.forward(x))
    dout = np.ones_like(x)
    np.testing.assert_allclose(a.backward(dout), b.backward(dout))
    np.testing.assert_allclose(a.dgamma, b.dgamma)
    np.testing.assert_allclose(a.running_mean, rm)        # eval mode changes nothing
    assert isinstance(a, BatchNorm) and "r_max=3" in repr(a)


def test_layer_trains_inside_a_network():
    rng = np.random.default_rng(8)
    net = Sequential([Linear(4, 6, rng, dtype=np.float64), BatchRenorm(6), ReLU(),
                      Linear(6, 2, rng, dtype=np.float64)])
    x = rng.normal(size=(8, 4))
    out = net.forward(x)
    net.backward(np.ones_like(out))
    names = [name for name, _, g in net.parameters()]
    assert "1.gamma" in names and all(g is not None for _, _, g in net.parameters())


def test_limits_can_be_scheduled_and_are_checked():
    layer = BatchRenorm(2, r_max=1.0, d_max=0.0)
    layer.r_max, layer.d_max = 2.5, 4.0
    assert (layer.r_max, layer.d_max) == (2.5, 4.0)
    with pytest.raises(ValueError, match="r_max"):
        layer.r_max = 0.5
    with pytest.raises(ValueError, match="d_max"):
        layer.d_max = -1.0
    with pytest.raises(TypeError, match="r_max"):
        layer.r_max = "3"


@pytest.mark.parametrize("call,error,words", [
    (lambda: batchrenorm_forward(np.ones((1, 3)), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)),
     ValueError, "more than one value"),
    (lambda: batchrenorm_forward(np.eye(3), np.ones(2), np.zeros(3), np.zeros(3), np.ones(3)),
     ValueError, "gamma"),
    (lambda: batchrenorm_forward(np.eye(3), np.ones(3), np.zeros(3), np.zeros(2), np.ones(3)),
     ValueError, "running_mean"),
    (lambda: batchrenorm_forward(np.eye(3), np.ones(3), np.zeros(3), np.zeros(3), -np.ones(3)),
     ValueError, "running_var"),
    (lambda: batchrenorm_forward(np.eye(3), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), r_max=0.9),
     ValueError, "r_max"),
    (lambda: batchrenorm_forward(np.eye(3), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), d_max=np.nan),
     TypeError, "d_max"),
    (lambda: batchrenorm_forward(np.eye(3), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), eps=0),
     ValueError, "eps"),
    (lambda: batchrenorm_forward(np.full((2, 2), np.nan), np.ones(2), np.zeros(2), np.zeros(2), np.ones(2)),
     ValueError, "NaN"),
    (lambda: renorm_correction(np.zeros((2, 2)), np.ones(2), np.zeros(2), np.ones(2)), ValueError, "mu_B"),
    (lambda: renorm_correction(np.zeros(2), -np.ones(2), np.zeros(2), np.ones(2)), ValueError, "var_B"),
    (lambda: batchrenorm_backward(np.ones((2, 3)), (1, 2)), TypeError, "RenormCache"),
    (lambda: batchrenorm_backward(np.ones((2, 2)), batchrenorm_forward(
        np.eye(3), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3))[1]), ValueError, "shape"),
    (lambda: BatchRenorm(3).forward(np.ones((4, 2))), ValueError, "num_features=3"),
    (lambda: BatchRenorm(3).backward(np.ones((4, 3))), RuntimeError, "before forward"),
    (lambda: BatchRenorm(3, momentum=2.0), ValueError, "momentum"),
])
def test_bad_input_raises_a_clear_error(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_rejected_batch_leaves_the_layer_unchanged_and_inputs_are_not_mutated():
    layer = BatchRenorm(3)
    x, gamma, beta, rm, rv = case((6, 3))
    with pytest.raises(ValueError):
        layer.forward(np.full((4, 3), np.inf))
    np.testing.assert_array_equal(layer.running_mean, np.zeros(3))
    saved = [a.copy() for a in (x, gamma, beta, rm, rv)]
    _, cache = batchrenorm_forward(x, gamma, beta, rm, rv)
    dout = np.ones_like(x)
    batchrenorm_backward(dout, cache)
    for a, b in zip((x, gamma, beta, rm, rv), saved):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dout, np.ones_like(x))
