"""PCA spectrum, effective dimension and UMAP."""

import sys
import types

import numpy as np
import pytest

from factordiff.analysis import PCASpectrum, UMAPEmbedding, participation_ratio


def test_participation_ratio_known_values():
    assert participation_ratio(np.ones(7)) == pytest.approx(7.0)
    assert participation_ratio(np.array([1.0, 0, 0])) == pytest.approx(1.0)
    # two directions with variances 3 and 1: (3 + 1)^2 / (9 + 1) = 1.6
    assert participation_ratio(np.array([3.0, 1.0])) == pytest.approx(1.6)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_effective_dimension_of_isotropic_gaussian_is_k(k):
    rng = np.random.default_rng(k)
    n, d = 4000, 40
    basis = np.linalg.qr(rng.standard_normal((d, k)))[0]  # random k-dim subspace of R^d
    X = rng.standard_normal((n, k)) @ basis.T + 5.0  # offset: PCA must centre
    pca = PCASpectrum().fit(X)
    # sampling noise lowers the ratio by about k^2 / n; 5% slack is ample
    assert pca.effective_dimension_ == pytest.approx(k, rel=0.05)
    assert pca.n_components_threshold_ == k if k == 1 else pca.n_components_threshold_ <= k
    assert pca.top4_share_ == pytest.approx(min(1.0, 4 / k), rel=0.05)
    assert len(pca.spectrum_) == min(15, k)  # numerically zero directions are dropped


def test_spectrum_threshold_count_and_transform():
    rng = np.random.default_rng(0)
    scales = np.array([10.0, 5.0, 2.0, 1.0, 0.5, 0.1])
    X = rng.standard_normal((5000, 6)) * scales
    pca = PCASpectrum(n_components=3).fit(X)
    share = scales**2 / np.sum(scales**2)
    np.testing.assert_allclose(pca.explained_variance_ratio_, share, rtol=0.1, atol=1e-3)
    assert pca.spectrum_.shape == (3,)
    assert pca.n_components_threshold_ == 2  # 100 + 25 of 130.26: 96% in two PCs
    assert pca.top4_share_ == pytest.approx(share[:4].sum(), rel=0.01)
    assert pca.transform(X).shape == (5000, 3)
    summary = pca.summary()
    assert set(summary) >= {"effective_dimension", "n_components_90", "top4_share", "spectrum"}
    with pytest.raises(ValueError, match="zero variance"):
        PCASpectrum().fit(np.ones((10, 3)))


def test_umap_embedding_api_without_numba(monkeypatch):
    """Parameters reach umap-learn and the embedding comes back (fast: umap is faked). A
    small Euclidean cloud reaches umap-learn as its exact distance matrix (metric
    "precomputed"); any other metric gets the points themselves."""
    seen = {}

    class FakeUMAP:
        def __init__(self, **kwargs):
            seen.update(kwargs)

        def fit_transform(self, X):
            seen["data"] = X
            return X[:, : seen["n_components"]] * 2

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    X = np.random.default_rng(0).standard_normal((50, 5))
    emb = UMAPEmbedding(n_components=3, n_neighbors=7, random_state=4).fit(X)
    assert emb.embedding_.shape == (50, 3)
    data = seen.pop("data")
    assert seen == {
        "n_components": 3,
        "n_neighbors": 7,
        "min_dist": 0.1,
        "metric": "precomputed",
        "random_state": 4,
    }
    exact = np.linalg.norm(X[:, None, :] - X[None, :, :], axis=2)
    np.testing.assert_allclose(data, exact, rtol=1e-5, atol=1e-5)
    assert np.all(np.diag(data) == 0)
    UMAPEmbedding(n_components=2, metric="cosine").fit(X)
    assert seen["metric"] == "cosine" and seen["data"].shape == (50, 5)
    with pytest.raises(ValueError, match="n_neighbors"):
        UMAPEmbedding(n_neighbors=50).fit(X)
    with pytest.raises(ValueError, match="n_components"):
        UMAPEmbedding(n_components=4).fit(X)


@pytest.mark.slow
def test_umap_embeds_a_circle_as_a_loop():
    """Real umap-learn (numba compilation: slow). Neighbours on the circle stay neighbours."""
    theta = 2 * np.pi * np.arange(200) / 200
    X = np.stack([np.cos(theta), np.sin(theta), np.zeros(200)], axis=1)
    for k in (2, 3):
        emb = UMAPEmbedding(n_components=k, random_state=0).fit(X).embedding_
        assert emb.shape == (200, k)
        step = np.linalg.norm(np.diff(emb, axis=0, append=emb[:1]), axis=1)
        spread = np.linalg.norm(emb - emb.mean(axis=0), axis=1).mean()
        assert np.median(step) < 0.2 * spread


@pytest.mark.parametrize("shape", [(60, 300), (300, 20)])
def test_pca_spectrum_equals_scikit_learns_exact_svd(shape):
    """The Gram (d > n) and scatter (d <= n) eigendecompositions give scikit-learn's full-SVD
    PCA: the same eigenvalues and the same leading axes, signs included."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(1)
    n, d = shape
    X = rng.standard_normal((n, 6)) @ rng.standard_normal((6, d)) * [[3.0]]
    X += 0.01 * rng.standard_normal((n, d)) + 5.0
    ours = PCASpectrum(n_components=5).fit(X)
    ref = PCA(svd_solver="full").fit(X)
    r = ours.explained_variance_.size
    ev = ref.explained_variance_[:r]
    np.testing.assert_allclose(ours.explained_variance_, ev, rtol=1e-7, atol=1e-12 * ev[0])
    np.testing.assert_allclose(ours.components_, ref.components_[:5], atol=1e-8)
    np.testing.assert_allclose(ours.mean_, ref.mean_)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X)[:, :5], atol=1e-6)
    with pytest.raises(ValueError, match="non-finite"):
        PCASpectrum().fit(np.where(np.eye(n, d) > 0, np.nan, X))
