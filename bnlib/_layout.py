r"""How the compact batch-norm code lays a batch out in memory to run fast.

Batch norm is a handful of passes over arrays that are often larger than the
CPU cache, and each numpy operation is one pass, so the speed is set by how
many passes there are and how fast each one streams, not by the arithmetic.
This module holds the three tricks :mod:`bnlib.fastpath` uses; none changes a
result beyond rounding.

1. **A batch as one wide matrix.** An (N, D) or (N, C, H, W) batch is viewed,
   without copying, as a matrix of shape (N / r, r·C·L), L = H·W (1 for 2-D):
   each row holds r whole samples. A per-channel vector v of shape (C,) is
   expanded once into a *row pattern* (v repeated L times per channel, the
   whole repeated r times), so ``row_op(matrix, pattern)`` broadcasts one long
   contiguous row. Broadcasting a (C,) vector straight over an (N, D) batch
   instead restarts numpy's inner loop every D values (every H·W values for
   ``v[:, None, None]`` in 4-D), and that overhead costs up to half the time
   of the pass (scripts/bench.py measures it).
2. **Per-channel sums by einsum** over the sample-by-sample view (n, C, L) of
   the same memory: on 4-D input this is about three times faster than
   ``x.sum(axis=(0, 2, 3))``, and a sum of products is taken without forming the
   product array.
3. **Slabs.** On batches larger than the last-level cache, element-wise work is
   done a slab of rows at a time (about ``SLAB_BYTES``), so the 2-4 operations
   applied to a slab find it in cache instead of streaming it from main memory
   again. Smaller slabs (to fit L2) measured slower: each slab costs a few numpy
   calls, about a microsecond each.

Nothing here calls BLAS, so numpy's BLAS thread settings do not matter.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["Layout", "SLAB_BYTES"]

SLAB_BYTES = 4 * 1024 * 1024
"""Rows of the matrix processed together: the 2-3 arrays an operation touches
then fit in a typical 8-32 MiB last-level cache. On a 2-core EPYC with a 32 MiB L3
this beat 0.125-2 MiB and whole-array passes on (4096, 1024) batches, and made no
difference on batches that fit in cache anyway."""
ROW_BYTES = 32 * 1024
"""Aim for matrix rows about this long: long enough that the per-row overhead
vanishes, short enough that the row patterns (up to four at a time) stay in L1/L2."""
SMALL_BYTES = 128 * 1024
"""Below this size a batch is left as it is: building the row patterns would
cost more than the passes they speed up."""


@dataclass(frozen=True)
class Layout:
    """A batch of shape ``shape`` seen as a (rows, r·C·L) matrix; see the module docstring."""

    shape: tuple[int, ...]
    r: int        # samples per matrix row
    C: int        # channels (features)
    L: int        # values per channel in one sample: H·W, or 1 for 2-D input
    itemsize: int
    slabs: tuple[slice, ...]   # consecutive row ranges of the matrix, each about SLAB_BYTES
    sample_view: tuple[int, ...]   # matrix rows seen sample by sample: (-1, C) or (-1, C, L)
    sum_spec: tuple[str, str]      # einsum specs of a per-channel sum, and of a sum of products

    @staticmethod
    def of(a: np.ndarray) -> "Layout":
        """The layout for a batch like ``a`` (cached: a training loop asks for the same few)."""
        return _layout(a.shape, a.itemsize)

    def matrix(self, a: np.ndarray) -> np.ndarray:
        """``a`` (C-contiguous, of this layout's shape) as the (rows, r·C·L) matrix; a view."""
        return a.reshape(self.shape[0] // self.r, self.r * self.C * self.L)

    def pattern(self, v: np.ndarray) -> np.ndarray:
        """A (C,) vector expanded to one matrix row: each channel's value L times, r times over."""
        if self.r == 1 and self.L == 1:
            return v
        row = np.empty((self.r, self.C, self.L), v.dtype)
        row[...] = v[:, None]          # one broadcasting copy: cheaper than np.tile + np.repeat
        return row.reshape(-1)

    def channel_sum(self, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """Per-channel sum of ``a`` (or of ``a * b``, never materialised) over matrix rows.

        The rows are viewed sample by sample again, (n, C) or (n, C, L), for einsum:
        it reduces that view faster than the column sum of the wide matrix followed
        by a fold to (C,) (scripts/bench.py compares them).
        """
        if b is not None:
            return np.einsum(self.sum_spec[1], a.reshape(self.sample_view), b.reshape(self.sample_view))
        if self.L == 1:                  # a plain column sum adds whole rows: no einsum parsing
            return np.add.reduce(a.reshape(self.sample_view), axis=0)
        return np.einsum(self.sum_spec[0], a.reshape(self.sample_view))


@lru_cache(maxsize=128)
def _layout(shape: tuple[int, ...], itemsize: int) -> Layout:
    """Choose r, the largest divisor of N that keeps a matrix row near ROW_BYTES."""
    n, c = shape[0], shape[1]
    sample = math.prod(shape[1:])
    r = 1
    if n * sample * itemsize >= SMALL_BYTES:
        r_max = min(n, max(1, ROW_BYTES // (sample * itemsize)))
        r = max(d for d in range(1, r_max + 1) if n % d == 0)
    step = max(1, SLAB_BYTES // max(1, r * sample * itemsize))
    slabs = tuple(slice(i, i + step) for i in range(0, n // r, step))
    L = sample // c if c else 0
    view, spec = ((-1, c), "nc") if L == 1 else ((-1, c, L), "ncl")
    return Layout(tuple(shape), r, c, L, itemsize, slabs, view, (f"{spec}->c", f"{spec},{spec}->c"))
