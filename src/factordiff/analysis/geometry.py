"""PCA eigenspectrum, effective dimension and UMAP embeddings of a representation."""

from __future__ import annotations

import warnings

import numpy as np

from factordiff.analysis.blas import one_blas_thread

#: The paper reports the share of variance in the top 4 PCs.
TOP_SHARE_K = 4
#: umap-learn's own threshold: below it, it finds exact neighbours from all distances.
UMAP_EXACT_BELOW = 4096


def participation_ratio(eigenvalues: np.ndarray) -> float:
    """Effective dimension ``(sum lambda)^2 / sum lambda^2`` of a covariance spectrum.

    ``eigenvalues`` (r,) >= 0. Equals k for k equal eigenvalues (an isotropic k-dim cloud)
    and 1 for a single direction; it weighs every direction by its variance, unlike a count
    of PCs up to a variance threshold."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"eigenvalues must be a non-empty 1D array, got shape {lam.shape}")
    total_sq = float(np.sum(lam**2))
    if total_sq == 0:
        return 0.0
    return float(np.sum(lam) ** 2 / total_sq)


def _pca_eigh(X: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Covariance eigenvalues of ``X`` (n, d), descending, the leading ``n_components``
    principal axes (k, d) and the mean (d,), from the eigendecomposition of the smaller of
    the Gram and the scatter matrix of the centred data. Each axis's sign makes its largest
    absolute entry positive (scikit-learn's ``svd_flip`` convention for PCA components)."""
    n, d = X.shape
    mean = X.mean(axis=0)
    Xc = X - mean
    with np.errstate(invalid="ignore", divide="ignore"):
        if d > n:
            w, u = np.linalg.eigh(Xc @ Xc.T)  # ascending
            w, u = w[::-1], u[:, ::-1]
            k = min(n_components, int(np.sum(w > 0)))
            axes = (u[:, :k].T @ Xc) / np.sqrt(w[:k])[:, None]
        else:
            w, v = np.linalg.eigh(Xc.T @ Xc)
            w, v = w[::-1], v[:, ::-1]
            k = min(n_components, int(np.sum(w > 0)))
            axes = v[:, :k].T
    var = np.clip(w, 0.0, None) / max(n - 1, 1)
    signs = np.sign(axes[np.arange(len(axes)), np.argmax(np.abs(axes), axis=1)])
    signs[signs == 0] = 1.0
    return var, axes * signs[:, None], mean


class PCASpectrum:
    """PCA of a representation: eigenspectrum, top-4 share and effective dimension.

    Parameters
    ----------
    n_components : how many leading PCs ``spectrum_`` and ``components_`` keep (the paper
        shows 15). The effective dimension always uses every eigenvalue.
    variance_threshold : share of variance that ``n_components_threshold_`` must reach.

    Attributes (after :meth:`fit` on X (n, d))
    ----------
    explained_variance_ : (r,) all eigenvalues of the covariance, r = min(n - 1, d) or less.
    explained_variance_ratio_ : (r,) the same as shares of the total variance.
    spectrum_ : (min(n_components, r),) the leading ratios (the eigenspectrum plotted).
    top4_share_ : share of variance in the first 4 PCs.
    effective_dimension_ : participation ratio of ``explained_variance_``.
    n_components_threshold_ : number of PCs whose cumulative share reaches
        ``variance_threshold`` (the "90% count" reported beside the effective dimension).
    components_ : (min(n_components, r), d) leading principal axes; ``mean_`` (d,).
    """

    def __init__(self, n_components: int = 15, variance_threshold: float = 0.9) -> None:
        self.n_components = n_components
        self.variance_threshold = variance_threshold

    @one_blas_thread
    def fit(self, X: np.ndarray) -> PCASpectrum:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < 2:
            raise ValueError(f"X must have shape (n >= 2, d), got {X.shape}")
        if not isinstance(self.n_components, int) or self.n_components < 1:
            raise ValueError(f"n_components = {self.n_components!r}; allowed: an integer >= 1")
        if not 0 < self.variance_threshold <= 1:
            raise ValueError(
                f"variance_threshold = {self.variance_threshold!r}; allowed: a share in (0, 1]"
            )
        # All components: the participation ratio needs the whole spectrum. The eigenvalues of
        # the smaller of the Gram matrix Xc Xc^T (n, n) and the scatter matrix Xc^T Xc (d, d)
        # are the squared singular values of Xc: the same spectrum as an exact SVD of (n, d),
        # to ~1e-15 of the largest eigenvalue, at ~1/15 of its time for d = 16,384 >> n = 1,024
        # (benchmarks/analysis_speed.py).
        if not np.all(np.isfinite(X)):
            raise ValueError("X has non-finite values (NaN or inf); allowed: finite numbers")
        var, components, mean = _pca_eigh(X, self.n_components)
        if var.size == 0 or var.max() <= 0:
            raise ValueError("X has zero variance: every condition has the same representation")
        var = var[var > var.max() * 1e-12]  # drop numerically zero directions (rank < min(n, d))
        ratio = var / var.sum()
        k = min(self.n_components, var.size)
        self.explained_variance_ = var
        self.explained_variance_ratio_ = ratio
        self.spectrum_ = ratio[:k]
        self.top4_share_ = float(ratio[:TOP_SHARE_K].sum())
        self.effective_dimension_ = participation_ratio(var)
        cum = np.cumsum(ratio)
        # 1e-9 slack so a share of exactly 0.9 counts as reaching 90%.
        self.n_components_threshold_ = int(np.searchsorted(cum, self.variance_threshold - 1e-9) + 1)
        self.components_ = components[:k]
        self.mean_ = mean
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Project X (n, d) on the leading PCs: (n, len(spectrum_))."""
        return (np.asarray(X, dtype=np.float64) - self.mean_) @ self.components_.T

    def summary(self) -> dict:
        """JSON-ready numbers."""
        return {
            "effective_dimension": self.effective_dimension_,
            "n_components_90": self.n_components_threshold_,
            "variance_threshold": self.variance_threshold,
            "top4_share": self.top4_share_,
            "spectrum": [float(v) for v in self.spectrum_],
        }


class UMAPEmbedding:
    """UMAP embedding (umap-learn) of a representation, in 2 or 3 dimensions.

    Parameters are umap-learn's; ``random_state`` makes the result reproducible (umap-learn
    then runs single-threaded). The first call in a process compiles numba code (seconds to
    a minute).

    Attributes (after :meth:`fit` on X (n, d)): ``embedding_`` (n, n_components).
    """

    def __init__(
        self,
        n_components: int = 2,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        metric: str = "euclidean",
        random_state: int | None = 0,
    ) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.random_state = random_state

    def fit(self, X: np.ndarray) -> UMAPEmbedding:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError(f"X must have shape (n, d), got {X.shape}")
        if self.n_components not in (2, 3):
            raise ValueError(f"n_components = {self.n_components!r}; allowed: 2 or 3")
        if not 2 <= self.n_neighbors < X.shape[0]:
            raise ValueError(
                f"n_neighbors = {self.n_neighbors!r}; allowed: 2 <= n_neighbors < n = "
                f"{X.shape[0]} points"
            )
        import umap  # imported here: it is slow to import (numba) and only UMAP needs it

        metric, data = self.metric, X
        if metric == "euclidean" and X.shape[0] < UMAP_EXACT_BELOW:
            # umap-learn computes all distances of a small cloud (n < 4,096) by calling its
            # numba metric once per pair through scikit-learn, ~4 s for 1,024 points; the same
            # matrix from scikit-learn's BLAS-based euclidean_distances takes milliseconds and
            # umap-learn then runs the same exact-neighbour path on it.
            from sklearn.metrics.pairwise import euclidean_distances

            data = euclidean_distances(X).astype(np.float32)
            np.fill_diagonal(data, 0.0)
            metric = "precomputed"
        reducer = umap.UMAP(
            n_components=self.n_components,
            n_neighbors=self.n_neighbors,
            min_dist=self.min_dist,
            metric=metric,
            random_state=self.random_state,
        )
        with warnings.catch_warnings():
            # umap-learn warns that a seed disables parallelism; that is the point of a seed.
            warnings.filterwarnings("ignore", message="n_jobs value")
            warnings.filterwarnings("ignore", message="using precomputed metric")
            self.embedding_ = np.asarray(reducer.fit_transform(data))
        return self
