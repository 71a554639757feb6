"""Synchronized BN in real worker processes over torch.distributed (gloo, CPU), against two oracles.

Each test starts 2 or 3 worker processes (bnlib.torchdist.run_workers: a FileStore in a temporary
directory, gloo on the loopback interface, a hard timeout after which every worker is killed and
joined). Every worker holds one shard of an uneven float64 batch and runs the very code the book runs
in one process, its all-reduce and all-gather now real collectives. The results must equal

- the in-process simulation (bnlib.distributed with LocalComm) on the same shards, and
- PyTorch's own full-batch ``torch.nn.functional.batch_norm`` (training=True, autograd for the
  gradients) on the concatenated batch: outputs, input gradients, gamma/beta gradients, and the
  running mean and variance with the unbiased correction from the global count (1e-10).

``torch.nn.SyncBatchNorm`` cannot be the oracle on this machine: it refuses CPU tensors as soon as a
process group exists (its ``batch_norm_stats`` kernel has no CPU implementation; the last tests show
both). Where two GPUs are present, a further test compares with it directly.

Skipped, with the reason, where torch is not installed (CI installs it).
"""
import multiprocessing
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import torch_missing_reason  # noqa: E402

torch = pytest.importorskip("torch", reason=torch_missing_reason())
from bnlib import distributed, torchdist  # noqa: E402

TIMEOUT = 120.0
EPS, MOMENTUM = 1e-5, 0.1
CASES = [  # (sizes per rank, trailing shape, design)
    ((5, 3), (4,), "pytorch"),
    ((6, 0, 11), (3, 2, 3), "pytorch"),
    ((2, 9, 4), (4,), "keras"),
    ((3, 8), (2, 3, 2), "keras"),
]


def _batch(sizes, tail, seed):
    rng = np.random.default_rng(seed)
    c = tail[0]
    shards = [rng.normal(1.5, 2.5, (n,) + tail) for n in sizes]
    douts = [rng.standard_normal((n,) + tail) for n in sizes]
    return (shards, douts, rng.normal(1.0, 0.3, c), rng.normal(0.0, 0.3, c),
            rng.normal(0.0, 0.1, c), rng.uniform(0.5, 1.5, c))


def _torch_full_batch(shards, douts, gamma, beta, rm, rv):
    x = torch.from_numpy(np.concatenate(shards)).requires_grad_()
    w, b = torch.from_numpy(gamma.copy()).requires_grad_(), torch.from_numpy(beta.copy()).requires_grad_()
    rm_t, rv_t = torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())
    y = torch.nn.functional.batch_norm(x, rm_t, rv_t, w, b, training=True, momentum=MOMENTUM, eps=EPS)
    y.backward(torch.from_numpy(np.concatenate(douts)))
    return {"out": y.detach().numpy(), "dx": x.grad.numpy(), "dgamma": w.grad.numpy(),
            "dbeta": b.grad.numpy(), "running_mean": rm_t.numpy(), "running_var": rv_t.numpy()}


def _no_children_left():
    assert multiprocessing.active_children() == [], "a worker process outlived the test"


@pytest.mark.parametrize("sizes,tail,design", CASES, ids=[f"{len(s)} workers-{len(t) + 1}-D-{d}"
                                                          for s, t, d in CASES])
def test_workers_equal_the_simulation_and_torch_full_batch(sizes, tail, design):
    shards, douts, gamma, beta, rm, rv = _batch(sizes, tail, seed=len(sizes) * 10 + len(tail))
    args = [(s, d, gamma, beta, rm, rv, EPS, MOMENTUM, design) for s, d in zip(shards, douts)]
    results, traffic = torchdist.run_workers(torchdist.sync_batchnorm_step, args, timeout=TIMEOUT)
    _no_children_left()

    comm = distributed.LocalComm()
    outs, cache = distributed.sync_batchnorm_forward(shards, gamma, beta, EPS, design=design, comm=comm)
    dxs, dgamma, dbeta = distributed.sync_batchnorm_backward(douts, cache)
    sim_rm, sim_rv = distributed.sync_running_update(rm, rv, cache, MOMENTUM)
    ref = _torch_full_batch(shards, douts, gamma, beta, rm, rv)

    workers = {"out": np.concatenate([r["out"] for r in results]),
               "dx": np.concatenate([r["dx"] for r in results])}
    for r in results:      # every rank holds the same all-reduced parameter gradients and statistics
        for key in ("dgamma", "dbeta", "running_mean", "running_var"):
            np.testing.assert_array_equal(r[key], results[0][key])
        assert int(r["count"]) == cache.count
    workers |= {k: results[0][k] for k in ("dgamma", "dbeta", "running_mean", "running_var")}
    sim = {"out": np.concatenate(outs), "dx": np.concatenate(dxs), "dgamma": dgamma, "dbeta": dbeta,
           "running_mean": sim_rm, "running_var": sim_rv}
    for key, want in ref.items():
        np.testing.assert_allclose(workers[key], sim[key], rtol=0, atol=1e-10,
                                   err_msg=f"{key}: workers vs simulation")
        np.testing.assert_allclose(workers[key], want, rtol=0, atol=1e-10, err_msg=f"{key}: workers vs torch")
        np.testing.assert_allclose(sim[key], want, rtol=0, atol=1e-10, err_msg=f"{key}: simulation vs torch")

    # what crossed the wire: the same messages as in the simulation (plus gloo's length exchange)
    sim_bytes = comm.traffic.by_tag()
    for rank_log in traffic:
        logged = {m.tag: m.nbytes for m in rank_log if not m.tag.endswith("(lengths)")}
        assert logged == sim_bytes
        assert all(m.world == len(sizes) for m in rank_log)


def gather_uneven(comm):
    """Task: rank r sends r + 1 numbers; gloo needs equal sizes, so TorchComm pads and cuts back."""
    mine = np.arange(comm.rank + 1, dtype=np.float64) + 10 * comm.rank
    got = comm.all_gather([mine], "uneven")[0]
    return {"lengths": np.array([g.size for g in got]), "values": np.concatenate(got)}


def hang(comm):
    """Task that never finishes."""
    time.sleep(3600)


def fail(comm):
    """Task that raises."""
    raise ValueError(f"rank {comm.rank} fails on purpose")


def test_all_gather_of_unequal_lengths():
    results, traffic = torchdist.run_workers(gather_uneven, [(), (), ()], timeout=TIMEOUT)
    _no_children_left()
    for r in results:
        assert r["lengths"].tolist() == [1, 2, 3]
        assert r["values"].tolist() == [0.0, 10.0, 11.0, 20.0, 21.0, 22.0]
    assert [m.tag for m in traffic[0]] == ["uneven (lengths)", "uneven"]


def test_a_timeout_kills_every_worker():
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="were killed"):
        torchdist.run_workers(hang, [(), ()], timeout=5.0)
    assert time.monotonic() - start < 60
    _no_children_left()


def test_a_failing_worker_reports_its_traceback():
    with pytest.raises(RuntimeError, match="fails on purpose"):
        torchdist.run_workers(fail, [(), ()], timeout=TIMEOUT)
    _no_children_left()


def test_torchrun_runs_the_same_step():
    """The launcher path of the chapter: torchrun on one node, rendezvous on 127.0.0.1."""
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc-per-node=2",
           "--rdzv-backend=c10d", "--rdzv-endpoint=127.0.0.1:0", "-m", "bnlib.torchdist"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    try:
        out = proc.communicate(timeout=TIMEOUT)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        pytest.fail("torchrun did not finish in time; its process group was killed")
    assert proc.returncode == 0, out[-3000:]
    assert "2 processes, design pytorch: largest difference from full-batch BN" in out


def test_torch_syncbatchnorm_refuses_cpu_tensors():
    results, _ = torchdist.run_workers(torchdist.syncbn_on_cpu, [(), ()], timeout=TIMEOUT)
    _no_children_left()
    assert "expected input tensor to be on GPU" in str(results[0]["error"])
    with pytest.raises(NotImplementedError, match="CPU"):
        torch.batch_norm_stats(torch.zeros(4, 3, dtype=torch.float64), EPS)


def syncbn_on_gpus(comm, shard, dout, gamma, beta, rm, rv):
    """Task: torch.nn.SyncBatchNorm on this rank's GPU; parameter gradients all-reduced."""
    import torch.distributed as tdist
    dev = torch.device("cuda", comm.rank)
    torch.cuda.set_device(dev)       # NCCL builds its communicator on the current device
    layer = torch.nn.SyncBatchNorm(len(gamma), eps=EPS, momentum=MOMENTUM).double().to(dev)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
        layer.running_mean.copy_(torch.from_numpy(rm))
        layer.running_var.copy_(torch.from_numpy(rv))
    x = torch.from_numpy(shard).to(dev).requires_grad_()
    y = layer(x)
    y.backward(torch.from_numpy(dout).to(dev))
    grads = [layer.weight.grad.clone(), layer.bias.grad.clone()]
    for g in grads:                  # SyncBatchNorm leaves them local (DDP would reduce them)
        tdist.all_reduce(g)
    return {"out": y.detach().cpu().numpy(), "dx": x.grad.cpu().numpy(), "dgamma": grads[0].cpu().numpy(),
            "dbeta": grads[1].cpu().numpy(), "running_mean": layer.running_mean.cpu().numpy(),
            "running_var": layer.running_var.cpu().numpy()}


@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.device_count() < 2,
                    reason="torch.nn.SyncBatchNorm needs GPUs: fewer than 2 here")
def test_torch_syncbatchnorm_on_gpus_equals_the_simulation():
    shards, douts, gamma, beta, rm, rv = _batch((5, 3), (3, 2, 2), seed=99)
    args = [(s, d, gamma, beta, rm, rv) for s, d in zip(shards, douts)]
    results, _ = torchdist.run_workers(syncbn_on_gpus, args, timeout=TIMEOUT, backend="nccl")
    outs, cache = distributed.sync_batchnorm_forward(shards, gamma, beta, EPS)
    dxs, dgamma, dbeta = distributed.sync_batchnorm_backward(douts, cache)
    sim_rm, sim_rv = distributed.sync_running_update(rm, rv, cache, MOMENTUM)
    np.testing.assert_allclose(np.concatenate([r["out"] for r in results]), np.concatenate(outs), atol=1e-10)
    np.testing.assert_allclose(np.concatenate([r["dx"] for r in results]), np.concatenate(dxs), atol=1e-10)
    for key, want in (("dgamma", dgamma), ("dbeta", dbeta), ("running_mean", sim_rm),
                      ("running_var", sim_rv)):
        np.testing.assert_allclose(results[0][key], want, atol=1e-10)
