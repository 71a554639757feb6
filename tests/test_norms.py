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


# --- issue 14: the family over chosen axes, RMSNorm, elementwise LayerNorm, weight standardization ---

from bnlib.gradcheck import numerical_gradient, rel_error  # noqa: E402
from bnlib.norms import (RMSCache, RMSNorm, WSLinear, normalize_backward,  # noqa: E402
                         normalize_forward, rmsnorm_backward, rmsnorm_forward,
                         weight_standardize_backward, weight_standardize_forward)


def loop_rmsnorm(x, gamma, eps=1e-6):
    """Oracle: one vector at a time, the definition written out."""
    flat = x.reshape(-1, x.shape[-1])
    out = np.array([v / np.sqrt(np.sum(v * v) / v.size + eps) for v in flat])
    return out.reshape(x.shape) * gamma


@pytest.mark.parametrize("name,axes,fn", [
    ("batch", (0, 2, 3), lambda x, g, b: batchnorm_forward(x, g, b)),
    ("layer", (1, 2, 3), lambda x, g, b: layernorm_forward(x, g, b)),
    ("instance", (2, 3), lambda x, g, b: instancenorm_forward(x, g, b)),
])
def test_each_member_is_the_family_over_its_axes(name, axes, fn):
    x = shifted((3, 4, 2, 5))
    ones, zeros = np.ones(4), np.zeros(4)
    x_hat, _ = normalize_forward(x, axes)
    np.testing.assert_allclose(x_hat, fn(x, ones, zeros)[0], atol=1e-12)


def test_groupnorm_is_the_family_after_a_reshape():
    x = shifted((3, 6, 2, 2))
    x_hat, _ = normalize_forward(x.reshape(3, 2, 3, 2, 2), (2, 3, 4))
    np.testing.assert_allclose(x_hat.reshape(x.shape), groupnorm_forward(x, np.ones(6), np.zeros(6), 2)[0],
                               atol=1e-12)


@pytest.mark.parametrize("axes,centre", [((0,), True), ((1,), True), ((0, 2), True), ((2, 3), True),
                                         ((-1,), False), ((0, 1, 2, 3), False)])
def test_family_backward_matches_centred_differences(axes, centre):
    # three examples: with two, batch statistics give x_hat = +-1 and a gradient near zero
    x = shifted((3, 3, 2, 3), scale=0.8)
    dout = np.random.default_rng(4).normal(size=x.shape)
    _, cache = normalize_forward(x, axes, centre=centre)
    num = numerical_gradient(lambda a: normalize_forward(a, axes, centre=centre)[0], x, dout)
    assert rel_error(normalize_backward(dout, cache), num) < 1e-7


def test_family_without_centring_is_rmsnorm_and_with_it_is_layernorm_rows():
    x = shifted((4, 7))
    gamma = params(7)[0]
    rms_hat, _ = normalize_forward(x, -1, eps=1e-6, centre=False)
    np.testing.assert_allclose(gamma * rms_hat, rmsnorm_forward(x, gamma)[0], atol=1e-12)
    np.testing.assert_allclose(normalize_forward(x, 1)[0],
                               layernorm_forward(x, np.ones(7), np.zeros(7))[0], atol=1e-12)


def test_rmsnorm_forward_matches_the_definition_for_any_leading_shape():
    for shape in [(7,), (4, 7), (2, 3, 7), (2, 2, 2, 7)]:
        x = shifted(shape, scale=2.0, shift=1.0)
        gamma = params(7)[0]
        y, cache = rmsnorm_forward(x, gamma)
        np.testing.assert_allclose(y, loop_rmsnorm(x, gamma), rtol=1e-12)
        assert isinstance(cache, RMSCache) and cache.inv_rms.shape == shape[:-1] + (1,)
        # unit gamma: every vector comes out with mean square ms / (ms + eps)
        unit, _ = rmsnorm_forward(x, np.ones(7))
        ms = (x * x).mean(axis=-1)
        np.testing.assert_allclose((unit * unit).mean(axis=-1), ms / (ms + 1e-6), rtol=1e-12)


def test_rmsnorm_keeps_the_mean_and_is_scale_invariant():
    x = shifted((5, 6))
    ones = np.ones(6)
    y, _ = rmsnorm_forward(x, ones, eps=1e-12)
    assert np.abs(y.mean(axis=-1)).min() > 0.1          # unlike layer norm, the mean survives
    np.testing.assert_allclose(rmsnorm_forward(4.0 * x, ones, eps=1e-12)[0], y, rtol=1e-10)
    shifted_y, _ = rmsnorm_forward(x + 3.0, ones, eps=1e-12)
    assert np.abs(shifted_y - y).max() > 0.01           # ... and so is not shift invariant


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
def test_rmsnorm_backward_matches_centred_differences(shape):
    x = shifted(shape, scale=1.0, shift=0.5)
    result = check_gradients(rmsnorm_forward, rmsnorm_backward, {"x": x, "gamma": params(shape[-1])[0]})
    assert result.passed, result


def test_rmsnorm_backward_with_rms_comparable_to_eps():
    x = np.random.default_rng(6).normal(size=(3, 5)) * 1e-3     # mean square ~ eps = 1e-6
    result = check_gradients(rmsnorm_forward, rmsnorm_backward, {"x": x, "gamma": params(5)[0]},
                             h=1e-8, tol=1e-5)
    assert result.passed, result


def test_rmsnorm_backward_closed_form_properties():
    # dx is orthogonal to x along each vector (scaling x leaves y unchanged as eps -> 0),
    # but does not sum to zero (no mean was removed)
    x = shifted((4, 6))
    _, cache = rmsnorm_forward(x, np.full(6, 2.0), eps=1e-14)
    dout = np.random.default_rng(8).normal(size=x.shape)
    dx, dgamma = rmsnorm_backward(dout, cache)
    np.testing.assert_allclose((dx * x).sum(axis=-1), 0, atol=1e-10)
    assert np.abs(dx.sum(axis=-1)).max() > 1e-3
    np.testing.assert_allclose(dgamma, (dout * cache.x_hat).sum(axis=0))


def test_rmsnorm_dtypes_and_no_mutation():
    x = shifted((3, 4)).astype(np.float32)
    gamma = np.ones(4, dtype=np.float32)
    saved = x.copy(), gamma.copy()
    y, cache = rmsnorm_forward(x, gamma)
    assert y.dtype == np.float32
    dout = np.ones_like(y)
    dx, dgamma = rmsnorm_backward(dout, cache)
    assert dx.dtype == np.float32
    np.testing.assert_array_equal(x, saved[0])
    np.testing.assert_array_equal(gamma, saved[1])
    np.testing.assert_array_equal(dout, np.ones_like(y))
    assert rmsnorm_forward(np.arange(8).reshape(2, 4), np.ones(4))[0].dtype == np.float64


def test_rmsnorm_layer_matches_functions_and_ignores_mode():
    layer = RMSNorm(5)
    x = shifted((2, 3, 5))
    layer.gamma = params(5)[0]
    out = layer.forward(x)
    np.testing.assert_allclose(out, loop_rmsnorm(x, layer.gamma), rtol=1e-12)
    np.testing.assert_allclose(layer.eval().forward(x), out)
    dout = np.random.default_rng(1).normal(size=x.shape)
    dx = layer.train().backward(dout)
    assert rel_error(dx, numerical_gradient(layer.forward, x, dout)) < 1e-8
    assert set(layer.params) == {"gamma"} and set(layer.grads) == {"gamma"}
    np.testing.assert_allclose(layer.dgamma, rmsnorm_backward(dout, rmsnorm_forward(x, layer.gamma)[1])[1])


def test_elementwise_layernorm_matches_a_loop_and_centred_differences():
    x = shifted((3, 4, 2, 3))
    gamma, beta = params(24)
    gamma, beta = gamma.reshape(4, 2, 3), beta.reshape(4, 2, 3)
    y, cache = layernorm_forward(x, gamma, beta)
    flat = x.reshape(3, -1)
    want = (flat - flat.mean(1, keepdims=True)) / np.sqrt(flat.var(1, keepdims=True) + EPS)
    np.testing.assert_allclose(y, want.reshape(x.shape) * gamma + beta, atol=1e-12)
    assert cache.gamma.shape == (4, 2, 3)
    result = check_gradients(layernorm_forward, layernorm_backward,
                             {"x": shifted((2, 3, 2, 2), scale=0.7), "gamma": gamma[:3, :, :2],
                              "beta": beta[:3, :, :2]})
    assert result.passed, result


def test_per_channel_gamma_is_the_elementwise_case_with_repeated_values():
    x = shifted((2, 3, 2, 2))
    gamma, beta = params(3)
    tiled = lambda p: np.broadcast_to(p[:, None, None], (3, 2, 2)).copy()  # noqa: E731
    y_c, cache_c = layernorm_forward(x, gamma, beta)
    y_e, cache_e = layernorm_forward(x, tiled(gamma), tiled(beta))
    np.testing.assert_allclose(y_c, y_e, atol=1e-12)
    dout = np.random.default_rng(3).normal(size=x.shape)
    dx_c, dg_c, db_c = layernorm_backward(dout, cache_c)
    dx_e, dg_e, db_e = layernorm_backward(dout, cache_e)
    np.testing.assert_allclose(dx_c, dx_e, atol=1e-12)
    np.testing.assert_allclose(dg_c, dg_e.sum(axis=(1, 2)), atol=1e-12)
    np.testing.assert_allclose(db_c, db_e.sum(axis=(1, 2)), atol=1e-12)


def test_elementwise_layernorm_layer():
    layer = LayerNorm((3, 2, 2))
    assert layer.params["gamma"].shape == (3, 2, 2) and layer.num_features == 3
    gamma = params(12)[0].reshape(3, 2, 2)
    layer.gamma = gamma
    x = shifted((4, 3, 2, 2))
    np.testing.assert_allclose(layer.forward(x), layernorm_forward(x, gamma, np.zeros((3, 2, 2)))[0])
    dout = np.random.default_rng(5).normal(size=x.shape)
    dx = layer.backward(dout)
    assert rel_error(dx, numerical_gradient(layer.forward, x, dout)) < 1e-8
    assert layer.dgamma.shape == (3, 2, 2)
    # (D,) and D are the same layer on (N, D) input
    a, b = LayerNorm((5,)), LayerNorm(5)
    x2 = shifted((3, 5))
    np.testing.assert_allclose(a.forward(x2), b.forward(x2))
    with pytest.raises(ValueError, match="normalized shape"):
        layer.gamma = np.ones(3)
    with pytest.raises(ValueError, match=r"shape \(N, 3, 2, 2\)"):
        layer.forward(np.ones((2, 3, 4, 4)))


def test_weight_standardization_properties_and_gradient():
    W = shifted((6, 4), scale=0.2, shift=0.1)
    W_hat, _ = weight_standardize_forward(W)
    np.testing.assert_allclose(W_hat.mean(axis=0), 0, atol=1e-12)
    var = W.var(axis=0)
    np.testing.assert_allclose(W_hat.var(axis=0), var / (var + EPS), rtol=1e-12)
    # scaling and shifting a unit's weights does not change its standardized weights (eps -> 0)
    a, _ = weight_standardize_forward(W * 3.0 + 1.0, eps=1e-14)
    b, _ = weight_standardize_forward(W, eps=1e-14)
    np.testing.assert_allclose(a, b, atol=1e-10)
    K = shifted((3, 2, 2, 2), scale=0.5)
    K_hat, _ = weight_standardize_forward(K)
    np.testing.assert_allclose(K_hat.reshape(3, -1).mean(axis=1), 0, atol=1e-12)
    for w in (W, K):
        result = check_gradients(weight_standardize_forward,
                                 lambda d, c: (weight_standardize_backward(d, c),), {"W": w})
        assert result.passed, result


def test_ws_linear_gradients_match_centred_differences():
    layer = WSLinear(5, 3, np.random.default_rng(0), dtype=np.float64)
    x = shifted((4, 5))
    dout = np.random.default_rng(2).normal(size=(4, 3))
    layer.forward(x)
    dx = layer.backward(dout)
    assert rel_error(dx, numerical_gradient(layer.forward, x, dout)) < 1e-8
    W = layer.params["W"].copy()

    def f(w):
        layer.params["W"] = w
        return layer.forward(x)
    num = numerical_gradient(f, W, dout)
    layer.params["W"] = W
    layer.forward(x)
    layer.backward(dout)
    assert rel_error(layer.grads["W"], num) < 1e-8


@pytest.mark.parametrize("call,error,words", [
    (lambda: rmsnorm_forward(np.ones((2, 3)), np.ones(4)), ValueError, "gamma"),
    (lambda: rmsnorm_forward(np.ones((2, 3)), np.ones(3), eps=0), ValueError, "eps"),
    (lambda: rmsnorm_forward(np.array([[1.0, np.inf]]), np.ones(2)), ValueError, "NaN or inf"),
    (lambda: rmsnorm_forward(np.ones((2, 0)), np.ones(0)), ValueError, "at least one axis"),
    (lambda: rmsnorm_forward(np.float64(3.0), np.ones(1)), ValueError, "at least one axis"),
    (lambda: rmsnorm_forward(np.array([["a"]]), np.ones(1)), TypeError, "dtype"),
    (lambda: rmsnorm_forward(np.full((1, 2), 3e38, dtype=np.float32), np.ones(2)), ValueError, "overflows"),
    (lambda: rmsnorm_backward(np.ones((2, 3)), (1, 2, 3)), TypeError, "RMSCache"),
    (lambda: rmsnorm_backward(np.ones((2, 4)), rmsnorm_forward(np.ones((2, 3)), np.ones(3))[1]),
     ValueError, "shape"),
    (lambda: RMSNorm(0), ValueError, "at least 1"),
    (lambda: RMSNorm(3).forward(np.ones((2, 4))), ValueError, "3 features"),
    (lambda: RMSNorm(3).backward(np.ones((2, 3))), RuntimeError, "before forward"),
    (lambda: setattr(RMSNorm(3), "gamma", np.ones(2)), ValueError, "gamma"),
    (lambda: layernorm_forward(np.ones((2, 3, 2, 2)), np.ones((3, 2)), np.ones((3, 2))), ValueError,
     r"\(3, 2, 2\) = x.shape\[1:\]"),
    (lambda: layernorm_forward(np.eye(4).reshape(2, 2, 2, 2), np.ones((2, 2, 2)), np.ones(2)), ValueError,
     "same shape"),
    (lambda: groupnorm_forward(np.ones((2, 3, 2, 2)), np.ones((3, 2, 2)), np.ones((3, 2, 2)), 1),
     ValueError, "gamma"),
    (lambda: LayerNorm(()), ValueError, "empty"),
    (lambda: LayerNorm((3, 0)), ValueError, "at least 1"),
    (lambda: normalize_forward(np.ones((2, 3)), (2,)), ValueError, "do not fit"),
    (lambda: normalize_forward(np.ones((2, 3)), (0, -2)), ValueError, "distinct"),
    (lambda: normalize_forward(np.ones((2, 3)), ()), TypeError, "non-empty"),
    (lambda: normalize_forward(np.ones((2, 3)), 1.0), TypeError, "axes"),
    (lambda: normalize_forward(np.ones((1, 3)), (0,)), ValueError, "at least two"),
    (lambda: normalize_backward(np.ones((2, 3)), None), TypeError, "AxesCache"),
    (lambda: weight_standardize_forward(np.ones((2, 3, 4))), ValueError, "convolution kernel"),
    (lambda: WSLinear(1, 3, np.random.default_rng(0)), ValueError, "two inputs"),
    (lambda: WSLinear(3, 2, np.random.default_rng(0), eps=-1.0), ValueError, "eps"),
    (lambda: WSLinear(3, 2, np.random.default_rng(0)).forward(np.ones((2, 4))), ValueError, r"\(N, 3\)"),
])
def test_new_functions_reject_bad_input_clearly(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_new_functions_do_not_change_their_inputs():
    x, gamma = shifted((3, 2, 2, 2)), params(2)[0]
    G = params(8)[0].reshape(2, 2, 2)
    saved = [a.copy() for a in (x, gamma, G)]
    _, c1 = normalize_forward(x, (1, 2, 3))
    dout = np.ones_like(x)
    normalize_backward(dout, c1)
    _, c2 = rmsnorm_forward(x, gamma)
    rmsnorm_backward(dout, c2)
    _, c3 = layernorm_forward(x, G, G)
    layernorm_backward(dout, c3)
    weight_standardize_backward(dout, weight_standardize_forward(x)[1])
    for a, b in zip((x, gamma, G), saved):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dout, np.ones_like(x))
