"""Run the small matrix products of the experiments on one BLAS thread.

The Figure-1 network multiplies (60, 784) by (784, 100): far too little work to
share between threads. On a busy 2-core machine OpenBLAS's threads mostly wait
for each other, and a training step takes about ten times longer than on one
thread. ``threadpoolctl`` (a dependency of bnlib) sets the limit.
"""
from __future__ import annotations

import contextlib

from threadpoolctl import threadpool_limits

__all__ = ["one_blas_thread"]


@contextlib.contextmanager
def one_blas_thread():
    """Context manager limiting BLAS to one thread while inside it."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
