"""Time of the linear algebra that dominates Experiment 1's analysis, against the library
routines it replaced, side by side in one run (medians of --rounds).

    python benchmarks/analysis_speed.py
    python benchmarks/analysis_speed.py --rounds 5 --sizes 16384,1024

For each representation width d (a 32 x 32 condition grid, n = 1,024 conditions; the widths
of the small UNet's blocks, flattened, and of mean pooling):

- ``pca``: ``PCASpectrum.fit`` (eigendecomposition of the smaller of the Gram and the scatter
  matrix) against scikit-learn's ``PCA(svd_solver="full")`` (an exact SVD of (n, d)), and the
  largest difference of their eigenvalues relative to the top one;
- ``factorization``: ``FactorizationTest.fit`` (loop bases through a QR of each loop, pair
  products through BLAS);
- ``umap``: ``UMAPEmbedding.fit`` (distances from scikit-learn's ``euclidean_distances``,
  then umap-learn on the precomputed matrix) against ``umap.UMAP`` on the raw points (its
  own small-data path calls a numba metric once per pair), after one warm-up of each.

The cloud is a random 4D Clifford torus embedded in R^d plus noise. Prints the CPU (model
name and torch's capability) and the thread counts; state both with any figure.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

from factordiff.analysis import condition_grid
from factordiff.analysis.factorization import FactorizationTest
from factordiff.analysis.geometry import PCASpectrum, UMAPEmbedding
from factordiff.analysis.grid import Representation

try:  # the CPU line of the other benchmarks
    from components import cpu_words
except ImportError:  # run from elsewhere
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from components import cpu_words


def median_time(rounds: int, fn) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cloud(d: int, side: int = 32, noise: float = 0.05, seed: int = 0) -> Representation:
    rng = np.random.default_rng(seed)
    labels, shape = condition_grid(side, side, side)
    ang = 2 * np.pi * labels / side
    torus = np.concatenate([np.cos(ang), np.sin(ang)], axis=1)  # (n, 4)
    X = torus @ rng.standard_normal((4, d)) + noise * rng.standard_normal((len(labels), d))
    return Representation(X=X, labels=labels, grid_shape=shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="16384,4096,1024,64", help="widths d, comma-separated")
    parser.add_argument("--only", choices=["pca", "factorization", "umap"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["pca", "factorization", "umap"])
    import threadpoolctl
    import torch

    blas = ", ".join(
        f"{p['internal_api']} {p['num_threads']} threads" for p in threadpoolctl.threadpool_info()
    )
    print(f"CPU {cpu_words()}; torch threads {torch.get_num_threads()}; {blas}")
    for d in [int(x) for x in args.sizes.split(",")]:
        measure(d, args.rounds, only)


def measure(d: int, rounds: int, only: set[str]) -> None:
    """Print the lines of width ``d``."""
    from sklearn.decomposition import PCA

    rep = cloud(d)
    if "pca" in only:
        ours = median_time(rounds, lambda: PCASpectrum().fit(rep.X))
        ref = median_time(rounds, lambda: PCA(svd_solver="full").fit(rep.X))
        a = PCASpectrum().fit(rep.X).explained_variance_
        b = PCA(svd_solver="full").fit(rep.X).explained_variance_[: a.size]
        err = float(np.abs(a - b).max() / b[0])
        print(
            f"pca           d = {d:6d}: PCASpectrum {ours:7.3f} s, scikit-learn full SVD "
            f"{ref:7.3f} s, ratio {ref / ours:5.1f}x; eigenvalue difference {err:.1e} of "
            "the largest"
        )
    if "factorization" in only:
        t = median_time(rounds, lambda: FactorizationTest().fit(rep))
        print(f"factorization d = {d:6d}: FactorizationTest {t:7.3f} s")
    if "umap" in only:
        import umap

        X = rep.X.astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")

            def theirs():
                return umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=0).fit_transform(X)

            UMAPEmbedding().fit(X)  # warm-ups: numba compiles on the first call
            theirs()
            ours = median_time(rounds, lambda: UMAPEmbedding().fit(X))
            ref = median_time(rounds, theirs)
        print(
            f"umap          d = {d:6d}: UMAPEmbedding {ours:7.3f} s, umap-learn on the points "
            f"{ref:7.3f} s, ratio {ref / ours:5.1f}x"
        )


if __name__ == "__main__":
    main()
