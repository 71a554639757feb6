"""bnlib.exercises: a catalogue of wrong implementations, each named by its checker.

Every "student" below is written here, independently of the checkers' own
variant formulas (the backward ones go node by node through the chain rule),
so a checker that names a mistake is tested against code that really makes it.
The references themselves are tested against finite differences.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import bnlib
from bnlib import exercises as E
from bnlib import graph, norms
from bnlib.exercises import _hints, _norm, catalog
from bnlib.gradcheck import check_gradients, numerical_gradients, rel_error


def expect(result, *words, passed=False):
    """Assert the result's verdict and that its message names each of ``words``."""
    assert isinstance(result, E.CheckResult)
    assert result.passed is passed, result.message
    for w in words:
        assert w.lower() in result.message.lower(), f"{w!r} not in: {result.message}"


# --- students: batch-norm forward -------------------------------------------

def bn_forward(x, gamma, beta, eps, *, axis=0, centre=True, var_of_x=False, divide=True,
               std="inside", ddof=0, mean_sum=False, var_sum=False, swap=False, beta_sign=1):
    n = x.shape[axis]
    mu = np.sum(x, axis=axis, keepdims=True) / (1 if mean_sum else n)
    xmu = x - mu
    sq = (x if var_of_x else xmu) ** 2
    var = np.sum(sq, axis=axis, keepdims=True) / (1 if var_sum else n - ddof)
    s = {"inside": np.sqrt(var + eps), "outside": np.sqrt(var) + eps, "missing": np.sqrt(var),
         "nosqrt": var + eps}[std]
    x_hat = (xmu if centre else x) / (s if divide else 1)
    g, b = (beta, gamma) if swap else (gamma, beta)
    out = g * x_hat + beta_sign * b
    return out, {"x": x, "mu": mu, "xmu": xmu, "var": var, "std": np.sqrt(var + eps),
                 "x_hat": x_hat, "gamma": gamma, "eps": eps, "axis": axis}


def wrong_forward(**kw):
    return lambda x, gamma, beta, eps: bn_forward(x, gamma, beta, eps, **kw)


FORWARD_MISTAKES = [
    (dict(centre=False), "the mean path is missing"),
    (dict(var_of_x=True), "variance is taken of x"),
    (dict(divide=False), "the variance path is missing"),
    (dict(std="outside"), "eps is outside the square root"),
    (dict(std="missing"), "eps is missing"),
    (dict(std="nosqrt"), "square root is missing"),
    (dict(mean_sum=True), "1/N factor is missing from the mean"),
    (dict(var_sum=True), "1/N factor is missing from the variance"),
    (dict(ddof=1), "unbiased variance (N - 1)"),
    (dict(swap=True), "gamma and beta are swapped"),
    (dict(beta_sign=-1), "sign error"),
    (dict(axis=1), "wrong axis"),
]


def test_correct_forward_passes():
    expect(E.check_batchnorm_forward(wrong_forward()), "matches", passed=True)
    expect(E.check_batchnorm_forward(bnlib.batchnorm_forward), passed=True)
    expect(E.check_batchnorm_forward(graph.forward), passed=True)


@pytest.mark.parametrize("kw,words", FORWARD_MISTAKES, ids=[w for _, w in FORWARD_MISTAKES])
def test_forward_mistake_is_named(kw, words):
    expect(E.check_batchnorm_forward(wrong_forward(**kw)), "`out` is wrong", words, "relative error",
           "at index")


# --- students: batch-norm backward, node by node -------------------------------

def staged_backward(dout, c, *, mean_path=True, var_path=True, use_gamma=True, mean_n=True,
                    var_denom="n", sign_mean=1, sign_var=1, swap=False, dgamma_axis=0):
    """The chain rule node by node, with a switch for each known mistake."""
    ax, xmu, x_hat, gamma = c["axis"], c["xmu"], c["x_hat"], c["gamma"]
    n = xmu.shape[ax]
    std = c["std"]
    dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=dgamma_axis)
    dx_hat = dout * gamma if use_gamma else dout
    dxmu = dx_hat / std
    dinv = np.sum(dx_hat * xmu, axis=ax, keepdims=True)
    dstd = -sign_var * dinv / std ** 2
    dvar = dstd * 0.5 / std
    dsq = dvar / {"n": n, "n-1": n - 1, "1": 1}[var_denom]
    if var_path:
        dxmu = dxmu + 2 * xmu * dsq
    dmu = -sign_mean * np.sum(dxmu, axis=ax, keepdims=True)
    dx = dxmu + (dmu / (n if mean_n else 1) if mean_path else 0)
    return (dx, dbeta, dgamma) if swap else (dx, dgamma, dbeta)


def compact_backward(dout, c, *, std="inside", mean_axis=None):
    """The closed form, recomputing the std from the cached variance."""
    ax = c["axis"] if mean_axis is None else mean_axis
    var, eps, x_hat, gamma = c["var"], c["eps"], c["x_hat"], c["gamma"]
    s = {"inside": np.sqrt(var + eps), "outside": np.sqrt(var) + eps}[std]
    g = dout * gamma
    dx = (g - g.mean(axis=ax, keepdims=True) - x_hat * (g * x_hat).mean(axis=ax, keepdims=True)) / s
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def wrong_backward(fn=staged_backward, **kw):
    return lambda dout, cache: fn(dout, cache, **kw)


BACKWARD_MISTAKES = [
    (staged_backward, dict(mean_path=False), "the mean path is missing", "dx"),
    (staged_backward, dict(var_path=False), "the variance path is missing", "dx"),
    (staged_backward, dict(mean_path=False, var_path=False), "paths are both missing", "dx"),
    (staged_backward, dict(use_gamma=False), "gamma is missing from dx", "dx"),
    (staged_backward, dict(sign_mean=-1), "sign error in the mean path", "dx"),
    (staged_backward, dict(sign_var=-1), "sign error in the variance path", "dx"),
    (compact_backward, dict(std="outside"), "eps is outside the square root", "dx"),
    (staged_backward, dict(mean_n=False), "1/N factor is missing in the mean path", "dx"),
    (staged_backward, dict(var_denom="1"), "1/N factor is missing in the variance path", "dx"),
    (staged_backward, dict(mean_n=False, var_denom="1"), "1/N factor is missing in the mean and", "dx"),
    (staged_backward, dict(var_denom="n-1"), "unbiased variance (N - 1)", "dx"),
    (staged_backward, dict(swap=True), "dgamma and dbeta are swapped", "dgamma"),
    (compact_backward, dict(mean_axis=1), "wrong axis", "dx"),
]


def test_correct_backward_passes():
    expect(E.check_batchnorm_backward(wrong_forward(), wrong_backward()), passed=True)
    expect(E.check_batchnorm_backward(wrong_forward(), wrong_backward(compact_backward)), passed=True)
    expect(E.check_batchnorm_backward(bnlib.batchnorm_forward, bnlib.batchnorm_backward), passed=True)
    expect(E.check_batchnorm_backward(graph.forward, graph.backward), passed=True)


@pytest.mark.parametrize("fn,kw,words,output", BACKWARD_MISTAKES,
                         ids=[w for _, _, w, _ in BACKWARD_MISTAKES])
def test_backward_mistake_is_named(fn, kw, words, output):
    r = E.check_batchnorm_backward(wrong_forward(), wrong_backward(fn, **kw))
    expect(r, f"`{output}` is wrong", words, "relative error")


def test_backward_sign_errors_in_dgamma_dbeta_and_dx():
    def neg(i):
        def bwd(dout, c):
            g = list(staged_backward(dout, c))
            g[i] = -g[i]
            return tuple(g)
        return bwd
    expect(E.check_batchnorm_backward(wrong_forward(), neg(0)), "`dx` is wrong", "sign error")
    expect(E.check_batchnorm_backward(wrong_forward(), neg(1)), "`dgamma` is wrong", "sign error")
    expect(E.check_batchnorm_backward(wrong_forward(), neg(2)), "`dbeta` is wrong", "sign error",
           "`dx`, `dgamma` are right")


def test_dgamma_summed_over_the_wrong_axis_is_a_shape_message():
    r = E.check_batchnorm_backward(wrong_forward(), wrong_backward(dgamma_axis=1))
    expect(r, "`dgamma`", "shape (8,)", "shape (5,)", "wrong axis")


def test_backward_needs_a_right_forward_first():
    r = E.check_batchnorm_backward(wrong_forward(std="outside"), wrong_backward())
    expect(r, "forward is not right", "eps is outside the square root")


# --- student code that misbehaves -----------------------------------------------

def _raises(exc):
    def fn(*args):
        raise exc("Exercise 2.4: the full forward")
    return fn


def _mutating_forward(x, gamma, beta, eps):
    x -= x.mean(axis=0)
    return bn_forward(x, gamma, beta, eps)


BAD_FORWARDS = [
    (_raises(NotImplementedError), "not implemented yet"),
    (_raises(ZeroDivisionError), "raised ZeroDivisionError"),
    (lambda x, g, b, e: None, "returned None"),
    (lambda x, g, b, e: bn_forward(x, g, b, e)[0], "single ndarray"),
    (lambda x, g, b, e: bn_forward(x, g, b, e) + (1,), "returned 3 values"),
    (lambda x, g, b, e: (bn_forward(x, g, b, e)[0][:, :2], {}), "has shape"),
    (lambda x, g, b, e: (bn_forward(x, g, b, e)[0].tolist(), {}), "python list"),
    (lambda x, g, b, e: (bn_forward(x, g, b, e)[0] * np.nan, {}), "contains nan"),
    (lambda x, g, b, e: (np.full(x.shape, np.inf), {}), "contains inf"),
    (lambda x, g, b, e: (x.astype(str), {}), "dtype"),
    (lambda x, g, b, e: (bn_forward(x, g, b, e)[0].astype(np.float16), {}), "too coarse"),
    (_mutating_forward, "changed its input `x` in place"),
    (lambda x, g, b, e: (bn_forward(x, g, b, e)[0], None), "returned no cache"),
    (lambda x, g, b, e: (bn_forward(x, g, b, e)[0].mean(), {}), "single number"),
    (None, "should be a function"),
]


@pytest.mark.parametrize("fn,words", BAD_FORWARDS, ids=[w for _, w in BAD_FORWARDS])
def test_misbehaving_forward_is_reported(fn, words):
    expect(E.check_batchnorm_forward(fn), words)


def _mutating_backward(dout, cache):
    dout *= 2
    return staged_backward(dout / 2, cache)


BAD_BACKWARDS = [
    (_raises(NotImplementedError), "not implemented yet"),
    (_raises(KeyError), "raised KeyError"),
    (lambda d, c: None, "returned None"),
    (lambda d, c: staged_backward(d, c)[:2], "returned 2 values"),
    (lambda d, c: staged_backward(d, c)[0], "single ndarray"),
    (lambda d, c: (staged_backward(d, c)[0].T,) + staged_backward(d, c)[1:], "has shape"),
    (lambda d, c: tuple(g.tolist() for g in staged_backward(d, c)), "python list"),
    (lambda d, c: (staged_backward(d, c)[0] / 0,) + staged_backward(d, c)[1:], "contains"),
    (_mutating_backward, "changed its input `dout` in place"),
]


@pytest.mark.parametrize("fn,words", BAD_BACKWARDS, ids=[w for _, w in BAD_BACKWARDS])
def test_misbehaving_backward_is_reported(fn, words):
    expect(E.check_batchnorm_backward(wrong_forward(), fn), words)


def test_not_implemented_forward_in_backward_check_says_so():
    r = E.check_batchnorm_backward(_raises(NotImplementedError), _raises(NotImplementedError))
    expect(r, "not implemented yet")
    assert r.message.startswith("not implemented yet") and r.status == "todo"


class _Weird:
    def __array__(self, *a, **k):
        raise RuntimeError("no")


WEIRD = [lambda *a: _Weird(), lambda *a: "text", lambda *a: {"out": 1}, lambda *a: (_Weird(), _Weird()),
         lambda *a: (x for x in a), lambda *a: 3, lambda *a: (None, None, None)]
CHECKERS = [
    lambda f: E.check_node_forward("mu", f), lambda f: E.check_node_backward("xmu", f),
    E.check_batchnorm_forward, lambda f: E.check_batchnorm_backward(wrong_forward(), f),
    E.check_running_update, E.check_batchnorm_inference, E.check_fold, E.check_spatial_batchnorm,
    # (backward=None means forward only, so None is replaced here)
    lambda f: E.check_spatial_batchnorm(bnlib.batchnorm_forward, f or _raises(TypeError)),
    E.check_layernorm_forward,
    lambda f: E.check_layernorm_backward(norms.layernorm_forward, f), E.check_numerical_gradient,
]


@pytest.mark.parametrize("check", range(len(CHECKERS)))
def test_checkers_never_raise(check):
    for fn in WEIRD + [_raises(NotImplementedError), _raises(TypeError), None]:
        r = CHECKERS[check](fn)
        assert isinstance(r, E.CheckResult) and not r.passed and r.message
    todo = CHECKERS[check](_raises(NotImplementedError))
    assert todo.message.startswith("not implemented yet") and todo.status == "todo"


def test_check_result_displays():
    ok, bad, todo = E.CheckResult(True, "fine", "t"), E.CheckResult(False, "<b>wrong</b>\nline 2", "t"), \
        E.CheckResult(False, "stub", "t", "todo")
    assert repr(ok).startswith("[PASSED]") and repr(bad).startswith("[FAILED]") and "TODO" in repr(todo)
    assert bool(ok) and not bool(bad)
    html = bad._repr_html_()
    assert "&lt;b&gt;wrong" in html and "<b>wrong" not in html and html.count("<p") == 2
    assert "#1a7f37" in ok._repr_html_() and "#c62828" in html and "bn-check-todo" in todo._repr_html_()


# --- nodes -------------------------------------------------------------------------

NODE_FORWARD = {  # written independently of bnlib.graph
    "mu": lambda x: np.sum(x, axis=0) / x.shape[0], "xmu": lambda x, mu: x - mu[None, :],
    "sq": lambda xmu: xmu * xmu, "var": lambda sq: np.sum(sq, axis=0) / len(sq),
    "std": lambda var, eps: (var + eps) ** 0.5, "inv_std": lambda std: std ** -1.0,
    "x_hat": lambda xmu, inv: xmu * inv, "scaled": lambda gamma, x_hat: x_hat * gamma,
    "y": lambda scaled, beta: scaled + beta,
}
NODE_BACKWARD = {
    "mu": lambda d, o, x: (np.tile(d / len(x), (len(x), 1)),),
    "xmu": lambda d, o, x, mu: (d.copy(), -np.sum(d, axis=0)),
    "sq": lambda d, o, xmu: (2 * xmu * d,), "var": lambda d, o, sq: (np.tile(d / len(sq), (len(sq), 1)),),
    "std": lambda d, o, var, eps: (d / (2 * np.sqrt(var + eps)),),
    "inv_std": lambda d, o, std: (-d * o ** 2,),
    "x_hat": lambda d, o, xmu, inv: (d * inv, np.sum(d * xmu, axis=0)),
    "scaled": lambda d, o, gamma, x_hat: (np.sum(d * x_hat, axis=0), d * gamma),
    "y": lambda d, o, scaled, beta: (d.copy(), np.sum(d, axis=0)),
}


@pytest.mark.parametrize("name", [n.name for n in graph.NODES])
def test_correct_nodes_pass_and_negated_ones_are_sign_errors(name):
    expect(E.check_node_forward(name, NODE_FORWARD[name]), passed=True)
    expect(E.check_node_backward(name, NODE_BACKWARD[name]), passed=True)
    expect(E.check_node_forward(name, lambda *a: -NODE_FORWARD[name](*a)), "sign error")
    neg_last = lambda *a: NODE_BACKWARD[name](*a)[:-1] + (-NODE_BACKWARD[name](*a)[-1],)  # noqa: E731
    expect(E.check_node_backward(name, neg_last), "sign error")


NODE_MISTAKES = [
    ("forward", "mu", lambda x: x.sum(axis=0), "1/N factor is missing"),
    ("forward", "mu", lambda x: x.mean(axis=1), "wrong axis"),
    ("forward", "mu", lambda x: x.mean(axis=0, keepdims=True), "keepdims"),
    ("forward", "var", lambda sq: sq.sum(axis=0) / (len(sq) - 1), "unbiased variance"),
    ("forward", "std", lambda var, eps: np.sqrt(var) + eps, "eps is outside the square root"),
    ("forward", "std", lambda var, eps: var + eps, "square root is missing"),
    ("forward", "x_hat", lambda xmu, inv: xmu / inv, "divided by 1/std"),
    ("forward", "y", lambda scaled, beta: scaled - beta, "sign error on beta"),
    ("backward", "mu", lambda d, o, x: (np.tile(d, (len(x), 1)),), "1/N factor is missing"),
    ("backward", "mu", lambda d, o, x: np.tile(d / len(x), (len(x), 1)), "return a tuple"),
    ("backward", "var", lambda d, o, sq: (np.tile(d / (len(sq) - 1), (len(sq), 1)),), "unbiased"),
    ("backward", "sq", lambda d, o, xmu: (xmu * d,), "factor 2 is missing"),
    ("backward", "std", lambda d, o, var, eps: (d / np.sqrt(var + eps),), "factor 1/2 is missing"),
    ("backward", "inv_std", lambda d, o, std: (-d / std,), "power is wrong"),
    ("backward", "scaled", lambda d, o, g, xh: (np.sum(d * xh, axis=0), d), "gamma is missing from dx_hat"),
    ("backward", "xmu", lambda d, o, x, mu: (d, -d), "batch axis"),
    ("backward", "xmu", lambda d, o, x, mu: (d,), "returned 1 value"),
]


@pytest.mark.parametrize("kind,name,fn,words", NODE_MISTAKES, ids=[f"{k}-{n}-{w}" for k, n, _, w in NODE_MISTAKES])
def test_node_mistake_is_named(kind, name, fn, words):
    check = E.check_node_forward if kind == "forward" else E.check_node_backward
    expect(check(name, fn), words)


def test_unknown_node_is_reported():
    expect(E.check_node_forward("sigma", NODE_FORWARD["mu"]), "no node 'sigma'")


# --- running statistics, inference, folding ---------------------------------------

def update(rm, rv, bm, bv, m, k, *, old_weight=False, bessel=True, swap=False, inplace=False):
    a = 1 - k if old_weight else k
    corr = m / (m - 1) if bessel else 1.0
    if inplace:
        rm *= 1 - a
        rm += a * bm
        return rm, (1 - a) * rv + a * bv * corr
    mean, var = (1 - a) * rm + a * bm, (1 - a) * rv + a * bv * corr
    return (var, mean) if swap else (mean, var)


def test_running_update_against_the_layer():
    # the BatchNorm layer's own running statistics after one training step are the oracle
    rng = np.random.default_rng(0)
    layer = bnlib.BatchNorm(5, momentum=0.2)
    x = rng.standard_normal((6, 5)) * 2 + 1
    rm, rv = layer.running_mean.copy(), layer.running_var.copy()
    layer.forward(x)
    mean, var = update(rm, rv, x.mean(0), x.var(0), 6, 0.2)
    assert rel_error(mean, layer.running_mean) < 1e-14 and rel_error(var, layer.running_var) < 1e-14


@pytest.mark.parametrize("kw,words", [
    (dict(), None), (dict(old_weight=True), "momentum weights the old value"),
    (dict(bessel=False), "biased batch variance"), (dict(swap=True), "mean and the variance are swapped"),
    (dict(old_weight=True, bessel=False), "and the running variance takes the biased"),
    (dict(inplace=True), "changed its input `running_mean` in place")])
def test_running_update(kw, words):
    r = E.check_running_update(lambda *a: update(*a, **kw))
    expect(r, *(words and [words] or []), passed=words is None)


def inference(x, gamma, beta, rm, rv, eps, *, batch=False, std="inside", swap=False):
    mean, var = (x.mean(0), x.var(0)) if batch else (rm, rv)
    s = {"inside": np.sqrt(var + eps), "outside": np.sqrt(var) + eps, "nosqrt": var + eps}[std]
    g, b = (beta, gamma) if swap else (gamma, beta)
    return g * (x - mean) / s + b


@pytest.mark.parametrize("kw,words", [
    (dict(), None), (dict(batch=True), "batch's own statistics"), (dict(std="outside"), "eps is outside"),
    (dict(std="nosqrt"), "square root is missing"), (dict(swap=True), "gamma and beta are swapped")])
def test_inference(kw, words):
    r = E.check_batchnorm_inference(lambda *a: inference(*a, **kw))
    expect(r, *(words and [words] or []), passed=words is None)


def fold(W, b, gamma, beta, rm, rv, eps, *, scale_W=True, mean=True, scale_b=True, use_beta=True,
         std="inside", rows=False):
    s = gamma / (np.sqrt(rv + eps) if std == "inside" else np.sqrt(rv) + eps)
    W2 = (s[:, None] * W if rows else W * s) if scale_W else W
    centred = b - (rm if mean else 0)
    b2 = centred * s if scale_b else b - rm * s
    return W2, b2 + (beta if use_beta else 0)


def test_fold_is_what_it_claims():
    # oracle: the folded layer applied to data equals linear-then-inference
    rng = np.random.default_rng(1)
    W, b, x = rng.standard_normal((6, 4)), rng.standard_normal(4), rng.standard_normal((3, 6))
    g, be, rm, rv = rng.uniform(.5, 2, 4), rng.standard_normal(4), rng.standard_normal(4), rng.uniform(.5, 2, 4)
    W2, b2 = fold(W, b, g, be, rm, rv, 1e-5)
    z = x @ W + b
    assert rel_error(x @ W2 + b2, g * (z - rm) / np.sqrt(rv + 1e-5) + be) < 1e-14


@pytest.mark.parametrize("kw,words", [
    (dict(), None), (dict(scale_W=False), "W is not scaled"), (dict(mean=False), "running mean is missing"),
    (dict(scale_b=False), "b is not scaled"), (dict(use_beta=False), "beta is missing"),
    (dict(std="outside"), "eps is outside"), (dict(rows=True), "raised ValueError")])
def test_fold(kw, words):
    expect(E.check_fold(lambda *a: fold(*a, **kw)), *(words and [words] or []), passed=words is None)


# --- numerical gradient --------------------------------------------------------------

def numgrad(f, x, dout, h, *, centred=True, two=True, use_dout=True, elementwise=False, restore=True):
    x = x if not restore else x.copy()
    g = np.zeros(x.shape)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        j = it.multi_index
        old = x[j]
        x[j] = old + h
        fp = f(x).copy()
        x[j] = old - h if centred else old
        fm = f(x).copy()
        if restore:
            x[j] = old
        else:
            x[j] = old + 0.5
        d = dout if use_dout else 1.0
        diff = (fp - fm)[j] * dout[j] if elementwise else np.sum((fp - fm) * d)
        g[j] = diff / ((2 if centred and two else 1) * h)
    return g


def test_numerical_reference_matches_calculus():
    # oracle: d/dx sum(sin(x) * dout) = cos(x) * dout
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert rel_error(numgrad(np.sin, x, dout, 1e-5), np.cos(x) * dout) < 1e-9


@pytest.mark.parametrize("kw,words", [
    (dict(), None), (dict(centred=False), "one-sided"), (dict(two=False), "factor 2 is missing"),
    (dict(use_dout=False), "dout is ignored"), (dict(elementwise=True), "treated as elementwise"),
    (dict(restore=False), "changed its input `x` in place")])
def test_numerical_gradient(kw, words):
    r = E.check_numerical_gradient(lambda *a: numgrad(*a, **kw))
    expect(r, *(words and [words] or []), passed=words is None)


# --- spatial batch norm ----------------------------------------------------------------

def spatial_forward(x, gamma, beta, eps, *, mode="transpose"):
    n, c, h, w = x.shape
    if mode == "transpose":
        flat = x.transpose(0, 2, 3, 1).reshape(-1, c)
        out, cache = bn_forward(flat, gamma, beta, eps)
        return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), cache
    if mode == "reshape":     # the classic bug: groups values by memory order, not by channel
        out, cache = bn_forward(x.reshape(-1, c), gamma, beta, eps)
        return out.reshape(x.shape), cache
    axes = {"instance": (2, 3), "batch-only": (0,)}[mode]
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return gamma[None, :, None, None] * (x - mu) / np.sqrt(var + eps) + beta[None, :, None, None], {}


def spatial_backward(dout, cache):
    n, c, h, w = dout.shape
    dx, dgamma, dbeta = staged_backward(dout.transpose(0, 2, 3, 1).reshape(-1, c), cache)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta


def test_spatial():
    sf = lambda mode: lambda *a: spatial_forward(*a, mode=mode)  # noqa: E731
    expect(E.check_spatial_batchnorm(sf("transpose")), passed=True)
    expect(E.check_spatial_batchnorm(sf("transpose"), spatial_backward), "spatial backward", passed=True)
    expect(E.check_spatial_batchnorm(sf("reshape")), "reshape that mixes channels")
    expect(E.check_spatial_batchnorm(sf("instance")), "wrong axis", "instance norm")
    expect(E.check_spatial_batchnorm(sf("batch-only")), "wrong axis", "over the batch only")
    bad = lambda d, c: (spatial_backward(d, c)[0], spatial_backward(d, c)[2], spatial_backward(d, c)[1])  # noqa
    expect(E.check_spatial_batchnorm(sf("transpose"), bad), "dgamma and dbeta are swapped")


# --- layer norm --------------------------------------------------------------------

def test_layernorm_reference_against_finite_differences():
    rng = np.random.default_rng(3)
    for loc, scale in ((0.0, 1.0), (30.0, 2.0), (0.2, 3e-3)):
        inputs = {"x": loc + scale * rng.standard_normal((4, 6)), "gamma": rng.uniform(.5, 2, 6),
                  "beta": rng.standard_normal(6)}
        res = check_gradients(lambda x, g, b: norms.layernorm_forward(x, g, b, 1e-5), norms.layernorm_backward,
                              inputs, h=1e-6 if scale > 1e-2 else 1e-9, tol=1e-6)
        assert res.passed, res
        y, _ = norms.layernorm_forward(inputs["x"], np.ones(6), np.zeros(6))
        assert np.allclose(y.mean(axis=1), 0, atol=1e-9)


def test_one_layernorm():
    # the checkers compare with bnlib.norms; the exercises package has no copy of its own
    from bnlib.exercises import norm_checks
    assert norm_checks._REFERENCE["layer norm"] == (norms.layernorm_forward, norms.layernorm_backward)
    assert not hasattr(E, "layernorm_forward") and not hasattr(E, "LNCache")


def ln_forward(x, gamma, beta, eps, **kw):
    return bn_forward(x, gamma, beta, eps, axis=kw.pop("axis", 1), **kw)


@pytest.mark.parametrize("kw,words", [
    (dict(), None), (dict(axis=0), "which is batch norm"), (dict(ddof=1), "unbiased"),
    (dict(std="outside"), "eps is outside"), (dict(centre=False), "mean path is missing")])
def test_layernorm_forward(kw, words):
    r = E.check_layernorm_forward(lambda *a: ln_forward(*a, **kw))
    expect(r, *(words and [words] or []), passed=words is None)


@pytest.mark.parametrize("fn,kw,words", [
    (staged_backward, dict(), None), (compact_backward, dict(), None),
    (staged_backward, dict(use_gamma=False), "gamma is missing from dx"),
    (staged_backward, dict(mean_path=False), "mean path is missing"),
    (staged_backward, dict(var_path=False), "variance path is missing"),
    (staged_backward, dict(mean_n=False), "1/D factor is missing"),
    (staged_backward, dict(swap=True), "swapped"),
    (compact_backward, dict(mean_axis=0), "which is batch norm")])
def test_layernorm_backward(fn, kw, words):
    r = E.check_layernorm_backward(lambda *a: ln_forward(*a), wrong_backward(fn, **kw))
    expect(r, *(words and [words] or []), passed=words is None)


# --- the references and the variants themselves ------------------------------------------

@pytest.mark.parametrize("layout", [_norm.BN, _norm.SPATIAL, _norm.LN], ids=lambda l: l.name)
def test_references_match_finite_differences(layout):
    ref_f, ref_b = ((norms.layernorm_forward, norms.layernorm_backward) if layout is _norm.LN
                    else (bnlib.batchnorm_forward, bnlib.batchnorm_backward))
    for label, x, gamma, beta, eps, dout in _norm.make_cases(layout):
        fc = _norm.forward_case(layout, label, x, gamma, beta, eps)
        assert rel_error(fc.want["out"], ref_f(x, gamma, beta, eps)[0]) < 1e-13
        bc = _norm.backward_case(layout, label, x, gamma, beta, eps, dout)
        h = 1e-9 if "small" in label else 1e-6
        num = numerical_gradients(lambda a, g, b: ref_f(a, g, b, eps)[0], [x, gamma, beta], dout, h)
        for name, n in zip(("dx", "dgamma", "dbeta"), num):
            assert rel_error(bc.want[name], n) < 1e-5, (label, name)


@pytest.mark.parametrize("layout", [_norm.BN, _norm.SPATIAL, _norm.LN], ids=lambda l: l.name)
def test_every_mistake_is_detectable_and_distinct(layout):
    """Each variant differs from the right answer, and from every other variant, by >> TOL."""
    for kind in ("forward", "backward"):
        cases = []
        for label, x, gamma, beta, eps, dout in _norm.make_cases(layout):
            cases.append(_norm.forward_case(layout, label, x, gamma, beta, eps) if kind == "forward"
                         else _norm.backward_case(layout, label, x, gamma, beta, eps, dout))
        keys = list(cases[0].variants)
        mistakes = getattr(_hints, f"{kind}_mistakes")(layout)
        assert set(keys) == set(mistakes)

        def gap(a, b, name):
            return max(rel_error(c.variants[a][name] if a else c.want[name], c.variants[b][name])
                       for c in cases)
        for i, a in enumerate(keys):
            for name in cases[0].variants[a]:
                assert gap(None, a, name) > 100 * E.TOL, (kind, a, name)
                for b in keys[i + 1:]:
                    if name in cases[0].variants[b]:
                        assert gap(a, b, name) > 100 * E.TOL, (kind, a, b, name)


# --- the exercise catalogue ---------------------------------------------------------------

def _nb(cells):
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _ex(id_, title, kind="implement", difficulty=1, minutes=10, points=2):
    src = (f"```{{exercise-start}} {title}\n:label: ex-{id_.replace('.', '-')}\n```\nDo it.\n"
           f"```{{exercise-end}}\n```")
    return {"cell_type": "markdown", "source": src, "id": "x" + id_.replace(".", ""),
            "metadata": {"exercise": {"id": id_, "kind": kind, "difficulty": difficulty, "minutes": minutes,
                                      "points": points}}}


def test_catalogue_scans_notebooks(tmp_path):
    (tmp_path / "02_forward.ipynb").write_text(json.dumps(_nb([
        _ex("2.2", "Predict the mean", "predict", 2, 5), _ex("2.1", "Implement the mean node"),
        {"cell_type": "markdown", "source": ["plain ", "text"], "metadata": {}}])))
    (tmp_path / "10_late.ipynb").write_text(json.dumps(_nb([_ex("10.1", "Explain", "explain", 3, 15, 3)])))
    exs = catalog.list_exercises(tmp_path)
    assert [e.id for e in exs] == ["2.1", "2.2", "10.1"]
    assert exs[0].title == "Implement the mean node" and exs[0].label == "ex-2-1" and exs[0].chapter == 2
    assert exs[1].stars == "★★☆" and exs[2].points == 3
    assert exs[0].autograded and not exs[1].autograded
    t = catalog.totals(exs)
    assert t["kind"] == {"implement": (1, 10, 2), "predict": (1, 5, 2), "explain": (1, 15, 3)}
    assert t["notebook"]["02_forward.ipynb"] == (2, 15, 4)
    assert catalog.problems(exs) == []
    probs = catalog.problems(exs, ["02_forward.ipynb", "10_late.ipynb"], min_total=40, min_per_notebook=2)
    assert probs == ["3 exercises in all; at least 40 wanted", "10_late.ipynb: 1 exercises; at least 2 wanted"]


def test_catalogue_reports_bad_metadata(tmp_path):
    bad = _ex("3.1", "T", kind="quiz", difficulty=5, minutes=0, points=True)
    nolabel = {"cell_type": "markdown", "source": "```{exercise-start}\n```", "metadata": {}}
    mislabelled = _ex("2.2", "C")
    mislabelled["source"] = mislabelled["source"].replace("ex-2-2", "ex-two")
    (tmp_path / "02_forward.ipynb").write_text(json.dumps(_nb([bad, _ex("2.1", "A"), _ex("2.1", "B"), nolabel,
                                                                            mislabelled])))
    text = "\n".join(catalog.problems(catalog.list_exercises(tmp_path)))
    for words in ("should start with the notebook's number 2", "kind 'quiz'", "difficulty", "minutes", "points",
                  "id used twice", "id should look like", "no :label:", "no exercise-start directive",
                  "label 'ex-two' should be 'ex-2-2'"):
        assert words in text, words


# --- checkers fit for grading: time limits, exits, tampering, float32, digits -------------

def _forever(*args):
    while True:
        pass


def test_a_loop_that_never_ends_is_stopped():
    r = E.check_node_forward("mu", _forever, time_limit=0.3)
    expect(r, "did not finish within 0.3 s", "test case: standard")
    assert r.status == "failed"


def test_the_time_limit_is_configurable():
    previous = E.set_time_limit(0.2)
    try:
        assert E.get_time_limit() == 0.2
        expect(E.check_running_update(_forever), "did not finish within 0.2 s")
    finally:
        E.set_time_limit(previous)
    assert E.get_time_limit() == previous
    for bad in (0, -1.0, float("inf"), "5", True):
        with pytest.raises((TypeError, ValueError), match="seconds"):
            E.set_time_limit(bad)
    with pytest.raises((TypeError, ValueError), match="time_limit"):
        E.check_fold(fold, time_limit=-2)


def test_a_swallowed_timeout_or_a_long_call_still_counts_as_too_slow():
    # the alarm can only interrupt Python code; a long C call, or code that catches the
    # interruption and carries on, is still measured and reported
    def stubborn(x):
        try:
            _forever()
        except BaseException:  # noqa: BLE001 - what a careless student might write
            pass
        return x.mean(axis=0)
    expect(E.check_node_forward("mu", stubborn, time_limit=0.3), "did not finish within 0.3 s")


def test_the_previous_alarm_handler_and_timer_are_restored():
    import signal
    fired = []
    old = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        expect(E.check_node_forward("mu", NODE_FORWARD["mu"]), passed=True)
        expect(E.check_node_forward("mu", _forever, time_limit=0.2), "did not finish")
        handler = signal.getsignal(signal.SIGALRM)
        left, _ = signal.setitimer(signal.ITIMER_REAL, 0)
        assert handler is not None and handler is not signal.SIG_DFL and not fired
        assert 3.0 < left < 5.0       # the outer timer kept running, minus the time the checks took
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_time_limit_outside_the_main_thread():
    import threading
    results = {}

    def run():
        results["slow"] = E.check_node_forward("mu", _forever, time_limit=0.3)
        results["ok"] = E.check_node_forward("mu", NODE_FORWARD["mu"])
    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    assert not t.is_alive()
    expect(results["slow"], "did not finish within 0.3 s")
    expect(results["ok"], passed=True)
    stuck = [th for th in threading.enumerate() if th.name == "bnlib-check"]
    for th in stuck:                   # the runaway worker was stopped, not left spinning
        th.join(5)
    assert not any(th.is_alive() for th in stuck)


class _Unusual(BaseException):
    pass


@pytest.mark.parametrize("exc,words", [
    (SystemExit, "called exit()"), (KeyboardInterrupt, "interrupted (KeyboardInterrupt)"),
    (_Unusual, "raised _Unusual"), (RecursionError, "raised RecursionError"),
    (MemoryError, "raised MemoryError")])
def test_exits_interrupts_and_any_exception_become_a_failed_check(exc, words):
    def student(*args):
        raise exc("from the student's code")
    for check in (lambda f: E.check_node_forward("mu", f), E.check_batchnorm_forward,
                  lambda f: E.check_batchnorm_backward(wrong_forward(), f), E.check_fold):
        r = check(student)
        expect(r, words)
        assert r.status == "failed"


def test_status_is_a_field_not_a_message_prefix():
    todo = E.check_fold(_raises(NotImplementedError))
    assert todo.status == "todo" and not todo.passed
    dressed = E.CheckResult(False, "not implemented yet, says the message", "t")
    assert dressed.status == "failed"            # the message does not decide the status
    assert E.CheckResult(True, "ok").status == "passed"
    with pytest.raises(ValueError, match="contradicts"):
        E.CheckResult(True, "ok", "t", "failed")
    with pytest.raises(ValueError, match="one of"):
        E.CheckResult(False, "x", "t", "maybe")
    assert E.STATUSES == ("passed", "failed", "todo")


def test_a_placeholder_body_is_not_implemented_yet():
    def mean_forward(x):
        """otter leaves `...` where the solution was."""
        ...

    def shift_forward(scaled, beta):
        pass
    for name, fn in (("mu", mean_forward), ("y", shift_forward)):
        r = E.check_node_forward(name, fn)
        expect(r, "not implemented yet", "placeholder")
        assert r.status == "todo"
    r = E.check_node_forward("mu", lambda x: None)                  # a real None is not a stub
    expect(r, "is None")
    assert r.status == "failed"


def _zero_forward(x, gamma, beta, eps=1e-5):
    return x * 0.0, None


@pytest.fixture
def restore_checkers():
    yield
    E.reset_checkers()                 # even when a test fails half-way
    assert E._integrity.changed() == []


def test_rebinding_the_judge_does_not_pass_a_wrong_answer(restore_checkers):
    from bnlib.exercises import _judge
    _judge.rel_error = lambda a, b: 0.0
    r = E.check_batchnorm_forward(wrong_forward(std="outside"))
    expect(r, "changed after bnlib was imported", "bnlib.exercises._judge.rel_error")
    assert E._integrity.changed() == []          # put back when noticed
    expect(E.check_batchnorm_forward(wrong_forward(std="outside")), "eps is outside the square root")
    _judge.rel_error = lambda a, b: 0.0
    assert E.reset_checkers() == ["bnlib.exercises._judge.rel_error"]


def test_rebinding_a_checker_is_noticed_and_undone(restore_checkers):
    from bnlib.exercises import inference
    E.check_fold = inference.check_fold = lambda f: E.CheckResult(True, "looks fine to me")
    assert E.check_fold(lambda *a: (a[0], a[1])).passed        # the fake itself cannot be stopped...
    expect(E.check_running_update(lambda *a: update(*a)), "changed after bnlib was imported",
           "check_fold")                                       # ...but every real check notices
    expect(E.check_fold(lambda *a: fold(*a, scale_W=False)), "W is not scaled")   # and undoes it
    E.check_fold = lambda f: E.CheckResult(True, "looks fine to me")
    assert E.reset_checkers() == ["bnlib.exercises.check_fold"]   # what the graded hidden tests call
    expect(E.check_fold(lambda *a: fold(*a, scale_W=False)), "W is not scaled")


@pytest.mark.parametrize("tamper", ["reference", "code", "table", "class", "tolerance"])
def test_changing_references_code_or_tables_does_not_pass(tamper, restore_checkers):
    from bnlib import batchnorm
    from bnlib.exercises import _judge, _result, norm_checks, nodes
    wrong = wrong_forward(centre=False)
    if tamper == "reference":
        norm_checks.batchnorm_forward = wrong
    elif tamper == "code":
        batchnorm.batchnorm_forward.__code__ = _zero_forward.__code__
    elif tamper == "table":
        norm_checks._REFERENCE["batch norm"] = (wrong, batchnorm.batchnorm_backward)
    elif tamper == "class":
        _result.CheckResult.passed = property(lambda self: True)
    else:
        _judge.TOL = 1.0
    r = E.check_batchnorm_forward(wrong)
    assert "changed after bnlib was imported" in r.message and r.status == "failed"
    assert E._integrity.changed() == []          # noticing it also put everything back
    expect(E.check_batchnorm_forward(wrong), "mean path is missing")
    assert nodes.graph is graph


def test_tampering_during_the_check_is_caught(restore_checkers):
    from bnlib.exercises import _judge

    def sneaky(x, gamma, beta, eps):
        _judge.rel_error = lambda a, b: 0.0
        return (x, None)
    expect(E.check_batchnorm_forward(lambda x, g, b, e: (x, {}) if sneaky(x, g, b, e) else None),
           "changed while your code ran")


def test_a_correct_float32_implementation_passes():
    def f32(fn):
        def run(*args):
            cast = [a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args]
            out = fn(*cast)
            return tuple(o.astype(np.float32) if isinstance(o, np.ndarray) else o for o in out) \
                if isinstance(out, tuple) else out.astype(np.float32)
        return run
    expect(E.check_batchnorm_forward(f32(wrong_forward())), "float32", passed=True)
    expect(E.check_batchnorm_backward(f32(wrong_forward()), f32(wrong_backward())), "float32", passed=True)
    expect(E.check_layernorm_backward(f32(ln_forward), f32(wrong_backward(compact_backward))), passed=True)
    expect(E.check_running_update(f32(update)), passed=True)
    expect(E.check_batchnorm_forward(f32(wrong_forward(std="outside"))), "eps is outside the square root")
    expect(E.check_batchnorm_backward(f32(wrong_forward()), f32(wrong_backward(mean_path=False))),
           "mean path is missing")


def test_a_near_miss_prints_enough_digits_to_see_the_difference():
    r = E.check_batchnorm_forward(lambda x, g, b, e: (bn_forward(x, g, b, e)[0] * (1 + 4e-6), {}))
    import re
    yours, expected = re.search(r"yours (\S+), expected (\S+?)\.?$", r.message.split("\n")[0]).groups()
    assert yours != expected and float(yours) != float(expected)
    assert len(yours.replace("-", "").replace(".", "")) >= 6


# diagnoses beyond the catalogue: each one a mistake no checker lists

def _fold_scaled(c):
    return lambda *a: tuple(v * c for v in fold(*a))


@pytest.mark.parametrize("check,student,words", [
    (lambda f: E.check_batchnorm_backward(wrong_forward(), f),
     lambda d, c: staged_backward(d, c)[:2] + (staged_backward(d, c)[2] / len(d),),
     ["`dbeta` is wrong", "exactly 1/N", "N = 8", "a mean where a sum belongs"]),
    (lambda f: E.check_node_forward("var", f), lambda sq: sq.sum(axis=0) / len(sq) ** 2,
     ["exactly 1/N", "N = 8"]),
    (E.check_running_update, lambda *a: tuple(-v for v in update(*a)), ["exactly the negative", "sign"]),
    (E.check_fold, _fold_scaled(2.0), ["exactly 2 times"]),
    (E.check_fold, _fold_scaled(1.37), ["one constant, 1.37"]),
    (lambda f: E.check_node_forward("xmu", f), lambda x, mu: (x - mu).T, ["transposed"]),
    (lambda f: E.check_node_forward("var", f), lambda sq: sq.mean(axis=1), ["wrong axis"]),
    (lambda f: E.check_node_forward("x_hat", f), lambda xmu, inv: (xmu * inv)[:, :, None],
     ["has shape (8, 5, 1)", "axes of length 1"]),
    (lambda f: E.check_batchnorm_backward(wrong_forward(), f),
     lambda d, c: (0 * staged_backward(d, c)[0],) + staged_backward(d, c)[1:], ["zero everywhere"]),
    (lambda f: E.check_batchnorm_backward(wrong_forward(), f),
     lambda d, c: (staged_backward(d, c)[1], staged_backward(d, c)[0], staged_backward(d, c)[2]),
     ["wrong order", "value 1 has the shape of `dgamma` or `dbeta` (5,)", "value 2 has the shape of `dx`"]),
    (lambda f: E.check_node_backward("scaled", f), lambda d, o, g, xh: NODE_BACKWARD["scaled"](d, o, g, xh)[::-1],
     ["wrong order", "order (dgamma, dx_hat)"]),
    (lambda f: E.check_node_forward("scaled", f), lambda gamma, x_hat: gamma * gamma * x_hat,
     ["each feature (axis 1) is off by its own constant factor"]),
    (lambda f: E.check_node_forward("y", f), lambda scaled, beta: scaled + 2 * beta,
     ["each feature (axis 1) is off by its own constant shift"]),
])
def test_mistakes_outside_the_catalogue_are_diagnosed(check, student, words):
    r = check(student)
    expect(r, *words)
    assert "matches none of the mistakes" not in r.message


def test_outputs_swapped_with_the_same_shape_are_named():
    from bnlib.exercises._judge import Case, judge
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(4), rng.standard_normal(4)
    with pytest.raises(E._result.Fail, match="hold each other's values: they are returned in the wrong order"):
        judge([{"p": b, "q": a}], [Case("c", {"p": a, "q": b})], "f", {})


# the staged backward of chapter 3: branch points, column sums, and the first node that differs

def student_staged(dout, cache, *, add_xmu=True, add_x=True, sum_mu=True, sum_inv=True, dvar_factor=1.0):
    """A hand-written node-by-node backward over graph.forward's cache, as Exercise 3.2 asks."""
    xmu, std, inv_std = cache["xmu"], cache["std"], cache["inv_std"]
    x_hat, gamma = cache["x_hat"], cache["gamma"]
    n = xmu.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dxmu = dx_hat * inv_std
    dinv_std = dx_hat * xmu
    if sum_inv:
        dinv_std = dinv_std.sum(axis=0)
    dstd = -dinv_std / std ** 2
    dvar = dvar_factor * dstd / (2.0 * std)
    dsq = np.ones_like(xmu) * dvar / n
    dxmu = dxmu + 2.0 * xmu * dsq if add_xmu else 2.0 * xmu * dsq
    dmu = -dxmu.sum(axis=0) if sum_mu else -dxmu
    dx = dxmu + dmu / n if add_x else np.ones_like(xmu) * dmu / n
    return dx, dgamma, dbeta


@pytest.mark.parametrize("kw,words", [
    (dict(add_xmu=False), ["branch point x − μ", "first that differs is `dxmu`", "branch point"]),
    (dict(add_x=False), ["branch point x the gradient through μ replaces", "all match", "last step"]),
    (dict(add_xmu=False, add_x=False), ["both branch points overwrite", "first that differs is `dxmu`"]),
    (dict(sum_mu=False), ["column sum is missing in dμ", "first that differs is `dmu`",
                          "shape (8, 5) where bnlib.graph's has (5,)"]),
    (dict(sum_inv=False), ["column sum is missing in d(1/std)", "first that differs is `dinv_std`"]),
    (dict(dvar_factor=3.0), ["`dx_hat`, `dinv_std`, `dstd` match", "first that differs is `dvar`"]),
])
def test_staged_backward_mistakes_and_the_first_node_that_differs(kw, words):
    def my_staged_backward(dout, cache):
        return student_staged(dout, cache, **kw)
    r = E.check_batchnorm_backward(graph.forward, my_staged_backward)
    expect(r, "`dx` is wrong", "backward_trace", *words)


def test_staged_backward_done_right_passes_and_the_trace_compares_only_on_a_mismatch():
    r = E.check_batchnorm_backward(graph.forward, lambda d, c: student_staged(d, c))
    expect(r, passed=True)
    assert "backward_trace" not in r.message


def test_copying_bnlib_objects_is_not_tampering():
    import copy
    import pickle
    layer = bnlib.BatchNorm(3)
    copy.deepcopy(layer)
    pickle.loads(pickle.dumps(bnlib.batchnorm_forward(np.ones((4, 3)) * np.arange(4)[:, None],
                                                      np.ones(3), np.zeros(3))[1]))
    assert E._integrity.changed() == []
    expect(E.check_fold(lambda *a: fold(*a)), passed=True)
