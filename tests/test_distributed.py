"""bnlib.distributed: synchronized BN in two designs, its communicator and traffic, ghost BN.

Oracles: full-batch batch norm (bnlib's compact reference, itself tested against PyTorch and centred
differences) on the concatenated shards, centred differences through the shards directly, the
BatchNorm layer's running update on the whole batch, and closed forms for the message sizes.
"""
import numpy as np
import pytest

import bnlib
from bnlib import distributed as dist
from bnlib.gradcheck import numerical_gradients, rel_error

SIZES = [(5, 0, 2, 9), (1, 2), (4, 7, 3)]


def _case(sizes, tail=(3,), seed=0, loc=2.0, scale=3.0):
    rng = np.random.default_rng(seed)
    c = tail[0]
    shards = [rng.normal(loc, scale, (n,) + tail) for n in sizes]
    douts = [rng.standard_normal((n,) + tail) for n in sizes]
    return shards, douts, rng.normal(1.0, 0.3, c), rng.normal(0.0, 0.5, c)


@pytest.mark.parametrize("design", dist.DESIGNS)
@pytest.mark.parametrize("tail", [(3,), (3, 4, 2)], ids=["2-D", "4-D"])
@pytest.mark.parametrize("sizes", SIZES, ids=str)
def test_equals_full_batch_batchnorm_forward_and_backward(design, tail, sizes):
    shards, douts, gamma, beta = _case(sizes, tail)
    outs, cache = dist.sync_batchnorm_forward(shards, gamma, beta, design=design)
    dxs, dgamma, dbeta = dist.sync_batchnorm_backward(douts, cache)
    y, bn_cache = bnlib.batchnorm_forward(np.concatenate(shards), gamma, beta)
    dx, dg, db = bnlib.batchnorm_backward(np.concatenate(douts), bn_cache)
    assert [o.shape for o in outs] == [s.shape for s in shards]
    for ours, ref in ((np.concatenate(outs), y), (np.concatenate(dxs), dx), (dgamma, dg), (dbeta, db)):
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    assert cache.count == sum(sizes) * int(np.prod(tail[1:]))


@pytest.mark.parametrize("design", dist.DESIGNS)
def test_backward_matches_centred_differences_through_the_shards(design):
    shards, douts, gamma, beta = _case((3, 5), (2, 2, 2), seed=1)
    sizes = [len(s) for s in shards]

    def f(x, g, b):
        outs, _ = dist.sync_batchnorm_forward(np.split(x, np.cumsum(sizes)[:-1]), g, b, design=design)
        return np.concatenate(outs)

    x = np.concatenate(shards)
    num_dx, num_dg, num_db = numerical_gradients(f, [x, gamma, beta], np.concatenate(douts))
    _, cache = dist.sync_batchnorm_forward(shards, gamma, beta, design=design)
    dxs, dg, db = dist.sync_batchnorm_backward(douts, cache)
    assert rel_error(np.concatenate(dxs), num_dx) < 1e-7
    assert rel_error(dg, num_dg) < 1e-7 and rel_error(db, num_db) < 1e-7


def test_one_shard_is_plain_batchnorm_and_outputs_keep_the_dtype():
    x = np.random.default_rng(2).normal(size=(6, 4)).astype(np.float32)
    outs, cache = dist.sync_batchnorm_forward([x], np.ones(4), np.zeros(4))
    assert outs[0].dtype == np.float32 and cache.inv_std.dtype == np.float32
    np.testing.assert_allclose(outs[0], bnlib.batchnorm_forward(x, np.ones(4), np.zeros(4))[0], atol=1e-6)


def test_the_messages_are_what_each_design_sends():
    c, k = 6, 4
    for tail, sizes in (((c,), (3, 5, 2, 7)), ((c, 5, 5), (1, 2, 1, 3))):
        shards, douts, gamma, beta = _case(sizes, tail, seed=3)
        for design, op, tag in (("pytorch", "all_gather", "forward: mean, invstd, count"),
                                ("keras", "all_reduce", "forward: sum x, sum x^2, count")):
            comm = dist.LocalComm()
            _, cache = dist.sync_batchnorm_forward(shards, gamma, beta, design=design, comm=comm)
            dist.sync_batchnorm_backward(douts, cache)
            fwd, bwd = comm.traffic.messages
            # 2C + 1 float64 numbers forward, 2C backward, whatever N, H and W are
            assert (fwd.op, fwd.tag, fwd.world) == (op, tag, k)
            assert (fwd.values, fwd.nbytes) == (2 * c + 1, 8 * (2 * c + 1))
            assert (bwd.op, bwd.values, bwd.nbytes) == ("all_reduce", 2 * c, 16 * c)
            assert comm.traffic.by_tag() == {tag: fwd.nbytes, "backward: sum dy, sum dy*(x-mu)": 16 * c}
            assert comm.traffic.total() == 8 * (4 * c + 1)
    ar = dist.Message("all_reduce", "t", 10, 80, 4)
    ag = dist.Message("all_gather", "t", 10, 80, 4)
    assert ar.ring_bytes == 2 * 3 / 4 * 80 and ag.ring_bytes == 3 * 80


def test_local_comm_collectives():
    comm = dist.LocalComm()
    a, b = np.array([1.0, 2.0]), np.array([10.0, 20.0])
    got = comm.all_reduce([a, b], "s")
    assert all(np.array_equal(g, [11.0, 22.0]) for g in got) and got[0] is not got[1]
    gathered = comm.all_gather([a, np.array([5.0])], "g")
    assert len(gathered) == 2 and [list(v) for v in gathered[1]] == [[1.0, 2.0], [5.0]]
    assert a.tolist() == [1.0, 2.0] and comm.traffic.total() == 16 + 16
    with pytest.raises(ValueError, match="same shape"):
        comm.all_reduce([a, np.ones(3)], "s")
    with pytest.raises(ValueError, match="1-D"):
        comm.all_gather([np.ones((2, 2))], "g")
    with pytest.raises(ValueError, match="non-empty list"):
        comm.all_reduce([], "s")


def test_keras_design_inherits_one_pass_cancellation_in_float32():
    shards, _, gamma, beta = _case((64, 40, 90), (4,), seed=4, loc=3000.0, scale=1.0)
    shards32 = [s.astype(np.float32) for s in shards]
    ref, _ = bnlib.batchnorm_forward(np.concatenate(shards32).astype(np.float64), gamma, beta)
    err = {}
    for design in dist.DESIGNS:
        outs, cache = dist.sync_batchnorm_forward(shards32, gamma, beta, design=design)
        err[design] = np.nanmax(np.abs(np.concatenate(outs) - ref))
    assert err["pytorch"] < 1e-3 and (err["keras"] > 0.05 or np.isnan(err["keras"]))


def test_float16_shards_accumulate_in_float32_and_overflow_when_told_not_to():
    shards, _, gamma, beta = _case((600, 500), (3,), seed=5, loc=10.0, scale=1.0)
    half = [s.astype(np.float16) for s in shards]
    ref, _ = bnlib.batchnorm_forward(np.concatenate(half).astype(np.float64), gamma, beta)
    for design in dist.DESIGNS:
        outs, cache = dist.sync_batchnorm_forward(half, gamma, beta, design=design)
        assert outs[0].dtype == np.float16 and cache.mean.dtype == np.float32
        assert np.abs(np.concatenate(outs) - ref).max() < 0.05
    # all in float16: the sum of squares (1100 values of about 100) exceeds 65504
    outs, cache = dist.sync_batchnorm_forward(half, gamma, beta, design="keras", acc_dtype=np.float16)
    assert not np.isfinite(cache.var).all()
    outs, cache = dist.sync_batchnorm_forward(half, gamma, beta, design="pytorch", acc_dtype=np.float16)
    assert np.isfinite(cache.var).all() and np.abs(np.concatenate(outs) - ref).max() < 0.1


def test_running_update_uses_the_global_count():
    shards, _, gamma, beta = _case((2, 2, 3), (3, 2, 2), seed=6)
    layer = bnlib.BatchNorm(3, momentum=0.3)
    layer.gamma, layer.beta = gamma, beta
    layer.forward(np.concatenate(shards))
    rm0, rv0 = np.zeros(3), np.ones(3)
    for design in dist.DESIGNS:
        _, cache = dist.sync_batchnorm_forward(shards, gamma, beta, design=design)
        rm, rv = dist.sync_running_update(rm0, rv0, cache, momentum=0.3)
        np.testing.assert_allclose(rm, layer.running_mean, atol=1e-12)
        np.testing.assert_allclose(rv, layer.running_var, atol=1e-12)
    assert rm0.tolist() == [0, 0, 0] and rv0.tolist() == [1, 1, 1]
    # Bessel's correction with each device's own count would give a larger variance
    m, mk = cache.count, 2 * 2 * 2
    assert mk / (mk - 1) > m / (m - 1)


def _bad_calls():
    x = np.ones((3, 2))
    g, b = np.ones(2), np.zeros(2)
    _, cache = dist.sync_batchnorm_forward([x + np.arange(3)[:, None]], g, b)
    return [
        (lambda: dist.sync_batchnorm_forward([], g, b), ValueError, "non-empty list"),
        (lambda: dist.sync_batchnorm_forward(x, g, b), ValueError, "non-empty list"),
        (lambda: dist.sync_batchnorm_forward([x, np.ones((3, 3))], g, b), ValueError, "same C channels"),
        (lambda: dist.sync_batchnorm_forward([x, np.ones((3, 2, 1, 1))], g, b), ValueError,
         "same C channels"),
        (lambda: dist.sync_batchnorm_forward([x, x.astype(np.float32)], g, b), TypeError, "same dtype"),
        (lambda: dist.sync_batchnorm_forward([np.ones((0, 2)), np.ones((0, 2))], g, b), ValueError,
         "no values at all"),
        (lambda: dist.sync_batchnorm_forward([np.ones((1, 2)), np.ones((0, 2))], g, b), ValueError,
         "at least 2"),
        (lambda: dist.sync_batchnorm_forward([np.ones(3)], g, b), ValueError, "2-D"),
        (lambda: dist.sync_batchnorm_forward([x * np.nan], g, b), ValueError, "NaN or inf"),
        (lambda: dist.sync_batchnorm_forward([x], g, b, design="horovod"), ValueError,
         "design must be one of"),
        (lambda: dist.sync_batchnorm_forward([x], np.ones(3), b), ValueError, "gamma must have shape"),
        (lambda: dist.sync_batchnorm_forward([x], g, b, eps=0), ValueError, "eps"),
        (lambda: dist.sync_batchnorm_forward([x], g, b, acc_dtype=np.int32), TypeError, "acc_dtype"),
        (lambda: dist.sync_batchnorm_backward([x, x], cache), ValueError, "list of 1 arrays"),
        (lambda: dist.sync_batchnorm_backward([np.ones((3, 3))], cache), ValueError, "shape of the forward"),
        (lambda: dist.sync_batchnorm_backward([x], (1, 2)), TypeError, "SyncBNCache"),
        (lambda: dist.sync_running_update(g, g, cache, momentum=2), ValueError, "momentum"),
        (lambda: dist.sync_running_update(np.ones(3), g, cache), ValueError, "running_mean"),
        (lambda: dist.ghost_batchnorm_forward(np.ones((6, 2)), g, b, 4), ValueError,
         "multiple of ghost_size"),
        (lambda: dist.ghost_batchnorm_forward(np.ones((6, 2)), g, b, 2.0), TypeError, "ghost_size"),
        (lambda: dist.ghost_batchnorm_forward(np.ones((6, 2)), g, b, 0), ValueError, "at least 1"),
        (lambda: dist.ghost_batchnorm_backward(np.ones((6, 2)), cache), TypeError, "GhostCache"),
    ]


@pytest.mark.parametrize("case", range(len(_bad_calls())))
def test_bad_input_is_named(case):
    call, error, words = _bad_calls()[case]
    with pytest.raises(error, match=words):
        call()


def test_nothing_is_changed_in_place():
    shards, douts, gamma, beta = _case((3, 0, 4), (2, 2, 3), seed=7)
    before = [a.copy() for a in shards + douts + [gamma, beta]]
    for design in dist.DESIGNS:
        _, cache = dist.sync_batchnorm_forward(shards, gamma, beta, design=design)
        dist.sync_batchnorm_backward(douts, cache)
        dist.sync_running_update(gamma, beta, cache)
    _, gc = dist.ghost_batchnorm_forward(np.concatenate(shards)[:6], gamma, beta, 3)
    dist.ghost_batchnorm_backward(np.concatenate(douts)[:6], gc)
    for a, b in zip(before, shards + douts + [gamma, beta]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(12, 3), (8, 2, 3, 3)])
def test_ghost_batchnorm_normalizes_each_slice_on_its_own(shape):
    rng = np.random.default_rng(8)
    x, dout = rng.normal(1.0, 2.0, shape), rng.standard_normal(shape)
    gamma, beta = rng.normal(1.0, 0.2, shape[1]), rng.normal(0, 0.2, shape[1])
    g = shape[0] // 4
    y, cache = dist.ghost_batchnorm_forward(x, gamma, beta, g)
    axes = (1,) + tuple(range(3, len(shape) + 1))
    ghosts = x.reshape((4, g) + shape[1:])
    mu, var = ghosts.mean(axis=axes, keepdims=True), ghosts.var(axis=axes, keepdims=True)
    p = (1, 1, -1) + (1,) * (len(shape) - 2)
    want = gamma.reshape(p) * (ghosts - mu) / np.sqrt(var + 1e-5) + beta.reshape(p)
    np.testing.assert_allclose(y, want.reshape(shape), atol=1e-12)
    dx, dg, db = dist.ghost_batchnorm_backward(dout, cache)
    f = lambda a, gm, bt: dist.ghost_batchnorm_forward(a, gm, bt, g)[0]  # noqa: E731
    for ours, num in zip((dx, dg, db), numerical_gradients(f, [x, gamma, beta], dout)):
        assert rel_error(ours, num) < 1e-7
    whole, _ = dist.ghost_batchnorm_forward(x, gamma, beta, shape[0])
    np.testing.assert_allclose(whole, bnlib.batchnorm_forward(x, gamma, beta)[0], atol=1e-12)
