r"""Synchronized batch norm on a real distributed engine: ``torch.distributed`` with the gloo backend.

Optional: this module needs PyTorch (the ``torch`` extra; a CPU build is enough), imports it only
when called, and nothing else in bnlib imports this module. :class:`TorchComm` is a communicator for
:func:`bnlib.distributed.sync_batchnorm_forward` / ``_backward`` whose ``all_reduce`` and
``all_gather`` are real collectives between processes, one process per device, each holding its own
shard; the batch-norm code does not change.

:func:`run_workers` starts one worker process per rank on this machine (rendezvous through a
``FileStore`` in a temporary directory, gloo bound to the loopback interface, so nothing leaves the
host), runs a task in each, and returns what each returned; it kills every worker if they do not finish
within ``timeout`` seconds. :func:`sync_batchnorm_step` is the task: one training step of a
synchronized BN layer, as every process runs it.

Across machines the same step runs under a launcher: ``torchrun --nnodes=2 --nproc-per-node=4
--rdzv-endpoint=HOST:PORT -m bnlib.torchdist`` sets ``RANK``, ``WORLD_SIZE`` and the rendezvous address
in each process's environment and :func:`main` reads them (``init_process_group`` with no address);
on GPUs the backend is ``"nccl"`` and each process moves its shard to its own device.

``torch.nn.SyncBatchNorm`` itself refuses CPU tensors once a process group exists (its statistics
kernel ``batch_norm_stats`` has no CPU implementation), which is why PyTorch's design is checked here
through its documented math and through full-batch equality (``tests/test_torch_distributed.py``).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
import traceback
from datetime import timedelta
from pathlib import Path

import numpy as np

from .distributed import Traffic, sync_batchnorm_backward, sync_batchnorm_forward, sync_running_update

__all__ = ["TorchComm", "run_workers", "sync_batchnorm_step", "syncbn_on_cpu", "main"]


def _torch():
    try:
        import torch
        import torch.distributed as dist
    except ImportError as err:
        raise ImportError("bnlib.torchdist needs PyTorch: pip install -c constraints.txt torch "
                          "(the version the project tests with; the CPU build is enough)") from err
    return torch, dist


class TorchComm:
    """A communicator over ``torch.distributed``: this process is one device (``rank`` of ``world_size``).

    Every call takes and returns a list with ONE array, this device's. Needs an initialized process
    group (:func:`run_workers` or ``torchrun`` set it up).
    """

    def __init__(self, group=None):
        torch, dist = _torch()
        if not dist.is_initialized():
            raise RuntimeError("TorchComm needs torch.distributed.init_process_group(...) first")
        self.group = group
        self.rank, self.world_size = dist.get_rank(group), dist.get_world_size(group)
        self.traffic = Traffic()

    @staticmethod
    def _local(values, op):
        if not isinstance(values, (list, tuple)) or len(values) != 1:
            raise ValueError(f"TorchComm.{op}: this process is one device, so pass a list with one "
                             f"array; got {type(values).__name__} of length "
                             f"{len(values) if hasattr(values, '__len__') else '?'}")
        return np.ascontiguousarray(values[0])

    def all_reduce(self, values, tag: str) -> list:
        """Sum over all processes (``dist.all_reduce`` with SUM)."""
        torch, dist = _torch()
        v = self._local(values, "all_reduce")
        t = torch.from_numpy(v.copy())
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=self.group)
        self.traffic.record("all_reduce", tag, v, self.world_size)
        return [t.numpy()]

    def all_gather(self, values, tag: str) -> list:
        """Every process's 1-D array, in rank order.

        gloo's ``all_gather`` needs equal sizes, so the lengths are gathered first (a small message,
        logged as ``tag + " (lengths)"``) and each array is padded to the longest, then cut back.
        """
        torch, dist = _torch()
        v = self._local(values, "all_gather")
        if v.ndim != 1:
            raise ValueError(f"TorchComm.all_gather sends 1-D arrays; got shape {v.shape}")
        n = torch.tensor([v.size], dtype=torch.int64)
        lengths = [torch.zeros_like(n) for _ in range(self.world_size)]
        dist.all_gather(lengths, n, group=self.group)
        longest = int(max(int(t) for t in lengths))
        padded = torch.zeros(longest, dtype=torch.from_numpy(v[:0]).dtype)
        padded[:v.size] = torch.from_numpy(v)
        out = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(out, padded, group=self.group)
        self.traffic.record("all_gather", tag + " (lengths)", n.numpy(), self.world_size)
        self.traffic.record("all_gather", tag, padded.numpy(), self.world_size)
        return [[t.numpy()[:int(k)] for t, k in zip(out, lengths)]]


def sync_batchnorm_step(comm, shard, dout, gamma, beta, running_mean, running_var, eps=1e-5,
                        momentum=0.1, design="pytorch") -> dict:
    """One synchronized BN training step on this device's shard: forward, backward, running update.

    Returns ``out``, ``dx`` (this shard's), ``dgamma``, ``dbeta`` (the global batch's, all-reduced),
    the new ``running_mean``, ``running_var`` and ``count`` (the global values per channel).
    """
    outs, cache = sync_batchnorm_forward([shard], gamma, beta, eps, design=design, comm=comm)
    dxs, dgamma, dbeta = sync_batchnorm_backward([dout], cache)
    rm, rv = sync_running_update(running_mean, running_var, cache, momentum)
    return {"out": outs[0], "dx": dxs[0], "dgamma": dgamma, "dbeta": dbeta, "running_mean": rm,
            "running_var": rv, "count": np.array(cache.count)}


def syncbn_on_cpu(comm, channels: int = 3) -> dict:
    """What ``torch.nn.SyncBatchNorm`` does with a CPU batch inside a process group: the error text
    (``error``, empty if it ran)."""
    torch, _ = _torch()
    layer = torch.nn.SyncBatchNorm(channels).double()
    try:
        layer(torch.zeros(4, channels, dtype=torch.float64))
        return {"error": np.array("")}
    except (ValueError, RuntimeError, NotImplementedError) as err:
        return {"error": np.array(f"{type(err).__name__}: {err}")}


def _worker(rank, world, store, task, args, out_dir, timeout, backend):
    """One process: join the group, run ``task(comm, *args)``, write the result (or the traceback)."""
    out = Path(out_dir) / f"rank{rank}"
    try:
        # bind gloo to the loopback interface: the workers talk only to each other, on this host
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
        torch, dist = _torch()
        torch.set_num_threads(1)
        dist.init_process_group(backend, init_method=f"file://{store}", rank=rank, world_size=world,
                                timeout=timedelta(seconds=timeout))
        try:
            comm = TorchComm()
            result = task(comm, *args)
            dist.barrier()       # nobody tears the group down while another rank still uses it
            np.savez(str(out) + ".npz", **result)
            (Path(str(out) + ".traffic.json")).write_text(json.dumps(comm.traffic.messages))
        finally:
            dist.destroy_process_group()
    except BaseException:            # report everything, including KeyboardInterrupt, to the parent
        Path(str(out) + ".err").write_text(traceback.format_exc())
        raise SystemExit(1)


def run_workers(task, args_per_rank, timeout: float = 120.0, backend: str = "gloo"):
    """Run ``task(comm, *args_per_rank[r])`` in one new process per rank r; return their results.

    Returns ``(results, traffic)``: per rank, a dict of numpy arrays and the list of
    :class:`bnlib.distributed.Message` that rank's communicator logged. ``task`` must be importable
    (a module-level function). Raises TimeoutError, after killing every worker, if they do not all
    finish within ``timeout`` seconds, and RuntimeError with the worker's traceback if one fails.
    """
    import multiprocessing

    from .distributed import Message

    world = len(args_per_rank)
    if world < 1:
        raise ValueError("args_per_rank must hold one tuple of arguments per rank (at least one)")
    ctx = multiprocessing.get_context("spawn")       # a fresh interpreter: no state shared by fork
    with tempfile.TemporaryDirectory(prefix="bnlib-dist-") as tmp:
        store = os.path.join(tmp, "store")
        procs = [ctx.Process(target=_worker, args=(r, world, store, task, tuple(a), tmp, timeout, backend),
                             daemon=True) for r, a in enumerate(args_per_rank)]
        try:
            for p in procs:
                p.start()
            deadline = time.monotonic() + timeout
            # until all are done, or one failed (the others may wait for it forever), or time is up
            while any(p.is_alive() for p in procs) and time.monotonic() < deadline \
                    and not any(p.exitcode not in (None, 0) for p in procs):
                time.sleep(0.05)
            running = sum(p.is_alive() for p in procs)
        finally:
            for p in procs:          # whatever happened, no worker outlives this call
                if p.is_alive():
                    p.kill()
                p.join()
        errors = sorted(Path(tmp).glob("rank*.err"))
        if errors:
            raise RuntimeError("a worker failed:\n" + "\n".join(e.read_text() for e in errors))
        if running:
            raise TimeoutError(f"{running} of {world} workers still running after {timeout:g} s; "
                               f"all were killed")
        if any(p.exitcode != 0 for p in procs):
            raise RuntimeError(f"a worker died without a traceback: exit codes {[p.exitcode for p in procs]}")
        results, traffic = [], []
        for r in range(world):
            with np.load(os.path.join(tmp, f"rank{r}.npz")) as z:
                results.append({k: z[k] for k in z.files})
            rows = json.loads(Path(tmp, f"rank{r}.traffic.json").read_text())
            traffic.append([Message(*row) for row in rows])
    return results, traffic


def main(argv=None) -> int:
    """``torchrun ... -m bnlib.torchdist``: a synchronized BN step on seeded uneven shards, checked.

    Each process builds the same seeded global batch, keeps the shard of its rank, runs
    :func:`sync_batchnorm_step`, and rank 0 prints the largest difference from full-batch batch norm.
    """
    import argparse

    from .batchnorm import batchnorm_backward, batchnorm_forward

    parser = argparse.ArgumentParser(prog="python -m bnlib.torchdist", description=main.__doc__)
    parser.add_argument("--backend", default="gloo")
    parser.add_argument("--design", default="pytorch", choices=("pytorch", "keras"))
    opts = parser.parse_args(argv)
    torch, dist = _torch()
    dist.init_process_group(opts.backend)            # RANK, WORLD_SIZE, MASTER_ADDR from the launcher
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        rng = np.random.default_rng(0)
        sizes = [3 + 2 * r for r in range(world)]      # uneven on purpose
        x, dout = rng.normal(2.0, 3.0, (sum(sizes), 4)), rng.standard_normal((sum(sizes), 4))
        gamma, beta = rng.normal(1.0, 0.2, 4), rng.normal(0.0, 0.2, 4)
        lo = sum(sizes[:rank])
        sl = slice(lo, lo + sizes[rank])
        res = sync_batchnorm_step(TorchComm(), x[sl], dout[sl], gamma, beta, np.zeros(4), np.ones(4),
                                  design=opts.design)
        y, cache = batchnorm_forward(x, gamma, beta)
        dx, dgamma, _ = batchnorm_backward(dout, cache)
        err = torch.tensor([np.abs(res["out"] - y[sl]).max(), np.abs(res["dx"] - dx[sl]).max(),
                            np.abs(res["dgamma"] - dgamma).max()], dtype=torch.float64)
        dist.all_reduce(err, op=dist.ReduceOp.MAX)
        if rank == 0:
            print(f"{world} processes, design {opts.design}: largest difference from full-batch BN "
                  f"{float(err.max()):.1e}")
        return 0 if float(err.max()) < 1e-10 else 1
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(main())
