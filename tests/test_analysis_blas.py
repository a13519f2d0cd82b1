"""The analysis's fits run with one BLAS thread and leave the caller's limits as they were
(factordiff.analysis.blas: OpenBLAS's thread pool made them 10-45x slower in a Jupyter
kernel on a 2-core CPU with its other core busy, benchmarks/blas_threads.py)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from factordiff.analysis.factorization import FactorizationTest
from factordiff.analysis.geometry import PCASpectrum
from factordiff.analysis.grid import Representation, condition_grid
from factordiff.analysis.pipeline import RepresentationAnalysis


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def rep():
    labels, shape = condition_grid(16, 8, 8)
    X = np.random.default_rng(0).normal(size=(64, 96))  # d > n: the Gram path of the PCA
    return Representation(X=X, labels=labels, grid_shape=shape, metadata={"image_size": 16})


@pytest.fixture
def seen(monkeypatch):
    """The BLAS thread counts at every call of numpy's eigh and QR."""
    calls: list[list[int]] = []
    for name in ("eigh", "qr"):
        real = getattr(np.linalg, name)

        def spy(*args, _real=real, **kwargs):
            calls.append(_blas_threads())
            return _real(*args, **kwargs)

        monkeypatch.setattr(np.linalg, name, spy)
    return calls


@pytest.mark.parametrize(
    "fit",
    [
        lambda rep: PCASpectrum().fit(rep.X),
        lambda rep: FactorizationTest(n_dims=2).fit(rep),
        lambda rep: RepresentationAnalysis(topology=False, umap_dims=()).fit(rep),
    ],
    ids=["pca", "factorization", "pipeline"],
)
def test_fits_use_one_blas_thread_and_restore_the_callers_limit(rep, seen, fit):
    assert _blas_threads(), "no BLAS library found by threadpoolctl"
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        fit(rep)
        assert _blas_threads() == before == [2] * len(before)
    assert seen and all(counts == [1] * len(counts) for counts in seen), seen


def test_the_limit_is_lifted_when_a_fit_raises(rep):
    with threadpool_limits(limits=2, user_api="blas"):
        with pytest.raises(ValueError, match="n_dims = 0 is invalid"):
            FactorizationTest(n_dims=0).fit(rep)
        assert set(_blas_threads()) == {2}


def test_the_benchmark_times_both_thread_counts(capsys):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        import blas_threads
    finally:
        sys.path.pop(0)
    blas_threads.main(["--rounds", "1", "--width", "32", "--grid", "8", "--no-kernel"])
    out = capsys.readouterr().out
    assert out.startswith("CPU ") and "n = 64 conditions, width 32" in out
    for name in ("eigh threads=default", "eigh threads=1", "factorization threads=1", "fit (one"):
        assert name in out
