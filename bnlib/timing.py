r"""Timing in the reader's own run: one interleaved timer, and the chapter's three-way comparison.

:func:`interleaved` is the one timer in the project (``scripts/bench.py`` uses it
too): each contender is called once per round and the rounds are interleaved,
so a burst of other work on a shared machine slows every contender alike
instead of one contender's whole run.

:func:`time_implementations` is what the chapter "Gradients on paper" shows: a
forward plus a backward on random (N, D) float64 batches of

* ``staged``: :func:`bnlib.graph.forward` then :func:`bnlib.graph.backward` (every
  node's value and gradient kept, as the backward chapter draws it);
* ``reference``: :func:`bnlib.batchnorm.batchnorm_forward` then :func:`bnlib.batchnorm.batchnorm_backward`
  (the closed form as the chapter writes it);
* ``fastpath``: the same closed form from :mod:`bnlib.fastpath` (cache-blocked).
"""
from __future__ import annotations

import time

import numpy as np

from . import fastpath, graph
from ._checks import check_int
from .batchnorm import batchnorm_backward, batchnorm_forward

__all__ = ["interleaved", "time_implementations"]


def _once(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def interleaved(fns: dict, budget_s: float = 0.4, max_rounds: int = 200,
                min_rounds: int = 5) -> dict[str, list[float]]:
    """Time each callable once per round, rounds interleaved: ``{name: [seconds per call]}``.

    Each sample repeats a call enough times to last about a millisecond, so timer
    resolution and call jitter do not dominate tiny cases; the number of rounds
    fills about ``budget_s`` seconds per contender (between the two bounds).
    """
    if not fns:
        raise ValueError("interleaved needs at least one callable to time; got none")
    reps = {}
    for name, f in fns.items():
        f()                                         # warm-up: caches, allocator, lazy imports
        reps[name] = max(1, int(1e-3 / max(_once(f), 1e-9)))
    per_round = sum(reps[n] * _once(f) for n, f in fns.items())
    rounds = int(min(max_rounds, max(min_rounds, budget_s * len(fns) / max(per_round, 1e-9))))
    out = {n: [] for n in fns}
    for _ in range(rounds):
        for name, f in fns.items():
            k = reps[name]
            t0 = time.perf_counter()
            for _ in range(k):
                f()
            out[name].append((time.perf_counter() - t0) / k)
    return out


def time_implementations(batch_sizes=(16, 64, 256, 1024, 4096), D: int = 128,
                         budget_s: float = 0.05, seed: int = 0) -> dict[str, np.ndarray]:
    """Median seconds per forward+backward of the staged, reference and fast versions.

    Returns arrays, one entry per batch size in the order given: ``"batch_size"``,
    ``"staged"``, ``"reference"`` and ``"fastpath"``. With the defaults it takes
    about a second; the times depend on the machine and its load.
    """
    sizes = [check_int(n, "each batch size", 2) for n in np.atleast_1d(batch_sizes).tolist()]
    if not sizes:
        raise ValueError("batch_sizes must list at least one batch size (each at least 2)")
    D = check_int(D, "D")
    rng = np.random.default_rng(seed)
    gamma, beta = rng.normal(size=D), rng.normal(size=D)
    out = {"staged": [], "reference": [], "fastpath": []}
    for n in sizes:
        x, dout = rng.normal(size=(n, D)), rng.normal(size=(n, D))
        times = interleaved({
            "staged": lambda: graph.backward(dout, graph.forward(x, gamma, beta)[1]),
            "reference": lambda: batchnorm_backward(dout, batchnorm_forward(x, gamma, beta)[1]),
            "fastpath": lambda: fastpath.batchnorm_backward(
                dout, fastpath.batchnorm_forward(x, gamma, beta)[1]),
        }, budget_s=budget_s, max_rounds=50)
        for name, samples in times.items():
            out[name].append(float(np.median(samples)))
    return {"batch_size": np.array(sizes), **{k: np.array(v) for k, v in out.items()}}
