"""One BLAS thread for the analysis's fits (:func:`one_blas_thread`).

The fits of a representation (PCA's eigendecomposition, the factorization tests' many small
products) make many small BLAS and LAPACK calls on matrices of at most a few thousand rows.
OpenBLAS, numpy's and scipy's BLAS, wakes its thread pool for each of them; on a machine with
few cores and other work on them, every call then waits for a thread to be scheduled. On a
2-core CPU with one core busy, in a Jupyter kernel, the eigendecomposition of a 576 x 576
matrix took 0.5-4.0 s with OpenBLAS's 2 threads and 0.05-0.06 s with one, a representation's
factorization tests 1.8-9.7 s against 0.2-0.3 s; on the idle machine the two thread counts
took about the same time (``benchmarks/blas_threads.py``, docs/performance.md). So the fits
run with one BLAS thread whatever the caller's setting, which is restored after them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def one_blas_thread(fit: F) -> F:
    """Run ``fit`` with BLAS limited to one thread (threadpoolctl), then restore the limits."""

    @functools.wraps(fit)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

        with threadpool_limits(limits=1, user_api="blas"):
            return fit(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
