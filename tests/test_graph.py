"""The staged graph: structure, agreement with the compact path and with centred differences."""
import numpy as np
import pytest

import bnlib
from bnlib import graph
from bnlib.gradcheck import check_gradients, numerical_gradients, rel_error


def batch(kind, rng, n=6, d=4):
    if kind == "standard":
        return rng.standard_normal((n, d))
    if kind == "shifted":          # large mean: catches a missing mean path
        return 1e3 + rng.standard_normal((n, d))
    if kind == "small_variance":   # variance ~ eps: the gradient depends on where eps sits
        return 5.0 + 3e-3 * rng.standard_normal((n, d))
    raise ValueError(kind)


KINDS = ["standard", "shifted", "small_variance"]


def test_nodes_are_topologically_ordered_and_named():
    seen = set(graph.INPUTS + graph.CONSTANTS)
    for n in graph.NODES:
        assert set(n.parents + n.constants) <= seen, f"{n.name} uses a value before it is computed"
        seen.add(n.name)
    assert [n.name for n in graph.NODES] == ["mu", "xmu", "sq", "var", "std", "inv_std",
                                              "x_hat", "scaled", "y"]


def test_forward_matches_the_closed_form_and_records_every_node():
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 3.0, (5, 3))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    y, cache = graph.forward(x, gamma, beta, eps=1e-5)
    # independent oracle: the formula written out directly
    expected = gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) + beta
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    assert set(cache) == set(graph.INPUTS + graph.CONSTANTS) | {n.name for n in graph.NODES}
    np.testing.assert_allclose(cache["var"], x.var(0), rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_staged_equals_compact(kind):
    rng = np.random.default_rng(2)
    x = batch(kind, rng)
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    dout = rng.standard_normal(x.shape)
    y1, c1 = graph.forward(x, gamma, beta)
    y2, c2 = bnlib.batchnorm_forward(x, gamma, beta)
    np.testing.assert_allclose(y1, y2, rtol=1e-12, atol=1e-12)
    for a, b in zip(graph.backward(dout, c1), bnlib.batchnorm_backward(dout, c2)):
        assert rel_error(a, b) < 1e-12


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pair", ["staged", "compact"])
def test_gradients_agree_with_centred_differences(kind, pair):
    rng = np.random.default_rng(3)
    x = batch(kind, rng)
    inputs = {"x": x, "gamma": rng.standard_normal(4), "beta": rng.standard_normal(4)}
    fwd, bwd = ((graph.forward, graph.backward) if pair == "staged"
                else (bnlib.batchnorm_forward, bnlib.batchnorm_backward))
    # the step must be small next to the spread of x, or the differences see curvature
    h = 1e-5 if kind != "small_variance" else 1e-7
    result = check_gradients(fwd, bwd, inputs, dout=rng.standard_normal(x.shape), h=h, tol=1e-7)
    assert result.passed, result


def test_eps_matters_where_the_variance_is_small():
    rng = np.random.default_rng(4)
    x = batch("small_variance", rng)
    g, b = np.ones(4), np.zeros(4)
    y_small, _ = graph.forward(x, g, b, eps=1e-8)
    y_large, _ = graph.forward(x, g, b, eps=1e-2)
    # var ~ 1e-5: a tiny eps gives unit spread, an eps far above the variance shrinks it
    assert np.all(np.abs(y_small.std(axis=0) - 1) < 1e-2)
    assert np.all(y_large.std(axis=0) < 0.1)


def test_backward_adds_gradients_at_branch_points():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3))
    _, cache = graph.forward(x, np.ones(3), np.zeros(3))
    trace = graph.backward_trace(rng.standard_normal((4, 3)), cache)
    for name in ("x", "xmu"):
        pieces = trace.fan_in(name)
        assert len(pieces) == 2, f"{name} fans out to two nodes"
        np.testing.assert_allclose(pieces[0][1] + pieces[1][1], trace.grads[name])
    # every node's upstream gradient is recorded, in reverse topological order
    assert [s.node for s in trace.steps] == [n.name for n in reversed(graph.NODES)]


@pytest.mark.parametrize("n", graph.NODES, ids=lambda n: n.name)
def test_each_local_backward_matches_centred_differences(n):
    rng = np.random.default_rng(6)
    x = rng.normal(1.0, 2.0, (5, 3))
    _, cache = graph.forward(x, rng.standard_normal(3), rng.standard_normal(3))
    parents = [np.array(cache[p], dtype=float) for p in n.parents]
    constants = [cache[c] for c in n.constants]
    out = cache[n.name]
    dout = rng.standard_normal(np.shape(out))
    analytic = n.backward(dout, out, *parents, *constants)
    numeric = numerical_gradients(lambda *a: n.forward(*a, *constants), parents, dout)
    for a, b in zip(analytic, numeric):
        assert np.shape(a) == np.shape(b)
        assert rel_error(a, b) < 1e-8


def test_edges_fan_out_and_labels_are_derived_from_the_node_list():
    assert graph.EDGES == tuple((p, n.name) for n in graph.NODES for p in n.parents + n.constants)
    fan_out = {name for name in graph.INPUTS + tuple(n.name for n in graph.NODES)
               if len(graph.children(name)) > 1}
    assert fan_out == {"x", "xmu"}                   # the two branch points chapter 3 adds at
    assert graph.children("x") == ("mu", "xmu") and graph.children("y") == ()
    assert graph.label("x_hat") == "x̂" and graph.label("gamma") == "γ"
    assert all(n.label and n.label == graph.label(n.name) for n in graph.NODES)


def test_one_feature_with_scalar_parameters_and_eps_zero_is_the_pencil_walk():
    # a batch whose statistics are round numbers: mean 5, variance 4 (closed form by hand)
    x = np.array([2, 4, 4, 4, 5, 5, 7, 9], dtype=float)
    y, cache = graph.forward(x, 2.0, 1.0, eps=0)
    assert cache["mu"] == 5 and cache["var"] == 4 and cache["std"] == 2
    np.testing.assert_array_equal(cache["x_hat"], (x - 5) / 2)
    np.testing.assert_array_equal(y, 2 * (x - 5) / 2 + 1)
    dy = np.array([0, 0, 0, 0, 1, 2, 2, 3], dtype=float)
    dx, dgamma, dbeta = graph.backward(dy, cache)
    assert np.shape(dgamma) == np.shape(dbeta) == ()
    assert dbeta == dy.sum() and dgamma == dy @ ((x - 5) / 2)
    # the same feature as an (N, 1) batch, checked by centred differences
    numeric = numerical_gradients(lambda a: graph.forward(a, np.array([2.0]), np.array([1.0]),
                                                          eps=0)[0], [x[:, None]], dy[:, None])[0]
    assert rel_error(dx[:, None], numeric) < 1e-8


@pytest.mark.parametrize("args, words", [
    ((np.ones(4), 1.0, 0.0), "constant"),                      # eps = 0 and no variance
    ((np.arange(4.0), np.ones(1), 0.0), "scalar"),             # one feature wants scalar gamma
    ((np.arange(4.0), 1.0, np.zeros(2)), "scalar"),
])
def test_pencil_walk_inputs_are_checked(args, words):
    with pytest.raises(ValueError, match=words):
        graph.forward(*args, eps=0)


def test_negative_eps_is_rejected_even_where_zero_is_allowed():
    with pytest.raises(ValueError, match=">= 0"):
        graph.forward(np.arange(4.0), 1.0, 0.0, eps=-1e-5)


def test_node_lookup_names_the_valid_nodes():
    with pytest.raises(KeyError, match="x_hat"):
        graph.node("xhat")


@pytest.mark.parametrize("bad, err, words", [
    (np.ones((2, 3, 4)), ValueError, "2-D"),
    (np.ones((1, 3)), ValueError, "more than one value"),
    (np.array([[1.0, np.nan], [2.0, 3.0]]), ValueError, "NaN"),
    (np.array([["a", "b"], ["c", "d"]]), TypeError, "dtype"),
])
def test_graph_forward_rejects_bad_batches(bad, err, words):
    d = bad.shape[1] if bad.ndim == 2 else 3
    with pytest.raises(err, match=words):
        graph.forward(bad, np.ones(d), np.zeros(d))


def test_graph_backward_checks_its_arguments():
    _, cache = graph.forward(np.random.default_rng(0).standard_normal((4, 3)), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"shape of the forward output \(4, 3\)"):
        graph.backward(np.ones((3, 4)), cache)
    with pytest.raises(RuntimeError, match="forward first"):
        graph.backward(np.ones((4, 3)), None)
