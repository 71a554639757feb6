r"""Time the staged graph against the compact closed form, in the reader's own run.

Used by the "Gradients on paper" chapter. One call times a forward plus a
backward of each implementation on random (N, D) float64 batches:

* staged: :func:`bnlib.graph.forward` then :func:`bnlib.graph.backward`
  (every node's value and gradient kept, as the chapter on the backward pass draws it);
* compact: :func:`bnlib.batchnorm.batchnorm_forward` then :func:`bnlib.batchnorm.batchnorm_backward`.

The two are timed in alternation (one staged call, one compact call, repeat),
so that a burst of other work on the machine slows both rather than one; the
median over the repeats is reported, and the speed-up is staged / compact.
"""
from __future__ import annotations

import time

import numpy as np

from . import graph
from ._checks import check_int
from .batchnorm import batchnorm_backward, batchnorm_forward

__all__ = ["time_staged_vs_compact"]


def time_staged_vs_compact(batch_sizes=(16, 64, 256, 1024, 4096), D: int = 128,
                           repeats: int = 7, seed: int = 0) -> dict[str, np.ndarray]:
    """Median seconds per forward+backward, staged and compact, for each batch size.

    Returns a dict of arrays, one entry per batch size, in the order given:
    ``"batch_size"`` (int), ``"staged"`` and ``"compact"`` (median seconds),
    and ``"speedup"`` = staged / compact. With the defaults it takes about a
    second; the times themselves depend on the machine and its load.
    """
    sizes = [check_int(n, "each batch size", 2) for n in np.atleast_1d(batch_sizes).tolist()]
    if not sizes:
        raise ValueError("batch_sizes must list at least one batch size (each at least 2)")
    D = check_int(D, "D", 1)
    repeats = check_int(repeats, "repeats", 1)
    rng = np.random.default_rng(seed)
    gamma, beta = rng.normal(size=D), rng.normal(size=D)
    staged, compact = [], []
    for n in sizes:
        x, dout = rng.normal(size=(n, D)), rng.normal(size=(n, D))
        runs = {
            "staged": lambda: graph.backward(dout, graph.forward(x, gamma, beta)[1]),
            "compact": lambda: batchnorm_backward(dout, batchnorm_forward(x, gamma, beta)[1]),
        }
        times = {name: [] for name in runs}
        for name, run in runs.items():
            run()                        # warm-up: first calls pay for allocation and caches
        for _ in range(repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
        staged.append(np.median(times["staged"]))
        compact.append(np.median(times["compact"]))
    staged, compact = np.array(staged), np.array(compact)
    return {"batch_size": np.array(sizes), "staged": staged, "compact": compact,
            "speedup": staged / compact}
