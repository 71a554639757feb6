"""The fast path (bnlib.fastpath) against the reference, and the memory layout it runs on.

Small test batches normally take the simplest path (one slab, one sample per
matrix row); the ``tiny_thresholds`` fixture lowers the thresholds so that
several samples share a row and the work is split into many slabs, and the
results are compared with independent oracles: the readable reference
(:mod:`bnlib.batchnorm`), numpy's own reductions and the staged graph.
"""
import numpy as np
import pytest

import bnlib
from bnlib import _layout, fastpath, graph
from bnlib._layout import Layout

RTOL = 1e-12      # float64: the two differ only by the order of additions


def _pair(module, x, gamma, beta, dout, eps=1e-5):
    y, cache = module.batchnorm_forward(x, gamma, beta, eps)
    return (y, cache, *module.batchnorm_backward(dout, cache))


def _case(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.normal(size=shape) * 3 + 2).astype(dtype)
    return x, rng.normal(size=c), rng.normal(size=c), rng.normal(size=shape).astype(dtype)


def _assert_same(fast, ref, rtol):
    y, cache, *grads = fast
    y_r, cache_r, *grads_r = ref
    np.testing.assert_allclose(y, y_r, rtol=rtol, atol=rtol)
    for field in ("x_hat", "gamma", "inv_std"):
        got, want = getattr(cache, field), getattr(cache_r, field)
        assert got.shape == want.shape and got.dtype == want.dtype, field
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
    for got, want in zip(grads, grads_r):
        assert got.shape == want.shape and got.dtype == want.dtype
        scale = np.abs(want).max()
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


# every branch: tiny (left as is), grouped rows (r > 1), one sample per row, many slabs,
# 2-D and 4-D, prime batch sizes that cannot be grouped
SHAPES = [(5, 3), (64, 100), (12, 5), (7, 3), (30, 3), (6, 2, 3, 2), (5, 4, 1, 3), (8, 3, 4, 4)]


@pytest.mark.parametrize("dtype, rtol", [(np.float64, RTOL), (np.float32, 2e-5)])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("tiny", [False, True])
def test_fast_path_equals_the_reference(shape, dtype, rtol, tiny, monkeypatch):
    if tiny:
        monkeypatch.setattr(_layout, "SMALL_BYTES", 0)
        monkeypatch.setattr(_layout, "ROW_BYTES", 100)
        monkeypatch.setattr(_layout, "SLAB_BYTES", 1)
    _layout._layout.cache_clear()
    try:
        x, gamma, beta, dout = _case(shape, dtype)
        _assert_same(_pair(fastpath, x, gamma, beta, dout), _pair(bnlib, x, gamma, beta, dout), rtol)
    finally:
        _layout._layout.cache_clear()


def test_large_batches_take_the_grouped_and_slabbed_branches_at_default_thresholds():
    # (4096, 1024) float64 is 32 MiB: rows are grouped only when a sample is short, so use
    # a narrow wide batch to reach r > 1 and several slabs without lowering any threshold
    x, gamma, beta, dout = _case((65536, 16), seed=5)
    lay = Layout.of(x)
    assert lay.r > 1 and len(lay.slabs) > 1
    _assert_same(_pair(fastpath, x, gamma, beta, dout), _pair(bnlib, x, gamma, beta, dout), RTOL)


def test_caches_are_interchangeable_between_the_two():
    x, gamma, beta, dout = _case((6, 2, 3, 2))
    _, cache_fast = fastpath.batchnorm_forward(x, gamma, beta)
    _, cache_ref = bnlib.batchnorm_forward(x, gamma, beta)
    for got, want in zip(bnlib.batchnorm_backward(dout, cache_fast),
                         fastpath.batchnorm_backward(dout, cache_ref)):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL)


def test_the_fast_path_rejects_what_the_reference_rejects():
    for bad in (np.ones((1, 3)), np.full((4, 2), np.nan), np.ones((4, 2, 3))):
        with pytest.raises(ValueError) as ref:
            bnlib.batchnorm_forward(bad, np.ones(bad.shape[1]), np.zeros(bad.shape[1]))
        with pytest.raises(ValueError) as fast:
            fastpath.batchnorm_forward(bad, np.ones(bad.shape[1]), np.zeros(bad.shape[1]))
        assert str(ref.value) == str(fast.value)


@pytest.fixture
def tiny_thresholds(monkeypatch):
    """Force row grouping (r > 1) and many slabs even on small batches."""
    monkeypatch.setattr(_layout, "SMALL_BYTES", 0)
    monkeypatch.setattr(_layout, "ROW_BYTES", 100)     # a few float64 samples per row
    monkeypatch.setattr(_layout, "SLAB_BYTES", 1)      # one matrix row per slab
    _layout._layout.cache_clear()
    yield
    _layout._layout.cache_clear()


@pytest.mark.parametrize("shape", [(12, 5), (7, 3), (6, 2, 3, 2), (5, 4, 1, 3)])
def test_layout_groups_whole_samples_and_slabs_cover_every_row_once(shape, tiny_thresholds):
    x = np.zeros(shape)
    lay = Layout.of(x)
    assert shape[0] % lay.r == 0 and lay.C == shape[1] and lay.C * lay.L == x[0].size
    rows = shape[0] // lay.r
    covered = np.concatenate([np.arange(rows)[s] for s in lay.slabs])
    assert covered.tolist() == list(range(rows))
    assert len(lay.slabs) > 1 or rows == 1


def test_a_prime_batch_size_cannot_be_grouped():
    lay = _layout._layout((7919, 4), 8)          # 7919 is prime and the batch is not small
    assert lay.r in (1, 7919) and 7919 % lay.r == 0


@pytest.mark.parametrize("shape", [(12, 5), (6, 2, 3, 2)])
def test_patterns_and_channel_sums_match_broadcasting_and_numpy(shape, tiny_thresholds):
    rng = np.random.default_rng(0)
    x, y, v = rng.normal(size=shape), rng.normal(size=shape), rng.normal(size=shape[1])
    lay = Layout.of(x)
    axes = (0,) + tuple(range(2, x.ndim))
    per_channel = v.reshape((1, -1) + (1,) * (x.ndim - 2))
    np.testing.assert_array_equal(lay.matrix(x) - lay.pattern(v), (x - per_channel).reshape(lay.matrix(x).shape))
    np.testing.assert_allclose(lay.channel_sum(lay.matrix(x)), x.sum(axis=axes), rtol=1e-12)
    np.testing.assert_allclose(lay.channel_sum(lay.matrix(x), lay.matrix(y)), (x * y).sum(axis=axes),
                               rtol=1e-12)


@pytest.mark.parametrize("shape", [(12, 5), (9, 4), (30, 3)])
def test_grouped_and_slabbed_fast_pass_equals_the_staged_graph(shape, tiny_thresholds):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape) * 2 + 3
    dout = rng.normal(size=shape)
    gamma, beta = rng.normal(size=shape[1]), rng.normal(size=shape[1])
    assert Layout.of(x).r > 1 and len(Layout.of(x).slabs) > 1
    y, cache = fastpath.batchnorm_forward(x, gamma, beta)
    grads = fastpath.batchnorm_backward(dout, cache)
    y_s, cache_s = graph.forward(x, gamma, beta)
    np.testing.assert_allclose(y, y_s, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cache.x_hat, cache_s["x_hat"], rtol=1e-12, atol=1e-12)
    for got, want in zip(grads, graph.backward(dout, cache_s)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_grouped_and_slabbed_4d_pass_equals_the_staged_graph_on_channels(tiny_thresholds):
    # oracle: BN over (N, C, H, W) is BN over the (N*H*W, C) matrix of channel values
    rng = np.random.default_rng(2)
    n, c, h, w = 6, 3, 2, 4
    x, dout = rng.normal(size=(n, c, h, w)) - 1, rng.normal(size=(n, c, h, w))
    gamma, beta = rng.normal(size=c), rng.normal(size=c)
    assert len(Layout.of(x).slabs) > 1
    y, cache = fastpath.batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = fastpath.batchnorm_backward(dout, cache)
    flat = lambda a: a.transpose(0, 2, 3, 1).reshape(-1, c)
    y_s, cache_s = graph.forward(flat(x), gamma, beta)
    dx_s, dgamma_s, dbeta_s = graph.backward(flat(dout), cache_s)
    np.testing.assert_allclose(flat(y), y_s, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(flat(dx), dx_s, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dgamma, dgamma_s, rtol=1e-12)
    np.testing.assert_allclose(dbeta, dbeta_s, rtol=1e-12)


def test_float32_stays_float32_on_the_grouped_path(tiny_thresholds):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 6)).astype(np.float32)
    y, cache = fastpath.batchnorm_forward(x, np.ones(6), np.zeros(6))
    grads = fastpath.batchnorm_backward(rng.normal(size=(16, 6)), cache)   # float64 dout
    assert y.dtype == cache.x_hat.dtype == cache.inv_std.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads)


def test_non_contiguous_input_gives_the_same_result():
    rng = np.random.default_rng(4)
    x = np.asfortranarray(rng.normal(size=(40, 7)))
    gamma, beta = rng.normal(size=7), rng.normal(size=7)
    y, _ = fastpath.batchnorm_forward(x, gamma, beta)
    y_c, _ = fastpath.batchnorm_forward(np.ascontiguousarray(x), gamma, beta)
    np.testing.assert_array_equal(y, y_c)
