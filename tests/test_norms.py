"""LayerNorm, GroupNorm and InstanceNorm against independent oracles.

Oracles: centred differences (bnlib.gradcheck), explicit loops over examples
and groups, batch norm applied to a reshaped or transposed array (the same
statistics taken the other way round), and closed-form properties of the
backward (dx sums to zero per group, is orthogonal to x_hat per group).
"""
import numpy as np
import pytest

from bnlib import batchnorm_forward
from bnlib.gradcheck import check_gradients
from bnlib.norms import (GroupNorm, InstanceNorm, LayerNorm, NormCache, groupnorm_backward,
                         groupnorm_forward, instancenorm_backward, instancenorm_forward,
                         layernorm_backward, layernorm_forward)

EPS = 1e-5


def shifted(shape, seed=0, scale=3.0, shift=5.0):
    """A shifted, scaled input so mean and eps mistakes are visible."""
    return np.random.default_rng(seed).normal(size=shape) * scale + shift


def params(c, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=c) + 1.0, rng.normal(size=c)


def loop_groupnorm(x, gamma, beta, groups, eps=EPS):
    """Oracle: one example and one group at a time, with plain numpy."""
    n, c = x.shape[:2]
    per = c // groups
    out = np.empty_like(x)
    for i in range(n):
        for k in range(groups):
            block = x[i, k * per:(k + 1) * per]
            out[i, k * per:(k + 1) * per] = (block - block.mean()) / np.sqrt(block.var() + eps)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return out * gamma.reshape(shape) + beta.reshape(shape)


# forward --------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,groups", [((4, 6), 1), ((4, 6), 3), ((3, 6, 2, 5), 1),
                                          ((3, 6, 2, 5), 2), ((3, 6, 2, 5), 6)])
def test_groupnorm_forward_matches_loop(shape, groups):
    x = shifted(shape)
    gamma, beta = params(shape[1])
    out, cache = groupnorm_forward(x, gamma, beta, groups)
    np.testing.assert_allclose(out, loop_groupnorm(x, gamma, beta, groups), rtol=1e-12, atol=1e-12)
    assert isinstance(cache, NormCache)


def test_layernorm_rows_equal_batchnorm_of_transpose():
    # LN normalizes each row; BN normalizes each column: BN(x.T).T with unit gamma is LN(x)
    x = shifted((5, 7))
    ones, zeros = np.ones(7), np.zeros(7)
    ln, _ = layernorm_forward(x, ones, zeros)
    bn, _ = batchnorm_forward(x.T, np.ones(5), np.zeros(5))
    np.testing.assert_allclose(ln, bn.T, atol=1e-12)


def test_instancenorm_equals_batchnorm_on_one_example_per_channel():
    # IN on (N, C, H, W) is BN on (1, N*C, H, W): every (example, channel) is its own channel
    x = shifted((3, 4, 3, 5))
    gamma, beta = params(4)
    out, _ = instancenorm_forward(x, gamma, beta)
    bn, _ = batchnorm_forward(x.reshape(1, 12, 3, 5), np.tile(gamma, 3), np.tile(beta, 3))
    np.testing.assert_allclose(out, bn.reshape(x.shape), atol=1e-12)


def test_layernorm_4d_is_groupnorm_with_one_group_and_closed_form_moments():
    x = shifted((2, 4, 3, 3))
    out, _ = layernorm_forward(x, np.ones(4), np.zeros(4))
    per_example = out.reshape(2, -1)
    var = x.reshape(2, -1).var(axis=1)
    np.testing.assert_allclose(per_example.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(per_example.var(axis=1), var / (var + EPS), rtol=1e-12)


def test_output_of_one_example_does_not_depend_on_the_batch():
    x = shifted((8, 6, 2, 2))
    gamma, beta = params(6)
    for fwd in (layernorm_forward, instancenorm_forward,
                lambda a, g, b: groupnorm_forward(a, g, b, 3)):
        full, _ = fwd(x, gamma, beta)
        alone, _ = fwd(x[2:3], gamma, beta)
        np.testing.assert_allclose(full[2:3], alone, atol=1e-12)


def test_float32_stays_float32_and_int_becomes_float64():
    x = shifted((4, 6)).astype(np.float32)
    out, _ = layernorm_forward(x, np.ones(6), np.zeros(6))
    assert out.dtype == np.float32
    dx, _, _ = layernorm_backward(np.ones_like(out), _)
    assert dx.dtype == np.float32
    out, _ = layernorm_forward(np.arange(12).reshape(3, 4), np.ones(4), np.zeros(4))
    assert out.dtype == np.float64


# backward -------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,groups", [((3, 5), 1), ((4, 6), 2), ((2, 4, 3, 2), 1),
                                          ((2, 4, 3, 2), 2), ((2, 4, 3, 2), 4)])
def test_groupnorm_backward_matches_centred_differences(shape, groups):
    x = shifted(shape, scale=0.5)
    gamma, beta = params(shape[1])
    result = check_gradients(lambda a, g, b: groupnorm_forward(a, g, b, groups),
                             groupnorm_backward, {"x": x, "gamma": gamma, "beta": beta})
    assert result.passed, result


def test_layernorm_and_instancenorm_backward_match_centred_differences():
    x = shifted((3, 5), seed=3)
    result = check_gradients(layernorm_forward, layernorm_backward,
                             dict(zip(("x", "gamma", "beta"), (x, *params(5)))))
    assert result.passed, result
    x = shifted((2, 3, 2, 3), seed=4)
    result = check_gradients(instancenorm_forward, instancenorm_backward,
                             dict(zip(("x", "gamma", "beta"), (x, *params(3)))))
    assert result.passed, result


def test_small_variance_rows_need_eps_inside_the_square_root():
    # rows with variance ~eps: the gradient check only passes if eps is handled exactly
    x = np.random.default_rng(5).normal(size=(4, 6)) * 3e-3 + 2.0
    result = check_gradients(layernorm_forward, layernorm_backward,
                             dict(zip(("x", "gamma", "beta"), (x, *params(6)))), h=1e-7, tol=1e-5)
    assert result.passed, result


def test_backward_closed_form_properties():
    # dx sums to zero over each group and (as eps -> 0: scaling a group leaves y unchanged)
    # is orthogonal to x_hat there; a uniform dout with a constant gamma gives dx = 0;
    # dbeta and dgamma are plain sums over (N, H, W)
    x = shifted((3, 4, 2, 2))
    out, cache = groupnorm_forward(x, np.full(4, 2.0), np.zeros(4), 2, eps=1e-14)
    dout = np.random.default_rng(7).normal(size=x.shape)
    dx, dgamma, dbeta = groupnorm_backward(dout, cache)
    groups = dx.reshape(3, 2, -1)
    np.testing.assert_allclose(groups.sum(axis=2), 0, atol=1e-10)
    np.testing.assert_allclose((groups * cache.x_hat.reshape(3, 2, -1)).sum(axis=2), 0, atol=1e-10)
    np.testing.assert_allclose(dbeta, dout.sum(axis=(0, 2, 3)))
    np.testing.assert_allclose(dgamma, (dout * out / 2.0).sum(axis=(0, 2, 3)))
    dx, _, _ = groupnorm_backward(np.ones_like(x), cache)
    np.testing.assert_allclose(dx, 0, atol=1e-12)


def test_backward_does_not_change_its_inputs():
    x = shifted((3, 4))
    out, cache = layernorm_forward(x, *params(4))
    dout = np.ones_like(out)
    saved = (dout.copy(), cache.x_hat.copy())
    layernorm_backward(dout, cache)
    np.testing.assert_array_equal(dout, saved[0])
    np.testing.assert_array_equal(cache.x_hat, saved[1])


# layers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer,shape", [(LayerNorm(6), (4, 6)), (GroupNorm(3, 6), (2, 6, 2, 2)),
                                         (InstanceNorm(6), (2, 6, 2, 3)), (LayerNorm(6), (2, 6, 3, 1))])
def test_layer_matches_functions_and_ignores_mode(layer, shape):
    x = shifted(shape)
    layer.gamma, layer.beta = params(6)
    out = layer.forward(x)
    np.testing.assert_allclose(out, loop_groupnorm(x, layer.gamma, layer.beta, layer.num_groups),
                               atol=1e-12)
    np.testing.assert_allclose(layer.eval().forward(x), out)   # no running statistics
    assert layer.train().training
    dout = np.random.default_rng(2).normal(size=shape)
    dx = layer.backward(dout)
    ref = groupnorm_backward(dout, groupnorm_forward(x, layer.gamma, layer.beta,
                                                     layer.num_groups)[1])
    for got, want in zip((dx, layer.grads["gamma"], layer.grads["beta"]), ref):
        np.testing.assert_allclose(got, want, atol=1e-12)
    assert set(layer.params) == {"gamma", "beta"} and layer.params["gamma"] is layer.gamma


def test_layer_gradient_through_forward_backward_matches_centred_differences():
    layer = GroupNorm(2, 4)
    x = shifted((2, 4, 2, 2), scale=0.7)
    dout = np.random.default_rng(3).normal(size=x.shape)
    layer.forward(x)
    dx = layer.backward(dout)
    from bnlib.gradcheck import numerical_gradient, rel_error
    assert rel_error(dx, numerical_gradient(layer.forward, x, dout)) < 1e-7


# bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("call,error,words", [
    (lambda: layernorm_forward(np.ones((2, 3, 4)), np.ones(3), np.zeros(3)), ValueError, "2-D"),
    (lambda: layernorm_forward(np.ones((4, 1)), np.ones(1), np.zeros(1)), ValueError, "two values"),
    (lambda: layernorm_forward(np.array([[1.0, np.nan]]), np.ones(2), np.zeros(2)), ValueError, "NaN"),
    (lambda: layernorm_forward(np.ones((2, 3)) * 1.0, np.ones(4), np.zeros(3)), ValueError, "gamma"),
    (lambda: layernorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), eps=0), ValueError, "eps"),
    (lambda: layernorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), eps=True), TypeError, "eps"),
    (lambda: layernorm_forward(np.array([["a", "b"]]), np.ones(2), np.zeros(2)), TypeError, "dtype"),
    (lambda: groupnorm_forward(np.ones((2, 6)), np.ones(6), np.zeros(6), 4), ValueError, "groups"),
    (lambda: groupnorm_forward(np.ones((2, 6)), np.ones(6), np.zeros(6), 0), ValueError, "num_groups"),
    (lambda: groupnorm_forward(np.ones((2, 6)), np.ones(6), np.zeros(6), 2.0), TypeError, "int"),
    (lambda: instancenorm_forward(np.ones((2, 6)), np.ones(6), np.zeros(6)), ValueError, "4-D"),
    (lambda: layernorm_backward(np.ones((2, 3)), (1, 2, 3)), TypeError, "NormCache"),
    (lambda: layernorm_backward(np.ones((3, 3)),
                                layernorm_forward(np.eye(2, 3), np.ones(3), np.zeros(3))[1]),
     ValueError, "shape"),
    (lambda: LayerNorm(3).backward(np.ones((2, 3))), RuntimeError, "before forward"),
    (lambda: LayerNorm(3).forward(np.ones((2, 4))), ValueError, "3 channels"),
    (lambda: GroupNorm(4, 6), ValueError, "evenly"),
    (lambda: LayerNorm(0), ValueError, "at least 1"),
    (lambda: InstanceNorm(3).forward(np.ones((2, 3))), ValueError, "4-D"),
])
def test_bad_input_raises_a_clear_error(call, error, words):
    with pytest.raises(error, match=words):
        call()
